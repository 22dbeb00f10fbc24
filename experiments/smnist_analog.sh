#!/usr/bin/env bash
# The analog side of the sMNIST benchmark (issue #20): the FP32 sMNIST models on imssa_64 with
# the S4D recurrence on the crossbar (8-bit recurrence blocks, projections post-training
# quantized to 8 bits), accuracy against the state ADC bits and time after programming, at
# L = 784 and, with a model trained on the same digits 2x2 pooled, at L = 196. LIMIT test digits
# (the files are shuffled, so the first LIMIT mix the classes), TRIALS chips per point.
# Resumable: each sweep continues its CSV with --resume.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
bin=${QS4D_BIN:-$root/build/sim/qs4dsim}
out=${OUT:-$root/experiments/results}
LIMIT=${LIMIT:-100}
TRIALS=${TRIALS:-1}
THREADS=${THREADS:-2}
mkdir -p "$out"
for L in ${LENGTHS:-784 196}; do
  csv=$out/smnist_analog_L$L.csv
  resume=(); [ -f "$csv" ] && resume=(--resume)
  "$bin" sweep "$root/data/checkpoints/smnist${L}_s4d_h64_n64_l4_fp32.h5" \
    --data "$root/data/datasets/mnist_${L}_test.h5" --chip imssa_64 \
    --set mapping.weight_bits=8 --grid periphery.state_adc_bits=6,8,10 \
    --times 1s,1d,1y --trials "$TRIALS" --limit "$LIMIT" --seed 1 --threads "$THREADS" \
    --out "$csv" "${resume[@]}"
done
