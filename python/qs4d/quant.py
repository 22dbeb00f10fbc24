"""Quantization-aware training of the S4D model: fake quantizers and the quantized forward.

What is quantized is what a crossbar holds (docs/formats.md): the encoder, each layer's output
projection (the 1x1 conv before the GLU), the decoder, and the SSM in its discrete form, Abar,
Bbar, C and D. Biases and norms stay digital and float. Quantizers are symmetric and uniform,
codes in [-(2^(b-1) - 1), 2^(b-1) - 1] (b = 2 is ternary), with straight-through gradients; the
scale is either max-based or learned (LSQ, Esser et al. 2020). Quantized Abar is kept strictly
inside the unit circle so the recurrence stays stable.

`QATModel` wraps an `S4Model`; `export()` writes checkpoint format v1 with a /quant group that
holds every quantized tensor's integer codes and scale, and a /state_dict whose quantized tensors
hold exactly codes * scale, so `qs4dsim` runs the same model.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field

import torch
import torch.nn as nn
import torch.nn.functional as F

from .model import S4Model
from . import state_scan

GROUPS = ("encoder", "output", "decoder", "ssm", "d")


@dataclass
class QuantConfig:
    """Bit widths per group (0 = keep float) and how scales are found."""
    encoder: int = 8
    output: int = 8
    decoder: int = 8
    ssm: int = 8          # Abar, Bbar, C (each overridable below)
    d: int = 8            # the D skip
    # Per-component overrides of `ssm` (None = use `ssm`): heterogeneous precision as in Zhao et
    # al. (arXiv 2506.12480), who find Abar far more sensitive than Bbar and C.
    abar: int | None = None
    bbar: int | None = None
    c: int | None = None
    scale: str = "lsq"    # "lsq" (learned) or "max"
    per_channel: bool = False  # one scale per output row of the projection matrices
    weight_noise: float = 0.0  # training-time Gaussian noise, relative to each tensor's max |w|
    # The chip's converters (0 = ideal), as qs4dsim's periphery applies them: each input vector
    # of the encoder, projections and decoder scaled by its own max |x| into a signed DAC of
    # act_bits; their outputs, in those units, through an ADC of adc_bits whose range is a
    # running max (the chip calibrates it per tile); state_bits: the recurrence stepped as on a
    # crossbar, [x_{t-1}, u_t] through a state DAC and [x_t, y_t] through a state ADC each step
    # (a Python scan: slow, meant for small IMSSA-sized models).
    act_bits: int = 0
    adc_bits: int = 0
    state_bits: int = 0
    # Fixed-point digital inference as `qs4dsim quantize` defines it (Zhao et al.'s components
    # x and activations): x quantizes the complex state after every step, act the inputs of the
    # encoder, projections and decoder; each with one static scale per layer or product, the
    # running max of the float values seen in training (the PTQ side calibrates it instead).
    x: int = 0
    act: int = 0
    # The grid of x (StateQuantizer, docs/model.md "The state on a grid"): one step per layer,
    # channel or complex mode; found as a running max, a percentile of the float state (on the
    # first batch and again at every epoch's start), or learned (LSQ, starting from the percentile).
    x_granularity: str = "layer"
    x_scale: str = "max"
    x_percentile: float = 99.99

    def to_dict(self):
        return asdict(self)

    def component_bits(self, component: str) -> int:
        """Bits of one SSM component ('abar', 'bbar', 'c'): its override, else `ssm`."""
        value = getattr(self, component)
        return self.ssm if value is None else value

    @staticmethod
    def uniform(bits: int, ssm_bits: int | None = None, **kw) -> "QuantConfig":
        s = bits if ssm_bits is None else ssm_bits
        return QuantConfig(encoder=bits, output=bits, decoder=bits, ssm=s, d=s, **kw)


def round_ste(x):
    """Round with a straight-through (identity) gradient."""
    return x + (torch.round(x) - x).detach()


def dac_quant(x, bits, dim):
    """Signed DAC with a dynamic range: each vector along `dim` scaled by its own max |x|.

    Returns (x quantized in full-scale units, the scale), straight-through gradients."""
    s = x.detach().abs().amax(dim=dim, keepdim=True).clamp(min=1e-12)
    levels = 2 ** (bits - 1) - 1
    return round_ste(x / s * levels) / levels, s


def adc_quant(y, bits, r):
    """Signed ADC with range r (clipped), straight-through gradients inside the range."""
    levels = 2 ** (bits - 1) - 1
    y = torch.maximum(torch.minimum(y, r), -r)
    return round_ste(y / r * levels) * r / levels


def grad_scale(x, g):
    """Returns x with its gradient multiplied by g (LSQ's scale-gradient normalisation)."""
    return x * g + (x - x * g).detach()


class FakeQuant(nn.Module):
    """Symmetric uniform quantizer of one tensor. axis=None: one scale; else one per index."""

    def __init__(self, bits: int, mode: str = "lsq", axis: int | None = None, size: int = 1,
                 init: str = "lsq"):
        super().__init__()
        if init not in ("lsq", "max"):
            raise ValueError(f"scale init must be 'lsq' or 'max', got {init!r}")
        self.init = init
        if bits < 2 or bits > 16:
            raise ValueError(f"bits must be 2..16, got {bits}")
        if mode not in ("lsq", "max"):
            raise ValueError(f"scale mode must be 'lsq' or 'max', got {mode!r}")
        self.bits, self.mode, self.axis = bits, mode, axis
        self.qmax = 2 ** (bits - 1) - 1
        self.log_scale = nn.Parameter(torch.zeros(size if axis is not None else 1))
        self.log_scale._optim = {"weight_decay": 0.0}  # decay would pull scales toward 1
        self.register_buffer("initialized", torch.tensor(False))

    def _view(self, s, w):
        if self.axis is None:
            return s.reshape(())
        shape = [1] * w.dim()
        shape[self.axis] = -1
        return s.reshape(shape)

    def _reduce(self, a, op):
        """op ('amax' or 'mean') of |w| per scale group: (size,) or (1,)."""
        if self.axis is None:
            return getattr(a, op)().reshape(1)
        dims = [d for d in range(a.dim()) if d != self.axis]
        return getattr(a, op)(dim=dims) if dims else a

    def _max_scale(self, w):
        return torch.clamp(self._reduce(w.detach().abs(), "amax"), min=1e-8) / self.qmax

    def scale(self, w):
        """The scale as used in the forward pass, shaped to broadcast against w."""
        if self.mode == "max":
            return self._view(self._max_scale(w), w)
        if not bool(self.initialized):
            with torch.no_grad():
                # LSQ initialisation 2 mean|w| / sqrt(qmax) for weights; the max for SSM tensors,
                # whose few large entries (|Abar| near 1) carry the long memory.
                mean = self._reduce(w.detach().abs(), "mean")
                init = 2 * mean / math.sqrt(self.qmax) if self.init == "lsq" else \
                    self._max_scale(w)
                init = torch.clamp(init, min=1e-6)
                self.log_scale.copy_(torch.log(init))
                self.initialized.fill_(True)
        n = w.numel() / (1 if self.axis is None else w.shape[self.axis])
        g = 1.0 / math.sqrt(n * self.qmax)
        return self._view(torch.exp(grad_scale(self.log_scale, g)), w)

    def codes(self, w, s=None):
        """Integer codes (as float) with straight-through rounding."""
        s = self.scale(w) if s is None else s
        return torch.clamp(round_ste(w / s), -self.qmax, self.qmax)

    def forward(self, w):
        s = self.scale(w)
        return self.codes(w, s) * s

    def export(self, w):
        """(int32 codes, float32 scale) exactly as the forward pass uses them."""
        with torch.no_grad():
            s = self.scale(w)
            q = self.codes(w, s)
            scale = s.reshape(-1) if self.axis is not None else s.reshape(())
            return q.to(torch.int32), scale.to(torch.float32)


X_GRANULARITIES = ("layer", "channel", "mode")
X_SCALES = ("max", "percentile", "lsq")


def float_states(a_bar, b_bar, z):
    """|Re x|, |Im x| of the float recurrence x_t = Abar x_{t-1} + Bbar u_t, (H, M, 2 B L), for a
    calibration batch z (B, H, L): what a percentile step is taken over."""
    B, H, L = z.shape
    x = torch.zeros(B, H, a_bar.shape[-1], dtype=a_bar.dtype)
    out = torch.empty(L, B, H, a_bar.shape[-1], dtype=a_bar.dtype)
    for t in range(L):
        x = a_bar * x + b_bar * z[..., t].unsqueeze(-1).to(a_bar.dtype)
        out[t] = x
    parts = torch.view_as_real(out).abs()  # (L, B, H, M, 2)
    return parts.permute(2, 3, 0, 1, 4).reshape(H, a_bar.shape[-1], -1)


class StateQuantizer(nn.Module):
    """The grid of one layer's state x: symmetric, levels = 2^(bits-1) - 1, one step per layer,
    channel or complex mode (Re and Im share it), rounding half to even after every step and
    clamping to +-levels steps (docs/model.md, "The state on a grid"). The steps are exported to
    the checkpoint's /state_quant, and the simulator's recurrent mode runs them as trained."""

    def __init__(self, bits, granularity, scale, H, M, percentile=99.99):
        super().__init__()
        if not 2 <= bits <= 16:
            raise ValueError(f"x bits must be 2..16, got {bits}")
        if granularity not in X_GRANULARITIES:
            raise ValueError(f"x granularity must be one of {X_GRANULARITIES}, got {granularity!r}")
        if scale not in X_SCALES:
            raise ValueError(f"x scale must be one of {X_SCALES}, got {scale!r}")
        if not 50 <= percentile <= 100:
            raise ValueError(f"x percentile must be in [50, 100], got {percentile}")
        self.bits, self.granularity, self.mode, self.percentile = bits, granularity, scale, percentile
        self.levels = 2 ** (bits - 1) - 1
        shape = {"layer": (1, 1), "channel": (H, 1), "mode": (H, M)}[granularity]
        self.modes_per_step = H * M // (shape[0] * shape[1])
        self.register_buffer("range", torch.zeros(shape))  # max / percentile: step = range / levels
        self.log_step = nn.Parameter(torch.zeros(shape))   # lsq
        self.log_step._optim = {"weight_decay": 0.0}
        self.register_buffer("initialized", torch.tensor(False))

    def _reduce(self, per_mode, op):
        """(H, M) values, or (H, M, n) samples, reduced to this granularity's shape."""
        if self.granularity == "mode":
            return per_mode if per_mode.dim() == 2 else op(per_mode, -1)
        flat = per_mode.reshape(per_mode.shape[0], -1)
        flat = op(flat, -1).unsqueeze(-1)  # (H, 1)
        return flat if self.granularity == "channel" else op(flat.reshape(1, -1), -1).reshape(1, 1)

    def calibrate(self, a_bar, b_bar, z):
        """Sets the range (and a learned step's start) from the float state on z (B, H, L)."""
        with torch.no_grad():
            v = float_states(a_bar.detach(), b_bar.detach(), z.detach())
            if self.mode == "max":
                r = self._reduce(v, lambda t, d: t.amax(d))
            else:
                q = self.percentile / 100.0

                def pct(t, d):
                    k = max(1, min(t.shape[d], int(math.ceil(q * t.shape[d]))))
                    return t.kthvalue(k, dim=d).values
                r = self._reduce(v, pct)
            self.range.copy_(r.clamp(min=1e-12))
            if self.mode == "lsq" and not bool(self.initialized):
                self.log_step.copy_(torch.log(self.range / self.levels))
            self.initialized.fill_(True)

    def step(self, L):
        """The step per group, broadcasting to (H, M); differentiable when learned (LSQ, with its
        gradient scaled by 1 / sqrt(values per step x levels))."""
        if self.mode != "lsq":
            return self.range.clamp(min=1e-12) / self.levels
        n = 2 * L * self.modes_per_step  # state values each step quantizes per sample
        return torch.exp(grad_scale(self.log_step, 1.0 / math.sqrt(n * self.levels)))

    def observe(self, peaks):
        """A running max of the peaks (H, M) of a training batch (max mode only)."""
        if self.mode == "max":
            with torch.no_grad():
                self.range.copy_(torch.maximum(self.range * 0.999, self._reduce(peaks, lambda t, d: t.amax(d))))

    def export(self, L):
        """{"bits", "granularity", "calibration", "step"} for checkpoint.save's state_quant."""
        with torch.no_grad():
            step = self.step(L).float()
        shaped = step.reshape(()) if self.granularity == "layer" else \
            step.reshape(-1) if self.granularity == "channel" else step
        return {"bits": self.bits, "granularity": self.granularity, "calibration": self.mode,
                "step": shaped.cpu().numpy()}


def stable_abar_codes(q, s):
    """Shrinks complex codes q (..., 2) toward zero until |Abar| = |q| s < 1.

    The largest component steps one level toward zero until the point lies inside the unit
    circle; the gradient stays the straight-through one of q.
    """
    with torch.no_grad():
        fixed = q.detach().clone()
        s2 = float(s.detach().reshape(-1)[0]) ** 2
        for _ in range(2 * int(fixed.abs().max().item()) + 1):
            bad = (fixed[..., 0] ** 2 + fixed[..., 1] ** 2) * s2 >= 1.0 - 1e-6
            if not bool(bad.any()):
                break
            re_larger = fixed[..., 0].abs() >= fixed[..., 1].abs()
            fixed[..., 0] -= torch.sign(fixed[..., 0]) * (bad & re_larger)
            fixed[..., 1] -= torch.sign(fixed[..., 1]) * (bad & ~re_larger)
    return q + (fixed - q).detach()


def _matrix_name(i):
    return f"s4_layers.{i}.output_linear.0.weight"


class QATModel(nn.Module):
    """An S4Model whose crossbar tensors pass through fake quantizers in every forward."""

    def __init__(self, model: S4Model, config: QuantConfig):
        super().__init__()
        self.model = model
        self.config = config
        self.quantizers = nn.ModuleDict()
        H = model.d_model
        mode = config.scale

        def add(name, bits, axis=None, size=1, init="lsq"):
            if bits:
                self.quantizers[name.replace(".", "__")] = FakeQuant(bits, mode, axis, size, init)

        pc = config.per_channel
        add("encoder.weight", config.encoder, 0 if pc else None, H)
        add("decoder.weight", config.decoder, 0 if pc else None, model.d_output)
        for i in range(model.n_layers):
            add(_matrix_name(i), config.output, 0 if pc else None, 2 * H)
            add(f"s4_layers.{i}.kernel.Abar", config.component_bits("abar"), init="max")
            add(f"s4_layers.{i}.kernel.Bbar", config.component_bits("bbar"), init="max")
            add(f"s4_layers.{i}.kernel.C", config.component_bits("c"), init="max")
            add(f"s4_layers.{i}.D", config.d, init="max")
        # Running ADC ranges (in full-scale DAC units), one per product, and the state ADC's.
        self.register_buffer("adc_range", torch.zeros(model.n_layers + 2))
        self.register_buffer("state_range", torch.zeros(model.n_layers))
        if config.x:
            M = model.s4_layers[0].kernel.discrete()[0].shape[-1]
            self.x_quant = nn.ModuleList(
                StateQuantizer(config.x, config.x_granularity, config.x_scale, H, M, config.x_percentile)
                for _ in range(model.n_layers))
        self.track_state = False  # set: each layer's largest state in steps (dead modes) is kept
        self.state_peaks = {}
        self.register_buffer("act_range", torch.zeros(model.n_layers + 2))

    def _running(self, buf, i, value):
        """The ADC range of slot i: in training, the running max |value| (kept in buf, decayed
        slowly); in evaluation the kept range, or, never trained, the value's own max."""
        m = value.detach().abs().max()
        if self.training:
            with torch.no_grad():
                buf[i] = torch.maximum(buf[i] * 0.999, m)
            return buf[i].clamp(min=1e-12)
        return (buf[i] if float(buf[i]) > 0 else m).clamp(min=1e-12)

    def product(self, i, x, dim, f):
        """f(x) through the chip's DAC (vectors along dim) and ADC (slot i of adc_range)."""
        c = self.config
        if not c.act_bits and not c.adc_bits:
            return f(x)
        s = x.detach().abs().amax(dim=dim, keepdim=True).clamp(min=1e-12)
        xq = dac_quant(x, c.act_bits, dim)[0] if c.act_bits else x / s
        y = f(xq)
        if c.adc_bits:
            y = adc_quant(y, c.adc_bits, self._running(self.adc_range, i, y))
        return y * s  # s keeps its dim, so it broadcasts over the outputs

    def ssm_scan(self, i, z):
        """The SSM of layer i stepped with its state through the state DAC and ADC."""
        a_bar, b_bar, c, d = self.discrete_ssm(i)
        bits = self.config.state_bits
        B, H, L = z.shape
        M = a_bar.shape[-1]
        x = torch.zeros(B, H, M, dtype=a_bar.dtype, device=z.device)
        ys = []
        for t in range(L):
            u = z[..., t]
            v = torch.cat([torch.view_as_real(x).reshape(B, H, 2 * M), u.unsqueeze(-1)], dim=-1)
            vq, s = dac_quant(v, bits, -1)
            xr = vq[..., :2 * M].reshape(B, H, M, 2)
            xc = torch.view_as_complex(xr.contiguous())
            uq = vq[..., -1]
            x_new = a_bar * xc + b_bar * uq.unsqueeze(-1)
            y = 2 * (c * x_new).sum(-1).real + d * uq
            out = torch.cat([torch.view_as_real(x_new).reshape(B, H, 2 * M), y.unsqueeze(-1)], -1)
            out = adc_quant(out, bits, self._running(self.state_range, i, out)) * s
            x = torch.view_as_complex(out[..., :2 * M].reshape(B, H, M, 2).contiguous())
            ys.append(out[..., -1])
        return torch.stack(ys, dim=-1)

    def ssm_float(self, a_bar, b_bar, c, d, z):
        """The SSM with a float state: the convolution with its kernel, plus the D skip."""
        L = z.shape[-1]
        k = self.kernel(a_bar, b_bar, c, L)
        y = torch.fft.irfft(torch.fft.rfft(z, n=2 * L) * torch.fft.rfft(k, n=2 * L), n=2 * L)[..., :L]
        return y + z * d.unsqueeze(-1)

    def fixed_act(self, i, v):
        """Input of product i (0 encoder, 1.. projections, last decoder) on the static grid."""
        bits = self.config.act
        if not bits:
            return v
        r = self._running(self.act_range, i, v)
        levels = 2 ** (bits - 1) - 1
        return torch.clamp(round_ste(v / r * levels), -levels, levels) * r / levels

    @staticmethod
    def _state_scan(a_bar, b_bar, c, d, z, step=None, levels=0):
        """x_t = Abar x_{t-1} + Bbar u_t, rounded to multiples of `step` (a number or a tensor
        broadcasting to (H, M); clamped to +-levels) when a step is given, y_t = 2 Re(C x_t) +
        D u_t. Returns y (B, H, L) and each mode's largest |Re x|, |Im x| before rounding (H, M).
        Autograd through every step, the step's included (LSQ): the fallback where the compiled
        scan (qs4d.state_scan) is missing, and the reference its tests compare with."""
        B, H, L = z.shape
        ar, ai, br, bi = a_bar.real, a_bar.imag, b_bar.real, b_bar.imag
        cr, ci = 2 * c.real, 2 * c.imag
        xr = torch.zeros(B, H, a_bar.shape[-1], device=z.device)
        xi = torch.zeros_like(xr)
        peak = torch.zeros(H, a_bar.shape[-1], device=z.device)
        ys = []
        for t in range(L):
            u = z[..., t].unsqueeze(-1)
            xr, xi = ar * xr - ai * xi + br * u, ar * xi + ai * xr + bi * u
            peak = torch.maximum(peak, torch.maximum(xr.detach().abs().amax(0), xi.detach().abs().amax(0)))
            if step is not None:
                xr = torch.clamp(round_ste(xr / step), -levels, levels) * step
                xi = torch.clamp(round_ste(xi / step), -levels, levels) * step
            ys.append((cr * xr - ci * xi).sum(-1) + d * z[..., t])
        return torch.stack(ys, dim=-1), peak

    def ssm_scan_x(self, i, z):
        """The SSM of layer i stepped with its state x on its grid (StateQuantizer i)."""
        a_bar, b_bar, c, d = self.discrete_ssm(i)
        xq = self.x_quant[i]
        if getattr(self, "_calibrating", False):  # the float model throughout, as qs4dsim quantize
            xq.calibrate(a_bar, b_bar, z)
            return self.ssm_float(a_bar, b_bar, c, d, z)
        if not bool(xq.initialized):  # never calibrated: the float state of this batch
            xq.calibrate(a_bar, b_bar, z)
        step = xq.step(z.shape[-1])
        if state_scan.available(z.device):
            buffers = self.__dict__.setdefault("_code_buffers", {})  # not module state
            y, peaks = state_scan.fixed_point_scan(a_bar, b_bar, c, d, z, step, xq.levels,
                                                   buffers.setdefault(i, state_scan.CodeBuffer()))
        else:
            y, peaks = self._state_scan(a_bar, b_bar, c, d, z, step, xq.levels)
        if self.training:
            xq.observe(peaks)
        if self.track_state:
            in_steps = (peaks / step.detach().expand_as(peaks)).detach()
            self.state_peaks[i] = torch.maximum(self.state_peaks.get(i, in_steps), in_steps)
        return y

    def calibrate_state(self, x, only_percentile=False):
        """Takes every layer's state range from the float state on the training samples x
        (B, L, d) with the current weights: at the start (every scale mode; an LSQ step starts
        there) and, with only_percentile, at each epoch's start for percentile steps."""
        if not self.config.x or (only_percentile and self.config.x_scale != "percentile"):
            return
        was = self.training
        self._calibrating = True
        self.eval()
        try:
            with torch.no_grad():
                self(x)
        finally:
            self.train(was)
            self._calibrating = False

    def dead_mode_share(self, x, batch=500):
        """Per layer, the share of complex modes whose state rounds to 0 at every step of every
        sample of x (B, L, d): the modes the grid has switched off."""
        self.track_state, self.state_peaks = True, {}
        was = self.training
        self.eval()
        try:
            with torch.no_grad():
                for k in range(0, len(x), batch):
                    self(x[k:k + batch])
        finally:
            self.train(was)
            self.track_state = False
        return self.dead_shares()

    def dead_shares(self):
        """The dead-mode share per layer of what track_state saw: a mode is dead when its value
        before rounding stayed within half a step of 0 throughout (0.5 rounds to 0, half to even)."""
        return [float((self.state_peaks[i] <= 0.5).float().mean()) for i in sorted(self.state_peaks)]

    def quantizer(self, name):
        return self.quantizers[name.replace(".", "__")] if name.replace(".", "__") in \
            self.quantizers else None

    def _noisy(self, w):
        if self.training and self.config.weight_noise > 0:
            return w + torch.randn_like(w) * self.config.weight_noise * w.detach().abs().max()
        return w

    def crossbar_index(self, name):
        """The position of `name` among the tensors a chip holds on crossbars (encoder, output
        projections, decoder), or None."""
        names = ["encoder.weight"] + [_matrix_name(i) for i in range(self.model.n_layers)] + \
            ["decoder.weight"]
        return names.index(name) if name in names else None

    def q(self, name, w):
        fq = self.quantizer(name)
        w_raw = w
        w = fq(w) if fq is not None else w
        hwa = getattr(self, "hwa", None)  # qs4d.hwa.ChipNoise, set by train --chip
        index = self.crossbar_index(name) if self.training and hwa is not None and fq is not None else None
        if index is not None:
            return hwa(index, name, w, fq.bits, fq.scale(w_raw))
        return self._noisy(w)

    def discrete_ssm(self, i):
        """Quantized (Abar, Bbar, C) of layer i as complex (H, M) tensors, and D."""
        layer = self.model.s4_layers[i]
        a_bar, b_bar, c = layer.kernel.discrete()
        p = f"s4_layers.{i}."
        fa = self.quantizer(p + "kernel.Abar")
        ar = torch.view_as_real(a_bar)
        if fa is not None:
            s = fa.scale(ar)
            ar = stable_abar_codes(fa.codes(ar, s), s) * s
        br = self.q(p + "kernel.Bbar", torch.view_as_real(b_bar))
        cr = self.q(p + "kernel.C", layer.kernel.C)
        d = self.q(p + "D", layer.D)
        return (torch.view_as_complex(ar.contiguous()), torch.view_as_complex(br.contiguous()),
                torch.view_as_complex(cr.contiguous()), d)

    @staticmethod
    def kernel(a_bar, b_bar, c, L):
        """K[h, l] = 2 Re(sum_m C_m Bbar_m Abar_m^l)."""
        tiny = torch.full_like(a_bar.real, 1e-20)
        safe = torch.where(a_bar.abs() > 1e-20, a_bar, torch.complex(tiny, torch.zeros_like(tiny)))
        powers = torch.exp(torch.log(safe).unsqueeze(-1) * torch.arange(L, device=a_bar.device))
        return 2 * torch.einsum("hn,hnl->hl", c * b_bar, powers).real

    def forward(self, x):
        m = self.model
        c = self.config
        w_enc = self.q("encoder.weight", m.encoder.weight)
        x = self.product(0, self.fixed_act(0, x), -1, lambda v: F.linear(v, w_enc)) + \
            m.encoder.bias
        x = x.transpose(-1, -2)
        L = x.shape[-1]
        for i, (layer, norm, dropout) in enumerate(zip(m.s4_layers, m.norms, m.dropouts)):
            z = x
            if m.prenorm:
                z = m._norm(norm, z)
            if c.x:
                y = self.ssm_scan_x(i, z)
            elif c.state_bits:
                y = self.ssm_scan(i, z)
            else:
                y = self.ssm_float(*self.discrete_ssm(i), z)
            y = layer.dropout(layer.activation(y))
            conv = layer.output_linear[0]
            w = self.q(_matrix_name(i), conv.weight)
            # The DAC scales each time step's vector of H channels (dim -2 of (B, H, L)).
            y = self.product(1 + i, self.fixed_act(1 + i, y), -2, lambda v: F.conv1d(v, w)) + \
                conv.bias.unsqueeze(-1)
            y = F.glu(y, dim=-2)
            x = dropout(y) + x
            if not m.prenorm:
                x = m._norm(norm, x)
        pooled = x.transpose(-1, -2).mean(dim=1)
        w_dec = self.q("decoder.weight", m.decoder.weight)
        pooled = self.fixed_act(m.n_layers + 1, pooled)
        return self.product(m.n_layers + 1, pooled, -1, lambda v: F.linear(v, w_dec)) + \
            m.decoder.bias

    def export_tensors(self):
        """(state_dict with dequantized tensors, quant specs) for checkpoint.save."""
        sd = {k: v.detach().clone() for k, v in self.model.state_dict().items()}
        quant = {}

        def put(name, fq, w, axis):
            codes, scale = fq.export(w)
            quant[name] = {"bits": fq.bits, "symmetric": True,
                           "axis": -1 if fq.axis is None else axis, "codes": codes.numpy(),
                           "scale": scale.numpy()}
            return codes.float() * (scale if fq.axis is None else fq._view(scale, w))

        m = self.model
        with torch.no_grad():
            for name in ["encoder.weight", "decoder.weight"] + \
                        [_matrix_name(i) for i in range(m.n_layers)]:
                fq = self.quantizer(name)
                if fq is not None:
                    sd[name] = put(name, fq, sd[name], 0)
            for i in range(m.n_layers):
                p = f"s4_layers.{i}."
                layer = m.s4_layers[i]
                a_bar, b_bar, _ = layer.kernel.discrete()
                fa = self.quantizer(p + "kernel.Abar")
                fb = self.quantizer(p + "kernel.Bbar")
                if fa is not None or fb is not None:
                    # The checkpoint format holds Abar and Bbar as a pair: one trained alone
                    # is stored with its partner on a 16-bit grid (max scale), all but exact.
                    fa = fa if fa is not None else FakeQuant(16, "max").to(a_bar.real.device)
                    fb = fb if fb is not None else FakeQuant(16, "max").to(a_bar.real.device)
                    ar = torch.view_as_real(a_bar)
                    s = fa.scale(ar)
                    codes = stable_abar_codes(fa.codes(ar, s), s)
                    quant[p + "kernel.Abar"] = {"bits": fa.bits, "symmetric": True, "axis": -1,
                                                "codes": codes.to(torch.int32).numpy(),
                                                "scale": s.reshape(()).float().numpy()}
                    put(p + "kernel.Bbar", fb, torch.view_as_real(b_bar), -1)
                for name in (p + "kernel.C", p + "D"):
                    fq = self.quantizer(name)
                    if fq is not None:
                        sd[name] = put(name, fq, sd[name], -1)
        return sd, quant
