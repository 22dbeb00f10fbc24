"""Hardware-aware training: each crossbar weight perturbed, in every training forward pass, as a
chip's devices would perturb it at its mapped conductance.

The noise is not modelled here: it is drawn through the simulator's Python module
(`qs4dsim.perturb`, built in build/bindings), from the same device model, mapping (encoding,
levels, quantization), write-verify and ageing the chip uses in `qs4dsim eval`. The backward
pass is straight-through: the loss sees the perturbed weights, the gradient reaches the clean
ones (w + (w_chip - w).detach()).

Cost: one programming of the model's crossbar matrices per training step (measured on the
fmnist196 H = 64 model on neurram_256: see data/checkpoints/README.md, hardware-aware training).
"""

from __future__ import annotations

import torch


def _module():
    try:
        import qs4dsim
    except ImportError as e:
        raise SystemExit("hardware-aware training needs the simulator's Python module: build the project "
                         "(pybind11-dev installed) and set PYTHONPATH=build/bindings") from e
    return qs4dsim


class ChipNoise:
    """Draws, for a weight matrix (outputs, inputs, ...), the weights the chip holds after
    programming it (and ageing to `time`, and one read, when asked)."""

    def __init__(self, chip: str, noise_scale: float = 1.0, time: str = "0s", read_noise: bool = False,
                 seed: int = 0):
        self.qs4dsim = _module()
        self.chip = self.qs4dsim.Chip.load(chip, {"device.programming.scale": noise_scale})
        self.name, self.noise_scale, self.time, self.read_noise = chip, noise_scale, time, read_noise
        self.seed = seed
        self.step = 0  # the training step: with the matrix's index, it keys the draw

    def __call__(self, index: int, name: str, w: torch.Tensor, bits: int, scale: torch.Tensor) -> torch.Tensor:
        """w: the fake-quantized weights; scale: their quantizer's scale (one, or one per output),
        so the chip holds the codes inference will map (the checkpoint's /quant codes)."""
        flat = w.detach().reshape(w.shape[0], -1).cpu().float().numpy()
        s = scale.detach().reshape(-1).cpu().double().numpy()
        seed = (self.seed << 40) + (self.step << 8) + index
        held = self.qs4dsim.perturb(self.chip, {name: flat}, seed=seed, time=self.time, bits=bits,
                                    read_noise=self.read_noise, scales={name: s})[name]
        delta = torch.from_numpy(held).to(w.device, w.dtype).reshape(w.shape) - w.detach()
        return w + delta

    def to_dict(self):
        return {"chip": self.name, "noise_scale": self.noise_scale, "time": self.time,
                "read_noise": self.read_noise}
