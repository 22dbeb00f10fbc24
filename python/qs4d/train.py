"""Trains the S4D example model on a sequential dataset and exports checkpoint format v1.

Float training by default; with --bits, quantization-aware training (qs4d.quant) of the
crossbar tensors, usually starting from a float checkpoint (--init-from), exported with /quant.

Resumable: the full training state (model, optimiser, scheduler, RNG, epoch, best validation
accuracy) is saved atomically to WORK_DIR/state.pt after every epoch; running the same command
again continues from there.

    /usr/bin/python3 -m qs4d.train --data data/datasets/fashion_mnist_196 --out ckpt.h5 \
        --work-dir runs/fmnist196 --epochs 8 --seed 0
"""

from __future__ import annotations

import argparse
import itertools
import json
import math
import os
import time
import warnings

import numpy as np
import torch
import torch.nn as nn

from . import checkpoint, state_scan
from .data import read_dataset
from .model import S4Model
from .hwa import ChipNoise
from .quant import QATModel, QuantConfig


def optimizer_groups(model):
    """The parameter groups in a fixed order: plain parameters, then one group per distinct
    `_optim` setting, sorted. (A set's order follows Python's per-process string hashing, so a
    resumed run could see the groups in another order than the run that saved them.)"""
    def setting(p):
        return tuple(sorted(p._optim.items())) if hasattr(p, "_optim") else None
    groups = [{"params": [p for p in model.parameters() if setting(p) is None]}]
    for hp in sorted({setting(p) for p in model.parameters()} - {None}):
        groups.append({"params": [p for p in model.parameters() if setting(p) == hp], **dict(hp)})
    return groups


def groups_in_saved_order(groups, saved, where):
    """Orders `groups` as the saved optimiser state holds them. States written before the order
    was fixed hold them in their process's hash order; the order whose group sizes and moment
    shapes all match the saved ones is the one. None matching is an error naming the file."""
    def matches(group, saved_group):
        if len(group["params"]) != len(saved_group["params"]):
            return False
        for p, i in zip(group["params"], saved_group["params"]):
            moment = saved["state"].get(i, {}).get("exp_avg")
            if moment is not None and tuple(moment.shape) != tuple(p.shape):
                return False
        return True
    saved_groups = saved["param_groups"]
    if len(saved_groups) == len(groups):
        for order in itertools.permutations(groups):
            if all(matches(g, s) for g, s in zip(order, saved_groups)):
                return list(order)
    raise SystemExit(f"{where}: the saved optimiser holds {len(saved_groups)} parameter groups of "
                     f"{[len(g['params']) for g in saved_groups]} parameters; this model has "
                     f"{[len(g['params']) for g in groups]}: not the same training command")


def build_optimizer(model, lr, weight_decay, saved=None, where=""):
    """AdamW as in the state-spaces example: SSM parameters carry their own lr and no decay.
    With `saved` (a resumed optimiser state), the groups follow its order."""
    groups = optimizer_groups(model)
    if saved is not None:
        groups = groups_in_saved_order(groups, saved, where)
    return torch.optim.AdamW(groups, lr=lr, weight_decay=weight_decay)


def build_schedule(opt, epochs, steps_per_epoch, steps_done=0):
    """One-cycle schedule over epochs * steps_per_epoch steps, advanced by steps_done."""
    for g in opt.param_groups:  # a rebuilt schedule starts from each group's own peak lr
        if "max_lr" in g:
            g["lr"] = g["max_lr"]
    total = epochs * steps_per_epoch
    # torch divides by pct_start * total - 1: ten steps in all (a small --limit) was a crash.
    warm_up = 0.1 if abs(0.1 * total - 1) > 1e-9 else 0.15
    sched = torch.optim.lr_scheduler.OneCycleLR(
        opt, max_lr=[g["lr"] for g in opt.param_groups], total_steps=total,
        pct_start=warm_up, anneal_strategy="cos")
    with warnings.catch_warnings():  # stepping a fresh schedule before the optimizer is intended
        warnings.simplefilter("ignore", UserWarning)
        for _ in range(steps_done):
            sched.step()
    return sched


@torch.no_grad()
def evaluate(model, x, y, batch=500, device="cpu"):
    model.eval()
    correct = 0
    for i in range(0, len(x), batch):
        logits = model(torch.from_numpy(x[i:i + batch]).to(device))
        correct += int((logits.argmax(-1).cpu().numpy() == y[i:i + batch]).sum())
    return correct / len(x)


