#!/usr/bin/env bash
# Builds the libFuzzer harnesses with clang (AddressSanitizer, UndefinedBehaviorSanitizer) in
# build-fuzz and runs them for SECONDS each (default 1800), JOBS at a time (default 2): the
# checkpoint and dataset loaders (seeded with a shipped checkpoint, the reproducers and a small
# dataset), the spec parsers (the chip and device presets), the reading child's answer format,
# the circuit verb (a small tile), command-line text (times and --set), a resumed sweep CSV with
# its sidecar (valid ones), a checkpoint's /meta attributes (a trainer's, x_ranges included) and
# the Python module's array checks (an input, a matrix, labels, a path). A finding is written as build-fuzz/findings/<harness>/crash-* (or timeout-*,
# oom-*) and the harness stops; regression inputs go to tests/reproducers.
#   bash scripts/fuzz.sh [SECONDS] [HARNESS...]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
seconds=${1:-1800}
shift || true
harnesses=("$@")
[ ${#harnesses[@]} -gt 0 ] || harnesses=(checkpoint dataset specs wire circuit text resume meta arrays)
jobs=${JOBS:-2}
bash scripts/setup.sh clang libomp-dev libclang-rt-dev
CC=clang CXX=clang++ cmake -S . -B build-fuzz -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DQS4D_FUZZ=ON -DQS4D_BUILD_TESTS=OFF -DQS4D_BUILD_BENCH=OFF -DQS4D_BUILD_PYTHON=OFF -DQS4D_USE_MPI=OFF
cmake --build build-fuzz -j "$(nproc)" --target $(printf 'fuzz_%s ' "${harnesses[@]}")
corpus=build-fuzz/corpus
for h in checkpoint dataset specs wire circuit text resume meta arrays; do mkdir -p "$corpus/$h" "build-fuzz/findings/$h"; done
cp data/checkpoints/fmnist196_s4d_h8_n6_l4_imssa_qat2.h5 "$corpus/checkpoint/"
cp tests/reproducers/*.h5 "$corpus/checkpoint/"
for f in data/chips/*.json; do cp "$f" "$corpus/specs/chip_$(basename "$f")"; done
for f in data/devices/*.json; do cp "$f" "$corpus/specs/device_$(basename "$f")"; done
/usr/bin/python3 - "$corpus/dataset/seed.h5" <<'PY'
import sys, h5py, numpy as np
with h5py.File(sys.argv[1], "w") as f:
    f.attrs["name"] = "fuzz seed"
    f.attrs["source"] = "scripts/fuzz.sh"
    f.attrs["n_classes"] = 10
    f["x"] = np.linspace(-1, 1, 4 * 16, dtype=np.float32).reshape(4, 16, 1)
    f["y"] = np.arange(4, dtype=np.int64)
PY
/usr/bin/python3 - "$corpus/circuit/seed.h5" <<'PY'
import sys, h5py, numpy as np
with h5py.File(sys.argv[1], "w") as f:
    f["G"] = np.array([[10.0, 0.0, 40.0], [25.0, 5.0, 1.0]])
    f["v"] = np.array([[0.2, -0.1], [0.05, 0.3]])
PY
printf '1s,1h,1d,1y' > "$corpus/text/times"
printf 'periphery.adc_bits=6' > "$corpus/text/set"
printf 'device.drift={"kind":"none"}' > "$corpus/text/set_object"
csv='point,periphery.adc_bits,mapping.encoding,seed,trials,n_samples,time_s,digital_accuracy,analog_accuracy_mean,analog_accuracy_std,analog_accuracy_min,analog_accuracy_max,analog_accuracy_ci95_low,analog_accuracy_ci95_high,agreement_with_digital,adc_clip_fraction\n0,4,differential,1,2,8,1,0.125,0.125,0,0.125,0.125,0.125,0.125,1,0\n0,4,differential,1,2,8,86400,0.125,0.125,0,0.125,0.125,0.125,0.125,1,0\n'
printf "$csv" > "$corpus/resume/seed.csv"
printf "$csv%s" '@@SIDECAR@@{"checkpoint":"fuzz.h5","seed":1,"trials":2,"times_s":[1.0,86400.0]}' > "$corpus/resume/sidecar"
# A trainer's /meta (the first byte picks each attribute's storage: fixed, variable, doubles).
printf '\x05dataset\0fashion_mnist_196\0x_ranges\0[1.5, 2.0, 2.5, 3.0]\0test_accuracy\0000.81\0' > "$corpus/meta/trainer"
# Arrays: inputs (2, 3, 1) float32, a 2 x 2 matrix, 4 labels, a path.
/usr/bin/python3 - "$corpus/arrays" <<'PY'
import struct, sys
d = sys.argv[1]
def put(name, what, kind, shape, values):
    with open(f"{d}/{name}", "wb") as f:
        f.write(bytes([what, ord(kind), len(shape)]) + b"".join(struct.pack("<q", n) for n in shape) + values)
put("inputs", 0, "f", [2, 3, 1], struct.pack("<6f", 0.1, -0.2, 0.3, 0.4, 0.5, -0.6))
put("matrix", 1, "f", [2, 2], struct.pack("<4f", 1, 2, 3, 4))
put("labels", 2, "i", [4], struct.pack("<4q", 0, 3, 9, 1))
put("path", 3, "U", [], b"data/checkpoints/model.h5")
PY
# The child's time limit at 1 s (a valid file reads in about 0.1 s under the sanitizers; libhdf5
# loops on many mutated files, and at the default 120 s each would stall the run), -timeout above
# it, so a contained hang is not reported. The three harnesses run side by side (one process
# each); each log ends with libFuzzer's totals. Leak checks are off (per input and at exit):
# libhdf5 leaks its own buffers when it refuses a malformed file (LeakSanitizer's stacks end in
# libhdf5_serial.so, none in ours).
export QS4D_READ_TIMEOUT_S=1 ASAN_OPTIONS=detect_leaks=0
status=0
running=0
for h in "${harnesses[@]}"; do
  echo "fuzz_$h for $seconds s: build-fuzz/fuzz_$h.log"
  build-fuzz/tests/fuzz/fuzz_$h -max_total_time="$seconds" -timeout=20 -rss_limit_mb=4096 \
    -print_final_stats=1 -detect_leaks=0 -artifact_prefix="build-fuzz/findings/$h/" "$corpus/$h" \
    >"build-fuzz/fuzz_$h.log" 2>&1 &
  running=$((running + 1))
  if [ "$running" -ge "$jobs" ]; then wait -n || status=1; running=$((running - 1)); fi
done
while [ "$running" -gt 0 ]; do wait -n || status=1; running=$((running - 1)); done
for h in "${harnesses[@]}"; do
  echo "== fuzz_$h"; grep -E "^stat::number_of_executed_units|^Done|ERROR|SUMMARY" "build-fuzz/fuzz_$h.log" || true
  ls "build-fuzz/findings/$h"
done
exit $status
