"""Issue #30: the paired comparisons run.sh writes (one `qs4dsim compare --paired --json` per file
in a folder: robustness_paired/, irdrop_paired/) as one table: per comparison the settings both
sides share, the mean accuracy of a and b over the chips, the paired difference b - a in points,
its 95% t-interval over the chips and compare's verdict. Refuses a report whose calibration saw
the evaluated samples. Writes FOLDER/summary.json and prints a Markdown table.

    /usr/bin/python3 experiments/summarize_paired.py experiments/results/robustness_paired
"""
import json
import os
import re
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from summarize_state_grid import summary, verdict  # noqa: E402  (mean, std, 95% t-interval; the verdict rule)

FILE = re.compile(r"^(?!summary\.json$)(.+)\.json$")
SEED = re.compile(r"^(.*)_seed(\d+)(_x\d+)?$")  # maxpc_vs_hwa_seed1_x4: base maxpc_vs_hwa_x4


def short(path):
    return os.path.basename(path).replace("fmnist196_s4d_h64_n64_l4_", "").replace(".h5", "")


def label(side):
    over = side.get("overrides_b", [])
    return short(side["checkpoint"]) + (" + " + ", ".join(over) if over else "")


def over_seeds(rows):
    """The same comparison trained with several seeds (NAME, NAME_seed1, ...): each seed's mean
    paired difference is one observation; their mean and 95% t-interval over the seeds."""
    groups = {}
    for r in rows:
        m = SEED.match(r["name"])
        base, seed = (m.group(1) + m.group(3), int(m.group(2))) if m else (r["name"], 0)
        groups.setdefault((base, r["shared"], r["time_s"]), []).append((seed, r["b_minus_a"]))
    out = []
    for (base, shared, t), per_seed in sorted(groups.items(), key=lambda g: natural(g[0][0])):
        if len(per_seed) < 2:
            continue
        per_seed.sort()
        stats = summary([d for _, d in per_seed])
        out.append({"name": base, "shared": shared, "time_s": t, "seeds": [s for s, _ in per_seed],
                    "b_minus_a_per_seed": [d for _, d in per_seed], "b_minus_a": stats["mean"],
                    "ci95": stats["ci95"], "verdict": verdict(stats["ci95"], "b better", "b worse")})
    return out


def natural(name):  # x2 before x10
    return [int(t) if t.isdigit() else t for t in re.split(r"(\d+)", name)]


def main(argv):
    folder = argv[0]
    rows = []
    for name in sorted(os.listdir(folder)):
        m = FILE.match(name)
        if not m:
            continue
        report = json.load(open(os.path.join(folder, name)))
        if not report["calibration"].get("disjoint_from_evaluated", False):
            raise SystemExit(f"{name}: calibrated on the evaluated samples")
        for r in report["results"]:
            a, b = r["a_accuracy_per_chip"], r["b_accuracy_per_chip"]
            shared = report["run"]["overrides"] + ([f"outputs calibrated on {report['run']['calibrate_outputs']}"]
                                                    if report["run"].get("calibrate_outputs") else [])
            rows.append({"name": m.group(1), "shared": ", ".join(shared), "time_s": r["time_s"],
                         "a": label(report["a"]), "b": label(report["b"]), "chips": r["chips"],
                         "a_mean": 100 * sum(a) / len(a), "b_mean": 100 * sum(b) / len(b),
                         "b_minus_a": 100 * r["difference_mean"],
                         "ci95": [100 * v for v in r["difference_ci95"]], "verdict": r["verdict"],
                         "run": {k: report["run"][k] for k in ("program", "seed", "data_fingerprint")}})
    rows.sort(key=lambda r: natural(r["name"]))
    seeds = over_seeds(rows)
    with tempfile.NamedTemporaryFile("w", dir=folder, prefix=".summary.", delete=False) as f:
        json.dump({"rows": rows, "over_training_seeds": seeds, "units": "accuracy in %, differences in points",
                   "interval": "95% Student t over chips of the paired difference b - a; over_training_seeds: "
                               "95% Student t over the seeds of each seed's mean paired difference"}, f, indent=1)
    os.replace(f.name, os.path.join(folder, "summary.json"))
    print("| a | b | both | time (s) | chips | a (%) | b (%) | b - a (points) | 95% interval | verdict |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for r in rows:
        print(f"| {r['a']} | {r['b']} | {r['shared']} | {r['time_s']:g} | {r['chips']} | {r['a_mean']:.2f} | "
              f"{r['b_mean']:.2f} | {r['b_minus_a']:+.2f} | [{r['ci95'][0]:+.2f}, {r['ci95'][1]:+.2f}] | "
              f"{r['verdict']} |")
    if seeds:
        print("\nover training seeds (each seed's mean paired difference one observation):\n")
        print("| comparison | both | seeds | b - a per seed | mean | 95% interval | verdict |")
        print("| --- | --- | --- | --- | --- | --- | --- |")
        for r in seeds:
            print(f"| {r['name']} | {r['shared']} | {', '.join(map(str, r['seeds']))} | "
                  f"{' / '.join(f'{d:+.2f}' for d in r['b_minus_a_per_seed'])} | {r['b_minus_a']:+.2f} | "
                  f"[{r['ci95'][0]:+.2f}, {r['ci95'][1]:+.2f}] | {r['verdict']} |")


if __name__ == "__main__":
    main(sys.argv[1:])
