// qs4dsim compare --paired: two configurations on the same chips, their difference per chip and
// its interval (issue #30: a difference is called real only where the interval excludes 0).
#include <cstdio>

#include <nlohmann/json.hpp>

#include "run/cli/commands.h"

namespace qs4d::cli {

int run_paired_compare(const CompareArgs& args) {
  if (args.checkpoints.size() > 2) throw UsageError("compare --paired takes one or two checkpoints");
  if (args.data.empty()) throw UsageError("compare --paired needs --data (the samples both are scored on)");
  if (args.checkpoints.size() == 1 && args.chip_b.empty() && args.overrides_b.empty()) {
    throw UsageError("compare --paired with one checkpoint compares two chips: give --chip-b or --set-b");
  }
  std::vector<std::string> overrides = args.overrides;
  if (args.extrapolate) overrides.push_back("device.extrapolate=true");
  std::vector<std::string> overrides_b = overrides;
  overrides_b.insert(overrides_b.end(), args.overrides_b.begin(), args.overrides_b.end());
  const ChipSpec chip_a = load_chip(args.chip, overrides);
  const ChipSpec chip_b = load_chip(args.chip_b.empty() ? args.chip : args.chip_b, overrides_b);
  const std::string path_a = args.checkpoints.front(), path_b = args.checkpoints.back();
  const S4DModel model_a = S4DModel::load(path_a);
  const S4DModel model_b = args.checkpoints.size() == 2 ? S4DModel::load(path_b) : model_a;
  const Dataset data = load_dataset(args.data, args.limit);
  AnalogEvalOptions o;
  o.trials = args.trials;
  o.times_s = parse_times(args.times);
  for (double t : o.times_s) {
    chip_a.device.check_time(t);
    chip_b.device.check_time(t);
  }
  o.seed = args.seed;
  o.batch = args.batch;
  o.threads = args.threads;
  o.calibrate_outputs = args.calibrate;  // both sides, the same samples
  // One calibration set for both sides, as large as the side that needs more asks.
  const ChipSpec& needier = calibration_samples_needed(chip_b, args.calibrate) >
                                    calibration_samples_needed(chip_a, args.calibrate)
                                ? chip_b
                                : chip_a;
  nlohmann::json calibration_report;
  const CalibrationSet calibration =
      calibration_for(needier, args.calibrate, args.calibration, data, calibration_report);
  if (calibration.data.x.n > 0) o.calibration = &calibration.data;
  const PairedResult r = evaluate_paired(model_a, chip_a, model_b, chip_b, data, o);

  std::printf("a  %s on %s\nb  %s on %s%s\n", path_a.c_str(), chip_a.name.c_str(), path_b.c_str(),
              chip_b.name.c_str(), args.overrides_b.empty() ? "" : " (with --set-b)");
  std::printf("data %s (%lld samples), %lld chips each, the same seeds (seed %llu): chip k of a and of b share "
              "their random streams\n\n", args.data.c_str(), static_cast<long long>(data.x.n),
              static_cast<long long>(args.trials), static_cast<unsigned long long>(args.seed));
  if (args.calibrate > 0) {
    std::printf("calibrated outputs of a and b: one gain and offset per read-out, fitted at every time on the first "
                "%lld calibration samples (%s, none of them scored)\n\n",
                static_cast<long long>(args.calibrate), calibration_report.value("source", std::string()).c_str());
  }
  std::printf("%10s %10s %10s %12s %10s  %-24s %s\n", "time", "a", "b", "b - a", "std", "95% CI (t over chips)",
              "verdict");
  nlohmann::json rows = nlohmann::json::array();
  for (size_t ti = 0; ti < r.times.size(); ++ti) {
    const PairedTimeResult& t = r.times[ti];
    const AnalogTimeResult& d = t.difference;
    char interval[64];
    std::snprintf(interval, sizeof interval, "[%+.4f, %+.4f]", d.ci95_low(), d.ci95_high());
    std::printf("%10s %10.4f %10.4f %+12.4f %10.4f  %-24s %s\n", format_time(t.time_s).c_str(), r.a.times[ti].mean(),
                r.b.times[ti].mean(), d.mean(), d.std(), interval, t.verdict.c_str());
    rows.push_back({{"time_s", t.time_s},
                    {"chips", d.accuracy.size()},
                    {"a_accuracy_per_chip", r.a.times[ti].accuracy},
                    {"b_accuracy_per_chip", r.b.times[ti].accuracy},
                    {"difference_per_chip", d.accuracy},
                    {"difference_mean", d.mean()},
                    {"difference_std", d.std()},
                    {"difference_ci95", {d.ci95_low(), d.ci95_high()}},
                    {"verdict", t.verdict}});
  }
  std::printf("\nverdict: \"b better\" or \"b worse\" only where the interval of the paired difference excludes 0\n");
  if (!args.json_out.empty()) {
    nlohmann::json j;
    j["run"] = run_identity(path_a, args.data, data, args.limit, &chip_a, overrides, args.seed);
    j["run"]["trials"] = args.trials;
    j["run"]["times_s"] = o.times_s;
    j["run"]["calibrate_outputs"] = args.calibrate;
    j["a"] = {{"checkpoint", path_a}, {"chip", chip_a.resolved}, {"digital_accuracy", r.a.digital.accuracy}};
    j["b"] = {{"checkpoint", path_b}, {"chip", chip_b.resolved}, {"digital_accuracy", r.b.digital.accuracy},
              {"overrides_b", args.overrides_b}};
    j["calibration"] = calibration_report;
    j["results"] = rows;
    write_text_atomic(args.json_out, j.dump(2) + "\n");
  }
  return 0;
}

}  // namespace qs4d::cli
