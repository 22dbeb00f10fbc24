"""Summarizes experiments/state_converters.sh: one row per point (DAC and ADC bits, ranges, encoding, chips, mean
accuracy with its 95% t-interval over chips, digital accuracy, ADC clip share, energy per
inference), into OUT/summary.json and as a table on stdout."""
import json
import os
import sys
import tempfile

out = sys.argv[1]
rows = []
for name in sorted(os.listdir(out)):
    if not name.endswith(".json") or name == "summary.json":
        continue
    r = json.load(open(os.path.join(out, name)))
    t = r["results"][0]
    p = r["chip"]["periphery"]
    rows.append({"point": name[:-5], "state_dac_bits": p["state_dac_bits"], "state_adc_bits": p["state_adc_bits"],
                 "state_ranges": p["state_ranges"],
                 "state_dac_ranges": p.get("state_dac_ranges", "channel"), "time_s": t["time_s"], "encoding": r["chip"]["mapping"]["encoding"],
                 "chips": t["chips"], "samples": r["n_samples"], "accuracy_mean": t["analog_accuracy_mean"],
                 "accuracy_ci95": t["analog_accuracy_ci95"], "per_chip": t["analog_accuracy_per_trial"],
                 "digital_accuracy": r["digital_accuracy"], "adc_clip_fraction": t["adc_clip_fraction"],
                 "energy_pJ_per_inference": r.get("energy_pJ_per_inference"),
                 "checkpoint": r["checkpoint"], "seed": r["seed"], "run": r["run"]})
rows.sort(key=lambda x: x["point"])
with tempfile.NamedTemporaryFile("w", dir=out, prefix=".summary.", delete=False) as f:
    json.dump({"what": "state converter bits of an analog recurrence (issue #32)", "rows": rows}, f, indent=1)
os.replace(f.name, os.path.join(out, "summary.json"))  # an exclusive temporary, then renamed
print(f"{'point':28s} {'DAC':>4s} {'ADC':>4s} {'ranges':>10s} {'DAC per':>8s} {'t (s)':>7s} {'chips':>5s} {'mean':>7s} {'95% CI':>17s} {'clips':>7s} {'pJ/inf':>10s}")
for x in rows:
    ci = x["accuracy_ci95"]
    ci = f"[{ci[0]:.3f}, {ci[1]:.3f}]" if ci else "-"
    e = x["energy_pJ_per_inference"]
    print(f"{x['point']:28s} {x['state_dac_bits']:4d} {x['state_adc_bits']:4d} {x['state_ranges']:>10s} {x['state_dac_ranges']:>8s} {x['time_s']:7g} {x['chips']:5d} {x['accuracy_mean']:7.4f} "
          f"{ci:>17s} {100 * x['adc_clip_fraction']:6.3f}% {e if e is None else round(e):>10}")
