#!/usr/bin/env python3
"""Compares the numbers of a regenerated results folder with the committed ones (issue #29:
figures regenerated from the new layout match the old ones where nothing physical changed).

    /usr/bin/python3 experiments/compare_results.py experiments/results /tmp/regen/results

For every file present in both folders: CSV rows are matched by position and compared on the
columns both have; JSON files on the keys both have, recursively. Timings, the run identity and
paths are left out (they name the run, not its result). A column or key only one side has is
listed, not compared (a newer version may report more). Exit status 1 when any number differs by
more than --tolerance (default 0: bit for bit as printed).
"""
import argparse
import csv
import json
import math
import os
import sys

# What says how or when a run was made, not what it measured.
IGNORED = {"seconds", "digital_seconds", "analog_seconds", "samples_per_s", "run", "version", "git",
           "command", "started", "finished", "host", "threads", "chips_side_by_side", "processes",
           "data", "checkpoint", "path", "elapsed_s", "core_hours"}


def same_number(a, b, tolerance):
    try:
        x, y = float(a), float(b)
    except (TypeError, ValueError):
        return a == b
    if math.isnan(x) and math.isnan(y):
        return True
    return abs(x - y) <= tolerance


def compare_json(a, b, where, tolerance, out):
    if isinstance(a, dict) and isinstance(b, dict):
        for k in sorted(set(a) | set(b)):
            if k in IGNORED or "fingerprint" in k or "seconds" in k:
                continue
            if k not in a or k not in b:
                out["only"].append(f"{where}.{k} ({'committed' if k in a else 'regenerated'} only)")
                continue
            compare_json(a[k], b[k], f"{where}.{k}", tolerance, out)
    elif isinstance(a, list) and isinstance(b, list):
        if len(a) != len(b):
            out["diff"].append(f"{where}: {len(a)} entries against {len(b)}")
            return
        for i, (x, y) in enumerate(zip(a, b)):
            compare_json(x, y, f"{where}[{i}]", tolerance, out)
    else:
        out["compared"] += 1
        if not same_number(a, b, tolerance):
            out["diff"].append(f"{where}: {a} against {b}")


def compare_csv(path_a, path_b, tolerance, out):
    with open(path_a, newline="") as f:
        rows_a = [r for r in csv.reader(f) if r and not r[0].startswith("#")]
    with open(path_b, newline="") as f:
        rows_b = [r for r in csv.reader(f) if r and not r[0].startswith("#")]
    head_a, head_b = rows_a[0], rows_b[0]
    common = [c for c in head_a if c in head_b and c not in IGNORED]
    out["only"] += [f"column {c} (committed only)" for c in head_a if c not in head_b]
    out["only"] += [f"column {c} (regenerated only)" for c in head_b if c not in head_a]
    if len(rows_a) != len(rows_b):
        out["diff"].append(f"{len(rows_a) - 1} rows against {len(rows_b) - 1}")
    for i, (ra, rb) in enumerate(zip(rows_a[1:], rows_b[1:])):
        da, db = dict(zip(head_a, ra)), dict(zip(head_b, rb))
        for c in common:
            out["compared"] += 1
            if not same_number(da[c], db[c], tolerance):
                out["diff"].append(f"row {i + 1} {c}: {da[c]} against {db[c]}")


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("committed")
    p.add_argument("regenerated")
    p.add_argument("--tolerance", type=float, default=0.0)
    args = p.parse_args()
    failed = False
    total = 0
    for name in sorted(os.listdir(args.regenerated)):
        a, b = os.path.join(args.committed, name), os.path.join(args.regenerated, name)
        if not os.path.isfile(a) or not (name.endswith(".csv") or name.endswith(".json")):
            continue
        out = {"compared": 0, "diff": [], "only": []}
        if name.endswith(".csv"):
            compare_csv(a, b, args.tolerance, out)
        else:
            with open(a) as fa, open(b) as fb:
                compare_json(json.load(fa), json.load(fb), "", args.tolerance, out)
        total += out["compared"]
        verdict = "same" if not out["diff"] else f"{len(out['diff'])} DIFFER"
        print(f"{name}: {out['compared']} values compared, {verdict}")
        for line in out["diff"][:10]:
            print(f"  {line}")
        if out["only"]:
            print(f"  not compared: {', '.join(out['only'][:6])}{' ...' if len(out['only']) > 6 else ''}")
        failed |= bool(out["diff"])
    print(f"{total} values compared in all: {'some differ' if failed else 'all the same'}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
