#!/usr/bin/python3
"""Issue #34: the size-against-precision front and the tolerance tables as Markdown, from the
files `experiments/run.sh --only front` writes (front_CHIP.csv, with front_PART_CHIP.csv for
checkpoints added later, and tolerance_CHIP_MODEL_KEY.json).

    /usr/bin/python3 experiments/summarize_front.py experiments/results > front.md

For each chip: the points on the Pareto front (accuracy, energy, area at one day), each with its
95% t-interval over chips; which front points are distinguishable from the next cheaper one (their
intervals do not overlap: the control for calling a point "better"); the front's energy levels
and the accuracy paid per halving of energy between them; each checkpoint's cheapest point within 1 point of its own
digital accuracy (lower 95% bound); then the tolerance table.
"""
import csv
import glob
import json
import math
import os
import sys


def short(path):
    name = os.path.basename(path).replace(".h5", "").replace("fmnist196_s4d_", "")
    return name


def fnum(r, k):
    return float(r[k]) if r[k] != "" else float("nan")


OBJECTIVES = (("analog_accuracy_mean", True), ("energy_pJ_per_inference", False), ("area_mm2", False))


def pareto(rows):
    """explore's front (its default objectives) recomputed over `rows`: a row is on it when no other
    row is at least as good on every objective and better on one. One time per file here."""
    costs = [[-fnum(r, k) if larger else fnum(r, k) for k, larger in OBJECTIVES] for r in rows]
    return [not any(all(o <= m for o, m in zip(other, mine)) and other != mine for other in costs)
            for mine in costs]


def chip_rows(paths):
    """The rows of one chip's explore files (front_CHIP.csv and front_PART_CHIP.csv, e.g. checkpoints
    added later with the same grid, seed, images and chips) with the front over their union. Each
    file's own pareto column must equal this front over that file alone: the check that the
    recomputation is explore's."""
    rows = []
    for path in paths:
        mine = list(csv.DictReader(open(path)))
        if [r["pareto"] == "true" for r in mine] != pareto(mine):
            raise SystemExit(f"{path}: its pareto column differs from the front recomputed here")
        rows += mine
    keys = {(r["trials"], r["n_samples"], r["time_s"]) for r in rows}
    if len(keys) != 1:
        raise SystemExit(f"{paths}: the files differ in chips, images or time ({sorted(keys)}); not one front")
    for r, on in zip(rows, pareto(rows)):
        r["pareto"] = "true" if on else "false"
    return rows


