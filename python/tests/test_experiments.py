"""experiments/plot.py on a small results folder in the formats run.sh writes: every plot and
the complexity table appear, and the summary carries the numbers the results page quotes."""

import json
import os
import subprocess

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
HEADER = ("point,{key},seed,trials,n_samples,time_s,digital_accuracy,analog_accuracy_mean,"
          "analog_accuracy_std,analog_accuracy_min,analog_accuracy_max,agreement_with_digital,"
          "adc_clip_fraction")


def sweep_csv(path, keys, rows):
    with open(path, "w") as f:
        f.write(HEADER.format(key=",".join(keys)) + "\n")
        for i, (values, t, acc) in enumerate(rows):
            f.write(f"{i},{','.join(map(str, values))},1,2,100,{t},0.9,{acc},0.01,{acc - 0.01},"
                    f"{acc + 0.01},0.95,0\n")


def test_plots_and_summary_from_run_outputs(tmp_path):
    out = tmp_path
    for b in ("fp32", "qat8", "qat4", "qat3", "qat2"):
        json.dump({"accuracy": 0.89}, open(out / f"precision_qat_{b}.json", "w"))
    for size in ("h64", "h32"):
        sweep_csv(out / f"precision_ptq_{size}.csv", ["mapping.weight_bits"],
                  [([b], 0, 0.5 + 0.05 * b) for b in (2, 3, 4, 8)])
    for name in ("qat4", "ptq4", "qat2", "ptq2"):
        sweep_csv(out / f"robustness_{name}.csv", ["device.programming.scale"],
                  [([s], 0, 0.9 - 0.02 * s) for s in (0, 1, 3)])
    for chip in ("pcm_512", "neurram_256"):
        sweep_csv(out / f"ageing_{chip}.csv", ["drift_compensation"],
                  [([c], t, 0.88) for c in ("none", "global") for t in (1, 86400, 3.15576e8)])
    for end in ("min", "max"):
        sweep_csv(out / f"faults_stuck_{end}.csv", [f"device.stuck.at_{end}", "recurrence"],
                  [([f, r], 1, 0.7 - f) for f in (0, 0.05, 0.1) for r in ("digital", "analog")])
        keys = [f"device.stuck.at_{end}", "repair", "fault_aware_mapping"]
        sweep_csv(out / f"faults_offset_repair_stuck_{end}.csv", keys,
                  [([f, r, a], 1, 0.6) for f in (0, 0.1) for r in ("none", "spares") for a in ("false", "true")])
        sweep_csv(out / f"faults_differential_stuck_{end}.csv", keys,
                  [([f, r, a], 1, 0.65 if r == "spares" else 0.5) for f in (0, 0.1)
                   for r in ("none", "partner", "spares") for a in ("false", "true")])
    for m in ("qat4", "qat2"):
        for t in (64, 256):
            for cal in (0, 256):
                sweep_csv(out / f"irdrop_{m}_t{t}_cal{cal}.csv", ["periphery.wire_resistance_ohm"],
                          [([w], 1, 0.9 - w / (20 if cal else 10)) for w in (0, 0.5, 1, 2, 5)])
    report = {"checkpoint": "a/fmnist196_s4d_h64_n64_l4_fp32.h5", "energy_pJ_per_inference": 1e6,
              "latency_ns_per_inference": 2e5, "analog_vs_digital_energy_ratio": 0.4,
              "digital_baseline": {"energy_pJ_per_inference": 2.5e6},
              "digital_baseline_fp32": {"energy_pJ_per_inference": 1e8},
              "digital_baseline_checkpoint_precision": {"energy_pJ_per_inference": 1e8},
              "complexity": {"parameters": 1000, "weight_bytes": 4000, "weight_bits_mean": 32,
                             "macs_per_inference": 1e6, "devices_used": 2000, "tiles": 2}}
    small = json.loads(json.dumps(report))
    small["checkpoint"] = "a/fmnist196_s4d_h64_n64_l4_qat2.h5"
    small["complexity"]["weight_bytes"] = 500
    json.dump({"checkpoints": [report, small]}, open(out / "complexity.json", "w"))
    with open(out / "pruning.csv", "w") as f:
        f.write("modes,channels,parameters,accuracy,fine_tuned\n32,64,1000,0.9,0\n16,64,800,0.8,0\n"
                "32,32,500,0.6,0\n16,48,600,0.88,1\n")
    subprocess.run(["/usr/bin/python3", os.path.join(ROOT, "experiments", "plot.py"), str(out)],
                   check=True, capture_output=True)
    for png in ("precision", "robustness", "ageing", "faults", "complexity", "pruning", "irdrop"):
        assert (out / f"{png}.png").stat().st_size > 10000, png
    table = (out / "complexity.md").read_text()
    assert "| qat2 |" in table.replace("h64_n64_l4_", "") and "8.0x" in table
    summary = json.load(open(out / "summary.json"))
    assert summary["faults"]["stuck_max_analog"]["0.1"][0] == 0.6
    assert summary["faults"]["stuck_min_differential_spares_aware"]["0.1"][0] == 0.65
    assert summary["irdrop"]["qat2_t256_cal256"]["2"][0] == 0.8
    assert summary["faults"]["stuck_max_offset_spares_plain"]["0"][0] == 0.6
    assert summary["complexity"]["h64_n64_l4_qat2"]["memory_reduction"] == 8.0
    assert summary["pruning"]["fine_tuned"]["accuracy"] == 0.88
