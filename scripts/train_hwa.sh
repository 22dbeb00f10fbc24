#!/usr/bin/env bash
# Hardware-aware 4-bit QAT on neurram_256 (issue #17): the plain 4-bit QAT recipe
# (fmnist196_s4d_h64_n64_l4_qat4.h5: 2 epochs from the FP32 checkpoint, lr 0.002, LSQ scales, SSM
# at 8 bits) with every crossbar weight perturbed in training as neurram_256's RRAM devices
# perturb it, programming noise times SCALE (default 4), drawn at the deployment times given.
#   scripts/train_hwa.sh [SCALE] [--per-channel] [--max-scale] [--hwa-times 0,1d,2d] [--epochs N]
#                        [--limit N] [--init-from CKPT] [--out PATH] [--overwrite-shipped] [--seed S]
# SCALE 0: no chip noise, the control. --per-channel: one scale per output (as the chip's
# per-column mapping), suffix _pc; else one per tensor. --max-scale: the scales held at each row's
# (or tensor's) largest |weight|, as the post-training path maps them, instead of learned (LSQ),
# suffix _max. Written to runs/hwa/..._qat4_hwa[_max][_pc].h5 unless --out says otherwise; the
# shipped checkpoints in data/checkpoints are replaced only with --out there and
# --overwrite-shipped. Resumable: run the same command again after an interruption. Needs the
# build (the qs4dsim module in build/bindings).
# --seed S (default 0, the shipped models' seed): another training seed of the same recipe from the
# same FP32 parent, suffix _seedS (issue #30: the spread across training seeds).
# A quick run: --epochs 1 --limit 2000 --out runs/hwa/quick.h5 (45 s on 2 cores, test accuracy 88.4%)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
scale=4
if [ $# -gt 0 ] && [[ $1 != --* ]]; then scale=$1; shift; fi
extra=() suffix="" scaling=lsq out="" epochs=2 times=0s seed=0 init=$root/data/checkpoints/fmnist196_s4d_h64_n64_l4_fp32.h5
while [ $# -gt 0 ]; do
  case $1 in
    --per-channel) extra+=(--per-channel); pc="_pc" ;;
    --max-scale) scaling=max; suffix="_max" ;;
    --hwa-times) times=$2; shift ;;
    --epochs) epochs=$2; shift ;;
    --limit) extra+=(--limit "$2"); shift ;;
    --init-from) init=$2; shift ;;
    --out) out=$2; shift ;;
    --overwrite-shipped) extra+=(--overwrite-shipped) ;;
    --seed) seed=$2; shift ;;
    *) echo "usage: $0 [SCALE] [--per-channel] [--max-scale] [--hwa-times T] [--epochs N] [--limit N]" \
            "[--init-from CKPT] [--out PATH] [--overwrite-shipped] [--seed S]" >&2; exit 2 ;;
  esac
  shift
done
suffix="$suffix${pc:-}"
[ "$seed" = 0 ] || suffix="${suffix}_seed$seed"
# SCALE 0: the same recipe without the chip's noise (the control), written without "_hwa".
name=hwa chip=(--chip neurram_256 --hwa-noise-scale "$scale" --hwa-times "$times")
if [ "$scale" = 0 ]; then name=""; chip=(); fi
base=fmnist196_s4d_h64_n64_l4_qat4${name:+_$name}$suffix
out=${out:-$root/runs/hwa/$base.h5}
mkdir -p "$(dirname "$out")"
out=$(cd "$(dirname "$out")" && pwd)/$(basename "$out")
cd "$root/python"
for split in train val test; do  # the training, validation and test splits of sequential Fashion-MNIST
  [ -f "$root/data/datasets/fashion_mnist_196_$split.h5" ] || \
    /usr/bin/python3 -m qs4d.data --out "$root/data/datasets" --splits train,val,test --lengths 196
done
PYTHONPATH="$root/build/bindings" /usr/bin/python3 -m qs4d.train \
  --data ../data/datasets/fashion_mnist_196 --out "$out" \
  --work-dir "../runs/${base}_x${scale}_t${times//,/_}_e$epochs" --init-from "$init" \
  --bits 4 --ssm-bits 8 --scale $scaling --epochs "$epochs" --batch 64 --lr 0.002 --weight-decay 0.01 \
  --dropout 0.1 --seed "$seed" --threads 2 \
  "${chip[@]}" "${extra[@]}"
