#include "core/bounds.h"
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
#include "run/detail/explore.h"
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
  for (size_t i = 0; i < model.layers().size(); ++i) {
    const StateGrid& g = model.layers()[i].state_grid;
    if (g.bits > 0)
      std::printf("state grid   layer %zu: %d bit, one step per %s, %s (/state_quant)\n", i, g.bits,
                  g.granularity.c_str(), g.calibration.c_str());
  }
  // Zhao et al.'s measure: weights and the recurrent state together, against the same model in FP32.
  const int64_t held = model.weight_bytes() + model.state_bytes(),
                fp32 = model.weight_bytes_at(32) + model.state_bytes(32);
  std::printf("memory       %lld bytes, weights and one sample's state (%s); the same in float32: %lld bytes, %.2fx this\n", static_cast<long long>(held),
              human_bytes(held).c_str(), static_cast<long long>(fp32),
              static_cast<double>(fp32) / static_cast<double>(std::max<int64_t>(held, 1)));
  if (!model.meta().empty()) {
    std::printf("\nmeta\n");
    for (const auto& [k, v] : model.meta()) {
      std::string shown = printable(v.size() > 100 ? v.substr(0, 97) + "..." : v);  // a file's bytes
      std::printf("  %-18s %s\n", printable(k).c_str(), shown.c_str());
    }
  }
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

int run_bounds() {
  std::printf("%s", physical_bounds_markdown().c_str());
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

namespace {

// sweep and explore: the run from its arguments (explore: several checkpoints, priced points).
int run_grid(const SweepArgs& args, const ExploreArgs* explore) {
  std::snprintf(g_resume_hint, sizeof g_resume_hint,
                "\ninterrupted: the finished points are in %s; run the same command with --resume to finish\n",
                args.out.c_str());
  std::signal(SIGINT, on_interrupt);
  std::signal(SIGTERM, on_interrupt);
  MpiSession::require_one_run_per_job();
  std::vector<std::string> paths = explore ? explore->checkpoints : std::vector<std::string>{args.checkpoint};
  std::vector<std::unique_ptr<S4DModel>> models;
  for (const auto& path : paths) models.push_back(std::make_unique<S4DModel>(S4DModel::load(path)));
  const S4DModel& model = *models.front();
  const Dataset data = load_dataset(args.data, args.limit);
  SweepOptions o;
  o.grids = args.grids;
  o.overrides = with_extrapolation(args.overrides, args.extrapolate, "device.");
  o.eval.trials = args.trials;
  o.eval.times_s = parse_times(args.times);
  o.eval.seed = args.seed;
  o.eval.batch = args.batch;
  o.eval.threads = args.threads;
  o.eval.mode = resolve_exec_mode(args.mode, model);
  o.eval.calibrate_outputs = args.calibrate;
  o.out_csv = args.out;
  nlohmann::json calibration_report;
  CalibrationSet calibration;
  if (const int64_t needed = check_sweep(args.chip, o); needed > 0) {
    calibration = load_calibration(args.calibration, data, needed);
    o.eval.calibration = &calibration.data;
    calibration_report = calibration.to_json();
  } else {
    calibration_report = {{"used", false}, {"why", "no point calibrates ADC ranges or outputs"}};
  }
  const ChipSpec base = load_chip(args.chip, o.overrides);
  o.identity = run_identity(paths.front(), args.data, data, args.limit, &base, o.overrides, args.seed);
  o.identity["grids"] = args.grids;
  o.identity["trials"] = args.trials;
  o.identity["times_s"] = o.eval.times_s;
  o.identity["mode"] = to_string(o.eval.mode);
  if (args.calibrate > 0) o.identity["calibrate_outputs"] = args.calibrate;  // absent: older CSVs resume
  o.identity["calibration"] = calibration_report;
  if (explore) {
    nlohmann::json listed = nlohmann::json::array();
    for (size_t i = 0; i < paths.size(); ++i) {
      o.checkpoints.emplace_back(paths[i], models[i].get());
      listed.push_back({{"path", paths[i]}, {"fingerprint", file_fingerprint(paths[i])}});
    }
    o.cost_tech = tech_for(base, explore->tech);
    o.cost_samples = explore->energy_samples;
    o.objectives = parse_objectives(explore->objectives);
    o.identity["checkpoints"] = listed;
    o.identity["tech"] = o.cost_tech;
    o.identity["energy_samples"] = o.cost_samples;
    o.identity["objectives"] = o.objectives;
  }
  o.resume = args.resume;
  o.dry_run = args.dry_run;
  const SweepSummary s = run_sweep(model, data, args.chip, o);
  if (args.dry_run || MpiSession::rank() != 0) return 0;
  std::printf("%s: %lld points, %lld evaluated, %lld already done (%d processes); results in %s (seed %llu)\n",
              explore ? "explore" : "sweep", static_cast<long long>(s.points), static_cast<long long>(s.evaluated),
              static_cast<long long>(s.skipped), MpiSession::size(), args.out.c_str(),
              static_cast<unsigned long long>(args.seed));
  return 0;
}

}  // namespace

int run_sweep(const SweepArgs& args) { return run_grid(args, nullptr); }

int run_explore(const ExploreArgs& args) {
  if (args.checkpoints.empty()) throw UsageError("explore: give at least one checkpoint");
  return run_grid(args, &args);
}

int run_predict(const PredictArgs& args) {
  const S4DModel model = S4DModel::load(args.checkpoint);
  const SequenceBatch x = read_sequences(args.input, args.input_dataset);
  if (x.width != model.config().d_input) {
    throw UsageError(args.input + ":" + args.input_dataset + " has " + std::to_string(x.width) +
                     " features per step, the model " + args.checkpoint + " expects d_input = " +
                     std::to_string(model.config().d_input));
  }
  const DigitalEngine engine(model, x.length, resolve_exec_mode(args.mode, model));
  const RowMatrixXf logits = engine.logits(x, args.threads);
  write_matrix(args.out, "/logits", logits);
  std::printf("wrote %s:/logits (%lld, %lld)\n", args.out.c_str(),
              static_cast<long long>(logits.rows()), static_cast<long long>(logits.cols()));
  return 0;
}

}  // namespace qs4d::cli