def shift_images(xb, max_shift, gen):
    """Training augmentation for pixel sequences of square images (L = side^2, row-major): each
    image moved by a random integer offset in [-max_shift, max_shift] along both axes, zero
    filled."""
    n, L, d = xb.shape
    side = int(round(math.sqrt(L)))
    if side * side != L or d != 1:
        raise ValueError(f"--augment-shift needs pixel sequences of square images (L = side^2, "
                         f"1 feature), got L = {L}, {d} features")
    m = max_shift
    padded = torch.nn.functional.pad(xb.reshape(n, side, side), (m, m, m, m))
    shifts = torch.from_numpy(gen.integers(-m, m + 1, size=(n, 2))).to(xb.device)
    grid = torch.arange(side, device=xb.device)
    rows = grid.unsqueeze(0) + m - shifts[:, :1]   # output row r reads input row r - dy
    cols = grid.unsqueeze(0) + m - shifts[:, 1:]
    k = torch.arange(n, device=xb.device)[:, None, None]
    return padded[k, rows[:, :, None], cols[:, None, :]].reshape(n, L, d)


REPO_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
PATH_ARGS = ("data", "out", "work_dir", "init_from")


def portable_config(config: dict) -> dict:
    """The command line for the checkpoint's meta without the training machine's absolute
    paths: paths inside the repository relative to its root, others reduced to their name."""
    out = dict(config)
    for key in PATH_ARGS:
        value = out.get(key)
        if value:
            full = os.path.abspath(value)
            rel = os.path.relpath(full, REPO_ROOT)
            out[key] = os.path.basename(full) if rel.startswith("..") else rel
    return out


def quant_config(args):
    """The QuantConfig of the command line: uniform --bits / --ssm-bits, then per-component
    overrides (heterogeneous precision)."""
    qconfig = QuantConfig.uniform(args.bits, args.ssm_bits, scale=args.scale,
                                  per_channel=args.per_channel, weight_noise=args.weight_noise,
                                  act_bits=args.act_bits, adc_bits=args.adc_bits,
                                  state_bits=args.state_bits)
    qconfig.x, qconfig.act = args.x_bits, args.act_fixed_bits
    qconfig.x_granularity, qconfig.x_scale, qconfig.x_percentile = \
        args.x_granularity, args.x_scale, args.x_percentile
    for name in ("encoder", "output", "decoder", "abar", "bbar", "c", "d"):
        value = getattr(args, f"{name}_bits")
        if value is not None:
            if not 2 <= value <= 16:
                raise SystemExit(f"--{name}-bits: {value}, expected 2..16")
            setattr(qconfig, name, value)
    return qconfig


