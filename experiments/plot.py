"""Plots and summary tables of experiments/run.sh's results folder.

    /usr/bin/python3 experiments/plot.py experiments/results

Writes one PNG per experiment (labelled axes, units, legends), complexity.md (the FP32 vs QAT vs
pruned table with reduction factors) and summary.json (the numbers the results page quotes).
Missing inputs are skipped with a note, so a partial run still plots what it has.
"""

from __future__ import annotations

import csv
import json
import os
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

YEAR = 365.25 * 86400


def read_csv(path):
    with open(path) as f:
        return list(csv.DictReader(f))


def have(out, name):
    ok = os.path.exists(os.path.join(out, name))
    if not ok:
        print(f"plot: {name} missing, skipped")
    return ok


def save(fig, out, name):
    fig.tight_layout()
    path = os.path.join(out, name)
    fig.savefig(path + ".tmp.png", dpi=120)
    os.replace(path + ".tmp.png", path)
    plt.close(fig)
    print(f"plot: wrote {path}")


def short(path):
    name = os.path.basename(path).replace(".h5", "").replace("fmnist196_s4d_", "")
    return name


def sweep_line(ax, rows, key, label, fmt, color=None, x_scale=1.0, spread="std", hollow=()):
    """One errorbar line of sweep rows against rows[key]: the analog mean over chips (in %) with
    bars of its std (spread="std") or of the chips' min and max (spread="minmax", for bimodal
    data such as faults, where a std bar would reach above the fault-free level). Points whose key
    value is in `hollow` (extrapolated times) are drawn hollow. Returns {key value: [mean, std]}."""
    x = [x_scale * float(r[key]) for r in rows]
    y = [100 * float(r["analog_accuracy_mean"]) for r in rows]
    if spread == "minmax":
        e = [[m - 100 * float(r["analog_accuracy_min"]) for m, r in zip(y, rows)],
             [100 * float(r["analog_accuracy_max"]) - m for m, r in zip(y, rows)]]
    else:
        e = [100 * float(r["analog_accuracy_std"]) for r in rows]
    line = ax.errorbar(x, y, yerr=e, fmt=fmt, color=color, capsize=3, label=label)
    out = [k for k, r in enumerate(rows) if float(r[key]) in hollow]
    if out:
        ax.plot([x[k] for k in out], [y[k] for k in out], fmt[0], markerfacecolor="white",
                color=line[0].get_color(), markersize=7, zorder=5)
    return {r[key]: [float(r["analog_accuracy_mean"]), float(r["analog_accuracy_std"])] for r in rows}


def source_range_end(out, csv_name):
    """The last time the device's source covers (time_range_s of the chip in the sweep's
    .run.json); None without one."""
    path = os.path.join(out, csv_name + ".run.json")
    if not os.path.exists(path):
        return None
    last = json.load(open(path)).get("chip", {}).get("device", {}).get("time_range_s", [0, None])[1]
    return None if last is None else float(last)


def finish(ax, fig, out, name, xlabel, title, legend_size=8, ylabel="analog test accuracy (%), mean ± std over chips"):
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.grid(alpha=0.3)
    # Beside the axes, never over the curves.
    ax.legend(fontsize=legend_size, loc="center left", bbox_to_anchor=(1.01, 0.5))
    save(fig, out, name)


