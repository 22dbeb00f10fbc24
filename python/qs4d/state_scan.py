"""The S4D recurrence with its state on a fixed-point grid, trainable at L = 784 on a CPU.

    x_t = Q(Abar x_{t-1} + Bbar u_t),   y_t = 2 Re(C x_t) + D u_t,   x_{-1} = 0,

Q rounding Re x and Im x to multiples of `step` (half to even), clamped to +-levels steps.
Training treats Q as the identity in the backward pass (the straight-through estimator, as
`quant.round_ste` does for every other quantizer here), so the adjoint is the float recurrence's:

    lambda_t = 2 conj(C) dy_t + conj(Abar) lambda_{t+1}              (lambda = dL/dRe x + i dL/dIm x)
    dL/dAbar = sum_t lambda_t conj(x_{t-1}),  dL/dBbar = sum_t lambda_t u_t,
    dL/dC    = sum_t 2 dy_t conj(x_t),        dL/du_t  = Re sum_m conj(Bbar) lambda_t + D dy_t,

each complex gradient written as d/dRe + i d/dIm. A component clamped at the grid's end passes
no gradient back (as torch.clamp). The step s, one per layer, channel or mode, may be learned (LSQ,
Esser et al. 2020): with X_t = s q_t the state in real units and P_t its value before rounding,

    dL/ds = sum_t <dL/dX_t, q_t - P_t / s>   (q_t alone where clamped).
 Both passes run in the simulator's Python
module (`qs4dsim.state_scan_forward` / `_backward`, bindings/state_scan.cpp): each sequence's
modes stay in cache for all L steps, and the forward keeps only the integer codes of x (2 bytes
each). Autograd through the step loop (`QATModel._state_scan`, the fallback without the module
and the reference the tests hold this to) keeps ~15 tensors per step, about 16 GB at batch 64
and L = 784: a training step of the 4-layer H = 64 model at batch 64 takes ~13 s on one core
with it and ~2.6 s with this. The forward is models/state_grid.cpp's grid_scan_channel, the same
kernel the simulator's recurrent mode runs, so a trained checkpoint is evaluated on its own codes.
"""

from __future__ import annotations

import torch


def available(device="cpu"):
    """Whether the compiled scan runs tensors on `device`: importable (PYTHONPATH=build/bindings)
    and a CPU device."""
    return torch.device(device).type == "cpu" and _module() is not None


class CodeBuffer:
    """Where a forward keeps the integer codes of x for its backward, reused from one batch to
    the next (a fresh 400 MB per layer and batch at L = 784 costs more in page faults than the
    scan itself). A later forward through the same buffer overwrites the codes: the backward
    of an earlier one then refuses to run instead of returning wrong gradients."""

    def __init__(self):
        self.codes = None
        self.generation = 0

    def take(self, shape):
        if self.codes is None or tuple(self.codes.shape) != tuple(shape):
            self.codes = None  # the old one goes before the new one comes
            self.codes = torch.empty(shape, dtype=torch.int16)
        self.generation += 1
        return self.codes, self.generation


def fixed_point_scan(a_bar, b_bar, c, d, z, step, levels, buffer=None):
    """y (B, H, L) and the largest |Re|, |Im| of each mode's state before rounding (H, M), for
    complex (H, M) a_bar, b_bar, c, real d (H), z (B, H, L) on the CPU, levels in [1, 32767] and
    a positive step: a number, or a tensor that broadcasts to (H, M) (one per layer, channel or
    mode; docs/model.md), which may require a gradient (a learned step, LSQ). `buffer` (a
    CodeBuffer) keeps the codes between calls; the codes are kept only where a gradient will be
    asked for."""
    H, M = a_bar.shape[-2], a_bar.shape[-1]
    step = torch.as_tensor(step, dtype=torch.float32)
    if not 1 <= levels <= 32767 or not bool((step.detach() > 0).all()) or \
            not bool(torch.isfinite(step.detach()).all()):
        raise ValueError(f"fixed-point state: step must be > 0 and levels in [1, 32767], "
                         f"got {step.detach().min().item() if step.numel() else step}, {levels}")
    step = step.expand(H, M)
    tensors = (torch.view_as_real(a_bar), torch.view_as_real(b_bar), torch.view_as_real(c), d, z, step)
    keep = torch.is_grad_enabled() and any(t.requires_grad for t in tensors)
    buffer = (buffer or CodeBuffer()) if keep else None
    return _FixedPointScan.apply(*tensors, int(levels), buffer)


def _module():
    try:
        import qs4dsim
    except ImportError:
        return None
    return qs4dsim if hasattr(qs4dsim, "state_scan_forward") else None


def _modes(a, b, c, step):
    """Real and imaginary planes (3, H, M) of [Abar; Bbar / step; 2 step C] as float32 numpy, in
    the order of float32 operations that models/state_grid.cpp's grid_planes repeats."""
    a, b, c = (t.detach().float().cpu() for t in (a, b, c))
    s = step.detach().float().cpu().unsqueeze(-1)
    stacked = torch.stack([a, b / s, c * (2 * s)])
    return stacked[..., 0].contiguous().numpy(), stacked[..., 1].contiguous().numpy()


class _FixedPointScan(torch.autograd.Function):
    @staticmethod
    def forward(ctx, a, b, c, d, z, step, levels, buffer):
        qs4dsim = _module()
        re, im = _modes(a, b, c, step)
        zf = z.detach().float().contiguous()
        codes, ctx.generation = buffer.take((*z.shape, 2, a.shape[-2])) if buffer else (None, 0)
        y, peaks = qs4dsim.state_scan_forward(re, im, zf.numpy(), levels,
                                              None if codes is None else codes.numpy(),
                                              torch.get_num_threads())
        y = torch.from_numpy(y).to(z.dtype) + z * d.unsqueeze(-1)
        peaks = torch.from_numpy(peaks).to(z.dtype) * step.detach()
        ctx.mark_non_differentiable(peaks)
        ctx.save_for_backward(a, b, c, d, z, step)
        ctx.buffer, ctx.levels, ctx.modes = buffer, levels, (re, im)
        return y, peaks

    @staticmethod
    def backward(ctx, dy, _dpeaks):
        a, b, c, d, z, step = ctx.saved_tensors
        if ctx.buffer.generation != ctx.generation:
            raise RuntimeError("fixed-point state scan: a later forward through the same code "
                               "buffer overwrote this one's state; run backward before the next "
                               "forward (or give each forward its own CodeBuffer)")
        re, im = ctx.modes
        grads, dz = _module().state_scan_backward(
            re, im, z.detach().float().contiguous().numpy(), ctx.buffer.codes.numpy(),
            dy.detach().float().contiguous().numpy(), ctx.levels, torch.get_num_threads())
        grads = torch.from_numpy(grads).permute(0, 2, 3, 1).to(a.dtype)  # (4, H, M, 2)
        s = step.detach().unsqueeze(-1)
        grad_z = torch.from_numpy(dz).to(z.dtype) + dy * d.unsqueeze(-1)
        grad_d = (dy * z).sum(dim=(0, 2))
        grad_step = grads[3][..., 0] / step.detach()
        return (grads[0], grads[1] / s, grads[2] * (2 * s), grad_d, grad_z, grad_step, None, None)
