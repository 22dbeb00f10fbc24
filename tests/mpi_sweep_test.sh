#!/usr/bin/env bash
# Issue #18: a sweep under MPI gives the single-process CSV byte for byte (2 and 3 processes,
# a thread count of its own), and a 2-process run killed mid-sweep, resumed with 1 process,
# gives it too (no point lost or written twice).
# Usage: mpi_sweep_test.sh QS4DSIM MPIRUN CHECKPOINT DATASET
source "$(dirname "$(realpath "$0")")/mpi_setup.sh" "$@"
args=("$ckpt" --data "$data" --chip neurram_256 --limit 300 --trials 2 --times 0,1h --seed 11
      --grid device.programming.scale=0,1,2,4 --grid periphery.adc_bits=5,6,8)
"$bin" sweep "${args[@]}" --threads 2 --out one.csv 2>/dev/null >/dev/null
rows=$(($(wc -l <one.csv) - 1))
[ "$rows" -eq 24 ] || { echo "FAIL: expected 24 rows (12 points x 2 times), found $rows"; exit 1; }

run_mpi -np 2 "$bin" sweep "${args[@]}" --threads 1 --out two.csv 2>/dev/null >/dev/null
cmp one.csv two.csv || { echo "FAIL: 2 processes differ from 1"; diff one.csv two.csv | head; exit 1; }
cmp one.csv.run.json two.csv.run.json || { echo "FAIL: run identity differs with 2 processes"; exit 1; }
run_mpi -np 3 "$bin" sweep "${args[@]}" --threads 2 --out three.csv 2>/dev/null >/dev/null
cmp one.csv three.csv || { echo "FAIL: 3 processes differ from 1"; diff one.csv three.csv | head; exit 1; }
echo "ok: 1, 2 and 3 processes give the same CSV"

# explore (issue #34): two checkpoints, priced points and the front, the same for 1, 2, 3 processes.
ex=("$ckpt" "$ckpt" --data "$data" --chip neurram_256 --limit 200 --trials 2 --times 0 --seed 11
    --grid periphery.adc_bits=5,8 --energy-samples 2)
"$bin" explore "${ex[@]}" --threads 2 --out ex1.csv 2>/dev/null >/dev/null
run_mpi -np 2 "$bin" explore "${ex[@]}" --threads 1 --out ex2.csv 2>/dev/null >/dev/null
run_mpi -np 3 "$bin" explore "${ex[@]}" --threads 2 --out ex3.csv 2>/dev/null >/dev/null
cmp ex1.csv ex2.csv && cmp ex1.csv ex3.csv || { echo "FAIL: explore differs across process counts"; exit 1; }
[ "$(($(wc -l <ex1.csv) - 1))" -eq 4 ] || { echo "FAIL: explore: expected 4 rows"; exit 1; }
echo "ok: explore gives the same CSV for 1, 2 and 3 processes"

# Killed as a batch system ends an allocation (SIGTERM to mpirun, which ends its processes),
# after the first points are in, then finished by one process.
run_mpi -np 2 "$bin" sweep "${args[@]}" --threads 1 --out killed.csv 2>/dev/null >/dev/null &
launcher=$!
for _ in $(seq 1 600); do
  [ -f killed.csv ] && [ "$(wc -l <killed.csv)" -ge 5 ] && break
  sleep 0.05
done
kill -TERM "$launcher" 2>/dev/null || true
wait "$launcher" 2>/dev/null || true
sleep 0.5
partial=$(($(wc -l <killed.csv) - 1))
if [ "$partial" -ge 24 ]; then
  echo "FAIL: the sweep finished before it was killed ($partial rows); the test needs a longer sweep"
  exit 1
fi
"$bin" sweep "${args[@]}" --threads 1 --out killed.csv --resume 2>/dev/null >/dev/null
cmp one.csv killed.csv || { echo "FAIL: killed at $partial rows and resumed, the CSV differs"; diff one.csv killed.csv | head; exit 1; }
echo "ok: killed with $partial of 24 rows written, resumed with 1 process: the same CSV"
