// qs4dsim tolerance (issue #34): the largest value of a chip parameter a model tolerates within a
// given accuracy drop (or the smallest it needs), found by bisection (find_tolerance, run/run.h).
#include <cmath>
#include <cstdio>

#include <nlohmann/json.hpp>

#include "run/cli/commands.h"

namespace qs4d::cli {
namespace {

// Brackets for the parameters a designer asks about most; any other key needs --range.
bool default_range(const std::string& key, double& lo, double& hi) {
  const auto ends_with = [&](const std::string& tail) {
    return key.size() >= tail.size() && key.compare(key.size() - tail.size(), tail.size(), tail) == 0;
  };
  if (ends_with("_bits")) return lo = 2, hi = 12, true;
  if (key == "device.programming.scale" || key == "device.drift.scale") return lo = 0, hi = 4, true;
  if (key == "device.read_noise.scale") return lo = 0, hi = 8, true;
  if (key == "device.stuck.at_min" || key == "device.stuck.at_max") return lo = 0, hi = 0.05, true;
  if (ends_with("_ohm")) return lo = 0, hi = 10, true;
  return false;
}

// Whether the key holds whole numbers in the chip's resolved spec (bits, counts).
bool whole_numbers(const ChipSpec& chip, const std::string& key) {
  std::string pointer;
  for (char c : key) pointer += c == '.' ? '/' : c;
  const nlohmann::json::json_pointer at("/" + pointer);
  return chip.resolved.contains(at) && chip.resolved.at(at).is_number_integer();
}

std::string value_text(double v, bool integer) {
  char buf[40];
  std::snprintf(buf, sizeof buf, integer ? "%.0f" : "%.17g", v);
  return buf;
}

}  // namespace

int run_tolerance(const ToleranceArgs& args) {
  if (args.trials < 2) throw UsageError("tolerance: --trials " + std::to_string(args.trials) +
                                        ": a 95% interval over chips needs at least 2");
  std::vector<std::string> overrides = with_extrapolation(args.overrides, args.extrapolate, "device.");
  const ChipSpec base = load_chip(args.chip, overrides);
  ToleranceOptions t;
  t.key = args.find;
  t.max_drop = args.max_drop;
  t.max_steps = args.steps;
  t.integer = whole_numbers(base, args.find);
  if (!args.range.empty()) {
    const auto comma = args.range.find(',');
    try {
      size_t a = 0, b = 0;
      t.lo = std::stod(args.range.substr(0, comma), &a);
      t.hi = std::stod(args.range.substr(comma + 1), &b);
      if (comma == std::string::npos || a != comma || b != args.range.size() - comma - 1) throw std::invalid_argument("");
    } catch (const std::exception&) {
      throw UsageError("tolerance: --range \"" + args.range + "\": expected LO,HI, e.g. 0,4");
    }
  } else if (!default_range(args.find, t.lo, t.hi)) {
    throw UsageError("tolerance: no default bracket for " + args.find + ": give --range LO,HI");
  }
  const std::vector<double> times = parse_times(args.times);
  auto chip_at = [&](double v) {
    std::vector<std::string> with = overrides;
    with.push_back(args.find + "=" + value_text(v, t.integer));
    ChipSpec chip = load_chip(args.chip, with);
    for (double time : times) chip.device.check_time(time);
    return chip;
  };
  // A key that changes nothing on this chip is refused before any evaluation.
  const ChipSpec at_lo = chip_at(t.lo), at_hi = chip_at(t.hi);
  for (const ChipSpec* end : {&at_lo, &at_hi}) {
    const std::string why = end->inert_at_every(args.find, times);
    if (!why.empty()) throw UsageError("tolerance: --find " + args.find + " changes nothing here: " + why);
  }
  const S4DModel model = S4DModel::load(args.checkpoint);
  const Dataset data = load_dataset(args.data, args.limit);
  const ChipSpec& needier =
      calibration_samples_needed(at_hi, 0) > calibration_samples_needed(at_lo, 0) ? at_hi : at_lo;
  nlohmann::json calibration_report;
  const CalibrationSet calibration = calibration_for(needier, 0, args.calibration, data, calibration_report);
  AnalogEvalOptions o;
  o.trials = args.trials;
  o.times_s = times;
  o.seed = args.seed;
  o.batch = args.batch;
  o.threads = args.threads;
  o.mode = resolve_exec_mode(args.mode, model);
  if (calibration.data.x.n > 0) o.calibration = &calibration.data;
  const ToleranceResult r = find_tolerance(t, [&](double v) {
    const AnalogEvalResult e = evaluate_analog(model, data, chip_at(v), o);
    ToleranceProbe p;
    p.digital = e.digital.accuracy;
    bool first = true;
    for (const AnalogTimeResult& at : e.times) {  // the worst time decides
      if (first || at.ci95_low() < p.worst_low) p.worst_low = at.ci95_low(), p.worst_mean = at.mean();
      first = false;
    }
    std::printf("  %s = %-12s digital %.4f, worst time: mean %.4f, 95%% low %.4f\n", args.find.c_str(),
                value_text(v, t.integer).c_str(), p.digital, p.worst_mean, p.worst_low);
    std::fflush(stdout);
    return p;
  });
  const bool largest = r.direction == "largest";
  std::printf("\n%s %s: %s %s within %.4g of the digital accuracy (95%% lower bound over %lld chips, worst of "
              "%zu times), bracket searched [%s, %s], boundary in [%s, %s]\n",
              args.checkpoint.c_str(), args.chip.c_str(), largest ? "largest" : "smallest",
              r.found ? (args.find + " = " + value_text(r.value, t.integer)).c_str() : ("no " + args.find).c_str(),
              args.max_drop, static_cast<long long>(args.trials), times.size(), value_text(t.lo, t.integer).c_str(),
              value_text(t.hi, t.integer).c_str(), value_text(r.bracket_lo, t.integer).c_str(),
              value_text(r.bracket_hi, t.integer).c_str());
  if (!r.note.empty()) std::printf("note: %s\n", r.note.c_str());
  if (!args.json_out.empty()) {
    nlohmann::json j;
    j["run"] = run_identity(args.checkpoint, args.data, data, args.limit, &base, overrides, args.seed);
    j["run"]["trials"] = args.trials;
    j["run"]["times_s"] = times;
    j["calibration"] = calibration_report;
    j["key"] = r.key;
    j["direction"] = r.direction;
    j["found"] = r.found;
    j["value"] = r.value;
    j["max_drop"] = args.max_drop;
    j["range"] = {t.lo, t.hi};
    j["bracket"] = {r.bracket_lo, r.bracket_hi};
    j["note"] = r.note;
    nlohmann::json probes = nlohmann::json::array();
    for (const ToleranceProbe& p : r.probes) {
      probes.push_back({{"value", p.value}, {"digital_accuracy", p.digital}, {"worst_mean", p.worst_mean},
                        {"worst_ci95_low", p.worst_low}, {"passes", p.passes}});
    }
    j["probes"] = probes;
    write_text_atomic(args.json_out, j.dump(2) + "\n");
  }
  return 0;
}

}  // namespace qs4d::cli
