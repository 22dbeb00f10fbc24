"""QS4D-Sim's PyTorch side: the S4D model, quantization-aware training, export, datasets."""

import os as _os

# Debian's torch runs matrix products on the system BLAS (OpenBLAS with its own pthread pool).
# Next to torch's OpenMP threads that pool oversubscribes the cores: the encoder's weight
# gradient (a 12,544-long reduction at d_input = 1) took 190 ms instead of 0.9 ms on the 2-core
# machine. torch's own threads do the parallel work; OpenBLAS runs single-threaded unless the
# user says otherwise. Set before torch is imported, which every module here does.
_os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