def precision(out, summary):
    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    s = summary.setdefault("precision", {})
    qat = []
    for b, bits in (("fp32", 32), ("qat8", 8), ("qat4", 4), ("qat3", 3), ("qat2", 2)):
        f = os.path.join(out, f"precision_qat_{b}.json")
        if os.path.exists(f):
            acc = json.load(open(f))["accuracy"]
            qat.append((bits, acc))
            s[f"h64_{b}"] = acc
    if qat:
        ax.plot([b for b, _ in qat], [100 * a for _, a in qat], "o-", label="H=64, QAT (FP32 at 32)")
    for size, label in (("h64", "H=64, post-training"), ("h32", "H=32, post-training")):
        name = f"precision_ptq_{size}.csv"
        if not have(out, name):
            continue
        rows = read_csv(os.path.join(out, name))
        pts = sorted((int(r["mapping.weight_bits"]), float(r["digital_accuracy"])) for r in rows)
        fp = float(rows[0]["digital_accuracy"])  # replaced below by the float figure when known
        ax.plot([b for b, _ in pts], [100 * a for _, a in pts], "s--", label=label)
        s[f"{size}_ptq"] = {str(b): a for b, a in pts}
    for name, label, marker in (("precision_pruned.json", "pruned H=48 N=32, QAT 4 bit", "^"),
                                ("precision_imssa.json", "IMSSA-sized H=8 N=6, QAT ternary", "v")):
        f = os.path.join(out, name)
        if os.path.exists(f):
            acc = json.load(open(f))["accuracy"]
            bits = 4 if "pruned" in name else 2
            ax.plot([bits], [100 * acc], marker, markersize=9, label=label)
            s[name.replace(".json", "")] = acc
    ax.set_xscale("log", base=2)
    ax.set_xticks([2, 3, 4, 6, 8, 32])
    ax.set_xticklabels(["2", "3", "4", "6", "8", "32 (FP)"])
    ax.set_xlabel("weight bits (encoder, projections, decoder)")
    ax.set_ylabel("digital test accuracy (%)")
    ax.set_title("Precision vs accuracy, sequential Fashion-MNIST (L=196)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    save(fig, out, "precision.png")


def seeds(out, summary):
    """Section 1 over training seeds (summarize_seeds.py): each recipe's mean with its 95%
    t-interval over the seeds as the bar, and every seed as a point."""
    f = os.path.join(out, "seeds_h32.json")
    if not os.path.exists(f):
        return
    d = json.load(open(f))
    summary["seeds_h32"] = {"seeds": d["seeds"], "accuracy_percent": {
        r: {"mean": v["mean"], "ci95": v["ci95"]} for r, v in d["accuracy_percent"].items()}}
    fig, ax = plt.subplots(figsize=(8.6, 4.2))  # the legend sits beside the axes
    table = d["accuracy_percent"]
    for kind, label, fmt, shift in (("qat", "QAT", "o-", -0.04), ("ptq", "post-training", "s--", 0.04)):
        bits = sorted(int(r[3:]) for r in table if r.startswith(kind))
        xs = [b * 2 ** shift for b in bits]  # side by side on the log axis
        means = [table[f"{kind}{b}"]["mean"] for b in bits]
        lo = [m - table[f"{kind}{b}"]["ci95"][0] for m, b in zip(means, bits)]
        hi = [table[f"{kind}{b}"]["ci95"][1] - m for m, b in zip(means, bits)]
        line = ax.errorbar(xs, means, yerr=[lo, hi], fmt=fmt, capsize=3, label=f"H=32, {label}: mean, 95% interval")
        for x, b in zip(xs, bits):
            pts = table[f"{kind}{b}"]["per_seed"]
            ax.plot([x] * len(pts), pts, ".", color=line[0].get_color(), alpha=0.6)
    fp = table["fp32"]
    ax.axhline(fp["mean"], color="gray", ls=":", label=f"H=32 FP32 (mean of {len(fp['per_seed'])} seeds)")
    ax.axhspan(fp["ci95"][0], fp["ci95"][1], color="gray", alpha=0.15)
    ax.set_xscale("log", base=2)
    ax.set_xticks([2, 3, 4, 8])
    ax.set_xticklabels(["2", "3", "4", "8"])
    finish(ax, fig, out, "precision_seeds.png", "weight bits (encoder, projections, decoder)",
           f"H=32, training seeds {', '.join(str(s) for s in d['seeds'])} (dots: each seed)",
           ylabel="digital test accuracy (%)")


def robustness(out, summary):
    fig, ax = plt.subplots(figsize=(11, 4.6))
    s = summary.setdefault("robustness", {})
    for name, label, style in (("robustness_qat4", "QAT 4 bit", "o-"), ("robustness_ptq4", "FP32 + PTQ 4 bit", "s--"),
                               ("robustness_qat2", "QAT ternary", "^-"), ("robustness_ptq2", "FP32 + PTQ ternary", "v--"),
                               ("robustness_qat4noise", "QAT 4 bit, 5% weight noise in training", "D-"),
                               ("robustness_qat4hwa", "QAT 4 bit, trained on neurram_256's devices (x4)", "P-"),
                               ("robustness_qat4hwa_pc", "the same, one scale per output", "*-"),
                               ("robustness_qat4_pc", "QAT 4 bit, one scale per output", "h--"),
                               ("robustness_qat4hwa_max_pc", "QAT 4 bit, max-based scale per output, hardware-aware (x4)", "d-"),
                               ("robustness_qat4_max_pc", "QAT 4 bit, max-based scale per output", "d--"),
                               ("robustness_qat4_calibrated", "QAT 4 bit, output calibration (256 samples)", "x:")):
        if not os.path.exists(os.path.join(out, name + ".csv")):
            print(f"plot: {name}.csv missing, skipped")
            continue
        rows = read_csv(os.path.join(out, name + ".csv"))
        s[name] = sweep_line(ax, rows, "device.programming.scale", label, style)
        s[name + "_digital"] = float(rows[0]["digital_accuracy"])
    finish(ax, fig, out, "robustness.png", "programming-noise scale (x the rram_wan2022 preset)",
           "Robustness on neurram_256, read right after programming")


def ageing(out, summary):
    fig, ax = plt.subplots(figsize=(10, 4.4))
    s = summary.setdefault("ageing", {})
    for chip, color in (("pcm_512", "C0"), ("neurram_256", "C1")):
        name = f"ageing_{chip}.csv"
        if not have(out, name):
            continue
        rows = read_csv(os.path.join(out, name))
        # Beyond the device source's range the model extrapolates: those points are hollow.
        last = source_range_end(out, name)
        beyond = {float(r["time_s"]) for r in rows if last is not None and float(r["time_s"]) > last}
        # Told apart by colour (chip) and marker (compensation), not by dash alone.
        for comp, fmt in (("none", "s--"), ("global", "o-")):
            sel = [r for r in rows if r["drift_compensation"] == comp]
            s[f"{chip}_{comp}"] = sweep_line(ax, sel, "time_s", f"{chip}, drift compensation {comp}",
                                             fmt, color, hollow=beyond)
        s[f"{chip}_digital"] = float(rows[0]["digital_accuracy"])
        ax.axhline(100 * float(rows[0]["digital_accuracy"]), color=color, lw=0.8, alpha=0.5,
                   label=f"{chip}, digital (the chip's quantized weights)")
    ax.set_xscale("log")
    ticks = [1, 3600, 86400, 7 * 86400, 30 * 86400, YEAR, 10 * YEAR]
    ax.set_xticks(ticks)
    ax.set_xticklabels(["1 s", "1 h", "1 d", "1 w", "1 mo", "1 y", "10 y"])
    ax.plot([], [], "o", color="gray", markerfacecolor="white", label="hollow: extrapolated, beyond the device source's range")
    finish(ax, fig, out, "ageing.png", "time after programming (log scale)",
           "Ageing of the 4-bit QAT H=64 model", 7)


def faults(out, summary):
    """Two panels (stuck off, stuck on): accuracy against the stuck fraction on a logarithmic axis
    (0 drawn at 0.05%), one colour per encoding and repair, filled markers with fault-aware
    mapping; the preset's digital-recurrence control dotted."""
    fig, axes = plt.subplots(1, 2, figsize=(14, 4.6), sharey=True)
    s = summary.setdefault("faults", {})
    zero_at = 0.05  # % where the fault-free point is drawn on the log axis

    def line(ax, rows, key, label, color, marker, filled, style="-"):
        rows = sorted(rows, key=lambda r: float(r[key]))
        x = [max(100 * float(r[key]), zero_at) for r in rows]
        y = [100 * float(r["analog_accuracy_mean"]) for r in rows]
        # Faults split chips into ones that hit a sensitive device and ones that did not: the
        # bars are the chips' min and max, not a std that reaches above the fault-free level.
        e = [[m - 100 * float(r["analog_accuracy_min"]) for m, r in zip(y, rows)],
             [100 * float(r["analog_accuracy_max"]) - m for m, r in zip(y, rows)]]
        ax.errorbar(x, y, yerr=e, fmt=marker + style, color=color, capsize=2, label=label,
                    markerfacecolor=color if filled else "white", markersize=5, lw=1.2)
        return {r[key]: [float(r["analog_accuracy_mean"]), float(r["analog_accuracy_std"])] for r in rows}

    for ax, end in zip(axes, ("min", "max")):
        what = "stuck off (at g_min)" if end == "min" else "stuck on (at g_max)"
        key = f"device.stuck.at_{end}"
        name = f"faults_stuck_{end}.csv"
        if have(out, name):
            rows = read_csv(os.path.join(out, name))
            for rec, style in (("digital", ":"), ("analog", "-")):
                sel = [r for r in rows if r["recurrence"] == rec]
                s[f"stuck_{end}_{rec}"] = line(ax, sel, key, f"preset (offset), recurrence {rec}", "k", "o",
                                               rec == "analog", style)
            s["digital"] = float(rows[0]["digital_accuracy"])
        for enc, repairs in (("offset", (("none", "C1"), ("spares", "C2"))),
                             ("differential", (("none", "C0"), ("partner", "C3"), ("spares", "C4")))):
            name = f"faults_{enc}_repair_stuck_{end}.csv" if enc == "offset" else f"faults_differential_stuck_{end}.csv"
            if not have(out, name):
                continue
            rows = read_csv(os.path.join(out, name))
            for repair, color in repairs:
                for fam, marker in (("false", "s"), ("true", "D")):
                    sel = [r for r in rows if r["repair"] == repair and r["fault_aware_mapping"] == fam]
                    if enc == "offset" and repair == "none" and fam == "false":
                        continue  # the preset's analog line
                    label = f"{enc}, repair {repair}" + (", fault-aware" if fam == "true" else "")
                    s[f"stuck_{end}_{enc}_{repair}_{'aware' if fam == 'true' else 'plain'}"] = line(
                        ax, sel, key, label, color, marker, fam == "true", "-" if fam == "false" else "--")
        name = f"faults_dense_control_stuck_{end}.csv"
        if have(out, name):  # the dense (not ternary) control on the same chip
            rows = read_csv(os.path.join(out, name))
            for fam, marker in (("false", "v"), ("true", "^")):
                sel = [r for r in rows if r.get("fault_aware_mapping", "false") == fam]
                if sel:
                    s[f"stuck_{end}_dense_{'aware' if fam == 'true' else 'plain'}"] = line(
                        ax, sel, key, "dense control" + (", fault-aware" if fam == "true" else ""), "C5", marker,
                        fam == "true", "-.")
        if "digital" in s:
            ax.axhline(100 * s["digital"], color="gray", ls=":", lw=1, label="digital, the ternary model (its quantized weights)")
        ax.set_xscale("log")
        ax.set_xticks([zero_at, 0.1, 0.2, 0.5, 1, 2, 5, 10])
        ax.set_xticklabels(["0", "0.1", "0.2", "0.5", "1", "2", "5", "10"])
        ax.set_xlabel(f"devices {what} (% of all devices, log scale)")
        ax.set_title(what)
        ax.grid(alpha=0.3)
    axes[0].set_ylabel("accuracy (%), mean over chips, bars min to max")
    axes[1].legend(fontsize=7, loc="center left", bbox_to_anchor=(1.01, 0.5))
    fig.suptitle("Stuck devices, IMSSA-sized ternary model on imssa_64 (4 spare rows and columns per tile)")
    save(fig, out, "faults.png")


def complexity(out, summary):
    if not have(out, "complexity.json"):
        return
    j = json.load(open(os.path.join(out, "complexity.json")))
    rows = j["checkpoints"]
    base = rows[0]  # the FP32 model
    b_mem = base["complexity"]["weight_bytes"]
    b_fp32 = base["digital_baseline_fp32"]["energy_pJ_per_inference"]
    lines = ["| checkpoint | parameters | crossbar weight bits | weight memory (KiB) | MACs / inference | devices | tiles | analog energy (nJ) | analog latency (us) | digital FP32 energy (nJ) | digital energy at own precision (nJ) | analog / digital INT8 | memory reduction vs FP32 | MAC reduction vs FP32 | energy reduction: FP32 digital / this analog |",
             "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
    s = summary.setdefault("complexity", {})
    for r in rows:
        c = r["complexity"]
        name = short(r["checkpoint"])
        mem_red = b_mem / c["weight_bytes"]
        e_red = b_fp32 / r["energy_pJ_per_inference"]
        mac_red = base["complexity"]["macs_per_inference"] / c["macs_per_inference"]
        lines.append(
            f"| {name} | {c['parameters']:,} | {c['weight_bits_mean']:.0f} | {c['weight_bytes'] / 1024:.1f} | "
            f"{c['macs_per_inference'] / 1e6:.2f} M | {c['devices_used']:,} | {c['tiles']} | "
            f"{r['energy_pJ_per_inference'] / 1e3:.0f} | {r['latency_ns_per_inference'] / 1e3:.0f} | "
            f"{r['digital_baseline_fp32']['energy_pJ_per_inference'] / 1e3:.0f} | "
            f"{r['digital_baseline_checkpoint_precision']['energy_pJ_per_inference'] / 1e3:.0f} | "
            f"{r['analog_vs_digital_energy_ratio']:.3f} | {mem_red:.1f}x | {mac_red:.1f}x | {e_red:.0f}x |")
        s[name] = dict(parameters=c["parameters"], weight_bytes=c["weight_bytes"], macs=c["macs_per_inference"],
                       devices=c["devices_used"], tiles=c["tiles"], energy_pJ=r["energy_pJ_per_inference"],
                       latency_ns=r["latency_ns_per_inference"],
                       digital_fp32_pJ=r["digital_baseline_fp32"]["energy_pJ_per_inference"],
                       digital_int8_pJ=r["digital_baseline"]["energy_pJ_per_inference"],
                       digital_own_pJ=r["digital_baseline_checkpoint_precision"]["energy_pJ_per_inference"],
                       memory_reduction=mem_red, mac_reduction=mac_red,
                       energy_reduction_vs_fp32_digital=e_red)
    imssa_chip = os.path.join(out, "complexity_imssa_chip.json")
    if os.path.exists(imssa_chip):
        r = json.load(open(imssa_chip))
        s["imssa_on_imssa_64"] = dict(energy_pJ=r["energy_pJ_per_inference"], latency_ns=r["latency_ns_per_inference"],
                                     tiles=r["complexity"]["tiles"], devices=r["complexity"]["devices_used"],
                                     energy_reduction_vs_fp32_digital=b_fp32 / r["energy_pJ_per_inference"])
        lines.append(f"\nIMSSA-sized model on `imssa_64` (recurrence on the crossbar): "
                     f"{r['energy_pJ_per_inference'] / 1e3:.1f} nJ, {r['latency_ns_per_inference'] / 1e3:.0f} us, "
                     f"{r['complexity']['tiles']} tiles, {r['complexity']['devices_used']} devices; "
                     f"{b_fp32 / r['energy_pJ_per_inference']:.0f}x less energy than the FP32 H=64 model digital.")
    with open(os.path.join(out, "complexity.md.tmp"), "w") as f:
        f.write("\n".join(lines) + "\n")
    os.replace(os.path.join(out, "complexity.md.tmp"), os.path.join(out, "complexity.md"))
    # Left: energy per inference (log scale) of the analog chip, the digital baseline at the
    # checkpoint's own precision and digital FP32. Right: the same bars stacked by energy
    # component, as shares of each bar (a stacked bar on a log axis would misdraw its parts).
    fig, (ax, bx) = plt.subplots(1, 2, figsize=(16, 4.8))
    names = [short(r["checkpoint"]) for r in rows]
    kinds = (("analog", lambda r: r), ("digital own", lambda r: r["digital_baseline_checkpoint_precision"]),
             ("digital FP32", lambda r: r["digital_baseline_fp32"]))
    xs = range(len(rows))
    w = 0.27
    for k, (label, get) in enumerate(kinds):
        ax.bar([x + (k - 1) * w for x in xs], [get(r)["energy_pJ_per_inference"] / 1e3 for r in rows], w,
               label=label + (" (neurram_256, 22 nm)" if k == 0 else ""))
    ax.set_yscale("log")
    ax.set_xticks(list(xs))
    ax.set_xticklabels(names, rotation=20, ha="right", fontsize=8)
    ax.set_ylabel("energy per inference (nJ, log scale)")
    ax.set_title("Energy per inference: analog vs digital (22 nm table)")
    ax.grid(axis="y", alpha=0.3)
    ax.legend(fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.15), ncol=3)
    parts = sorted({p for r in rows for _, get in kinds for p in get(r).get("breakdown_pJ", {})})
    colors = {p: f"C{i}" for i, p in enumerate(parts)}
    for k, (label, get) in enumerate(kinds):
        bottom = [0.0] * len(rows)
        for part in parts:
            share = []
            for r in rows:
                b = get(r).get("breakdown_pJ", {})
                total = sum(b.values()) or 1.0
                share.append(100 * b.get(part, 0.0) / total)
            bx.bar([x + (k - 1) * w for x in xs], share, w, bottom=bottom, color=colors[part],
                   edgecolor="white", linewidth=0.3, label=part if k == 0 else None)
            bottom = [u + v for u, v in zip(bottom, share)]
    for k, (label, _) in enumerate(kinds):
        bx.text(-0.5 + 0.02, 102 + 4 * k, f"bar {k + 1} of each group: {label}", fontsize=7)
    bx.set_ylim(0, 118)
    bx.set_xticks(list(xs))
    bx.set_xticklabels(names, rotation=20, ha="right", fontsize=8)
    bx.set_ylabel("share of the bar's energy (%)")
    bx.set_title("Energy by component (buffer: memory traffic)")
    bx.legend(fontsize=7, loc="center left", bbox_to_anchor=(1.01, 0.5))
    save(fig, out, "complexity.png")


def irdrop(out, summary):
    """Accuracy against wire resistance per segment, one colour per tile size, solid without and
    dashed with output calibration; one panel per model. Energy and area per tile size into the
    summary."""
    s = summary.setdefault("irdrop", {})
    models = (("qat4", "4-bit QAT H=64"), ("qat2", "ternary (2-bit QAT) H=64"))
    tiles = (64, 128, 256, 512)
    if not any(os.path.exists(os.path.join(out, f"irdrop_{m}_t{t}_cal0.csv")) for m, _ in models for t in tiles):
        print("plot: irdrop_*.csv missing, skipped")
        return
    fig, axes = plt.subplots(1, 2, figsize=(12, 4.4), sharey=True)
    key = "periphery.wire_resistance_ohm"
    for ax, (m, title) in zip(axes, models):
        for k, t in enumerate(tiles):
            for cal, style, marker in (("0", "-", "o"), ("256", "--", "s")):
                name = f"irdrop_{m}_t{t}_cal{cal}.csv"
                if not os.path.exists(os.path.join(out, name)):
                    continue
                rows = sorted(read_csv(os.path.join(out, name)), key=lambda r: float(r[key]))
                label = f"{t} x {t}" + (", calibrated" if cal != "0" else "")
                s[f"{m}_t{t}_cal{cal}"] = sweep_line(ax, rows, key, label, marker + style, f"C{k}")
                s[f"{m}_digital"] = float(rows[0]["digital_accuracy"])
        ax.axhline(100 * s.get(f"{m}_digital", 0), color="gray", ls=":", lw=1, label="digital (quantized weights)")
        ax.set_xscale("symlog", linthresh=0.5)
        ax.set_xticks([0, 0.5, 1, 2, 5])
        ax.set_xticklabels(["0", "0.5", "1", "2", "5"])
        ax.set_xlabel("wire resistance per segment (ohm, rows and columns; symlog: linear below 0.5)")
        ax.set_title(f"{title} on neurram_256 tiles")
        ax.grid(alpha=0.3)
    axes[0].set_ylabel("accuracy (%), mean and std over chips")
    axes[1].legend(fontsize=7, loc="center left", bbox_to_anchor=(1.01, 0.5))
    save(fig, out, "irdrop.png")
    for t in tiles:
        f = os.path.join(out, f"irdrop_energy_t{t}.json")
        if os.path.exists(f):
            r = json.load(open(f))
            s[f"energy_t{t}"] = dict(energy_pJ=r["energy_pJ_per_inference"], area_mm2=r["area_mm2"],
                                     latency_ns=r["latency_ns_per_inference"],
                                     tiles=r["complexity"]["tiles"])


def pruning(out, summary):
    if not have(out, "pruning.csv"):
        return
    rows = read_csv(os.path.join(out, "pruning.csv"))
    full = max(rows, key=lambda r: int(r["parameters"]))
    M, H = int(full["modes"]), int(full["channels"])
    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    s = summary.setdefault("pruning", {})
    modes = sorted([r for r in rows if int(r["channels"]) == H and r["fine_tuned"] == "0"], key=lambda r: int(r["parameters"]))
    chans = sorted([r for r in rows if int(r["modes"]) == M and r["fine_tuned"] == "0"], key=lambda r: int(r["parameters"]))
    ax.plot([int(r["parameters"]) for r in modes], [100 * float(r["accuracy"]) for r in modes], "o-",
            label=f"fewer modes (of {M}), {H} channels")
    for r in modes:
        ax.annotate(r["modes"], (int(r["parameters"]), 100 * float(r["accuracy"])), fontsize=7,
                    textcoords="offset points", xytext=(3, 3))
    ax.plot([int(r["parameters"]) for r in chans], [100 * float(r["accuracy"]) for r in chans], "s--",
            label=f"fewer channels (of {H}), {M} modes")
    for r in chans:
        ax.annotate(r["channels"], (int(r["parameters"]), 100 * float(r["accuracy"])), fontsize=7,
                    textcoords="offset points", xytext=(3, -9))
    for r in rows:
        if r["fine_tuned"] == "1":
            ax.plot([int(r["parameters"])], [100 * float(r["accuracy"])], "*", markersize=14,
                    label=f"{r['modes']} modes, {r['channels']} channels, fine-tuned (QAT 4 bit)")
            s["fine_tuned"] = dict(modes=int(r["modes"]), channels=int(r["channels"]),
                                   parameters=int(r["parameters"]), accuracy=float(r["accuracy"]))
    s["points"] = [dict(modes=int(r["modes"]), channels=int(r["channels"]), parameters=int(r["parameters"]),
                        accuracy=float(r["accuracy"])) for r in rows if r["fine_tuned"] == "0"]
    ax.set_xlabel("parameters")
    ax.set_ylabel("digital test accuracy (%)")
    ax.set_title("Structural pruning of the 4-bit QAT H=64 model (no fine-tuning)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    save(fig, out, "pruning.png")


def front(out, summary):
    """Issue #34: accuracy against energy per design point, area as marker size, one colour per
    checkpoint, the front joined, each checkpoint's digital accuracy as a dotted line."""
    for chip in ("neurram_256", "pcm_512"):
        name = f"front_{chip}.csv"
        if not have(out, name):
            continue
        # with checkpoints explored later (front_PART_CHIP.csv), the front over the union
        sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
        import glob
        from summarize_front import chip_rows
        rows = chip_rows([os.path.join(out, name)] + sorted(glob.glob(os.path.join(out, f"front_*_{chip}.csv"))))
        fig, ax = plt.subplots(figsize=(7.5, 5))
        ckpts = sorted({r["checkpoint"] for r in rows})
        # one colour per checkpoint: the default cycle holds 10, tab20 beyond (never a repeat)
        colors = (plt.rcParams["axes.prop_cycle"].by_key()["color"] if len(ckpts) <= 10
                  else [plt.cm.tab20(i % 20) for i in range(len(ckpts))])
        areas = [float(r["area_mm2"]) for r in rows]
        a_min, a_max = (min(areas), max(areas)) if areas else (0.0, 1.0)
        size = lambda a: 20 + 280 * (a - a_min) / max(a_max - a_min, 1e-12)  # noqa: E731
        for k, ck in enumerate(ckpts):
            mine = [r for r in rows if r["checkpoint"] == ck]
            c = colors[k % len(colors)]
            ax.scatter([float(r["energy_pJ_per_inference"]) / 1e6 for r in mine],
                       [100 * float(r["analog_accuracy_mean"]) for r in mine],
                       s=[size(float(r["area_mm2"])) for r in mine], color=c, alpha=0.6,
                       label=short(ck))
            ax.axhline(100 * float(mine[0]["digital_accuracy"]), color=c, ls=":", lw=0.8)
        on = sorted((float(r["energy_pJ_per_inference"]) / 1e6, 100 * float(r["analog_accuracy_mean"]))
                    for r in rows if r["pareto"] == "true")
        if on:
            ax.plot(*zip(*on), color="k", lw=1, label="Pareto front (accuracy, energy, area)")
        summary[f"front_{chip}"] = [{k: r[k] for k in ("checkpoint", "periphery.adc_bits", "mapping.encoding",
                                                        "analog_accuracy_mean", "energy_pJ_per_inference",
                                                        "area_mm2")} for r in rows if r["pareto"] == "true"]
        ax.set_xscale("log")
        finish(ax, fig, out, f"front_{chip}.png", "energy per inference (uJ)",
               f"design points on {chip} at 1 day\nmarker size: area; dotted: digital accuracy",
               ylabel="analog test accuracy (%), mean over chips")


def state_grid(out, summary):
    """Issue #32: (a) sMNIST at L = 784 with the state x on a grid: PTQ at 8 bits per layer,
    channel and mode, and QAT by configuration (each training seed a dot, the mean with its 95%
    t-interval over seeds), against Zhao et al.'s ~40% (PTQ) and ~96% (QAT); (b) the analog
    recurrence's state converter bits, ranges from the trained grid or calibrated per tile
    (mean over chips, 95% t-interval)."""
    if not have(out, "smnist_state_grid.json"):
        return
    grid = json.load(open(os.path.join(out, "smnist_state_grid.json")))
    fig, (ax, bx) = plt.subplots(1, 2, figsize=(15.5, 4.8), gridspec_kw={"width_ratios": [1.4, 1]})
    labels, k = [], 0
    if os.path.exists(os.path.join(out, "smnist_ptq_granularity.json")):
        ptq = json.load(open(os.path.join(out, "smnist_ptq_granularity.json")))["runs"]
        for g in ("layer", "channel", "mode"):
            run = ptq.get(f"all8_{g}")
            if run:
                ax.bar(k, 100 * run["results"][-1]["accuracy"], color="0.7")
                labels.append(f"PTQ all 8\nx per {g}")
                k += 1
    names = {"all8 x8 mode lsq": "QAT all 8\nx 8 per mode", "all8 x6 mode lsq": "QAT all 8\nx 6 per mode",
             "all8 x4 mode lsq": "QAT all 8\nx 4 per mode", "het x8 mode lsq": "QAT het\n(Bbar 4), x 8",
             "het_b8 x8 mode lsq": "QAT het\n(Bbar 8), x 8"}
    rows = {}
    for key, label in names.items():
        g = grid["groups"].get(key)
        if not g:
            continue
        accs = [100 * r["qs4dsim_eval"] for r in g["seeds"]]
        st = g["qs4dsim_eval"]
        ax.bar(k, 100 * st["mean"], color="C0", alpha=0.6)
        ax.scatter([k] * len(accs), accs, color="k", s=12, zorder=3)
        if st.get("ci95"):
            ax.errorbar(k, 100 * st["mean"], yerr=[[100 * (st["mean"] - st["ci95"][0])], [100 * (st["ci95"][1] - st["mean"])]],
                        color="C3", capsize=4, zorder=4)
        ratio = g["seeds"][0].get("memory_ratio_vs_float32")
        labels.append(label + (f"\n{ratio:.2f}x mem" if ratio else ""))
        rows[key] = {"mean": st["mean"], "ci95": st.get("ci95"), "seeds": len(accs)}
        k += 1
    ax.axhline(40, color="C1", ls="--", lw=1, label="Zhao et al.: PTQ all 8 bits (~40%)")
    ax.axhline(96, color="C2", ls="--", lw=1, label="Zhao et al.: QAT all 8 bits (~96%)")
    ax.set_xticks(range(k))
    ax.set_xticklabels(labels, fontsize=7)
    ax.set_ylabel("sMNIST test accuracy (%), qs4dsim eval, 2,000 digits")
    ax.set_ylim(0, 100)
    ax.legend(fontsize=7, loc="lower right")
    ax.set_title("(a) the state on a grid: PTQ and QAT (dots: training seeds; red: 95% CI)", fontsize=9)
    summary["state_grid"] = rows
    conv = os.path.join(out, "state_converters", "summary.json")
    if os.path.exists(conv):
        points = json.load(open(conv))["rows"]
        series = (("ADC bits (DAC 16), trained ranges", "C0",
                   lambda p: p["point"].startswith("adc") and p["state_dac_bits"] == 16, "state_adc_bits"),
                  ("DAC bits (ADC 16), trained ranges, one DAC scale per channel", "C1",
                   lambda p: p["point"].startswith("dac") and p.get("state_dac_ranges", "channel") == "channel",
                   "state_dac_bits"),
                  ("DAC bits (ADC 16), trained ranges, DAC scale per mode", "C2",
                   lambda p: p["point"].startswith("dac") and p.get("state_dac_ranges") == "mode", "state_dac_bits"),
                  ("ADC bits (DAC 16), calibrated ranges", "C3",
                   lambda p: p["point"].startswith("calibrated_adc"), "state_adc_bits"))
        for label, color, pick, axis in series:
            mine = sorted((p for p in points if pick(p)), key=lambda p: p[axis])
            if not mine:
                continue
            xs = [p[axis] for p in mine]
            ys = [100 * p["accuracy_mean"] for p in mine]
            lo = [100 * (p["accuracy_mean"] - p["accuracy_ci95"][0]) if p["accuracy_ci95"] else 0 for p in mine]
            hi = [100 * (p["accuracy_ci95"][1] - p["accuracy_mean"]) if p["accuracy_ci95"] else 0 for p in mine]
            bx.errorbar(xs, ys, yerr=[lo, hi], marker="o", color=color, capsize=3,
                        label=f"{label} ({mine[0]['chips']} chips x {mine[0]['samples']} digits)")
        for p, marker in ((next((p for p in points if p["point"] == "calibrated_dac12_adc12"), None), "s"),
                          (next((p for p in points if p["point"] == "adc8_dac12"), None), "*"),
                          (next((p for p in points if p["point"] == "adc8_dacmode8"), None), "D"),
                          (next((p for p in points if p["encoding"] == "offset"), None), "^")):
            if p:
                bx.scatter([p["state_adc_bits"]], [100 * p["accuracy_mean"]], marker=marker, color="k", zorder=4,
                           s=40, label=p["point"] + (" (offset encoding)" if p["encoding"] == "offset" else ""))
        if points:
            bx.axhline(100 * points[0]["digital_accuracy"], color="0.5", ls=":", lw=0.8)
        summary["state_converters"] = [{k: p[k] for k in ("point", "state_dac_bits", "state_adc_bits", "state_ranges",
                                                          "encoding", "chips", "accuracy_mean", "accuracy_ci95")}
                                       for p in points]
        bx.set_xlabel("state converter bits")
        bx.set_ylabel("analog accuracy (%), mean over chips")
        bx.set_ylim(0, 105)
        bx.legend(fontsize=6, loc="upper left", bbox_to_anchor=(1.01, 1.0))  # beside the data, not over it
        bx.set_title("(b) analog recurrence on imssa_smnist: state converter bits", fontsize=9)
    save(fig, out, "state_grid.png")


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 1:
        print("usage: plot.py RESULTS_DIR", file=sys.stderr)
        return 2
    out = argv[0]
    summary = {}
    for f in (precision, seeds, robustness, ageing, faults, complexity, pruning, irdrop, front, state_grid):
        f(out, summary)
    with open(os.path.join(out, "summary.json.tmp"), "w") as fh:
        json.dump(summary, fh, indent=1)
    os.replace(os.path.join(out, "summary.json.tmp"), os.path.join(out, "summary.json"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
