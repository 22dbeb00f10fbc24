// qs4dsim: command-line front end. Parses arguments, calls the library, prints.
#include <cstdio>
#include <CLI/CLI.hpp>
#include <iostream>
#include <functional>
#include <memory>

#include "core/core.h"
#include "models/model.h"
#include "run/run.h"
#include "run/cli/commands.h"

namespace {

// Non-negative whole numbers (seeds, limits), with a short message: CLI11's NonNegativeNumber
// prints its bound as a 300-digit double, and an unsigned option would take "-1" as 2^64 - 1.
const CLI::Validator kNonNegativeInteger(
    [](std::string& text) -> std::string {
      const bool digits = !text.empty() &&
                          text.find_first_not_of("0123456789") == std::string::npos;
      return digits ? "" : "\"" + text + "\" is not a non-negative whole number";
    },
    "INT>=0");

// A batch size: a whole number from 1 to a million (a claimed size must not drive the allocation).
const CLI::Validator kBatchSize(
    [](std::string& text) -> std::string {
      const bool digits = !text.empty() && text.size() <= 7 &&
                          text.find_first_not_of("0123456789") == std::string::npos;
      const long long v = digits ? std::stoll(text) : 0;
      return v >= 1 && v <= 1000000 ? "" : "\"" + text + "\" is not a whole number from 1 to 1000000";
    },
    "INT in 1..1000000");

constexpr const char* kCalibrationHelp =
    "samples the ADC ranges and output gains are calibrated on, never the evaluated ones (default: the "
    "training split beside --data, PREFIX_train.h5 beside PREFIX_test.h5 or PREFIX_val.h5)";

using namespace qs4d::cli;

// Whether a verb runs under mpirun (more than one process).
enum class MpiUse { kNo, kYes };

// One verb: its subcommand (options registered), what running it does, and whether it may run
// under MPI (eval only with --chip).
struct Verb {
  CLI::App* command;
  std::function<int()> run;
  std::function<MpiUse()> mpi;
};

// A verb that runs `run` on its arguments, inside one ThreadScope of their --threads when they
// have one (every parallel level); under MPI only when `mpi` says so.
template <class A>
Verb verb(CLI::App* command, std::shared_ptr<A> held, int (*run)(const A&), MpiUse mpi = MpiUse::kNo) {
  return {command,
          [held, run] {
            if constexpr (requires { held->threads; }) {
              const qs4d::ThreadScope threads(held->threads);
              return run(*held);
            } else {
              return run(*held);
            }
          },
          [mpi] { return mpi; }};
}

// Options of energy and compare, which differ only in their checkpoints and --data default.
void add_cost_options(CLI::App* cmd, CostArgs& a, const std::string& data_default) {
  cmd->add_option("--chip", a.chip, "chip preset name or JSON file")->required();
  cmd->add_option("--tech", a.tech, "technology table: data/energy/NAME.json or a file (default: the chip's own, its \"technology\" key)");
  cmd->add_option("--set", a.overrides, "override a chip key: --set periphery.adc_bits=6");
  cmd->add_option("--data", a.data, "inputs to count on (default: " + data_default + ")");
  cmd->add_option("--calibration", a.calibration,
                  "samples the ADC ranges are calibrated on, never the counted ones (default: the training "
                  "split beside the counted data, PREFIX_train.h5 beside PREFIX_test.h5)");
  cmd->add_option("--samples", a.samples, "samples to count on")
      ->check(CLI::Range(int64_t{1}, qs4d::kMaxTrials));
  cmd->add_option("--seed", a.seed, "random seed of the chips (echoed in the report)")
    ->check(kNonNegativeInteger);
  cmd->add_option("--threads", a.threads, "threads, every parallel level (0 = default)")
      ->check(CLI::Range(0, qs4d::kMaxThreads));
  cmd->add_option("--json", a.json_out, "write the figures as JSON to this file");
}

// `qs4dsim info`: its options, and how it runs.
Verb add_info(CLI::App& app) {
  auto held = std::make_shared<InfoArgs>();
  InfoArgs& info = *held;
  auto* info_cmd = app.add_subcommand("info", "Architecture, parameters, quantization and weight "
                                              "memory of a checkpoint");
  info_cmd->add_option("checkpoint", info.checkpoint, "checkpoint (HDF5, format v1)")->required();
  return verb(info_cmd, held, &run_info);
}

// `qs4dsim eval`: its options, and how it runs.
Verb add_eval(CLI::App& app) {
  auto held = std::make_shared<EvalArgs>();
  EvalArgs& eval = *held;
  auto* eval_cmd = app.add_subcommand("eval", "Digital accuracy and throughput on a dataset");
  eval_cmd->add_option("checkpoint", eval.request.checkpoint, "checkpoint (HDF5, format v1)")->required();
  eval_cmd->add_option("--data", eval.request.data, "dataset file (HDF5: /x, /y)")->required();
  eval_cmd->add_option("--mode", eval.request.mode, "execution mode (auto: recurrent where the checkpoint holds a state grid, run as trained; else conv)")
      ->check(CLI::IsMember({"auto", "conv", "recurrent"}));
  eval_cmd->add_option("--limit", eval.request.limit, "evaluate only the first N samples (0 = all)")
      ->check(kNonNegativeInteger);
  eval_cmd->add_option("--batch", eval.request.batch, "samples per batch")->check(kBatchSize);
  eval_cmd->add_option("--threads", eval.request.threads, "threads, every parallel level (0 = default)")
      ->check(CLI::Range(0, qs4d::kMaxThreads));
  eval_cmd->add_option("--json", eval.json_out, "write the results as JSON to this file");
  eval_cmd->add_option("--chip", eval.chip, "evaluate on this chip (preset name or JSON file)");
  eval_cmd->add_option("--set", eval.request.overrides, "override a chip key: --set periphery.adc_bits=6");
  eval_cmd->add_option("--trials", eval.request.trials, "independently programmed chips")
      ->check(CLI::Range(int64_t{1}, qs4d::kMaxTrials));
  eval_cmd->add_option("--calibrate", eval.request.calibrate,
                       "chip-in-the-loop output calibration: after programming and at every time, fit one gain "
                       "and offset per read-out on the first N calibration samples (no labels; 0 = none)")
      ->check(kNonNegativeInteger);
  eval_cmd->add_option("--calibration", eval.request.calibration_path, kCalibrationHelp);
  eval_cmd->add_flag("--extrapolate", eval.request.extrapolate,
                     "allow times after programming outside the device source's range (marked)");
  eval_cmd->add_option("--times", eval.times, "times after programming, e.g. 1s,1h,1d,1y (default: 0, right after programming)");
  eval_cmd->add_option("--seed", eval.request.seed, "master random seed (echoed in the report)")
      ->check(kNonNegativeInteger);
  eval_cmd->add_option("--tech", eval.request.tech, "technology table for the energy figures (data/energy; default: the chip's own, its \"technology\" key)");
  eval_cmd->add_option("--energy-samples", eval.request.energy_samples,
                       "energy figures from the actions of the first N samples of the first chip at the first time (0 = none)")
      ->check(kNonNegativeInteger);
  eval_cmd->footer("Under MPI (mpirun -np N qs4dsim eval ... --chip CHIP --trials K), the K chips are shared "
                   "out over the N processes and --threads threads in each; rank 0 prints and writes --json, "
                   "the same numbers as one process.");
  Verb v = verb(eval_cmd, held, &run_eval);
  v.mpi = [held] { return held->chip.empty() ? MpiUse::kNo : MpiUse::kYes; };  // chips share out, digital does not
  return v;
}

// `qs4dsim predict`: its options, and how it runs.
Verb add_predict(CLI::App& app) {
  auto held = std::make_shared<PredictArgs>();
  PredictArgs& pred = *held;
  auto* pred_cmd = app.add_subcommand("predict", "Logits for a float32 (B, L, d_input) dataset");
  pred_cmd->add_option("checkpoint", pred.checkpoint, "checkpoint (HDF5, format v1)")->required();
  pred_cmd->add_option("input", pred.input, "HDF5 file holding the inputs")->required();
  pred_cmd->add_option("--input-dataset", pred.input_dataset, "path of the inputs in INPUT")
      ->required();
  pred_cmd->add_option("--out", pred.out, "output HDF5 file (dataset /logits)")->required();
  pred_cmd->add_option("--mode", pred.mode, "execution mode (auto: recurrent where the checkpoint holds a state grid, run as trained; else conv)")
      ->check(CLI::IsMember({"auto", "conv", "recurrent"}));
  pred_cmd->add_option("--threads", pred.threads, "threads, every parallel level (0 = default)")
      ->check(CLI::Range(0, qs4d::kMaxThreads));
  return verb(pred_cmd, held, &run_predict);
}

// `qs4dsim map`: its options, and how it runs.
Verb add_map(CLI::App& app) {
  auto held = std::make_shared<MapArgs>();
  MapArgs& map = *held;
  auto* map_cmd = app.add_subcommand("map", "Where every weight lives: tiles, devices, utilisation");
  map_cmd->add_option("checkpoint", map.checkpoint, "checkpoint (HDF5, format v1)")->required();
  map_cmd->add_option("--chip", map.chip, "chip preset name (data/chips) or JSON file")->required();
  map_cmd->add_option("--set", map.overrides, "override a chip key: --set mapping.tile_rows=128");
  map_cmd->add_option("--json", map.json_out, "write the map summary as JSON to this file");
  return verb(map_cmd, held, &run_map);
}

// `qs4dsim device`: its options, and how it runs.
Verb add_device(CLI::App& app) {
  auto held = std::make_shared<DeviceArgs>();
  DeviceArgs& dev = *held;
  auto* dev_cmd = app.add_subcommand("device", "Conductance statistics per level and time");
  dev_cmd->add_option("device", dev.device, "device preset name (data/devices) or JSON file")
      ->required();
  dev_cmd->add_option("--set", dev.overrides, "override a device key: --set programming.scale=2");
  dev_cmd->add_option("--levels", dev.levels, "target levels across the window")
      ->check(CLI::Range(int64_t{2}, int64_t{4096}));
  dev_cmd->add_option("--times", dev.times, "times after programming, e.g. 1s,1h,1d,1y");
  // 2^22 devices per level (4 M) resolve any spread to 0.1%; 2^26 took 2 GB and 25 s per level.
  dev_cmd->add_option("--devices", dev.devices, "devices per level (2 .. 4194304)")
      ->check(CLI::Range(int64_t{2}, int64_t{1} << 22));
  dev_cmd->add_option("--seed", dev.seed, "master random seed")
      ->check(kNonNegativeInteger);
  dev_cmd->add_option("--sigmas", dev.sigmas, "separation that makes two levels distinguishable")
      ->check(CLI::Range(0.001, 1000.0));
  dev_cmd->add_flag("--extrapolate", dev.extrapolate,
                    "allow times after programming outside the device source's range (marked)");
  dev_cmd->add_option("--csv", dev.csv_out, "write one row per (level, time) to this CSV file");
  return verb(dev_cmd, held, &run_device);
}

// The options sweep and explore share (everything but the checkpoint argument).
void add_grid_options(CLI::App* cmd, SweepArgs& sw) {
  cmd->add_option("--data", sw.data, "dataset file (HDF5: /x, /y)")->required();
  cmd->add_option("--chip", sw.chip, "chip preset name or JSON file")->required();
  cmd->add_option("--grid", sw.grids, "an axis: key=v1,v2,... (repeat for more axes)")
      ->required();
  cmd->add_option("--set", sw.overrides, "fixed chip overrides for every point");
  cmd->add_option("--trials", sw.trials, "chips per point")
      ->check(CLI::Range(int64_t{1}, qs4d::kMaxTrials));
  cmd->add_option("--calibrate", sw.calibrate,
                  "chip-in-the-loop output calibration on the first N calibration samples at every time "
                  "(0 = none)")
      ->check(kNonNegativeInteger);
  cmd->add_option("--calibration", sw.calibration, kCalibrationHelp);
  cmd->add_flag("--extrapolate", sw.extrapolate,
                "allow times after programming outside the device source's range (marked)");
  cmd->add_option("--times", sw.times, "times after programming, e.g. 1s,1h,1d,1y");
  cmd->add_option("--seed", sw.seed, "master random seed")
      ->check(kNonNegativeInteger);
  cmd->add_option("--limit", sw.limit, "use only the first N samples")
      ->check(kNonNegativeInteger);
  cmd->add_option("--batch", sw.batch, "samples per batch")->check(kBatchSize);
  cmd->add_option("--threads", sw.threads, "threads, every parallel level (0 = default)")
      ->check(CLI::Range(0, qs4d::kMaxThreads));
  cmd->add_option("--mode", sw.mode, "execution mode (auto: recurrent where the checkpoint holds a state grid, run as trained; else conv)")
      ->check(CLI::IsMember({"auto", "conv", "recurrent"}));
  cmd->add_option("--out", sw.out, "results CSV (rewritten atomically after each point)")
      ->required();
  cmd->add_flag("--resume", sw.resume, "continue an interrupted run in --out");
  cmd->add_flag("--dry-run", sw.dry_run,
                "print the points, the work units to run and an estimate of core-hours from one unit "
                "timed on 64 and 256 samples, then stop");
  cmd->footer("Under MPI (mpirun -np N qs4dsim " + cmd->get_name() + " ...), the (point, trial) units are shared "
              "out over the N processes and --threads threads in each; rank 0 writes the CSV, the same byte "
              "for byte for any N and thread count.");
}

// `qs4dsim sweep`: its options, and how it runs.
Verb add_sweep(CLI::App& app) {
  auto held = std::make_shared<SweepArgs>();
  auto* sw_cmd = app.add_subcommand("sweep", "Analog accuracy over a grid of chip parameters");
  sw_cmd->add_option("checkpoint", held->checkpoint, "checkpoint (HDF5, format v1)")->required();
  add_grid_options(sw_cmd, *held);
  return verb(sw_cmd, held, &run_sweep, MpiUse::kYes);
}

// `qs4dsim explore`: a sweep over checkpoints whose every point is priced too, with its front.
Verb add_explore(CLI::App& app) {
  auto held = std::make_shared<ExploreArgs>();
  ExploreArgs& ex = *held;
  auto* cmd = app.add_subcommand(
      "explore", "Accuracy, energy, area and latency of every design point (checkpoints x chip grid), and "
                 "its Pareto front");
  cmd->add_option("checkpoints", ex.checkpoints, "checkpoints (HDF5, format v1): the first axis")->required();
  add_grid_options(cmd, ex);
  cmd->add_option("--tech", ex.tech, "technology table that prices the points (default: the chip's own)");
  cmd->add_option("--energy-samples", ex.energy_samples,
                  "samples each point's first chip counts its actions on, at the first time")
      ->check(CLI::Range(int64_t{1}, int64_t{100000}));
  cmd->add_option("--objectives", ex.objectives,
                  "the front's objectives: two or more of accuracy, energy, area, latency, edp");
  return verb(cmd, held, &run_explore, MpiUse::kYes);
}

// `qs4dsim tolerance`: its options, and how it runs.
Verb add_tolerance(CLI::App& app) {
  auto held = std::make_shared<ToleranceArgs>();
  ToleranceArgs& t = *held;
  auto* cmd = app.add_subcommand("tolerance", "The largest value of a chip parameter a model tolerates within an "
                                              "accuracy drop (or the smallest it needs), by bisection");
  cmd->add_option("checkpoint", t.checkpoint, "checkpoint (HDF5, format v1)")->required();
  cmd->add_option("--data", t.data, "dataset file (HDF5: /x, /y)")->required();
  cmd->add_option("--chip", t.chip, "chip preset name or JSON file")->required();
  cmd->add_option("--find", t.find, "the chip key to search, e.g. device.programming.scale or periphery.adc_bits")
      ->required();
  cmd->add_option("--max-drop", t.max_drop, "accuracy drop allowed below the digital accuracy (fraction)")
      ->check(CLI::Range(0.0, 0.999));
  cmd->add_option("--range", t.range, "the bracket LO,HI (defaults for bits, noise and drift scales, stuck "
                                      "fractions and wire resistance)");
  cmd->add_option("--set", t.overrides, "fixed chip overrides");
  cmd->add_option("--times", t.times, "times after programming; the worst decides");
  cmd->add_option("--trials", t.trials, "chips per probe (at least 2: the 95% interval)")
      ->check(CLI::Range(int64_t{2}, qs4d::kMaxTrials));
  cmd->add_option("--steps", t.steps, "bisection steps after the bracket's ends and middle")->check(CLI::Range(1, 40));
  cmd->add_option("--calibration", t.calibration, kCalibrationHelp);
  cmd->add_option("--seed", t.seed, "master random seed")->check(kNonNegativeInteger);
  cmd->add_option("--limit", t.limit, "use only the first N samples")->check(kNonNegativeInteger);
  cmd->add_option("--batch", t.batch, "samples per batch")->check(kBatchSize);
  cmd->add_option("--threads", t.threads, "threads, every parallel level (0 = default)")
      ->check(CLI::Range(0, qs4d::kMaxThreads));
  cmd->add_option("--mode", t.mode, "execution mode")->check(CLI::IsMember({"auto", "conv", "recurrent"}));
  cmd->add_flag("--extrapolate", t.extrapolate, "allow times outside the device source's range (marked)");
  cmd->add_option("--json", t.json_out, "write the result and every probe as JSON");
  return verb(cmd, held, &run_tolerance);
}

// `qs4dsim quantize`: its options, and how it runs.
Verb add_quantize(CLI::App& app) {
  auto held = std::make_shared<QuantizeArgs>();
  QuantizeArgs& qz = *held;
  auto* qz_cmd = app.add_subcommand(
      "quantize", "Post-training quantization of single components (abar, x, ...), recurrent mode");
  qz_cmd->add_option("checkpoint", qz.checkpoint, "checkpoint (HDF5, format v1)")->required();
  qz_cmd->add_option("--data", qz.data, "dataset file (HDF5: /x, /y)")->required();
  qz_cmd->add_option("--components", qz.components,
                     "components and bits, e.g. abar=8,x=6 or all=8 (names: encoder, "
                     "projections, decoder, abar, bbar, c, d, x, act)");
  qz_cmd->add_option("--study", qz.study,
                     "bit widths of the sensitivity study, e.g. 8,6,4: each component alone, "
                     "then all");
  qz_cmd->add_option("--calibration", qz.calibration,
                     "dataset for the static scales of x and act, never the evaluated samples (default: the "
                     "training split beside --data, PREFIX_train.h5 beside PREFIX_test.h5)");
  qz_cmd->add_option("--x-granularity", qz.x_granularity,
                     "x's static steps: one per layer, or per channel or complex mode from the calibration's peaks")
      ->check(CLI::IsMember({"layer", "channel", "mode"}));
  qz_cmd->add_option("--calibrate", qz.calibrate, "calibration samples, spread evenly over the file")
      ->check(CLI::Range(int64_t{1}, qs4d::kMaxTrials));
  qz_cmd->add_option("--draws", qz.draws,
                     "calibration sets per quantized configuration: the evenly spaced one, then random subsets "
                     "of as many samples (keyed on --seed); the report gives the spread over them")
      ->check(CLI::Range(int64_t{1}, int64_t{100}));
  qz_cmd->add_option("--seed", qz.seed, "seed of the random calibration subsets (--draws above 1)");
  qz_cmd->add_option("--limit", qz.limit, "evaluate only the first N samples (0 = all)")
      ->check(kNonNegativeInteger);
  qz_cmd->add_option("--batch", qz.batch, "samples per batch")
      ->check(CLI::Range(int64_t{1}, int64_t{1} << 20));
  qz_cmd->add_option("--threads", qz.threads, "threads, every parallel level (0 = default)")
      ->check(CLI::Range(0, qs4d::kMaxThreads));
  qz_cmd->add_option("--json", qz.json_out, "write the results as JSON to this file");
  qz_cmd->add_option("--logits", qz.logits_out,
                     "write the logits of the --components model to this HDF5 file (/logits)");
  return verb(qz_cmd, held, &run_quantize);
}

// `qs4dsim circuit`: its options, and how it runs.
Verb add_circuit(CLI::App& app) {
  auto held = std::make_shared<CircuitArgs>();
  CircuitArgs& ck = *held;
  auto* ck_cmd = app.add_subcommand(
      "circuit", "One tile as a resistive network: output currents and transfer matrix");
  ck_cmd->add_option("--in", ck.in, "HDF5 with /G (rows x cols, uS) and /v (batch x rows, V)")
      ->required();
  ck_cmd->add_option("--out", ck.out, "HDF5 to write /i (batch x cols, uA) and /A (cols x rows)")
      ->required();
  // Resistances: 0 or 1e-6 .. 1e9 ohm, checked with the rest of the circuit (CircuitSpec).
  ck_cmd->add_option("--row-wire-ohm", ck.row_wire_ohm, "resistance per row segment")
      ->capture_default_str();
  ck_cmd->add_option("--col-wire-ohm", ck.col_wire_ohm, "resistance per column segment")
      ->capture_default_str();
  ck_cmd->add_option("--driver-ohm", ck.driver_ohm, "row driver resistance")
      ->capture_default_str();
  ck_cmd->add_option("--sense-ohm", ck.sense_ohm, "sense amplifier input resistance")
      ->capture_default_str();
  ck_cmd->add_option("--access-ohm", ck.access_ohm, "1T1R access transistor per cell")
      ->capture_default_str();
  ck_cmd->add_option("--netlist", ck.netlist,
                     "also write the tile, its inputs and cells as an ngspice netlist to this file");
  ck_cmd->add_option("--threads", ck.threads, "threads, every parallel level (0 = default)")
      ->check(CLI::Range(0, qs4d::kMaxThreads));
  ck_cmd->footer(
      "Limits: at most 4096 rows and columns and 2^20 cells; the exact solve of a resistive tile "
      "at most 4/3 R C^3 + R^2 C^2 = 1.6e11 flops (a 512 x 512 tile); nonlinear cells at most "
      "rows x cols x input vectors = 2^20. Resistances are 0 or 1e-6 .. 1e9 ohm, conductances "
      "0 .. 1e6 uS, inputs finite within +-1000 V.");
  ck_cmd->add_option("--cell-v0", ck.cell_v0,
                     "nonlinear cells, I = G v0 sinh(V / v0) in volts (ASU/Stanford RRAM form; "
                     "exact solver only); 0 = ohmic")
      ->check(CLI::Range(0.0, 1e3))->capture_default_str();
  ck_cmd->add_option("--solver", ck.solver, "exact, first-order or ideal")
      ->check(CLI::IsMember({"exact", "first-order", "ideal"}))->capture_default_str();
  return verb(ck_cmd, held, &run_circuit);
}

// `qs4dsim energy`: its options, and how it runs.
Verb add_energy(CLI::App& app) {
  auto held = std::make_shared<EnergyArgs>();
  EnergyArgs& en = *held;
  auto* en_cmd = app.add_subcommand("energy", "Energy, latency and area per inference on a chip, "
                                              "against a digital baseline");
  en_cmd->add_option("checkpoint", en.checkpoint, "checkpoint (HDF5, format v1)")->required();
  add_cost_options(en_cmd, en, "the test split of the checkpoint's /meta dataset in data/datasets");
  return verb(en_cmd, held, &run_energy);
}

// `qs4dsim compare`: its options, and how it runs.
Verb add_compare(CLI::App& app) {
  auto held = std::make_shared<CompareArgs>();
  CompareArgs& cmp = *held;
  auto* cmp_cmd = app.add_subcommand("compare", "Complexity, energy and latency of checkpoints "
                                                "side by side on one chip");
  cmp_cmd->add_option("checkpoints", cmp.checkpoints, "checkpoints (HDF5, format v1)")->required();
  add_cost_options(cmp_cmd, cmp, "from each checkpoint's /meta");
  cmp_cmd->add_flag("--paired", cmp.paired,
                    "accuracy of two configurations on the same chips instead of costs: two checkpoints on "
                    "--chip, or one checkpoint on --chip and on --chip-b / --set-b; per time, each chip's "
                    "difference b - a, its 95% t-interval, and a verdict that calls b better or worse only "
                    "where the interval excludes 0");
  cmp_cmd->add_option("--chip-b", cmp.chip_b, "--paired: b's chip (default: --chip)");
  cmp_cmd->add_option("--set-b", cmp.overrides_b, "--paired: overrides for b only, on top of --set");
  cmp_cmd->add_option("--trials", cmp.trials, "--paired: chips, the same for a and b (at least 2)")
      ->check(CLI::Range(int64_t{2}, qs4d::kMaxTrials));
  cmp_cmd->add_option("--times", cmp.times, "--paired: times after programming, e.g. 0,1d");
  cmp_cmd->add_option("--limit", cmp.limit, "--paired: score only the first N samples of --data (0 = all)")
      ->check(kNonNegativeInteger);
  cmp_cmd->add_flag("--extrapolate", cmp.extrapolate, "--paired: allow times outside the device source's range");
  cmp_cmd->add_option("--calibrate", cmp.calibrate,
                      "--paired: chip-in-the-loop output calibration of a and of b, as eval --calibrate: at every "
                      "time one gain and offset per read-out on the first N calibration samples (0 = none)")
      ->check(kNonNegativeInteger);
  CLI::App* cmd = cmp_cmd;
  return {cmd, [held, cmd] {
    const CompareArgs& a = *held;
    const qs4d::ThreadScope threads(a.threads);
    // An option of the paired comparison without --paired would change nothing: refused.
    for (const char* option : {"--chip-b", "--set-b", "--trials", "--times", "--limit", "--extrapolate", "--calibrate"}) {
      if (!a.paired && cmd->count(option) > 0) {
        throw qs4d::UsageError(std::string(option) + " belongs to compare --paired; without it compare prices "
                               "the checkpoints and would ignore it");
      }
    }
    if (a.paired && cmd->count("--samples") > 0) {
      throw qs4d::UsageError("--samples belongs to the cost table; compare --paired scores --data (--limit N)");
    }
    return a.paired ? run_paired_compare(a) : run_compare(a);
  }, [] { return MpiUse::kNo; }};
}

// `qs4dsim presets`: the presets with their descriptions; --bounds: the physical bounds of every
// numeric key (core/bounds.h).
Verb add_presets(CLI::App& app) {
  CLI::App* cmd = app.add_subcommand("presets", "The device, chip and technology-table presets with their descriptions");
  auto bounds = std::make_shared<bool>(false);
  cmd->add_flag("--bounds", *bounds, "Print instead the physical bounds of every numeric key, one table (markdown)");
  return {cmd, [bounds] { return *bounds ? run_bounds() : run_presets(); }, [] { return MpiUse::kNo; }};
}

}  // namespace

