"""The compiled fixed-point state scan (qs4d.state_scan) against a hand-solved sequence and against
autograd through the step loop (QATModel._state_scan), forward and straight-through gradients.

Needs the Python module qs4dsim (PYTHONPATH=build/bindings); under scripts/test.sh
(QS4D_REQUIRE_MODULE=1) a missing module is a failure, not a skip.
"""
import os

import pytest
import torch

from qs4d import state_scan
from qs4d.quant import QATModel

if not state_scan.available():  # pragma: no cover - depends on the build
    if os.environ.get("QS4D_REQUIRE_MODULE"):
        raise ImportError("qs4dsim with state_scan_forward not importable; set PYTHONPATH=build/bindings")
    pytest.skip("qs4dsim not built (PYTHONPATH=build/bindings)", allow_module_level=True)
import qs4dsim  # noqa: E402


def _modes(H, M, seed):
    g = torch.Generator().manual_seed(seed)
    radius = 0.6 + 0.39 * torch.rand(H, M, generator=g)
    a = torch.polar(radius, 3 * torch.rand(H, M, generator=g))
    b = torch.complex(*torch.randn(2, H, M, generator=g)) * 0.3
    c = torch.complex(*torch.randn(2, H, M, generator=g))
    return a, b, c, torch.randn(H, generator=g)


def test_hand_solved_sequence_rounds_half_to_even():
    # x_t = round(0.5 x_{t-1} + u_t) on a grid of step 1, u = 1.4, 0, 0.6, 2.5: x = round(1.4) = 1,
    # round(0.5) = 0 (a tie goes to even), round(0.6) = 1, round(0.5 + 2.5) = 3; with C = 1 and
    # D = 0, y = 2 Re(C x) = 2, 0, 2, 6. The largest value before rounding is 3.
    a = torch.tensor([[0.5 + 0j]])
    b = torch.tensor([[1.0 + 0j]])
    c = torch.tensor([[1.0 + 0j]])
    z = torch.tensor([[[1.4, 0.0, 0.6, 2.5]]])
    y, peak = state_scan.fixed_point_scan(a, b, c, torch.zeros(1), z, 1.0, 100)
    assert y.tolist() == [[[2.0, 0.0, 2.0, 6.0]]]
    assert peak.tolist() == [[pytest.approx(3.0)]]
    # On a grid of +-2 steps the last state is clamped to 2.
    y, _ = state_scan.fixed_point_scan(a, b, c, torch.zeros(1), z, 1.0, 2)
    assert y.tolist() == [[[2.0, 0.0, 2.0, 4.0]]]


@pytest.mark.parametrize("bits,granularity", [(8, "layer"), (4, "layer"), (6, "channel"), (3, "mode")])
def test_matches_autograd_through_the_step_loop(bits, granularity):
    """Forward, peaks and every gradient, the learned step's included, on grids coarse enough
    that some components clamp (3 bits: +-3 steps), where both pass no gradient back."""
    H, M, B, L = 5, 4, 3, 60
    a, b, c, d = _modes(H, M, bits)
    z = torch.randn(B, H, L, generator=torch.Generator().manual_seed(1))
    peak = QATModel._state_scan(a, b, c, d, z)[1]
    levels = 2 ** (bits - 1) - 1
    shape = {"layer": (1, 1), "channel": (H, 1), "mode": (H, M)}[granularity]
    g = torch.Generator().manual_seed(7)
    step0 = peak.amax() * (0.8 + 0.6 * torch.rand(shape, generator=g)) / levels

    def run(scan):
        leaves = [torch.view_as_real(t).clone().requires_grad_() for t in (a, b, c)]
        leaves += [d.clone().requires_grad_(), z.clone().requires_grad_(), step0.clone().requires_grad_()]
        y, top = scan(*(torch.view_as_complex(t) for t in leaves[:3]), *leaves[3:])
        (y * torch.linspace(-1, 1, L)).sum().backward()
        return y.detach(), top, [t.grad for t in leaves]

    y1, p1, g1 = run(lambda a, b, c, d, z, s: QATModel._state_scan(a, b, c, d, z, s, levels))
    y2, p2, g2 = run(lambda a, b, c, d, z, s: state_scan.fixed_point_scan(a, b, c, d, z, s, levels))
    # The reference rounds x / step, the scan works in steps: a tie may round apart in float32.
    assert (y1 - y2).abs().max() <= 1e-4 * y1.abs().max()
    assert torch.allclose(p2, p1, rtol=1e-5, atol=1e-6)
    for name, r, s in zip(("Abar", "Bbar", "C", "D", "u", "step"), g1, g2):
        assert r.shape == s.shape, name
        assert (r - s).abs().max() <= 2e-4 * r.abs().max(), name


