#!/usr/bin/env bash
# Installs the Debian packages QS4D-Sim needs, only those that are missing (idempotent).
# Run as root on Debian 12. Nothing else is downloaded. Extra package names given as arguments
# are installed too (scripts/fuzz.sh adds clang and its OpenMP and libFuzzer runtimes).
set -euo pipefail

packages=(
  build-essential cmake ninja-build pkg-config
  libeigen3-dev libhdf5-dev libboost-random-dev libfftw3-dev
  libgtest-dev libgmock-dev libbenchmark-dev libcli11-dev nlohmann-json3-dev
  pybind11-dev python3-dev libopenmpi-dev openmpi-bin
  python3 python3-torch python3-h5py python3-numpy python3-pytest python3-matplotlib python3-scipy
  python3-venv python3-pip python3-setuptools python3-wheel python3-tqdm python3-nbconvert python3-ipykernel
  libopenblas0-pthread ngspice
  dataset-fashion-mnist
  "$@"
)

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "setup: all ${#packages[@]} packages present"
  exit 0
fi

echo "setup: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}"