int main(int argc, char** argv) {
  std::setvbuf(stdout, nullptr, _IOLBF, 0);  // piped output arrives line by line
  CLI::App app{"QS4D-Sim: quantized S4D models on simulated memristor crossbars"};
  app.require_subcommand(1);
  // Every option's default in its --help line (subcommands inherit this, issue #19).
  app.option_defaults()->always_capture_default();
  app.set_version_flag("--version", qs4d::kProgramVersion);

  const std::vector<Verb> verbs = {add_info(app),     add_eval(app),    add_predict(app),  add_map(app),
                                   add_device(app),   add_sweep(app),   add_explore(app), add_tolerance(app), add_quantize(app), add_circuit(app),
                                   add_energy(app),   add_compare(app), add_presets(app)};

  // MPI first (it may take its own arguments); only under an MPI launcher.
  std::unique_ptr<qs4d::MpiSession> mpi;
  try {
    mpi = std::make_unique<qs4d::MpiSession>(&argc, &argv);
  } catch (const std::exception& e) {
    std::cerr << "qs4dsim: error: " << e.what() << "\n";
    return 1;
  }
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    // --help and --version print as CLI11 formats them; usage errors are one line like the rest.
    if (e.get_exit_code() == 0) return app.exit(e);
    std::cerr << "qs4dsim: error: " << qs4d::printable(e.what()) << " (see qs4dsim --help)\n";
    return e.get_exit_code();
  }
  try {
    for (const Verb& verb : verbs) {
      if (!*verb.command) continue;
      if (qs4d::MpiSession::size() > 1 && verb.mpi() == MpiUse::kNo) {
        throw qs4d::UsageError("only sweep and eval --chip run under MPI (" + std::to_string(qs4d::MpiSession::size()) +
                               " processes); run this verb without mpirun");
      }
      return verb.run();
    }
  } catch (const std::exception& e) {
    if (qs4d::MpiSession::size() > 1) {
      std::cerr << "qs4dsim: error (rank " << qs4d::MpiSession::rank() << "): " << qs4d::printable(e.what()) << "\n";
    } else {
      std::cerr << "qs4dsim: error: " << qs4d::printable(e.what()) << "\n";
    }
    qs4d::MpiSession::abort(1);  // under MPI, the other processes would wait for this one
    return 1;
  }
  return 1;
}
