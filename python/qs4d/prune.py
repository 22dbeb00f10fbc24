"""Structural pruning of an S4D checkpoint: fewer SSM modes per channel and fewer channels.

Magnitude criteria:
  mode (layer i, channel h, mode m): sum_l |C_m Bbar_m Abar_m^l| = |C_m Bbar_m| / (1 - |Abar_m|),
      the L1 norm of the mode's contribution to the convolution kernel; each channel keeps its
      `modes` largest.
  channel h of the residual stream: the L2 norm of everything that writes into or reads from it,
      the encoder row, each layer's output-projection rows h and H + h and input column h, and the
      decoder column; the `channels` largest are kept.
The pruned model is written as a float checkpoint (format v1); fine-tune it with qs4d.train
(--init-from, optionally with --bits for quantization-aware fine-tuning).

    /usr/bin/python3 -m qs4d.prune --in model.h5 --out pruned.h5 --modes 8 --channels 48
"""

from __future__ import annotations

import argparse

import torch

from . import checkpoint
from .model import S4Model


@torch.no_grad()
def mode_importance(model: S4Model) -> list[torch.Tensor]:
    out = []
    for layer in model.s4_layers:
        a_bar, b_bar, c = layer.kernel.discrete()
        out.append((c * b_bar).abs() / (1 - a_bar.abs()).clamp(min=1e-6))
    return out


@torch.no_grad()
def channel_importance(model: S4Model) -> torch.Tensor:
    H = model.d_model
    score = model.encoder.weight.pow(2).sum(1) + model.decoder.weight.pow(2).sum(0)
    for layer in model.s4_layers:
        w = layer.output_linear[0].weight[:, :, 0]
        score = score + w[:H].pow(2).sum(1) + w[H:].pow(2).sum(1) + w.pow(2).sum(0)
    return score.sqrt()


@torch.no_grad()
def prune(model: S4Model, modes: int, channels: int) -> S4Model:
    H, M = model.d_model, model.d_state // 2
    if not 1 <= modes <= M:
        raise ValueError(f"modes must be 1..{M}, got {modes}")
    if not 1 <= channels <= H:
        raise ValueError(f"channels must be 1..{H}, got {channels}")
    keep = torch.sort(torch.topk(channel_importance(model), channels).indices).values
    rows = torch.cat([keep, keep + H])
    small = S4Model(d_input=model.d_input, d_output=model.d_output, d_model=channels,
                    n_layers=model.n_layers, dropout=0.0, prenorm=model.prenorm,
                    d_state=2 * modes, norm=model.norm, norm_eps=model.norm_eps)
    sd = model.state_dict()
    new = {}
    new["encoder.weight"] = sd["encoder.weight"][keep]
    new["encoder.bias"] = sd["encoder.bias"][keep]
    new["decoder.weight"] = sd["decoder.weight"][:, keep]
    new["decoder.bias"] = sd["decoder.bias"]
    for i, importance in enumerate(mode_importance(model)):
        p = f"s4_layers.{i}."
        # Per kept channel, its own strongest modes (in their original order).
        chosen = torch.sort(torch.topk(importance[keep], modes, dim=1).indices, dim=1).values
        gather = lambda t: torch.gather(t[keep], 1, chosen)  # noqa: E731
        new[p + "D"] = sd[p + "D"][keep]
        new[p + "kernel.log_dt"] = sd[p + "kernel.log_dt"][keep]
        new[p + "kernel.log_A_real"] = gather(sd[p + "kernel.log_A_real"])
        new[p + "kernel.A_imag"] = gather(sd[p + "kernel.A_imag"])
        c = sd[p + "kernel.C"][keep]
        new[p + "kernel.C"] = torch.gather(c, 1, chosen.unsqueeze(-1).expand(-1, -1, 2))
        new[p + "output_linear.0.weight"] = sd[p + "output_linear.0.weight"][rows][:, keep]
        new[p + "output_linear.0.bias"] = sd[p + "output_linear.0.bias"][rows]
        n = f"norms.{i}."
        for k in ("weight", "bias", "running_mean", "running_var"):
            if n + k in sd:
                new[n + k] = sd[n + k][keep]
        if n + "num_batches_tracked" in sd:
            new[n + "num_batches_tracked"] = sd[n + "num_batches_tracked"]
    small.load_state_dict(new)
    return small.eval()


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--in", dest="src", required=True)
    p.add_argument("--out", required=True)
    p.add_argument("--modes", type=int, required=True, help="SSM modes kept per channel (N/2)")
    p.add_argument("--channels", type=int, required=True, help="channels kept (H)")
    args = p.parse_args(argv)
    model = checkpoint.load(args.src)
    small = prune(model, args.modes, args.channels)
    checkpoint.save(small, args.out, meta={"pruned_from": args.src, "modes": args.modes,
                                           "channels": args.channels})
    print(f"{args.src}: H {model.d_model} -> {args.channels}, modes {model.d_state // 2} -> "
          f"{args.modes}; wrote {args.out}")


if __name__ == "__main__":
    from .cli import run

    run(main, "qs4d.prune")
