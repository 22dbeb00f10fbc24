#!/usr/bin/env bash
# Issue #18: eval --chip under MPI shares its chips out over the processes and reports what one
# process reports: every number of the JSON (accuracies per chip, write-verify, the energy of
# the first chip's counted actions, wherever that chip ran) equal, only timings apart; with 2 and
# 3 processes. A digital eval (no chips to share) is refused under mpirun with a message.
# Usage: mpi_eval_test.sh QS4DSIM MPIRUN CHECKPOINT DATASET
source "$(dirname "$(realpath "$0")")/mpi_setup.sh" "$@"
args=("$ckpt" --data "$data" --chip neurram_256 --limit 200 --trials 5 --times 0,1h --seed 5
      --set device.programming.scale=3)
"$bin" eval "${args[@]}" --threads 2 --json one.json >one.txt
run_mpi -np 2 "$bin" eval "${args[@]}" --threads 1 --json two.json >two.txt
run_mpi -np 3 "$bin" eval "${args[@]}" --threads 2 --json three.json >three.txt
/usr/bin/python3 - <<'PY'
import json, sys
timing = {"seconds", "seconds_per_analog_pass", "seconds_per_digital_pass", "chips_side_by_side", "processes"}
def numbers(path):
    j = json.load(open(path))
    return {k: v for k, v in j.items() if k not in timing}, j["processes"]
one, p1 = numbers("one.json")
assert p1 == 1, p1
assert "energy_pJ_per_inference" in one and len(one["results"][0]["analog_accuracy_per_trial"]) == 5
for name, n in (("two.json", 2), ("three.json", 3)):
    other, p = numbers(name)
    if p != n:
        sys.exit(f"FAIL: {name} says {p} processes, expected {n}")
    diff = sorted(k for k in one.keys() | other.keys() if one.get(k) != other.get(k))
    if diff:
        sys.exit(f"FAIL: {n} processes differ from 1 in {diff}")
print("ok: 1, 2 and 3 processes give the same eval JSON (timings apart)")
PY
lines=$(wc -l <two.txt)
[ "$lines" -gt 5 ] || { echo "FAIL: the 2-process report has $lines lines (rank 0 alone should print it)"; exit 1; }
if run_mpi -np 2 "$bin" eval "$ckpt" --data "$data" --limit 20 >digital.txt 2>&1; then
  echo "FAIL: a digital eval under mpirun was not refused"; exit 1
fi
grep -q "only sweep and eval --chip run under MPI" digital.txt || { echo "FAIL: no message"; cat digital.txt; exit 1; }
echo "ok: digital eval under mpirun refused with a message"