def front_section(chip, paths):
    rows = chip_rows(paths)
    out = [f"### {chip}: {len(rows)} design points, {rows[0]['trials']} chips each, "
           f"{rows[0]['n_samples']} test images, t = {float(rows[0]['time_s']) / 86400:g} d", ""]
    if len(paths) > 1:
        out += ["From " + ", ".join(f"`{os.path.basename(p)}`" for p in paths) + ", the front over their union.", ""]
    front = sorted((r for r in rows if r["pareto"] == "true"), key=lambda r: fnum(r, "energy_pJ_per_inference"))
    out += ["| checkpoint | ADC bits | encoding | digital | analog mean [95% CI] | energy (uJ) | area (mm^2) | "
            "latency (ms) | vs next cheaper front point |", "| --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
    prev = None
    for r in front:
        lo, hi = fnum(r, "analog_accuracy_ci95_low"), fnum(r, "analog_accuracy_ci95_high")
        if prev is None:
            verdict = "cheapest"
        else:
            d = 100 * (fnum(r, "analog_accuracy_mean") - fnum(prev, "analog_accuracy_mean"))
            overlap = lo <= fnum(prev, "analog_accuracy_ci95_high") and fnum(prev, "analog_accuracy_ci95_low") <= hi
            verdict = f"{d:+.2f} pt, " + ("within the spread" if overlap else "intervals apart")
        out.append(f"| {short(r['checkpoint'])} | {r['periphery.adc_bits']} | {r['mapping.encoding']} | "
                   f"{100 * fnum(r, 'digital_accuracy'):.2f} | {100 * fnum(r, 'analog_accuracy_mean'):.2f} "
                   f"[{100 * lo:.2f}, {100 * hi:.2f}] | {fnum(r, 'energy_pJ_per_inference') / 1e6:.3f} | "
                   f"{fnum(r, 'area_mm2'):.3f} | {fnum(r, 'latency_ns_per_inference') / 1e6:.3f} | {verdict} |")
        prev = r
    # The front's steps: front points within 5% of each other's energy are one energy level (the
    # converter bits move energy by far less than the model does), each level represented by its
    # most accurate point; the accuracy paid per halving of energy between consecutive levels.
    levels = []
    for r in front:
        e = fnum(r, "energy_pJ_per_inference")
        if levels and e <= 1.05 * fnum(levels[-1][0], "energy_pJ_per_inference"):
            levels[-1].append(r)
        else:
            levels.append([r])
    best = [max(level, key=lambda r: fnum(r, "analog_accuracy_mean")) for level in levels]
    if len(best) >= 2:
        out += ["", "The front's energy levels (points within 5% of each other's energy), each by its most accurate "
                    "point, and what a halving of energy costs between them:", "",
                "| level | best point | analog mean | energy (uJ) | from the level below: halvings, points, points per halving |",
                "| --- | --- | --- | --- | --- |"]
        for i, r in enumerate(best):
            step = ""
            if i > 0:
                h = math.log2(fnum(r, "energy_pJ_per_inference") / fnum(best[i - 1], "energy_pJ_per_inference"))
                d = 100 * (fnum(r, "analog_accuracy_mean") - fnum(best[i - 1], "analog_accuracy_mean"))
                step = f"{h:.2f}, {d:+.2f}, {d / h:+.2f}"
            out.append(f"| {i + 1} | {short(r['checkpoint'])}, ADC {r['periphery.adc_bits']}, "
                       f"{r['mapping.encoding']} | {100 * fnum(r, 'analog_accuracy_mean'):.2f} | "
                       f"{fnum(r, 'energy_pJ_per_inference') / 1e6:.3f} | {step} |")
    # Each checkpoint's cheapest point whose lower bound is within 1 point of its digital accuracy.
    out += ["", "Each checkpoint's cheapest design point within 1 point of its digital accuracy (95% lower bound):",
            "", "| checkpoint | digital | cheapest point within 1 pt | analog [95% CI] | energy (uJ) | area (mm^2) |",
            "| --- | --- | --- | --- | --- | --- |"]
    for ck in sorted({r["checkpoint"] for r in rows}, key=short):
        mine = [r for r in rows if r["checkpoint"] == ck]
        dig = fnum(mine[0], "digital_accuracy")
        ok = [r for r in mine if fnum(r, "analog_accuracy_ci95_low") >= dig - 0.01]
        if not ok:
            best = max(mine, key=lambda r: fnum(r, "analog_accuracy_mean"))
            out.append(f"| {short(ck)} | {100 * dig:.2f} | none (best: ADC {best['periphery.adc_bits']}, "
                       f"{best['mapping.encoding']}) | {100 * fnum(best, 'analog_accuracy_mean'):.2f} "
                       f"[{100 * fnum(best, 'analog_accuracy_ci95_low'):.2f}, "
                       f"{100 * fnum(best, 'analog_accuracy_ci95_high'):.2f}] | "
                       f"{fnum(best, 'energy_pJ_per_inference') / 1e6:.3f} | {fnum(best, 'area_mm2'):.3f} |")
            continue
        r = min(ok, key=lambda r: fnum(r, "energy_pJ_per_inference"))
        out.append(f"| {short(ck)} | {100 * dig:.2f} | ADC {r['periphery.adc_bits']}, {r['mapping.encoding']} | "
                   f"{100 * fnum(r, 'analog_accuracy_mean'):.2f} [{100 * fnum(r, 'analog_accuracy_ci95_low'):.2f}, "
                   f"{100 * fnum(r, 'analog_accuracy_ci95_high'):.2f}] | "
                   f"{fnum(r, 'energy_pJ_per_inference') / 1e6:.3f} | {fnum(r, 'area_mm2'):.3f} |")
    return out


def tolerance_section(results):
    files = sorted(glob.glob(os.path.join(results, "tolerance_*.json")))
    if not files:
        return []
    out = ["### Tolerance: the largest device non-ideality each model keeps within 1 point of its digital "
           "accuracy (95% lower bound over the chips)", "",
           "| chip | model | key | time | images | answer | final bracket | highest passing / lowest failing probe | "
           "probes (value: mean, lower bound) |",
           "| --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
    for f in files:
        j = json.load(open(f))
        chip = j["run"]["chip"]["name"] if isinstance(j["run"].get("chip"), dict) else "?"
        model = short(j["run"]["checkpoint"])
        times = ",".join(f"{t:g}s" for t in j["run"]["times_s"])
        if j["found"]:
            answer = f"{j['direction']} {j['value']:.4g}"
        else:
            answer = "none in the range" if not j["note"] else j["note"]
        probes = "; ".join(f"{p['value']:.3g}: {100 * p['worst_mean']:.1f}, {100 * p['worst_ci95_low']:.1f}"
                           for p in sorted(j["probes"], key=lambda p: p["value"]))
        passing = [p["value"] for p in j["probes"] if p["passes"]]
        failing = [p["value"] for p in j["probes"] if not p["passes"]]
        edge = (f"{max(passing):.3g}" if passing else "none") + " / " + (f"{min(failing):.3g}" if failing else "none")
        images = j["run"].get("limit", 0) or "all"
        out.append(f"| {chip} | {model} | {j['key']} | {times} | {images} | {answer} | "
                   f"[{j['bracket'][0]:.4g}, {j['bracket'][1]:.4g}] | {edge} | {probes} |")
    return out


def main():
    results = sys.argv[1] if len(sys.argv) > 1 else "experiments/results"
    lines = []
    names = [os.path.basename(p)[len("front_"):-len(".csv")]
             for p in sorted(glob.glob(os.path.join(results, "front_*.csv")))]
    # front_PART_CHIP.csv belongs to the chip of front_CHIP.csv
    for chip in [n for n in names if not any(n.endswith("_" + m) for m in names)]:
        extra = [os.path.join(results, f"front_{n}.csv") for n in names if n.endswith("_" + chip)]
        lines += front_section(chip, [os.path.join(results, f"front_{chip}.csv")] + extra) + [""]
    lines += tolerance_section(results)
    print("\n".join(lines))


if __name__ == "__main__":
    main()
