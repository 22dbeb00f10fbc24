#!/usr/bin/python3
"""Issue #34: the size-against-precision front and the tolerance tables as Markdown, from the
files `experiments/run.sh --only front` writes (front_CHIP.csv, tolerance_CHIP_MODEL_KEY.json).

    /usr/bin/python3 experiments/summarize_front.py experiments/results > front.md

For each chip: the points on the Pareto front (accuracy, energy, area at one day), each with its
95% t-interval over chips; which front points are distinguishable from the next cheaper one (their
intervals do not overlap: the control for calling a point "better"); the accuracy paid per
halving of energy along the front; each checkpoint's cheapest point within 1 point of its own
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


def front_section(path):
    rows = list(csv.DictReader(open(path)))
    chip = os.path.basename(path)[len("front_"):-len(".csv")]
    out = [f"### {chip}: {len(rows)} design points, {rows[0]['trials']} chips each, "
           f"{rows[0]['n_samples']} test images, t = {float(rows[0]['time_s']) / 86400:g} d", ""]
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
    # Accuracy per halving of energy: between the cheapest and the most accurate front point.
    if len(front) >= 2:
        best = max(front, key=lambda r: fnum(r, "analog_accuracy_mean"))
        cheap = front[0]
        halvings = math.log2(fnum(best, "energy_pJ_per_inference") / fnum(cheap, "energy_pJ_per_inference"))
        if halvings > 0:
            d = 100 * (fnum(best, "analog_accuracy_mean") - fnum(cheap, "analog_accuracy_mean"))
            out += ["", f"From the most accurate front point ({short(best['checkpoint'])}, ADC "
                        f"{best['periphery.adc_bits']}, {best['mapping.encoding']}) to the cheapest "
                        f"({short(cheap['checkpoint'])}, ADC {cheap['periphery.adc_bits']}, "
                        f"{cheap['mapping.encoding']}): {halvings:.2f} halvings of energy for {d:.2f} points, "
                        f"{d / halvings:.2f} points per halving."]
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
           "| chip | model | key | time | answer | final bracket | probes (value: mean, lower bound) |",
           "| --- | --- | --- | --- | --- | --- | --- |"]
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
        out.append(f"| {chip} | {model} | {j['key']} | {times} | {answer} | "
                   f"[{j['bracket'][0]:.4g}, {j['bracket'][1]:.4g}] | {probes} |")
    return out


def main():
    results = sys.argv[1] if len(sys.argv) > 1 else "experiments/results"
    lines = []
    for path in sorted(glob.glob(os.path.join(results, "front_*.csv"))):
        lines += front_section(path) + [""]
    lines += tolerance_section(results)
    print("\n".join(lines))


if __name__ == "__main__":
    main()
