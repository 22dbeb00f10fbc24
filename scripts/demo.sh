#!/usr/bin/env bash
# Installs what is missing, builds qs4dsim, prepares sequential Fashion-MNIST from Debian's
# dataset-fashion-mnist, and evaluates a shipped checkpoint on the full test set.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
bash scripts/setup.sh
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release
cmake --build build -j "$(nproc)" --target qs4dsim
(cd python && /usr/bin/python3 -m qs4d.data --out "$root/data/datasets" --splits test --lengths 196)
ckpt=${1:-data/checkpoints/fmnist196_s4d_h32_n32_l3.h5}
build/bin/qs4dsim info "$ckpt"
echo
build/bin/qs4dsim eval "$ckpt" --data data/datasets/fashion_mnist_196_test.h5 --threads 2
