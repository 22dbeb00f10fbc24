#!/usr/bin/env bash
# The main job, from a fresh Debian 12 machine: installs what is missing, builds qs4dsim, writes
# sequential Fashion-MNIST from Debian's dataset-fashion-mnist, then runs a shipped checkpoint
# (the 4-bit QAT H = 64 model unless one is given) digitally and on two simulated pcm_512 chips at
# three times after programming, over the full test set, with its energy per inference against
# digital accelerators. About a minute on 2 cores once built.
#   bash scripts/demo.sh [CHECKPOINT]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
bash scripts/setup.sh
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release
cmake --build build -j "$(nproc)" --target qs4dsim
/usr/bin/python3 -m qs4d.data --out "$root/data/datasets" --splits test,train --lengths 196
ckpt=${1:-data/checkpoints/fmnist196_s4d_h64_n64_l4_qat4.h5}
data=data/datasets/fashion_mnist_196_test.h5
build/bin/qs4dsim info "$ckpt"
echo
build/bin/qs4dsim eval "$ckpt" --data "$data" --threads "$(nproc)"
echo
build/bin/qs4dsim eval "$ckpt" --data "$data" --chip pcm_512 --trials 2 --times 1s,1h,1d --seed 1 \
  --threads "$(nproc)"
