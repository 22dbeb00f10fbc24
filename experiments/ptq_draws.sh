#!/usr/bin/env bash
# Issue #32: how much the post-training result of RESULTS 7 moves with its calibration set alone.
# The FP32 sMNIST model, 2,000 test digits, 256 calibration digits from the training split; 10
# calibration sets (the evenly spaced one RESULTS 7 used, then 9 random subsets, seed 1); x on
# one step per mode, everything at 8 bits and x alone.
#   bash experiments/ptq_draws.sh      # about 25 minutes on 2 cores
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
bin=${QS4D_BIN:-$root/build/bin/qs4dsim}
out=$root/experiments/results/ptq_draws
mkdir -p "$out"
run() {  # run NAME COMPONENTS GRANULARITY
  "$bin" quantize "$root/data/checkpoints/smnist784_s4d_h64_n64_l4_fp32.h5" \
    --data "$root/data/datasets/mnist_784_test.h5" --calibration "$root/data/datasets/mnist_784_train.h5" \
    --calibrate 256 --draws 10 --seed 1 --components "$2" --x-granularity "$3" --json "$out/$1.json"
}
run all8_mode all=8 mode
run x8_mode x=8 mode
