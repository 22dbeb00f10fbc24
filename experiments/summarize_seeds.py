"""Issue #30: section 1's claim over training seeds. For each seed of the H = 32 and H = 64 recipes
(seed 0: the shipped checkpoints; seeds 1 and 2: `SIZES="32 64" SEEDS="1 2"
experiments/train_front_models.sh`), run.sh --only seeds writes
RESULTS_DIR/seeds/hH_seedS_{fp32,qat2,qat4,qat8}.json (`qs4dsim eval`) and hH_seedS_ptq.csv
(`qs4dsim sweep` on the ideal chip, post-training quantization of that seed's FP32 parent). This
reads them and writes RESULTS_DIR/seeds_hH.json for each family with at least two complete
seeds: per recipe the
accuracy of every seed, the mean and the 95% t-interval over seeds; and the paired differences
each conclusion rests on (QAT against post-training quantization at the same bits, each against
FP32), per seed, with their interval and a verdict: "better"/"worse" only where the interval
excludes 0, else "within the spread".

    /usr/bin/python3 experiments/summarize_seeds.py RESULTS_DIR
"""
import csv
import json
import os
import re
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from summarize_state_grid import summary, verdict  # noqa: E402  (mean, std, 95% t-interval; the verdict rule)

BITS = (2, 4, 8)   # the bits both QAT and post-training quantization have
PTQ_ONLY = (3,)    # post-training bits without a QAT model in the H = 32 family
FILE = re.compile(r"^(h\d+)_seed(\d+)_(fp32|qat\d|ptq)\.(json|csv)$")
MODELS = {"h32": "H = 32, N = 32, 3 layers", "h64": "H = 64, N = 64, 4 layers"}


def read_seed_files(folder):
    """{family: {seed: {recipe: accuracy}}} from the eval JSONs and the post-training sweep CSVs."""
    families = {}
    for name in sorted(os.listdir(folder)):
        m = FILE.match(name)
        if not m:
            continue
        family, seed, recipe, ext = m.group(1), int(m.group(2)), m.group(3), m.group(4)
        acc = families.setdefault(family, {}).setdefault(seed, {})
        path = os.path.join(folder, name)
        if ext == "json":
            acc[recipe] = json.load(open(path))["accuracy"]
            continue
        with open(path) as f:
            for row in csv.DictReader(line for line in f if not line.startswith("#")):
                acc[f"ptq{int(row['mapping.weight_bits'])}"] = float(row["analog_accuracy_mean"])
    return families


def main(argv):
    out = argv[0]
    families = read_seed_files(os.path.join(out, "seeds"))
    if not families:
        raise SystemExit(f"{out}/seeds: no seed files (run.sh --only seeds)")
    for family, seeds in sorted(families.items()):
        summarize_family(out, family, seeds)


def summarize_family(out, family, seeds):
    complete = sorted(s for s, acc in seeds.items()
                      if all(k in acc for k in ["fp32"] + [f"qat{b}" for b in BITS] +
                             [f"ptq{b}" for b in BITS + PTQ_ONLY]))
    if len(complete) < 2:  # one seed has no spread: nothing to summarise yet
        print(f"{family}: {len(complete)} complete seed(s) of {sorted(seeds)}: no summary over seeds")
        return
    recipes = ["fp32"] + [f"{k}{b}" for b in sorted(BITS + PTQ_ONLY) for k in ("qat", "ptq")
                          if f"{k}{b}" in seeds[complete[0]]]
    table = {r: dict(summary([100 * seeds[s][r] for s in complete]),
                     per_seed=[100 * seeds[s][r] for s in complete]) for r in recipes}
    compared = [p for b in BITS for p in ((f"qat{b}", f"ptq{b}"), (f"qat{b}", "fp32"), (f"ptq{b}", "fp32"))]
    compared += [(f"ptq{b}", "fp32") for b in PTQ_ONLY]
    pairs = {}
    for a, ref in compared:
        d = [100 * (seeds[s][a] - seeds[s][ref]) for s in complete]
        stats = dict(summary(d), per_seed=d)
        stats["verdict"] = verdict(stats["ci95"])
        pairs[f"{a} - {ref}"] = stats
    result = {"seeds": complete, "model": f"{MODELS.get(family, family)}, sequential Fashion-MNIST L = 196",
              "accuracy_percent": table, "paired_differences_points": pairs,
              "interval": "95% Student t over training seeds (paired: the same seed's models)"}
    path = os.path.join(out, f"seeds_{family}.json")
    with tempfile.NamedTemporaryFile("w", dir=out, prefix=f".seeds_{family}.", delete=False) as f:
        json.dump(result, f, indent=1)  # an exclusive temporary, then renamed over the result
    os.replace(f.name, path)
    print(f"{family}: seeds {complete}")
    for r, st in table.items():
        ci = st["ci95"]
        print(f"{r:6s} {st['mean']:6.2f}  [{ci[0]:6.2f}, {ci[1]:6.2f}]  seeds "
              + " ".join(f"{v:.2f}" for v in st["per_seed"]) if ci else f"{r:6s} {st['mean']:6.2f}")
    for k, st in pairs.items():
        ci = st["ci95"]
        print(f"{k:14s} {st['mean']:+7.2f}  [{ci[0]:+7.2f}, {ci[1]:+7.2f}]  {st['verdict']}" if ci
              else f"{k:14s} {st['mean']:+7.2f}  {st['verdict']}")


if __name__ == "__main__":
    main(sys.argv[1:])
