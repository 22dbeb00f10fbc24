#include "run/cli/commands.h"

#include <omp.h>

#include <cstdio>
#include <cstring>
#include <algorithm>
#include <csignal>
#include <unistd.h>
#include <iostream>
#include <set>
#include <nlohmann/json.hpp>

#include "models/model.h"
#include "devices/devices.h"
#include "run/run.h"
#include "run/run.h"

namespace qs4d::cli {
namespace {

std::string human_bytes(int64_t bytes) {
  char buf[64];
  if (bytes < 1024) {
    std::snprintf(buf, sizeof buf, "%lld B", static_cast<long long>(bytes));
  } else if (bytes < 1024 * 1024) {
    std::snprintf(buf, sizeof buf, "%.1f KiB", bytes / 1024.0);
  } else {
    std::snprintf(buf, sizeof buf, "%.2f MiB", bytes / (1024.0 * 1024.0));
  }
  return buf;
}

}  // namespace

int run_info(const InfoArgs& args) {
  const S4DModel model = S4DModel::load(args.checkpoint);
  const ModelConfig& c = model.config();
  std::printf("checkpoint   %s\n", args.checkpoint.c_str());
  std::printf("architecture S4D: d_input %lld -> encoder -> %lld x [S4D H=%lld N=%lld (%lld "
              "complex modes), GELU, 1x1 conv + GLU, residual, %s %s norm] -> mean pool -> "
              "decoder -> %lld outputs\n",
              static_cast<long long>(c.d_input), static_cast<long long>(c.n_layers),
              static_cast<long long>(c.d_model), static_cast<long long>(c.d_state),
              static_cast<long long>(c.modes()), c.prenorm ? "pre" : "post",
              c.norm == NormKind::kLayer ? "layer" : "batch", static_cast<long long>(c.d_output));
  std::printf("norm_eps     %g\n", static_cast<double>(c.norm_eps));
  std::printf("\nparameters\n");
  int64_t total = 0;
  for (const auto& [group, n] : model.parameter_counts()) {
    std::printf("  %-14s %10lld\n", group.c_str(), static_cast<long long>(n));
    total += n;
  }
  std::printf("  %-14s %10lld\n", "total", static_cast<long long>(total));
  if (!model.quant().empty()) {
    std::printf("\nquantization (/quant)\n");
    for (const auto& [name, q] : model.quant()) {
      std::printf("  %-40s %2d bit %s, %s\n", name.c_str(), q.bits,
                  q.symmetric ? "symmetric" : "asymmetric",
                  q.axis < 0 ? "per tensor" : ("per channel (axis " + std::to_string(q.axis) + ")").c_str());
    }
  } else {
    std::printf("\nquantization none (all weights float32)\n");
  }
  int64_t discrete_layers = 0;
  for (const auto& layer : model.layers()) discrete_layers += layer.discrete_from_quant ? 1 : 0;
  std::printf("ssm form     %lld of %lld layers from quantized discrete Abar/Bbar (/quant), the "
              "rest from continuous log_dt, log_A_real, A_imag (ZOH)\n",
              static_cast<long long>(discrete_layers), static_cast<long long>(c.n_layers));
  std::printf("weight memory %lld bytes (%s)\n", static_cast<long long>(model.weight_bytes()),
              human_bytes(model.weight_bytes()).c_str());
  if (!model.meta().empty()) {
    std::printf("\nmeta\n");
    for (const auto& [k, v] : model.meta()) {
      std::string shown = printable(v.size() > 100 ? v.substr(0, 97) + "..." : v);  // a file's bytes
      std::printf("  %-18s %s\n", printable(k).c_str(), shown.c_str());
    }
  }
  return 0;
}

// What made a result: program, inputs with fingerprints (the dataset's by its values, so HDF5
// metadata does not count), chip, overrides, seed. Written into every result file.
nlohmann::json run_identity(const std::string& checkpoint, const std::string& data_path, const Dataset& data,
                            int64_t limit, const ChipSpec& chip, const std::vector<std::string>& overrides,
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
                        {"chip", chip.resolved},
                        {"overrides", overrides},
                        {"seed", seed}};
}


