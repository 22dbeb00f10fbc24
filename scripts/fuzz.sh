#!/usr/bin/env bash
# Builds the libFuzzer harnesses with clang (AddressSanitizer, UndefinedBehaviorSanitizer) in
# build-fuzz and runs the three side by side for SECONDS (default 1800): the checkpoint loader
# and the dataset loader seeded with a shipped checkpoint, the reproducers and a small dataset,
# the spec parsers with the chip and device presets. A finding is written as build-fuzz/findings/<harness>/crash-* (or
# timeout-*, oom-*) and the harness stops; regression inputs go to tests/reproducers.
#   bash scripts/fuzz.sh [SECONDS]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
seconds=${1:-1800}
bash scripts/setup.sh clang libomp-dev libclang-rt-dev
CC=clang CXX=clang++ cmake -S . -B build-fuzz -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DQS4D_FUZZ=ON -DQS4D_BUILD_TESTS=OFF -DQS4D_BUILD_BENCH=OFF -DQS4D_BUILD_PYTHON=OFF -DQS4D_USE_MPI=OFF
cmake --build build-fuzz -j "$(nproc)" --target fuzz_checkpoint fuzz_dataset fuzz_specs
corpus=build-fuzz/corpus
mkdir -p "$corpus"/{checkpoint,dataset,specs} build-fuzz/findings/{checkpoint,dataset,specs}
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
# The child's time limit at 1 s (a valid file reads in about 0.1 s under the sanitizers; libhdf5
# loops on many mutated files, and at the default 120 s each would stall the run), -timeout above
# it, so a contained hang is not reported. The three harnesses run side by side (one process
# each); each log ends with libFuzzer's totals. Leak checks are off (per input and at exit):
# libhdf5 leaks its own buffers when it refuses a malformed file (LeakSanitizer's stacks end in
# libhdf5_serial.so, none in ours).
export QS4D_READ_TIMEOUT_S=1 ASAN_OPTIONS=detect_leaks=0
for h in checkpoint dataset specs; do
  echo "fuzz_$h for $seconds s: build-fuzz/fuzz_$h.log"
  build-fuzz/tests/fuzz/fuzz_$h -max_total_time="$seconds" -timeout=20 -rss_limit_mb=4096 \
    -print_final_stats=1 -detect_leaks=0 -artifact_prefix="build-fuzz/findings/$h/" "$corpus/$h" \
    >"build-fuzz/fuzz_$h.log" 2>&1 &
done
status=0
for h in checkpoint dataset specs; do
  wait -n || status=1
done
for h in checkpoint dataset specs; do
  echo "== fuzz_$h"; grep -E "^stat::number_of_executed_units|^Done|ERROR|SUMMARY" "build-fuzz/fuzz_$h.log" || true
  ls "build-fuzz/findings/$h"
done
exit $status
