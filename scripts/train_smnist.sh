#!/usr/bin/env bash
# Trains the sequential-MNIST (L = 784) checkpoints of issue #20: FP32, then from it 8-bit QAT,
# heterogeneous-precision QAT and ternary QAT. Resumable: each run keeps its state in
# runs/smnist/<name>/state.pt after every epoch, so running this script again continues where it
# stopped (the same command). Outputs go to $OUT_DIR (default data/checkpoints).
#
#   bash scripts/train_smnist.sh                 # CPU, 2 threads, the four runs one after another
#   DEVICE=cuda PARALLEL=1 bash scripts/train_smnist.sh   # a GPU: QAT runs side by side
#
# Needs data/datasets/mnist_784_{train,val,test}.h5 (scripts/fetch_mnist.sh writes them).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root/python"
PY=${PYTHON:-/usr/bin/python3}
DEVICE=${DEVICE:-cpu}
THREADS=${THREADS:-2}
PARALLEL=${PARALLEL:-0}
OUT_DIR=${OUT_DIR:-$root/data/checkpoints}
WORK=${WORK:-$root/runs/smnist}
EPOCHS_FP32=${EPOCHS_FP32:-80}
EPOCHS_QAT=${EPOCHS_QAT:-30}
LOG_DIR=${LOG_DIR:-$WORK}
# Optional per-run training time (seconds, 0 = none): after its first epoch a run schedules only
# the epochs that fit. RUN_LIMIT: a hard wall-clock limit per run (seconds, 0 = none); a run cut
# short exports its best epoch so far.
TIME_BUDGET=${TIME_BUDGET:-0}
RUN_LIMIT=${RUN_LIMIT:-0}
LENGTH=${LENGTH:-784}     # 196: the same digits 2x2 pooled (mnist_196_*), a shorter sequence
QAT=${QAT:-qat8 qathet qat2}  # which QAT runs follow the FP32 one
data=$root/data/datasets/mnist_$LENGTH
model=(--d-model 64 --d-state 64 --n-layers 4 --dropout 0.1)
shift=$((LENGTH == 784 ? 2 : 1))  # pixels: the same fraction of the image at 28 and 14 px
# This script makes the shipped checkpoints: it may replace them (--overwrite-shipped).
common=(--data "$data" --device "$DEVICE" --threads "$THREADS" --seed 0 --augment-shift "$shift"
        --time-budget "$TIME_BUDGET" --overwrite-shipped
        ${EXTRA:-})  # EXTRA: more trainer options for every run (a smoke test's --limit)
mkdir -p "$OUT_DIR" "$WORK" "$LOG_DIR"

train() {  # name, extra args...: trains (or resumes) one run and exports its checkpoint
  local name=$1; shift
  local args=("${common[@]}" --out "$OUT_DIR/$name.h5" --work-dir "$WORK/$name" "$@")
  if [ "$RUN_LIMIT" -gt 0 ]; then
    timeout "$RUN_LIMIT" "$PY" -m qs4d.train "${args[@]}" || true
    [ -f "$OUT_DIR/$name.h5" ] || "$PY" -m qs4d.train "${args[@]}" --export-only
  else
    "$PY" -m qs4d.train "${args[@]}"
  fi
}

fp32=smnist${LENGTH}_s4d_h64_n64_l4_fp32
train "$fp32" "${model[@]}" --epochs "$EPOCHS_FP32" --batch 64 --lr 0.01 >"$LOG_DIR/$fp32.log" 2>&1
init=(--init-from "$OUT_DIR/$fp32.h5" --epochs "$EPOCHS_QAT" --batch 64 --lr 0.002 --dropout 0.1)
declare -A qat_options=(
  [qat8]="--bits 8"
  # Heterogeneous precision (Zhao et al.: Abar is the sensitive component): Abar and the encoder
  # at 8 bits, D at 8, the bulk (projections, Bbar, C, decoder) at 4.
  [qathet]="--bits 4 --abar-bits 8 --encoder-bits 8 --d-bits 8"
  [qat2]="--bits 2 --ssm-bits 8"
)
pids=()
for kind in $QAT; do
  name=smnist${LENGTH}_s4d_h64_n64_l4_$kind
  read -r -a extra <<<"${qat_options[$kind]}"
  if [ "$PARALLEL" = 1 ]; then
    train "$name" "${init[@]}" "${extra[@]}" >"$LOG_DIR/$name.log" 2>&1 & pids+=($!)
  else
    train "$name" "${init[@]}" "${extra[@]}" >"$LOG_DIR/$name.log" 2>&1
  fi
done
for pid in "${pids[@]}"; do wait "$pid"; done
grep -H "test accuracy" "$LOG_DIR"/*.log
