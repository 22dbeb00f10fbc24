# Shared set-up of the MPI tests (sourced): arguments QS4DSIM MPIRUN CHECKPOINT DATASET, a
# scratch folder removed on exit, and run_mpi, mpirun as CI runs it (root, more ranks than cores).
set -euo pipefail
bin=$(realpath "$1") mpirun=$2 ckpt=$(realpath "$3") data=$(realpath "$4")
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cd "$tmp"
run_mpi() { "$mpirun" --allow-run-as-root --oversubscribe "$@"; }
