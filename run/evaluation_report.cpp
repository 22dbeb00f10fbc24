// The evaluation report (run/run.h, EvalRequest): the digital reference, or chips over trials
// and times, as eval's printed text and the JSON of --json, which the Python module's
// evaluate() returns too.
#include <omp.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>

#include <nlohmann/json.hpp>

#include "run/run.h"

namespace qs4d {
namespace {

// printf when `print` (the reports are built the same either way).
template <class... A>
void say(bool print, const char* format, A... a) {
  if (print) std::printf(format, a...);
}

// The overrides that change nothing at any of `times_s` (ChipSpec::inert_reason), each with why;
// when `print`, a note on stderr for each (the run goes on: an eval is one point, not an axis).
nlohmann::json inert_overrides(const ChipSpec& chip, const std::vector<std::string>& overrides,
                               const std::vector<double>& times_s, bool print) {
  nlohmann::json out = nlohmann::json::array();
  for (const std::string& set : overrides) {
    const std::string why = chip.inert_at_every(set.substr(0, set.find('=')), times_s);
    if (why.empty()) continue;
    out.push_back({{"set", set}, {"why", why}});
    if (print) {
      std::fprintf(stderr, "qs4dsim: note: --set %s has no effect at the requested times: %s\n",
                   printable(set).c_str(), why.c_str());
    }
  }
  return out;
}

// What evaluate_analog runs for these arguments (energy counted in the same run when asked).
AnalogEvalOptions analog_options(const EvalRequest& args, const S4DModel& model, const ChipSpec& chip, const std::vector<double>& times_s,
                                 const CalibrationSet& calibration, ActionCounts* counts, bool print) {
  AnalogEvalOptions o;
  o.trials = args.trials;
  o.times_s = times_s;
  o.seed = args.seed;
  o.batch = args.batch;
  o.threads = args.threads;
  o.mode = resolve_exec_mode(args.mode, model);
  o.progress = print && isatty(STDERR_FILENO) != 0;
  o.calibrate_outputs = args.calibrate;
  if (calibration.data.x.n > 0) o.calibration = &calibration.data;
  o.distribute = true;  // under mpirun, the chips are shared out over the processes
  // Energy is counted in this same run (first chip, first time, first N samples); the table is
  // read first so that a bad --tech fails before the run.
  if (args.energy_samples > 0) {
    o.counts = counts;
    o.count_samples = args.energy_samples;
    o.activation_bits = load_tech(tech_for(chip, args.tech)).memory.activation_bits;
  }
  return o;
}

void print_header(const EvalRequest& args, const Dataset& data, const ChipSpec& chip, const CalibrationSet& calibration,
                  const nlohmann::json& calibration_report, const AnalogEvalResult& r, bool print) {
  say(print, "checkpoint  %s\ndata        %s (%lld samples, L = %lld)\nchip        %s: %s\n",
      args.checkpoint.c_str(), args.data.c_str(), static_cast<long long>(data.x.n),
      static_cast<long long>(data.x.length), chip.name.c_str(), chip.description.c_str());
  say(print, "seed        %llu, %lld trials\n", static_cast<unsigned long long>(args.seed),
      static_cast<long long>(args.trials));
  if (calibration.data.x.n > 0) {
    say(print, "calibration %s (%lld samples%s, none of them evaluated)\n",
        calibration_report.value("source", std::string()).c_str(), static_cast<long long>(calibration.data.x.n),
        calibration.found_beside ? ", found beside the data" : "");
  } else {
    say(print, "calibration none: %s\n", calibration_report.value("why", std::string()).c_str());
  }
  if (args.calibrate > 0) {
    say(print, "calibrated  outputs: one gain and offset per read-out, fitted at every time on the first %lld "
               "calibration samples (no labels)\n", static_cast<long long>(args.calibrate));
  }
  say(print, "digital     %.4f (checkpoint weights), %.4f (the chip's quantized weights)\n",
      r.digital_float.accuracy, r.digital.accuracy);
  // A single chip or a single time is rarely what a study wants; say so instead of printing a
  // std of 0 without comment.
  if (args.trials == 1) {
    say(print, "note        one chip (--trials 1): no spread over chips; --trials K programs K chips\n");
  }
  if (r.times.size() == 1 && r.times[0].time_s == 0) {
    say(print, "note        read right after programming only; --times 1s,1h,1d,1y follows the chip as it ages\n");
  }
}

// One row per time, printed as a table and returned as the JSON's "results".
nlohmann::json time_rows(const AnalogEvalResult& r, const ChipSpec& chip, bool print) {
  say(print, "\n%10s %10s %8s %8s %8s %10s %10s  %s\n", "time", "analog", "std", "min", "max", "agreement",
      "adc clips", "95% CI of the mean (t over chips)");
  nlohmann::json rows = nlohmann::json::array();
  for (const AnalogTimeResult& t : r.times) {
    const double clip_rate =
        t.adc_conversions ? static_cast<double>(t.adc_clips) / static_cast<double>(t.adc_conversions) : 0.0;
    const bool extrapolated = chip.device.extrapolated(t.time_s);
    char interval[48] = "  (one chip)";
    if (t.has_ci95()) std::snprintf(interval, sizeof interval, "  [%.4f, %.4f]", t.ci95_low(), t.ci95_high());
    say(print, "%10s %10.4f %8.4f %8.4f %8.4f %10.4f %9.3f%%%s%s\n", format_time(t.time_s).c_str(), t.mean(),
        t.std(), t.min(), t.max(), t.mean_agreement(), 100 * clip_rate, interval,
        extrapolated ? "  extrapolated: beyond the device source's range" : "");
    rows.push_back({{"time_s", t.time_s},
                    {"analog_accuracy_mean", t.mean()},
                    {"analog_accuracy_std", t.std()},
                    {"analog_accuracy_min", t.min()},
                    {"analog_accuracy_max", t.max()},
                    {"agreement_with_digital", t.mean_agreement()},
                    {"chips", t.accuracy.size()},
                    {"analog_accuracy_ci95", t.has_ci95() ? nlohmann::json::array({t.ci95_low(), t.ci95_high()})
                                                          : nlohmann::json(nullptr)},
                    {"analog_accuracy_per_trial", t.accuracy},
                    {"adc_clip_fraction", clip_rate},
                    {"extrapolated", extrapolated}});
  }
  return rows;
}

// Seconds per analog pass, printed with how the chips ran.
double print_timing(const AnalogEvalResult& r, int64_t trials, bool print) {
  const double per_pass = r.analog_seconds / static_cast<double>(trials * static_cast<int64_t>(r.times.size()));
  if (r.processes > 1) {
    say(print, "\n%.1f s; chips shared out over %d MPI processes: one analog pass %.2f s\n\n", r.seconds,
        r.processes, per_pass);
  } else if (r.chips_side_by_side > 1) {
    say(print, "\n%.1f s; %d chips side by side, one thread each: one analog pass %.2f s on its thread\n\n",
        r.seconds, r.chips_side_by_side, per_pass);
  } else {
    say(print, "\n%.1f s; one analog pass %.2f s, one digital pass %.2f s (%.2fx)\n\n", r.seconds, per_pass,
        r.digital_seconds, r.digital_seconds > 0 ? per_pass / r.digital_seconds : 0.0);
  }
  return per_pass;
}

double mean_of(const std::vector<int64_t>& v) {
  double s = 0;
  for (int64_t x : v) s += static_cast<double>(x);
  return v.empty() ? 0.0 : s / static_cast<double>(v.size());
}

// What write-verify left, what the repair brought back and where faults moved rows: printed
// when the chip does those, and always in the JSON.
nlohmann::json write_verify_report(const AnalogEvalResult& r, const ChipSpec& chip, bool print) {
  const std::string repair = chip.repair_spares ? "spares" : chip.repair_partner ? "partner" : "none";
  if (chip.device.write_verify.enabled) {
    int64_t worst = 0, tiles_hit = 0;
    for (int64_t u : r.unverified_per_tile) {
      worst = std::max(worst, u);
      tiles_hit += u > 0;
    }
    char spare_text[64] = "";
    if (chip.repair_spares) std::snprintf(spare_text, sizeof spare_text, ", %.1f spare lines used", mean_of(r.spare_lines));
    say(print, "write-verify: %.1f cells per chip left outside tolerance (repair %s: %.1f brought back%s); "
               "chip 0: %lld of %zu tiles hit, at most %lld cells in one\n",
        mean_of(r.unverified_cells), repair.c_str(), mean_of(r.repaired_cells), spare_text,
        static_cast<long long>(tiles_hit), r.unverified_per_tile.size(), static_cast<long long>(worst));
  }
  if (chip.fault_aware_mapping) {
    say(print, "fault-aware mapping: %.1f rows per chip placed away from stuck devices\n", mean_of(r.rows_moved));
  }
  return {{"unverified_cells_per_trial", r.unverified_cells},
          {"repaired_cells_per_trial", r.repaired_cells},
          {"unverified_cells_per_tile_trial0", r.unverified_per_tile},
          {"spare_lines_used_per_trial", r.spare_lines},
          {"rows_moved_per_trial", r.rows_moved},
          {"repair", repair}};
}

nlohmann::json analog_eval_report(const EvalRequest& args, const S4DModel& model, const Dataset& data, bool print) {
  const std::vector<std::string> overrides = with_extrapolation(args.overrides, args.extrapolate, "device.");
  const ChipSpec& chip = *args.chip;
  const std::vector<double>& times_s = args.times_s;
  if (times_s.empty()) throw UsageError("eval: no times after programming given");
  for (double t : times_s) chip.device.check_time(t);  // a bad time fails before any file is read
  const nlohmann::json inert = inert_overrides(chip, args.overrides, times_s, print);
  nlohmann::json calibration_report;
  const CalibrationSet calibration =
      calibration_for(chip, args.calibrate, args.calibration_path, data, calibration_report, args.calibration);
  ActionCounts counts;
  const AnalogEvalOptions o = analog_options(args, model, chip, times_s, calibration, &counts, print);
  const AnalogEvalResult r = evaluate_analog(model, data, chip, o);
  if (MpiSession::rank() != 0) return {};  // rank 0 has every chip's result and reports

  print_header(args, data, chip, calibration, calibration_report, r, print);
  nlohmann::json j;
  j["run"] = run_identity(args.checkpoint, args.data, data, args.limit, &chip, overrides, args.seed);
  j["run"]["trials"] = args.trials;
  j["run"]["times_s"] = times_s;
  j["run"]["calibrate_outputs"] = args.calibrate;
  j["run"]["calibration"] = calibration_report;
  j["calibration"] = calibration_report;
  j["inert_overrides"] = inert;
  j["checkpoint"] = args.checkpoint;
  j["data"] = args.data;
  j["n_samples"] = data.x.n;
  j["seed"] = args.seed;
  j["trials"] = args.trials;
  j["mode"] = to_string(o.mode);
  j["state_bits"] = o.mode == ExecMode::kRecurrent ? state_bits(model) : 0;
  j["chip"] = chip.resolved;
  j["digital_accuracy"] = r.digital.accuracy;
  j["digital_float_accuracy"] = r.digital_float.accuracy;
  j["results"] = time_rows(r, chip, print);
  j["seconds_per_analog_pass"] = print_timing(r, args.trials, print);
  j["write_verify"] = write_verify_report(r, chip, print);
  j["seconds"] = r.seconds;
  j["seconds_per_digital_pass"] = r.digital_seconds;
  j["chips_side_by_side"] = r.chips_side_by_side;
  j["processes"] = r.processes;
  if (args.energy_samples > 0) {
    const nlohmann::json e = energy_for_eval(model, data.x.length, chip, tech_for(chip, args.tech), counts, print);
    for (const auto& [k, v] : e.items()) j[k] = v;
  }
  return j;
}

}  // namespace

CalibrationSet calibration_for(const ChipSpec& chip, int64_t calibrate_outputs, const std::string& path,
                               const Dataset& data, nlohmann::json& report, const Dataset* given) {
  const int64_t needed = calibration_samples_needed(chip, calibrate_outputs);
  if (needed == 0) {
    report = {{"used", false},
              {"why", "chip '" + chip.name + "' has no calibrated ADC ranges and no output calibration was asked for" +
                          (path.empty() ? std::string() : " (the given calibration file is not read)")}};
    return {};
  }
  CalibrationSet set;
  if (given != nullptr) {
    set.data = *given;
    set.file_fingerprint = bytes_fingerprint(given->x.values.data(), given->x.values.size() * sizeof(float));
  } else {
    set = load_calibration(path, data, needed);
  }
  report = set.to_json();
  return set;
}

nlohmann::json evaluation_report(const S4DModel& model, const Dataset& data, const EvalRequest& args, bool print) {
  if (args.chip) return analog_eval_report(args, model, data, print);
  DigitalEvalOptions opt;
  opt.mode = resolve_exec_mode(args.mode, model);
  opt.batch = args.batch;
  opt.threads = args.threads;
  const DigitalEvalResult r = evaluate_digital(model, data, opt);
  nlohmann::json j;
  const int threads = args.threads > 0 ? args.threads : omp_get_max_threads();
  say(print, "checkpoint  %s\n", args.checkpoint.c_str());
  say(print, "data        %s (%s, %lld samples, L = %lld)\n", args.data.c_str(),
              data.name.c_str(), static_cast<long long>(r.n_samples),
              static_cast<long long>(data.x.length));
  const int x_bits = opt.mode == ExecMode::kRecurrent ? state_bits(model) : 0;
  say(print, "mode        %s, batch %lld, %d threads\n", to_string(opt.mode),
              static_cast<long long>(opt.batch), threads);
  if (state_bits(model) > 0)
    say(print, "state       %s\n", x_bits > 0 ? (std::to_string(x_bits) + "-bit grid, as trained").c_str()
                                           : "float (conv mode: the trained grid is not applied)");
  say(print, "accuracy    %.4f (%lld / %lld)\n", r.accuracy, static_cast<long long>(r.correct),
              static_cast<long long>(r.n_samples));
  say(print, "throughput  %.1f samples/s (%.2f s)\n", r.samples_per_s, r.seconds);
  {
    j["run"] = run_identity(args.checkpoint, args.data, data, args.limit, nullptr, {}, args.seed);
    j["checkpoint"] = args.checkpoint;
    j["data"] = args.data;
    j["dataset_name"] = data.name;
    j["accuracy"] = r.accuracy;
    j["digital_accuracy"] = r.accuracy;  // the key a chip's report uses for the same number
    j["n_samples"] = r.n_samples;
    j["n_correct"] = r.correct;
    j["samples_per_s"] = r.samples_per_s;
    j["seconds"] = r.seconds;
    j["mode"] = to_string(opt.mode);
    j["state_bits"] = x_bits;
    j["batch"] = opt.batch;
    j["threads"] = threads;
    j["sequence_length"] = data.x.length;
  }
  return j;
}

// What made a result: program, inputs with fingerprints (the dataset's by its values, so HDF5
// metadata does not count), chip, overrides, seed. Written into every result file.
nlohmann::json run_identity(const std::string& checkpoint, const std::string& data_path, const Dataset& data,
                            int64_t limit, const ChipSpec* chip, const std::vector<std::string>& overrides,
                            uint64_t seed) {
  const std::string x = bytes_fingerprint(data.x.values.data(), data.x.values.size() * sizeof(float));
  const std::string y = bytes_fingerprint(data.y.data(), data.y.size() * sizeof(data.y[0]));
  return nlohmann::json{{"program", kProgramVersion},
                        {"checkpoint", checkpoint},
                        {"checkpoint_fingerprint", file_fingerprint(checkpoint)},
                        {"data", data_path},
                        {"data_fingerprint", x + "/" + y},
                        {"limit", limit},
                        {"samples", data.x.n},
                        {"chip", chip != nullptr ? chip->resolved : nlohmann::json(nullptr)},
                        {"overrides", overrides},
                        {"seed", seed}};
}

std::vector<std::string> with_extrapolation(std::vector<std::string> overrides, bool extrapolate,
                                            const std::string& prefix) {
  if (extrapolate) overrides.push_back(prefix + "extrapolate=true");
  return overrides;
}

}  // namespace qs4d
