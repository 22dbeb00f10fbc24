#!/usr/bin/env bash
# Speed of digital inference: Google Benchmark (both modes, 1 and 2 threads, reference GEMM) and
# the PyTorch comparison, on an H = 64, N = 64, 4-layer model at L = 784, batch 64.
# Run after scripts/test.sh (or any Release build in build/).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
model=build/bench/h64_n64_l4.h5
wide=build/bench/h256_n8_l1.h5
/usr/bin/python3 - "$model" "$wide" <<'PY'
import sys, torch
sys.path.insert(0, "python")
from qs4d import checkpoint
from qs4d.model import S4Model
torch.manual_seed(0)
checkpoint.save(S4Model(d_input=1, d_output=10, d_model=64, n_layers=4, d_state=64, dropout=0.0),
                sys.argv[1])
checkpoint.save(S4Model(d_input=1, d_output=10, d_model=256, n_layers=1, d_state=8, dropout=0.0),
                sys.argv[2])
PY
# The trial and Monte-Carlo benchmarks read real test images.
[ -f data/datasets/fashion_mnist_196_test.h5 ] ||
  (cd python && /usr/bin/python3 -m qs4d.data --out "$root/data/datasets" --splits test --lengths 196)
QS4D_BENCH_CHECKPOINT=$model build/bench/bench_digital
QS4D_BENCH_CHECKPOINT=$model QS4D_BENCH_WIDE_CHECKPOINT=$wide build/bench/bench_analog \
  --benchmark_out=build/bench/analog.json --benchmark_out_format=json
build/bench/bench_devices --benchmark_out=build/bench/devices.json --benchmark_out_format=json
build/bench/bench_circuit --benchmark_out=build/bench/circuit.json --benchmark_out_format=json
# Every ratio of issues #15 and #13 in one table (both benchmarks of a ratio ran in the same process).
/usr/bin/python3 bench/ratios.py build/bench/analog.json build/bench/devices.json build/bench/circuit.json
/usr/bin/python3 bench/compare_pytorch.py --qs4dsim build/bin/qs4dsim --checkpoint "$model" \
  --threads 2 --samples 512
