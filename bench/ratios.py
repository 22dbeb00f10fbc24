"""The speed ratios of issues #15 and #13 from Google Benchmark JSON files, as one table: each ratio is
two benchmarks of the same process run (a reference and what it is measured against).

    /usr/bin/python3 bench/ratios.py analog.json devices.json circuit.json
"""
import json
import sys

# (label, numerator benchmark, denominator benchmark, what the ratio means)
RATIOS = [
    ("analog projection H=64, 1% read noise / Eigen", "BM_AnalogProjection/0/1/real_time", "BM_EigenProjection/0/real_time", "time"),
    ("analog projection H=64, no read noise / Eigen", "BM_AnalogProjection/0/0/real_time", "BM_EigenProjection/0/real_time", "time"),
    ("analog projection H=256, 1% read noise / Eigen", "BM_AnalogProjection/1/1/real_time", "BM_EigenProjection/1/real_time", "time"),
    ("analog projection H=256, no read noise / Eigen", "BM_AnalogProjection/1/0/real_time", "BM_EigenProjection/1/real_time", "time"),
    ("analog projection H=64, 1% read noise / two Eigen products (the exact method's floor)", "BM_AnalogProjection/0/1/real_time", "BM_EigenTwoProjections/0/real_time", "time"),
    ("analog projection H=256, 1% read noise / two Eigen products (the floor)", "BM_AnalogProjection/1/1/real_time", "BM_EigenTwoProjections/1/real_time", "time"),
    ("inference on pcm_512 / digital", "BM_Inference/analog_pcm_512/real_time", "BM_Inference/digital/real_time", "time"),
    ("imssa_64 analog pass / the same blocks digital (target 2)", "BM_ImssaPass/analog_imssa_64/real_time", "BM_ImssaPass/digital_blocks/real_time", "time"),
    ("imssa_64 whole trial (program, age, calibrate, 512 images) / digital (target 2.5)", "BM_ImssaTrial/analog_imssa_64/real_time", "BM_ImssaTrial/digital_blocks/real_time", "time"),
    ("eval pcm_512 4 chips: 1 thread / 2 threads (target >= 1.7)", "BM_EvalTrials/1/min_time:3.000/real_time", "BM_EvalTrials/2/min_time:3.000/real_time", "time"),
    ("sweep 4 points x 2 chips / eval 8 chips, same chip (target <= 1.15, #29)", "BM_SweepAgainstEval/sweep_4_points_x_2_chips/real_time", "BM_SweepAgainstEval/eval_8_chips/real_time", "time"),
    ("explore / sweep, 4 points x 2 chips, pricing included (target <= 1.05, #34)", "BM_ExploreAgainstSweep/explore_4_points_x_2_chips/real_time", "BM_ExploreAgainstSweep/sweep_4_points_x_2_chips/real_time", "time"),
    ("IR drop: transfer matrix of a 256 x 256 tile / 100k reads (target 1, #13)", "BM_TransferMatrix/real_time", "BM_Reads100k/real_time", "time"),
    ("pcm_aihwkit programming + ageing, 1 thread (target 30 M/s)", "BM_ProgramAndAge/pcm_aihwkit/1/real_time", None, "rate"),
]


def main():
    times, rates = {}, {}
    for path in sys.argv[1:]:
        with open(path) as f:
            for b in json.load(f)["benchmarks"]:
                if b.get("run_type", "iteration") == "iteration" and "error_occurred" not in b:
                    times[b["name"]] = b["real_time"]
                    rates[b["name"]] = b.get("items_per_second")
    print(f"{'ratio':90s} {'value':>8s}")
    for label, num, den, kind in RATIOS:
        if kind == "rate" and rates.get(num):
            print(f"{label:90s} {rates[num] / 1e6:7.1f}M")
        elif kind == "time" and num in times and den in times:
            print(f"{label:90s} {times[num] / times[den]:8.2f}")
        else:
            print(f"{label:90s} {'n/a':>8s}")


if __name__ == "__main__":
    main()
