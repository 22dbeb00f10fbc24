#!/usr/bin/env bash
# Hardware-aware 4-bit QAT on neurram_256 (issue #17): the plain 4-bit QAT recipe
# (fmnist196_s4d_h64_n64_l4_qat4.h5: 2 epochs from the FP32 checkpoint, lr 0.002, LSQ scales, SSM
# at 8 bits) with every crossbar weight perturbed in training as neurram_256's RRAM devices
# perturb it, programming noise times SCALE (default 4).
#   scripts/train_hwa.sh [SCALE] [--per-channel] [--max-scale]     (SCALE 0: no chip noise, the control)
# --per-channel: one scale per output (as the chip's per-column mapping), suffix _pc; else one
# per tensor. --max-scale: the scales held at each row's (or tensor's) largest |weight|, as the
# post-training path maps them, instead of learned (LSQ), suffix _max. Written to
# ..._qat4_hwa[_max][_pc].h5. Resumable: run it again after an interruption. Needs the build
# (the qs4dsim module in build/bindings).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
scale=${1:-4}
shift || true
extra=() suffix="" scaling=lsq
for a in "$@"; do
  case $a in
    --per-channel) extra+=(--per-channel); pc="_pc" ;;
    --max-scale) scaling=max; suffix="_max" ;;
    *) echo "usage: $0 [SCALE] [--per-channel] [--max-scale]" >&2; exit 2 ;;
  esac
done
suffix="$suffix${pc:-}"
# SCALE 0: the same recipe without the chip's noise (the control), written without "_hwa".
name=hwa chip=(--chip neurram_256 --hwa-noise-scale "$scale")
if [ "$scale" = 0 ]; then name=""; chip=(); fi
cd "$root/python"
PYTHONPATH="$root/build/bindings" /usr/bin/python3 -m qs4d.train \
  --data ../data/datasets/fashion_mnist_196 \
  --out "../data/checkpoints/fmnist196_s4d_h64_n64_l4_qat4${name:+_$name}$suffix.h5" \
  --work-dir "../runs/fmnist196_h64_qat4${name:+_$name}${suffix}_x$scale" \
  --init-from ../data/checkpoints/fmnist196_s4d_h64_n64_l4_fp32.h5 \
  --bits 4 --ssm-bits 8 --scale $scaling --epochs 2 --batch 64 --lr 0.002 --weight-decay 0.01 \
  --dropout 0.1 --seed 0 --threads 2 \
  "${chip[@]}" "${extra[@]}"
