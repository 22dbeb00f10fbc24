"""Issue #30: how much one configuration loses between two times after programming, on the same
chips. Each `qs4dsim eval --trials K --times T0,T1,... --json` file in a folder programs K chips
once and reads each of them at every time, so the accuracy of chip k at T against chip k at T0 is
a paired difference: the chip-to-chip spread cancels, as in `compare --paired`. Per file and
later time: the mean accuracy at T0 and at T over the chips, the per-chip difference T - T0 in
points, its mean with the 95% t-interval over the chips and the verdict of RESULTS' rule ("loses"
or "gains" only where the interval excludes 0). Refuses a report whose calibration saw the
evaluated samples. Writes FOLDER/summary.json and prints a Markdown table.

    /usr/bin/python3 experiments/summarize_over_time.py experiments/results/ageing_over_time
"""
import json
import os
import re
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from summarize_state_grid import summary, verdict  # noqa: E402  (mean, std, 95% t-interval; the verdict rule)

FILE = re.compile(r"^(?!summary\.json$)(.+)\.json$")


def time_label(seconds):
    for unit, size in (("y", 365 * 86400), ("d", 86400), ("h", 3600), ("s", 1)):
        if seconds >= size and seconds % size == 0:
            return f"{seconds // size:g}{unit}"
    return f"{seconds:g}s"


def rows_of(name, report):
    if not report["calibration"].get("disjoint_from_evaluated", False) and report["calibration"].get("used", True):
        raise SystemExit(f"{name}: calibrated on the evaluated samples")
    times = report["results"]
    first = times[0]["analog_accuracy_per_trial"]
    out = []
    for t in times[1:]:
        later = t["analog_accuracy_per_trial"]
        if len(later) != len(first):
            raise SystemExit(f"{name}: {len(first)} chips at {time_label(times[0]['time_s'])}, {len(later)} at "
                             f"{time_label(t['time_s'])}: not the same chips")
        stats = summary([100 * (b - a) for a, b in zip(first, later)])
        out.append({"name": name, "set": ", ".join(report["run"]["overrides"]), "chip": report["chip"]["name"],
                    "chips": len(first), "from_s": times[0]["time_s"], "to_s": t["time_s"],
                    "extrapolated": bool(t.get("extrapolated", False)),
                    "from_mean": 100 * sum(first) / len(first), "to_mean": 100 * sum(later) / len(later),
                    "difference": stats["mean"], "ci95": stats["ci95"],
                    "verdict": verdict(stats["ci95"], "gains", "loses"),
                    "run": {k: report["run"][k] for k in ("program", "seed", "data_fingerprint")}})
    return out


def main(argv):
    folder = argv[0]
    rows = []
    for name in sorted(os.listdir(folder)):
        m = FILE.match(name)
        if m:
            rows += rows_of(m.group(1), json.load(open(os.path.join(folder, name))))
    with tempfile.NamedTemporaryFile("w", dir=folder, prefix=".summary.", delete=False) as f:
        json.dump({"rows": rows, "units": "accuracy in %, differences in points",
                   "interval": "95% Student t over chips of the per-chip difference (later time - first time); "
                               "every chip is programmed once and read at every time"}, f, indent=1)
    os.replace(f.name, os.path.join(folder, "summary.json"))
    print("| file | chip | --set | chips | from | to | at from (%) | at to (%) | to - from (points) | 95% interval "
          "| verdict |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for r in rows:
        mark = "*" if r["extrapolated"] else ""
        print(f"| {r['name']} | {r['chip']} | {r['set']} | {r['chips']} | {time_label(r['from_s'])} | "
              f"{time_label(r['to_s'])}{mark} | {r['from_mean']:.2f} | {r['to_mean']:.2f} | {r['difference']:+.2f} | "
              f"[{r['ci95'][0]:+.2f}, {r['ci95'][1]:+.2f}] | {r['verdict']} |")


if __name__ == "__main__":
    main(sys.argv[1:])
