#!/usr/bin/env bash
# Builds the libFuzzer harnesses with clang (AddressSanitizer, UndefinedBehaviorSanitizer) in
# build-fuzz and runs each for SECONDS (default 1800): the checkpoint loader and the dataset
# loader seeded with the shipped checkpoints and a small dataset, the spec parsers with the chip
# and device presets. A finding is written as build-fuzz/findings/<harness>/crash-* (or
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
cp data/chips/*.json data/devices/*.json "$corpus/specs/"
/usr/bin/python3 - "$corpus/dataset/seed.h5" <<'PY'
import sys, h5py, numpy as np
with h5py.File(sys.argv[1], "w") as f:
    f.attrs["name"] = "fuzz seed"
    f.attrs["source"] = "scripts/fuzz.sh"
    f.attrs["n_classes"] = 10
    f["x"] = np.linspace(-1, 1, 4 * 16, dtype=np.float32).reshape(4, 16, 1)
    f["y"] = np.arange(4, dtype=np.int64)
PY
# -timeout above the loaders' own child time limit, so a contained hang is not reported.
export QS4D_READ_TIMEOUT_S=5
for h in checkpoint dataset specs; do
  echo "fuzz_$h for $seconds s"
  build-fuzz/tests/fuzz/fuzz_$h -max_total_time="$seconds" -timeout=20 -rss_limit_mb=4096 \
    -artifact_prefix="build-fuzz/findings/$h/" "$corpus/$h" 2>&1 | tail -n 3
done
