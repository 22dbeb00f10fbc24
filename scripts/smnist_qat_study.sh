#!/usr/bin/env bash
# The quantization-aware side of the sMNIST sensitivity study (issue #20): one component at a
# time (encoder, projections, decoder, Abar, Bbar, C, D, fixed-point activations, fixed-point
# state x) at 8, 6 and 4 bits, each fine-tuned from the FP32 checkpoint with only that component
# quantized. Writes $OUT_DIR/qat_study.json: {component: {bits: PyTorch test accuracy}}, and the
# runs' logs. COMPONENTS and BITS restrict the grid; EXTRA adds trainer options to every run (a
# smoke test's --limit). Every run is resumable (its state in $WORK/<name>/state.pt).
#
#   DEVICE=cuda JOBS=27 TIME_BUDGET=200 COMPONENTS="encoder ... act" bash scripts/smnist_qat_study.sh
#   COMPONENTS=x JOBS=3 EPOCHS=20 TIME_BUDGET=5100 bash scripts/smnist_qat_study.sh     # 2 cores
#
# The state x trains on the CPU only, through the compiled scan of the simulator's Python module
# (build/bindings; qs4d.state_scan): ~25 samples/s on one core. Without the module (or on a GPU)
# it falls back to autograd through the 784 steps: ~5 samples/s and ~16 GB per run.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
export PYTHONPATH="$root/build/bindings${PYTHONPATH:+:$PYTHONPATH}"  # the compiled state scan
PY=${PYTHON:-/usr/bin/python3}
DEVICE=${DEVICE:-cpu}
JOBS=${JOBS:-1}
EPOCHS=${EPOCHS:-6}
TIME_BUDGET=${TIME_BUDGET:-0}
OUT_DIR=${OUT_DIR:-$root/runs/smnist_qat_study}
WORK=${WORK:-$OUT_DIR/work}
init=$root/data/checkpoints/smnist784_s4d_h64_n64_l4_fp32.h5
mkdir -p "$OUT_DIR" "$WORK"

# component -> the trainer's option for it
declare -A option=([encoder]=--encoder-bits [projections]=--output-bits [decoder]=--decoder-bits
                   [abar]=--abar-bits [bbar]=--bbar-bits [c]=--c-bits [d]=--d-bits
                   [act]=--act-fixed-bits [x]=--x-bits)
jobs_file=$WORK/jobs.txt
: >"$jobs_file"
for component in ${COMPONENTS:-encoder projections decoder abar bbar c d act x}; do
  for bits in ${BITS:-8 6 4}; do
    echo "$component $bits" >>"$jobs_file"
  done
done

run_one() {  # component bits
  local name="$1$2"
  cd "$root/python"
  # X_LIMIT training samples (0 = all) keep the state x's epochs short.
  local limit=()
  [ "$1" = x ] && [ "${X_LIMIT:-0}" -gt 0 ] && limit=(--limit "$X_LIMIT")
  local args=("${limit[@]}" --data "$root/data/datasets/mnist_784" --init-from "$init"
    --out "$WORK/$name.h5" --work-dir "$WORK/$name" --device "$DEVICE" --threads 1 --seed 0
    --epochs "$EPOCHS" --batch 64 --lr 0.002 --dropout 0.1 --augment-shift 2
    --time-budget "$TIME_BUDGET" "${option[$1]}" "$2" ${EXTRA:-})
  # RUN_LIMIT (seconds): a run still going then stops and exports its best epoch so far.
  timeout "${RUN_LIMIT:-0}" "$PY" -m qs4d.train "${args[@]}" >"$WORK/$name.log" 2>&1 || true
  [ -f "$WORK/$name.h5" ] || "$PY" -m qs4d.train "${args[@]}" --export-only >>"$WORK/$name.log" 2>&1 \
    || echo "run $name failed (see $WORK/$name.log)" >&2
}
export -f run_one
export root PY DEVICE EPOCHS TIME_BUDGET init WORK EXTRA RUN_LIMIT X_LIMIT
export option_decl="$(declare -p option)"
xargs -P "$JOBS" -L 1 bash -c 'eval "$option_decl"; run_one "$@"' _ <"$jobs_file"

"$PY" - "$WORK" "$OUT_DIR/qat_study.json" <<'PYEOF'
import json, os, re, sys
work, out = sys.argv[1], sys.argv[2]
table = {}
for name in sorted(os.listdir(work)):
    m = re.fullmatch(r"([a-z]+)(\d+)\.log", name)
    if not m:
        continue
    text = open(os.path.join(work, name)).read()
    acc = re.findall(r"test accuracy ([0-9.]+)", text)
    epochs = re.findall(r"epoch (\d+) done", text)
    table.setdefault(m.group(1), {})[m.group(2)] = {
        "test_accuracy": float(acc[-1]) if acc else None,
        "epochs": int(epochs[-1]) + 1 if epochs else 0}
json.dump({"init": "data/checkpoints/smnist784_s4d_h64_n64_l4_fp32.h5",
           "what": "QAT of one component at a time from FP32, PyTorch test accuracy "
                   "(mnist_784_test, 2,000 digits)", "results": table},
          open(out + ".tmp", "w"), indent=1)
os.replace(out + ".tmp", out)
print(json.dumps(table))
PYEOF
