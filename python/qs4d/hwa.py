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
    programming it and ageing it to one of `times` (the training step picks one, in turn), with
    one read when asked."""

    def __init__(self, chip: str, noise_scale: float = 1.0, times=("0s",), read_noise: bool = False,
                 seed: int = 0):
        self.qs4dsim = _module()
        self.chip = self.qs4dsim.Chip.load(chip, {"device.programming.scale": noise_scale})
        if isinstance(times, str):
            times = [t for t in times.split(",") if t]
        if not times:
            raise SystemExit("hardware-aware training: give at least one deployment time (--hwa-times)")
        self.name, self.noise_scale, self.times, self.read_noise = chip, noise_scale, list(times), read_noise
        self.seed = seed
        self.step = 0  # the training step: with the matrix's index, it keys the draw and picks the time

    @property
    def time(self):
        """The deployment time this step's noise is drawn at."""
        return self.times[self.step % len(self.times)]

    def describe(self) -> str:
        """One line: which chip's noise, drawn at which times, and what acts there."""
        spec = self.chip.spec
        device = spec["device"]
        drift = device.get("drift", {}).get("kind", "none")
        line = (f"hardware-aware training: the noise of chip {spec['name']} (device {device['name']}, "
                f"{drift} drift, programming spread x{self.noise_scale:g}) drawn at "
                f"{', '.join(str(t) for t in self.times)} after programming (one time per step, in turn)"
                f"{', with one read' if self.read_noise else ', no read noise'}")
        later = [t for t in self.times if self.qs4dsim.seconds(t) > 0]
        if drift == "relaxation_table" and later:
            line += (f"; note: at {', '.join(str(t) for t in later)} this device's relaxation replaces the "
                     "programmed state, so the programming spread (and its scale) acts only at t = 0")
        return line

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
        return {"chip": self.name, "noise_scale": self.noise_scale, "times": self.times,
                "read_noise": self.read_noise}
