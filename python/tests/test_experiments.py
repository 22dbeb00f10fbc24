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


def test_front_summary_marks_spread_and_cheapest_points(tmp_path):
    """experiments/summarize_front.py on a hand-made front: the front rows in energy order, a
    front point whose interval overlaps the cheaper one's is "within the spread", the halvings of
    energy are counted between the cheapest and the most accurate front point, and a checkpoint
    with no point within 1 point of its digital accuracy says so."""
    cols = ("point,checkpoint,periphery.adc_bits,mapping.encoding,seed,trials,n_samples,time_s,"
            "digital_accuracy,analog_accuracy_mean,analog_accuracy_std,analog_accuracy_min,"
            "analog_accuracy_max,analog_accuracy_ci95_low,analog_accuracy_ci95_high,"
            "agreement_with_digital,adc_clip_fraction,energy_pJ_per_inference,area_mm2,"
            "latency_ns_per_inference,throughput_per_s,pipelined_throughput_per_s,edp_pJ_ns,pareto")
    rows = [  # checkpoint, adc bits, mean, ci low, ci high, energy pJ, pareto
        ("a/big.h5", 8, 0.90, 0.895, 0.905, 4e6, "true"),
        ("a/big.h5", 4, 0.86, 0.85, 0.87, 2e6, "true"),
        ("a/small.h5", 8, 0.851, 0.80, 0.90, 1e6, "true"),
        ("a/small.h5", 4, 0.70, 0.60, 0.80, 3e6, "false"),
    ]
    with open(tmp_path / "front_chip_x.csv", "w") as f:
        f.write(cols + "\n")
        for i, (ck, bits, m, lo, hi, e, p) in enumerate(rows):
            f.write(f"{i},{ck},{bits},differential,1,5,100,86400,0.9,{m},0.01,{lo},{hi},{lo},{hi},0.9,0,"
                    f"{e},1.0,1e6,1000,2000,{e * 1e6},{p}\n")
    json.dump({"run": {"chip": {"name": "chip_x"}, "checkpoint": "a/big.h5", "times_s": [0]},
               "key": "device.programming.scale", "direction": "largest", "found": True, "value": 1.5,
               "bracket": [1.5, 1.6], "note": "",
               "probes": [{"value": 0, "worst_mean": 0.9, "worst_ci95_low": 0.9, "passes": True}]},
              open(tmp_path / "tolerance_chip_x_big_programming.json", "w"))
    text = subprocess.run(["/usr/bin/python3", os.path.join(ROOT, "experiments", "summarize_front.py"),
                           str(tmp_path)], check=True, capture_output=True, text=True).stdout
    front = [l for l in text.splitlines() if l.startswith("| small") or l.startswith("| big")][:3]
    assert [l.split("|")[1].strip() for l in front] == ["small", "big", "big"], text
    assert "cheapest" in front[0] and "within the spread" in front[1] and "intervals apart" in front[2], text
    assert "| 3 | big, ADC 8, differential | 90.00 | 4.000 | 1.00, +4.00, +4.00 |" in text, text
    assert "| 2 | big, ADC 4, differential | 86.00 | 2.000 | 1.00, +0.90, +0.90 |" in text, text
    assert "| big | 90.00 | ADC 8, differential |" in text, text
    assert "| small | 90.00 | none (best: ADC 8, differential) |" in text, text
    assert "| chip_x | big | device.programming.scale | 0s | all | largest 1.5 | [1.5, 1.6] | 0 / none | 0: 90.0, 90.0 |" in text, text


def _front_csv(path, rows):
    cols = ("point,checkpoint,periphery.adc_bits,mapping.encoding,trials,n_samples,time_s,digital_accuracy,"
            "analog_accuracy_mean,analog_accuracy_ci95_low,analog_accuracy_ci95_high,energy_pJ_per_inference,"
            "area_mm2,latency_ns_per_inference,pareto")
    with open(path, "w") as f:
        f.write(cols + "\n")
        for i, (ck, m, e, p) in enumerate(rows):
            f.write(f"{i},{ck},8,differential,5,100,86400,0.9,{m},{m - 0.01},{m + 0.01},{e},1.0,1e6,{p}\n")


def test_front_summary_takes_the_front_over_a_chips_files(tmp_path):
    """A checkpoint explored later (front_PART_CHIP.csv) joins its chip's front: a row on its own
    file's front that a later row dominates leaves the union's front; a file whose pareto column
    is not the front of its rows is refused, naming it."""
    _front_csv(tmp_path / "front_chip_y.csv", [("a/small.h5", 0.80, 1e6, "true"), ("a/mid.h5", 0.85, 3e6, "true")])
    _front_csv(tmp_path / "front_late_chip_y.csv", [("b/late.h5", 0.86, 2e6, "true")])
    run = lambda: subprocess.run(["/usr/bin/python3", os.path.join(ROOT, "experiments", "summarize_front.py"),  # noqa: E731
                                  str(tmp_path)], capture_output=True, text=True)
    done = run()
    assert done.returncode == 0, done.stderr
    front = [l.split("|")[1].strip() for l in done.stdout.splitlines() if l.startswith("| ") and "ADC" not in l
             and l.split("|")[2].strip() == "8"]
    assert front == ["small", "late"], done.stdout  # mid (0.85 at 3 uJ) is dominated by late
    assert "### chip_y: 3 design points" in done.stdout and "late_chip_y" not in done.stdout.split("###")[0]
    _front_csv(tmp_path / "front_late_chip_y.csv", [("b/late.h5", 0.86, 2e6, "false")])
    refused = run()
    assert refused.returncode != 0 and "front_late_chip_y.csv" in refused.stderr, refused.stderr