namespace {

// The overrides a verb passes on, with device.extrapolate when --extrapolate was given.
std::vector<std::string> with_extrapolation(std::vector<std::string> overrides, bool extrapolate,
                                            const std::string& prefix) {
  if (extrapolate) overrides.push_back(prefix + "extrapolate=true");
  return overrides;
}

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
    const std::string key = set.substr(0, set.find('='));
    std::string why;
    for (double t : times_s) {
      const std::string reason = chip.inert_reason(key, t);
      if (reason.empty()) {
        why.clear();
        break;
      }
      if (why.empty()) why = reason;
    }
    if (why.empty()) continue;
    out.push_back({{"set", set}, {"why", why}});
    if (print) std::fprintf(stderr, "qs4dsim: note: --set %s has no effect at the requested times: %s\n",
                            printable(set).c_str(), why.c_str());
  }
  return out;
}

nlohmann::json analog_eval_report(const EvalArgs& args, const S4DModel& model, const Dataset& data, bool print,
                                  const Dataset* given_calibration, const ChipSpec* given_chip) {
  const ChipSpec chip = given_chip != nullptr ? *given_chip
                                              : load_chip(args.chip, with_extrapolation(args.overrides, args.extrapolate,
                                                                                        "device."));
  const std::vector<double> times_s = parse_times(args.times);
  for (double t : times_s) chip.device.check_time(t);  // a bad time fails before any file is read
  const nlohmann::json inert = inert_overrides(chip, args.overrides, times_s, print);
  nlohmann::json calibration_report;
  const CalibrationSet calibration =
      calibration_for(chip, args.calibrate, args.calibration, data, calibration_report, given_calibration);
  AnalogEvalOptions o;
  o.trials = args.trials;
  o.times_s = times_s;
  o.seed = args.seed;
  o.batch = args.batch;
  o.threads = args.threads;
  o.mode = parse_exec_mode(args.mode);
  o.progress = print && isatty(STDERR_FILENO) != 0;
  o.calibrate_outputs = args.calibrate;
  if (calibration.data.x.n > 0) o.calibration = &calibration.data;
  o.distribute = true;  // under mpirun, the chips are shared out over the processes
  // Energy is counted in this same run (first chip, first time, first N samples); the table is
  // read first so that a bad --tech fails before the run.
  ActionCounts counts;
  if (args.energy_samples > 0) {
    o.counts = &counts;
    o.count_samples = args.energy_samples;
    o.activation_bits = load_tech(tech_for(chip, args.tech)).memory.activation_bits;
  }
  const AnalogEvalResult r = evaluate_analog(model, data, chip, o);
  if (MpiSession::rank() != 0) return {};  // rank 0 has every chip's result and reports
  say(print, "checkpoint  %s\ndata        %s (%lld samples, L = %lld)\nchip        %s: %s\n",
              args.checkpoint.c_str(), args.data.c_str(), static_cast<long long>(data.x.n),
              static_cast<long long>(data.x.length), chip.name.c_str(), chip.description.c_str());
  say(print, "seed        %llu, %lld trials\n", static_cast<unsigned long long>(args.seed),
              static_cast<long long>(args.trials));
  if (calibration.data.x.n > 0) {
    say(print, "calibration %s (%lld samples%s, none of them evaluated)\n", calibration.data.path.c_str(),
        static_cast<long long>(calibration.data.x.n), calibration.found_beside ? ", found beside the data" : "");
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
  if (o.times_s.size() == 1 && o.times_s[0] == 0) {
    say(print, "note        read right after programming only; --times 1s,1h,1d,1y follows the chip as it ages\n");
  }
  say(print, "\n");
  say(print, "%10s %10s %8s %8s %8s %10s %10s  %s\n", "time", "analog", "std", "min", "max",
              "agreement", "adc clips", "95% CI of the mean (t over chips)");
  nlohmann::json j;
  j["run"] = run_identity(args.checkpoint, args.data, data, args.limit, chip,
                          with_extrapolation(args.overrides, args.extrapolate, "device."), args.seed);
  j["run"]["trials"] = args.trials;
  j["run"]["times_s"] = o.times_s;
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
  j["chip"] = chip.resolved;
  j["digital_accuracy"] = r.digital.accuracy;
  j["digital_float_accuracy"] = r.digital_float.accuracy;
  j["results"] = nlohmann::json::array();
  for (const AnalogTimeResult& t : r.times) {
    const double clip_rate = t.adc_conversions ? static_cast<double>(t.adc_clips) /
                                                     static_cast<double>(t.adc_conversions)
                                               : 0.0;
    const bool extrapolated = chip.device.extrapolated(t.time_s);
    char interval[48] = "  (one chip)";
    if (t.has_ci95()) std::snprintf(interval, sizeof interval, "  [%.4f, %.4f]", t.ci95_low(), t.ci95_high());
    say(print, "%10s %10.4f %8.4f %8.4f %8.4f %10.4f %9.3f%%%s%s\n", format_time(t.time_s).c_str(),
                t.mean(), t.std(), t.min(), t.max(), t.mean_agreement(), 100 * clip_rate, interval,
                extrapolated ? "  extrapolated: beyond the device source's range" : "");
    j["results"].push_back({{"time_s", t.time_s},
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
  const double per_pass = r.analog_seconds / static_cast<double>(args.trials * r.times.size());
  if (r.processes > 1) {
    say(print, "\n%.1f s; chips shared out over %d MPI processes: one analog pass %.2f s\n\n", r.seconds,
        r.processes, per_pass);
  } else if (r.chips_side_by_side > 1) {
    say(print, "\n%.1f s; %d chips side by side, one thread each: one analog pass %.2f s on its thread\n\n",
                r.seconds, r.chips_side_by_side, per_pass);
  } else {
    say(print, "\n%.1f s; one analog pass %.2f s, one digital pass %.2f s (%.2fx)\n\n", r.seconds,
                per_pass, r.digital_seconds, r.digital_seconds > 0 ? per_pass / r.digital_seconds : 0.0);
  }
  {
    int64_t worst = 0, tiles_hit = 0;
    for (int64_t u : r.unverified_per_tile) {
      worst = std::max(worst, u);
      tiles_hit += u > 0;
    }
    double failed = 0, repaired = 0;
    for (size_t i = 0; i < r.unverified_cells.size(); ++i) {
      failed += static_cast<double>(r.unverified_cells[i]);
      repaired += static_cast<double>(r.repaired_cells[i]);
    }
    const double trials = static_cast<double>(std::max<size_t>(1, r.unverified_cells.size()));
    double spares = 0, moved = 0;
    for (size_t i = 0; i < r.spare_lines.size(); ++i) {
      spares += static_cast<double>(r.spare_lines[i]);
      moved += static_cast<double>(r.rows_moved[i]);
    }
    const std::string repair = chip.resolved.value("repair", std::string("none"));
    char spare_text[64] = "";
    if (chip.repair_spares) std::snprintf(spare_text, sizeof spare_text, ", %.1f spare lines used", spares / trials);
    if (chip.device.write_verify.enabled) {
      say(print, "write-verify: %.1f cells per chip left outside tolerance (repair %s: %.1f brought back%s); "
                  "chip 0: %lld of %zu tiles hit, at most %lld cells in one\n",
                  failed / trials, repair.c_str(), repaired / trials,
                  spare_text,
                  static_cast<long long>(tiles_hit), r.unverified_per_tile.size(), static_cast<long long>(worst));
    }
    if (chip.fault_aware_mapping) {
      say(print, "fault-aware mapping: %.1f rows per chip placed away from stuck devices\n", moved / trials);
    }
    j["write_verify"] = {{"unverified_cells_per_trial", r.unverified_cells},
                         {"repaired_cells_per_trial", r.repaired_cells},
                         {"unverified_cells_per_tile_trial0", r.unverified_per_tile},
                         {"spare_lines_used_per_trial", r.spare_lines},
                         {"rows_moved_per_trial", r.rows_moved},
                         {"repair", repair}};
  }
  j["seconds"] = r.seconds;
  j["seconds_per_analog_pass"] = per_pass;
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
    check_disjoint(set.data, data);
  } else {
    set = load_calibration(path, data, needed);
  }
  report = set.to_json();
  report["used"] = true;
  return set;
}

nlohmann::json eval_report(const EvalArgs& args, const S4DModel& model, const Dataset& data, bool print,
                           const Dataset* calibration, const ChipSpec* chip) {
  if (!args.chip.empty() || chip != nullptr) return analog_eval_report(args, model, data, print, calibration, chip);
  DigitalEvalOptions opt;
  opt.mode = parse_exec_mode(args.mode);
  opt.batch = args.batch;
  opt.threads = args.threads;
  const DigitalEvalResult r = evaluate_digital(model, data, opt);
  nlohmann::json j;
  const int threads = args.threads > 0 ? args.threads : omp_get_max_threads();
  say(print, "checkpoint  %s\n", args.checkpoint.c_str());
  say(print, "data        %s (%s, %lld samples, L = %lld)\n", args.data.c_str(),
              data.name.c_str(), static_cast<long long>(r.n_samples),
              static_cast<long long>(data.x.length));
  say(print, "mode        %s, batch %lld, %d threads\n", to_string(opt.mode),
              static_cast<long long>(opt.batch), threads);
  say(print, "accuracy    %.4f (%lld / %lld)\n", r.accuracy, static_cast<long long>(r.correct),
              static_cast<long long>(r.n_samples));
  say(print, "throughput  %.1f samples/s (%.2f s)\n", r.samples_per_s, r.seconds);
  {
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
    j["batch"] = opt.batch;
    j["threads"] = threads;
    j["sequence_length"] = data.x.length;
  }
  return j;
}

int run_eval(const EvalArgs& args) {
  if (!args.chip.empty()) MpiSession::require_one_run_per_job();
  const S4DModel model = S4DModel::load(args.checkpoint);
  const Dataset data = load_dataset(args.data, args.limit);
  const bool writer = MpiSession::rank() == 0;  // under MPI, rank 0 prints and writes
  const nlohmann::json j = eval_report(args, model, data, writer);
  if (writer && !args.json_out.empty()) write_text_atomic(args.json_out, j.dump(2) + "\n");
  return 0;
}

int run_map(const MapArgs& args) {
  const S4DModel model = S4DModel::load(args.checkpoint);
  const ChipSpec chip = load_chip(args.chip, args.overrides);
  const MappedModel map = map_model(model, chip.mapping, chip.device.window());
  std::printf("checkpoint %s\nchip       %s (%s)\n", args.checkpoint.c_str(), chip.name.c_str(),
              chip.description.c_str());
  std::printf("mapping    %s\n\n", chip.mapping.to_json().dump().c_str());
  nlohmann::json j;
  j["checkpoint"] = args.checkpoint;
  j["chip"] = chip.resolved;
  // Matrices, with a layer's recurrence blocks folded into one line.
  std::printf("%-28s %-11s %-22s %5s %6s %6s %10s\n", "matrix", "shape", "quantization", "bits",
              "levels", "tiles", "devices");
  for (size_t m = 0; m < map.matrices.size(); ++m) {
    const QuantizedMatrix& q = map.matrices[m];
    const MatrixEncoding& e = map.encodings[m];
    int64_t count = 1, devices = e.devices_used;
    std::set<int64_t> tiles(e.tiles.begin(), e.tiles.end());
    std::string name = q.name;
    if (q.kind == MatrixKind::kRecurrence) {
      while (m + 1 < map.matrices.size() && map.matrices[m + 1].kind == MatrixKind::kRecurrence &&
             map.matrices[m + 1].layer == q.layer) {
        ++m;
        ++count;
        devices += map.encodings[m].devices_used;
        tiles.insert(map.encodings[m].tiles.begin(), map.encodings[m].tiles.end());
      }
      name = "s4_layers." + std::to_string(q.layer) + ".recurrence";
    }
    std::string shape = std::to_string(q.outputs()) + "x" + std::to_string(q.inputs());
    if (count > 1) shape = std::to_string(count) + "x(" + shape + ")";
    const std::string quant = q.from_checkpoint ? "checkpoint (QAT)" : "post-training";
    std::printf("%-28s %-11s %-22s %5d %6lld %6zu %10lld\n", name.c_str(), shape.c_str(),
                quant.c_str(),
                q.bits, static_cast<long long>(e.levels), tiles.size(),
                static_cast<long long>(devices));
    j["matrices"].push_back({{"name", name}, {"kind", to_string(q.kind)}, {"count", count},
                             {"outputs", q.outputs()}, {"inputs", q.inputs()}, {"bits", q.bits},
                             {"from_checkpoint", q.from_checkpoint}, {"levels", e.levels},
                             {"slices", e.slices}, {"step_uS", e.step_uS},
                             {"tiles", tiles.size()}, {"devices_used", devices}});
  }
  std::printf("\n%-16s %6s %12s %12s %12s\n", "layer", "tiles", "used", "allocated",
              "utilisation");
  for (const auto& s : summarize(map)) {
    std::printf("%-16s %6lld %12lld %12lld %11.1f%%\n", s.layer.c_str(),
                static_cast<long long>(s.tiles), static_cast<long long>(s.devices_used),
                static_cast<long long>(s.devices_allocated), 100.0 * s.utilisation());
    j["layers"].push_back({{"layer", s.layer}, {"tiles", s.tiles},
                           {"devices_used", s.devices_used},
                           {"devices_allocated", s.devices_allocated},
                           {"utilisation", s.utilisation()}});
  }
  const int64_t used = map.devices_used(), allocated = map.devices_allocated();
  std::printf("%-16s %6zu %12lld %12lld %11.1f%%\n", "total", map.tiles.size(),
              static_cast<long long>(used), static_cast<long long>(allocated),
              allocated ? 100.0 * static_cast<double>(used) / static_cast<double>(allocated) : 0.0);
  std::printf("crossbar area %lld cells (%zu tiles of %lld x %lld)\n",
              static_cast<long long>(allocated), map.tiles.size(),
              static_cast<long long>(chip.mapping.tile_rows),
              static_cast<long long>(chip.mapping.tile_cols));
  j["totals"] = {{"tiles", map.tiles.size()}, {"devices_used", used},
                 {"devices_allocated", allocated}, {"crossbar_area_cells", allocated}};
  if (!args.json_out.empty()) write_text_atomic(args.json_out, j.dump(2) + "\n");
  return 0;
}

int run_presets() {
  const std::pair<const char*, const char*> kinds[] = {
      {"devices", "devices (--chip files name one; qs4dsim device NAME)"},
      {"chips", "chips (--chip NAME)"},
      {"energy", "technology tables (--tech NAME)"}};
  for (const auto& [folder, title] : kinds) {
    const std::string dir = data_dir() + "/" + folder;
    std::printf("%s, in %s\n", title, dir.c_str());
    for (const std::string& name : spec_json::preset_list(dir)) {
      std::string line;
      try {
        const nlohmann::json j = spec_json::read_json_file(spec_json::preset_path(name, dir), name);
        line = j.value("description", std::string("(no description)"));
      } catch (const std::exception& e) {
        line = std::string("(unreadable: ") + e.what() + ")";
      }
      // The first sentence, at most one terminal line.
      const size_t stop = line.find(". ");
      if (stop != std::string::npos) line = line.substr(0, stop + 1);
      if (line.size() > 96) line = line.substr(0, 93) + "...";
      std::printf("  %-18s %s\n", name.c_str(), line.c_str());
    }
    std::printf("\n");
  }
  return 0;
}

int run_device(const DeviceArgs& args) {
  const DeviceModel model(load_device(args.device, with_extrapolation(args.overrides, args.extrapolate, ""), data_dir()));
  const DeviceSpec& spec = model.spec();
  const int64_t levels = args.levels ? args.levels : (spec.levels ? spec.levels : 8);
  const std::vector<double> times = parse_times(args.times);
  const Characterization c = characterize(model, levels, times, args.devices, args.seed, args.sigmas);
  std::printf("device  %s\ncitation %s\nwindow  %g..%g uS, %s, %lld devices per level, seed %llu\n\n",
              spec.name.c_str(), spec.citation.c_str(), spec.g_min_uS, spec.g_max_uS,
              spec.levels ? (std::to_string(spec.levels) + " levels").c_str() : "continuous",
              static_cast<long long>(args.devices), static_cast<unsigned long long>(args.seed));
  std::printf("%10s", "target uS");
  for (double t : times) {
    std::printf(" %20s", ("t=" + format_time(t) + (spec.extrapolated(t) ? "*" : "") + " mean/std").c_str());
  }
  std::printf(" %8s %7s\n", "stuck", "pulses");
  std::string csv = "target_uS,time_s,mean_uS,std_uS,stuck_fraction,mean_pulses\n";
  for (int64_t k = 0; k < levels; ++k) {
    const LevelStats& first = c.rows[static_cast<size_t>(k) * times.size()];
    std::printf("%10.3f", first.target_uS);
    for (size_t ti = 0; ti < times.size(); ++ti) {
      const LevelStats& r = c.rows[static_cast<size_t>(k) * times.size() + ti];
      std::printf(" %11.3f / %6.3f", r.mean_uS, r.std_uS);
      char line[160];
      std::snprintf(line, sizeof line, "%.6g,%.6g,%.6g,%.6g,%.6g,%.6g\n", r.target_uS, r.time_s,
                    r.mean_uS, r.std_uS, r.stuck_fraction, r.mean_pulses);
      csv += line;
    }
    std::printf(" %7.3f%% %7.2f\n", 100 * first.stuck_fraction, first.mean_pulses);
  }
  for (double t : times) {
    if (spec.extrapolated(t)) {
      std::printf("* extrapolated: %s is outside the times the device's source covers\n", format_time(t).c_str());
      break;
    }
  }
  std::printf("\ndistinguishable levels (neighbours more than %g sigma apart):", c.sigmas);
  for (size_t ti = 0; ti < times.size(); ++ti) {
    std::printf(" %s %lld/%lld%s", format_time(times[ti]).c_str(),
                static_cast<long long>(c.distinguishable[ti]), static_cast<long long>(levels),
                ti + 1 < times.size() ? "," : "\n");
  }
  if (!args.csv_out.empty()) write_text_atomic(args.csv_out, csv);
  return 0;
}

namespace {
// Ctrl-C during a sweep: every finished point is already in the CSV (written atomically), so say
// how to finish. Only async-signal-safe calls here.
char g_resume_hint[512];
void on_interrupt(int sig) {  // SIGINT (Ctrl-C) or SIGTERM (a batch system's time limit)
  const ssize_t n = write(STDERR_FILENO, g_resume_hint, std::strlen(g_resume_hint));
  (void)n;
  _exit(128 + sig);
}
}  // namespace

int run_sweep(const SweepArgs& args) {
  std::snprintf(g_resume_hint, sizeof g_resume_hint,
                "\ninterrupted: the finished points are in %s; run the same command with --resume to finish\n",
                args.out.c_str());
  std::signal(SIGINT, on_interrupt);
  std::signal(SIGTERM, on_interrupt);
  MpiSession::require_one_run_per_job();
  const S4DModel model = S4DModel::load(args.checkpoint);
  const Dataset data = load_dataset(args.data, args.limit);
  SweepOptions o;
  o.grids = args.grids;
  o.overrides = with_extrapolation(args.overrides, args.extrapolate, "device.");
  o.eval.trials = args.trials;
  o.eval.times_s = parse_times(args.times);
  o.eval.seed = args.seed;
  o.eval.batch = args.batch;
  o.eval.threads = args.threads;
  o.eval.mode = parse_exec_mode(args.mode);
  o.eval.calibrate_outputs = args.calibrate;
  o.out_csv = args.out;
  nlohmann::json calibration_report;
  CalibrationSet calibration;
  if (const int64_t needed = check_sweep(args.chip, o); needed > 0) {
    calibration = load_calibration(args.calibration, data, needed);
    o.eval.calibration = &calibration.data;
    calibration_report = calibration.to_json();
    calibration_report["used"] = true;
  } else {
    calibration_report = {{"used", false}, {"why", "no point calibrates ADC ranges or outputs"}};
  }
  o.identity = run_identity(args.checkpoint, args.data, data, args.limit,
                            load_chip(args.chip, o.overrides), o.overrides, args.seed);
  o.identity["grids"] = args.grids;
  o.identity["trials"] = args.trials;
  o.identity["times_s"] = o.eval.times_s;
  o.identity["mode"] = args.mode;
  if (args.calibrate > 0) o.identity["calibrate_outputs"] = args.calibrate;  // absent: older CSVs resume
  o.identity["calibration"] = calibration_report;
  o.resume = args.resume;
  o.dry_run = args.dry_run;
  const SweepSummary s = run_sweep(model, data, args.chip, o);
  if (args.dry_run || MpiSession::rank() != 0) return 0;
  std::printf("sweep: %lld points, %lld evaluated, %lld already done (%d processes); results in %s (seed %llu)\n",
              static_cast<long long>(s.points), static_cast<long long>(s.evaluated),
              static_cast<long long>(s.skipped), MpiSession::size(), args.out.c_str(),
              static_cast<unsigned long long>(args.seed));
  return 0;
}

int run_predict(const PredictArgs& args) {
  const S4DModel model = S4DModel::load(args.checkpoint);
  const SequenceBatch x = read_sequences(args.input, args.input_dataset);
  if (x.width != model.config().d_input) {
    throw UsageError(args.input + ":" + args.input_dataset + " has " + std::to_string(x.width) +
                     " features per step, the model " + args.checkpoint + " expects d_input = " +
                     std::to_string(model.config().d_input));
  }
  const DigitalEngine engine(model, x.length, parse_exec_mode(args.mode));
  const RowMatrixXf logits = engine.logits(x, args.threads);
  write_matrix(args.out, "/logits", logits);
  std::printf("wrote %s:/logits (%lld, %lld)\n", args.out.c_str(),
              static_cast<long long>(logits.rows()), static_cast<long long>(logits.cols()));
  return 0;
}

}  // namespace qs4d::cli