def calibration_rows(n, k=16):
    """The training rows the state's grid is calibrated on: floor(i n / k), i < k, the rule
    `qs4dsim quantize` uses for its calibration samples (docs/model.md)."""
    return np.array([i * n // k for i in range(min(k, n))], dtype=np.int64)


def model_outputs(model) -> int:
    return int(model.decoder.out_features)


def atomic_torch_save(obj, path):
    tmp = path + ".tmp"
    torch.save(obj, tmp)
    os.replace(tmp, path)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", required=True,
                   help="dataset prefix: PREFIX_train.h5, PREFIX_val.h5, PREFIX_test.h5")
    p.add_argument("--out", required=True, help="exported checkpoint (format v1)")
    p.add_argument("--work-dir", required=True, help="folder for the resumable training state")
    p.add_argument("--d-model", type=int, default=32)
    p.add_argument("--d-state", type=int, default=32)
    p.add_argument("--n-layers", type=int, default=3)
    p.add_argument("--dropout", type=float, default=0.1)
    p.add_argument("--prenorm", action="store_true")
    p.add_argument("--norm", choices=("layer", "batch"), default="layer")
    p.add_argument("--epochs", type=int, default=8)
    p.add_argument("--batch", type=int, default=64)
    p.add_argument("--lr", type=float, default=0.01)
    p.add_argument("--weight-decay", type=float, default=0.01)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--device", default="cpu", help="torch device (cpu, cuda)")
    p.add_argument("--time-budget", type=float, default=0,
                   help="seconds of training: after the first epoch, fewer epochs are scheduled "
                        "(the one-cycle schedule rebuilt) if --epochs would not fit (0 = off)")
    p.add_argument("--stop-after", type=int, default=0,
                   help="train only the first N epochs of the --epochs schedule, then export the best "
                        "(the shipped H = 64 FP32 parent's recipe: 14 of 25; 0 = all)")
    p.add_argument("--augment-shift", type=int, default=0,
                   help="shift 28x28 training images by up to this many pixels (0 = off)")
    p.add_argument("--limit", type=int, default=0, help="use only N training samples, spread evenly over the file")
    p.add_argument("--init-from", help="start from this checkpoint (format v1)")
    p.add_argument("--export-only", action="store_true",
                   help="export the best model of the saved training state without training on")
    p.add_argument("--overwrite-shipped", action="store_true",
                   help="allow --out inside data/checkpoints (the shipped checkpoints; refused otherwise)")
    q = p.add_argument_group("quantization-aware training")
    q.add_argument("--bits", type=int, default=0,
                   help="weight bits of encoder, output projections, decoder (0 = float)")
    q.add_argument("--ssm-bits", type=int, help="bits of Abar, Bbar, C, D (default: --bits)")
    q.add_argument("--act-bits", type=int, default=0,
                   help="DAC bits of the inputs of encoder, projections, decoder (0 = ideal)")
    q.add_argument("--adc-bits", type=int, default=0,
                   help="ADC bits of their outputs, range a running max (0 = ideal)")
    q.add_argument("--state-bits", type=int, default=0,
                   help="state DAC/ADC bits of a recurrence stepped as on a crossbar (slow)")
    for name, what in (("encoder", "encoder"), ("output", "output projections"),
                       ("decoder", "decoder"), ("abar", "Abar"), ("bbar", "Bbar"), ("c", "C"),
                       ("d", "the D skip")):
        q.add_argument(f"--{name}-bits", type=int,
                       help=f"bits of {what}, overriding --bits / --ssm-bits (heterogeneous QAT)")
    q.add_argument("--x-bits", type=int, default=0,
                   help="fixed-point state x after every step (static scale per layer; the compiled "
                        "scan of the qs4dsim module on the CPU, else autograd through every step)")
    q.add_argument("--x-granularity", choices=("layer", "channel", "mode"), default="layer",
                   help="one step of x's grid per layer, per channel or per complex mode")
    q.add_argument("--x-scale", choices=("max", "percentile", "lsq"), default="max",
                   help="x's steps: a running max, a percentile of the float state (each epoch), "
                        "or learned (LSQ, from the percentile)")
    q.add_argument("--x-percentile", type=float, default=99.99,
                   help="the percentile of |Re x|, |Im x| that --x-scale percentile / lsq start from")
    q.add_argument("--act-fixed-bits", type=int, default=0,
                   help="fixed-point inputs of encoder, projections, decoder (static scales)")
    q.add_argument("--scale", choices=("lsq", "max"), default="lsq")
    q.add_argument("--per-channel", action="store_true")
    q.add_argument("--weight-noise", type=float, default=0.0,
                   help="Gaussian weight noise during training, relative to each tensor's max")
    h = p.add_argument_group("hardware-aware training (needs the qs4dsim module: PYTHONPATH=build/bindings)")
    h.add_argument("--chip", help="perturb every crossbar weight in training as this chip's devices do "
                                  "(qs4d.hwa; needs --bits)")
    h.add_argument("--hwa-noise-scale", type=float, default=1.0,
                   help="the chip's programming noise times this factor (device.programming.scale)")
    h.add_argument("--hwa-times", default="0s",
                   help="deployment times to draw the devices' state at, e.g. 0,1d,2d: each training step "
                        "ages them to one of these, in turn (the times the model must hold up at)")
    h.add_argument("--hwa-time", help=argparse.SUPPRESS)  # the earlier single-time spelling
    h.add_argument("--hwa-read-noise", action="store_true", help="and draw one read of each device")
    args = p.parse_args(argv)

    shipped = os.path.realpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "data",
                                            "checkpoints"))
    if os.path.realpath(os.path.dirname(os.path.abspath(args.out))) == shipped and not args.overwrite_shipped:
        raise SystemExit(f"--out {args.out} is among the shipped checkpoints ({shipped}): write elsewhere, or "
                         "pass --overwrite-shipped to replace one on purpose")
    if args.hwa_time is not None:
        args.hwa_times = args.hwa_time
    if not 0 <= args.stop_after <= args.epochs:
        raise SystemExit(f"--stop-after {args.stop_after}: expected 0 (all) .. --epochs ({args.epochs})")
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    device = torch.device(args.device)
    os.makedirs(args.work_dir, exist_ok=True)
    xtr, ytr = read_dataset(args.data + "_train.h5")
    xva, yva = read_dataset(args.data + "_val.h5")
    xte, yte = read_dataset(args.data + "_test.h5")
    if args.limit:  # spread evenly: dataset files are often sorted by class
        keep = np.linspace(0, len(xtr) - 1, min(args.limit, len(xtr))).round().astype(int)
        xtr, ytr = xtr[keep], ytr[keep]
    steps = (len(xtr) + args.batch - 1) // args.batch

    lr_ssm = min(0.001, args.lr)
    if args.init_from:
        model = checkpoint.load(args.init_from, dropout=args.dropout, lr=lr_ssm)
    else:
        n_classes = int(max(ytr.max(), yva.max(), yte.max())) + 1  # not from a --limit subset
        model = S4Model(d_input=xtr.shape[-1], d_output=n_classes,
                        d_model=args.d_model, n_layers=args.n_layers, dropout=args.dropout,
                        prenorm=args.prenorm, d_state=args.d_state, norm=args.norm, lr=lr_ssm)
    model = model.to(device)
    base = model
    qconfig = None
    overrides = [getattr(args, f"{n}_bits") for n in
                 ("encoder", "output", "decoder", "abar", "bbar", "c", "d")]
    if args.chip and not args.bits:
        raise SystemExit("--chip (hardware-aware training) needs --bits: the chip holds quantized weights")
    if args.bits or args.x_bits or args.act_fixed_bits or any(v is not None for v in overrides):
        qconfig = quant_config(args)
        model = QATModel(base, qconfig).to(device)
        if args.x_bits:
            how = ("compiled scan (qs4dsim)" if state_scan.available(device) else
                   "autograd through every step (slow: qs4dsim not importable or not on the CPU)")
            print(f"fixed-point state: {how}", flush=True)
        if args.chip:
            model.hwa = ChipNoise(args.chip, args.hwa_noise_scale, args.hwa_times, args.hwa_read_noise,
                                  seed=args.seed)
            print(model.hwa.describe(), flush=True)
        with torch.no_grad():  # initialise the learned scales from the starting weights
            model.eval()(torch.from_numpy(xtr[:2]).to(device))
        model.calibrate_state(torch.from_numpy(xtr[calibration_rows(len(xtr))]).to(device))
    state_path = os.path.join(args.work_dir, "state.pt")
    st = torch.load(state_path, map_location=device) if os.path.exists(state_path) else None
    opt = build_optimizer(model, args.lr, args.weight_decay, st and st["opt"], state_path)
    sched = build_schedule(opt, args.epochs, steps)
    start_epoch, best, train_seconds, history = 0, -1.0, 0.0, []
    best_state = None
    if st is not None:
        model.load_state_dict(st["model"])
        opt.load_state_dict(st["opt"])
        sched.load_state_dict(st["sched"])
        torch.set_rng_state(st["rng"].cpu())
        if device.type == "cuda" and st.get("cuda_rng") is not None:
            torch.cuda.set_rng_state(st["cuda_rng"].cpu(), device)
        start_epoch, best, best_state = st["epoch"], st["best"], st["best_state"]
        # A --time-budget may have shortened the run; the schedule's state holds its length.
        args.epochs = st.get("epochs", args.epochs)
        train_seconds, history = st["train_seconds"], st["history"]
        print(f"resuming at epoch {start_epoch} (best val {best:.4f})", flush=True)

    loss_fn = nn.CrossEntropyLoss()
    xtr_dev, ytr_dev = torch.from_numpy(xtr).to(device), torch.from_numpy(ytr).to(device)
    if args.export_only and best_state is None:
        raise SystemExit(f"{state_path}: no saved training state to export")
    last_epoch = start_epoch if args.export_only else args.epochs
    if args.stop_after and not args.export_only:
        last_epoch = min(last_epoch, args.stop_after)
    for epoch in range(start_epoch, last_epoch):
        if epoch >= args.epochs:  # a --time-budget shortened the schedule
            break
        if qconfig and qconfig.x:  # percentile steps follow the weights, epoch by epoch
            model.calibrate_state(torch.from_numpy(xtr[calibration_rows(len(xtr))]).to(device), only_percentile=True)
        model.train()
        gen = np.random.default_rng(args.seed * 1000 + epoch)
        order = gen.permutation(len(xtr))
        t0 = time.time()
        total_loss = 0.0
        for step in range(steps):
            idx = torch.from_numpy(order[step * args.batch:(step + 1) * args.batch]).to(device)
            xb, yb = xtr_dev[idx], ytr_dev[idx]
            if args.augment_shift:
                xb = shift_images(xb, args.augment_shift, gen)
            opt.zero_grad(set_to_none=True)
            if getattr(model, "hwa", None) is not None:
                model.hwa.step = epoch * steps + step  # keys the chip noise of this step
            loss = loss_fn(model(xb), yb)
            loss.backward()
            opt.step()
            sched.step()
            total_loss += float(loss)
            if step % 100 == 0:
                rate = (step + 1) * args.batch / (time.time() - t0)
                print(f"epoch {epoch} step {step}/{steps} loss {float(loss):.4f} "
                      f"{rate:.0f} samples/s", flush=True)
        seconds = time.time() - t0
        if args.time_budget and epoch == start_epoch == 0:
            fit = max(1, int(args.time_budget / (1.15 * seconds)))  # 15% for validation
            if fit < args.epochs:
                print(f"--time-budget {args.time_budget:.0f} s: {seconds:.1f} s per epoch, "
                      f"schedule shortened from {args.epochs} to {fit} epochs", flush=True)
                args.epochs = fit
                sched = build_schedule(opt, fit, steps, steps_done=sched.last_epoch)
        train_seconds += seconds
        if qconfig and qconfig.x:
            model.track_state, model.state_peaks = True, {}
        val = evaluate(model, xva, yva, device=device)
        history.append({"epoch": epoch, "loss": total_loss / steps, "val_accuracy": val,
                        "samples_per_s": len(xtr) / seconds})
        if qconfig and qconfig.x:
            model.track_state = False
            history[-1]["x_dead_mode_share"] = model.dead_shares()
            print("dead modes per layer: " + ", ".join(f"{v:.1%}" for v in history[-1]["x_dead_mode_share"]),
                  flush=True)
        print(f"epoch {epoch} done: loss {total_loss / steps:.4f} val {val:.4f} "
              f"({len(xtr) / seconds:.0f} samples/s)", flush=True)
        if val > best:
            best = val
            best_state = {k: v.clone() for k, v in model.state_dict().items()}
        atomic_torch_save({"model": model.state_dict(), "opt": opt.state_dict(),
                           "sched": sched.state_dict(), "rng": torch.get_rng_state(),
                           "cuda_rng": torch.cuda.get_rng_state(device)
                           if device.type == "cuda" else None,
                           "epoch": epoch + 1, "best": best, "best_state": best_state,
                           "train_seconds": train_seconds, "history": history,
                           "epochs": args.epochs}, state_path)

    model.load_state_dict(best_state)
    test = evaluate(model, xte, yte, device=device)
    model.cpu()
    print(f"test accuracy {test:.4f} (best val {best:.4f})", flush=True)
    chance = 1.0 / model_outputs(base)
    if test < 1.5 * chance:
        print(f"warning: test accuracy {test:.4f} is near chance ({chance:.4f} for {model_outputs(base)} classes): "
              "the run did not learn (too few epochs or samples, a learning rate too high, or noise too "
              "strong for --init-from none)", flush=True)
    meta = {"task": "classification", "dataset": os.path.basename(args.data),
            "test_accuracy": test, "val_accuracy": best, "seed": args.seed,
            "train_seconds": train_seconds, "history": history, "epochs_trained": len(history),
            "quantization": json.dumps(qconfig.to_dict() if qconfig else None),
            "hardware_aware": json.dumps(model.hwa.to_dict() if getattr(model, "hwa", None) else None),
            "training_config": json.dumps(portable_config(vars(args)))}
    state_quant = None
    if qconfig and qconfig.x:  # the trained model depends on its grid: the checkpoint carries it
        L = xtr.shape[1]
        state_quant = {f"s4_layers.{i}.x": q.export(L) for i, q in enumerate(model.x_quant)}
        dead = model.dead_mode_share(torch.from_numpy(xva[:1000]))
        meta["x_dead_mode_share"] = json.dumps(dead)
        print("dead modes per layer (state always 0 on 1,000 validation samples): " +
              ", ".join(f"{v:.1%}" for v in dead), flush=True)
    if qconfig:
        sd, quant = model.export_tensors()
        checkpoint.save(base, args.out, quant=quant, meta=meta, state_dict=sd, state_quant=state_quant)
    else:
        checkpoint.save(base, args.out, meta=meta)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    from .cli import run

    run(main, "qs4d.train")