def test_step_gradient_hand_solved():
    """One step, one mode, L = y = 2 Re(C X) with C = 1, B = 1, step s = 0.1: u = 0.37 gives
    P = 0.37, q = round(3.7) = 4 and LSQ's dL/ds = 2 (q - P / s) = 0.6, dL/du = 2 B = 2. On a
    grid of +-3 steps, u = 0.57 clamps (P / s = 5.7): dL/ds = 2 q = 6 and nothing reaches u."""
    one = torch.tensor([[1.0 + 0j]])
    for u, levels, want_step, want_u in ((0.37, 127, 0.6, 2.0), (0.57, 3, 6.0, 0.0)):
        step = torch.tensor(0.1, requires_grad=True)
        z = torch.tensor([[[u]]], requires_grad=True)
        y, _ = state_scan.fixed_point_scan(one * 0.5, one, one, torch.zeros(1), z, step, levels)
        y.sum().backward()
        assert float(step.grad) == pytest.approx(want_step, rel=1e-5)
        assert float(z.grad) == pytest.approx(want_u, abs=1e-6)


def test_same_numbers_on_any_thread_count():
    a, b, c, d = _modes(16, 8, 3)
    z = torch.randn(4, 16, 50)

    def run(threads):
        torch.set_num_threads(threads)
        leaves = [torch.view_as_real(t).clone().requires_grad_() for t in (a, b, c)]
        y, _ = state_scan.fixed_point_scan(*(torch.view_as_complex(t) for t in leaves), d, z, 0.01, 127)
        y.sum().backward()
        return [y.detach()] + [t.grad for t in leaves]

    before = torch.get_num_threads()
    try:
        one, two = run(1), run(2)
    finally:
        torch.set_num_threads(before)
    assert all(torch.equal(p, q) for p, q in zip(one, two))


def test_wrong_shapes_and_grids_are_refused_by_name():
    modes = torch.zeros(3, 2, 4).numpy()
    z = torch.zeros(1, 2, 5).numpy()
    with pytest.raises(ValueError, match=r"codes has shape \(1, 2, 5, 2, 3\), expected \(1, 2, 5, 2, 4\)"):
        qs4dsim.state_scan_forward(modes, modes, z, 7, torch.zeros(1, 2, 5, 2, 3, dtype=torch.int16).numpy())
    with pytest.raises(ValueError, match="writeable C-contiguous int16"):
        qs4dsim.state_scan_forward(modes, modes, z, 7, torch.zeros(1, 2, 5, 2, 4, dtype=torch.int32).numpy())
    with pytest.raises(ValueError, match=r"imag modes has shape"):
        qs4dsim.state_scan_forward(modes, torch.zeros(3, 2, 5).numpy(), z, 7)
    with pytest.raises(ValueError, match=r"levels must be in \[1, 32767\], got 0"):
        qs4dsim.state_scan_forward(modes, modes, z, 0)
    with pytest.raises(ValueError, match="step must be > 0"):
        state_scan.fixed_point_scan(*(torch.zeros(2, 4, dtype=torch.cfloat),) * 3, torch.zeros(2),
                                    torch.zeros(1, 2, 5), 0.0, 7)


def test_a_backward_after_a_later_forward_through_its_buffer_is_refused():
    a, b, c, d = (t.requires_grad_() if t.is_floating_point() else t for t in _modes(2, 3, 5))
    leaves = [torch.view_as_real(t).clone().requires_grad_() for t in (a, b, c)]
    buffer = state_scan.CodeBuffer()
    z = torch.randn(2, 2, 7)
    first, _ = state_scan.fixed_point_scan(*(torch.view_as_complex(t) for t in leaves), d, z, 0.01, 127, buffer)
    second, _ = state_scan.fixed_point_scan(*(torch.view_as_complex(t) for t in leaves), d, z, 0.01, 127, buffer)
    second.sum().backward()
    with pytest.raises(RuntimeError, match="overwrote"):
        first.sum().backward()
