// run: what runs models for a user and reports on them, above sim/ (the chip simulation) and
// energy/ (pricing): the digital reference evaluation, evaluation of chips over trials and times
// (optionally shared out over MPI processes), grid sweeps, counting a chip's actions on real
// inputs for pricing, and result files written atomically. The command-line tool `qs4dsim`
// (run/cli), the Python module (bindings/) and program/ call it. May include every module; none
// includes it but those three.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "energy/energy.h"
#include "sim/sim.h"

namespace qs4d {

struct DigitalEvalOptions {
  ExecMode mode = ExecMode::kConv;
  int64_t batch = 64;   // samples handed to the engine at once
  int threads = 0;      // 0 = OpenMP default
};

struct DigitalEvalResult {
  int64_t n_samples = 0;
  int64_t correct = 0;
  double accuracy = 0;
  double seconds = 0;
  double samples_per_s = 0;
  std::vector<int64_t> predictions;
};

// Runs the digital reference over the whole dataset.
DigitalEvalResult evaluate_digital(const S4DModel& model, const Dataset& data,
                                   const DigitalEvalOptions& options);

// ---------------------------------------------------------------------------------------------
// Calibration samples: what ADC range calibration, output calibration and PTQ scales may see.
// Never the samples a result is scored on (a range fitted on the test images is tuned to them);
// by default the training split beside the evaluated file (training_split_beside).
struct CalibrationSet {
  Dataset data;              // the samples calibration runs on
  std::string file_fingerprint;
  bool found_beside = false;  // the default, found beside the evaluated data
  // {"source", "fingerprint", "samples", "found_beside", "used": true,
  // "disjoint_from_evaluated": true}: what every report that calibrated says about it.
  nlohmann::json to_json() const;
};
// DIR/PREFIX_train.h5 for DIR/PREFIX_test.h5 or DIR/PREFIX_val.h5; empty for any other name.
std::string training_split_beside(const std::string& evaluated_path);
// How many calibration samples a chip run needs: the chip's calibration_samples when its ADC
// ranges are calibrated (and it has finite-resolution ADCs), and calibrate_outputs; 0 for none.
int64_t calibration_samples_needed(const ChipSpec& chip, int64_t calibrate_outputs);
// Refuses calibration samples not disjoint from the evaluated ones: the same file (fingerprint;
// both start at sample 0), a sample equal value for value to an evaluated one (naming both
// indices), or samples of another length or width.
void check_disjoint(const Dataset& calibration, const Dataset& evaluated);
// The first `count` samples of `path` (empty: the training split beside `evaluated`; missing, it
// is refused with the command that writes it). Their users call check_disjoint on them.
CalibrationSet load_calibration(const std::string& path, const Dataset& evaluated, int64_t count);
// The calibration samples `chip` needs with `calibrate_outputs` (none: an empty set, and
// `report` says why): `given` when set (the Python module's arrays), else loaded from `path`
// (empty: beside `data`). `report` gets what a result file carries under "calibration".
CalibrationSet calibration_for(const ChipSpec& chip, int64_t calibrate_outputs, const std::string& path,
                               const Dataset& data, nlohmann::json& report, const Dataset* given = nullptr);

struct DigitalReference;  // run/detail/reference.h: the digital passes a sweep shares

struct AnalogEvalOptions {
  int64_t trials = 1;
  int64_t first_trial = 0;  // the chips are trials [first_trial, first_trial + trials)
  std::vector<double> times_s = {0.0};
  uint64_t seed = 1;
  int64_t batch = 64;
  int threads = 0;
  ExecMode mode = ExecMode::kConv;
  // When set, the first chip at the first time counts its actions on the first count_samples
  // samples it evaluates (energy/ prices them): the same run serves accuracy and energy.
  ActionCounts* counts = nullptr;
  int64_t count_samples = 16;
  int activation_bits = 8;  // width of the words products read and write (the tech table's)
  bool progress = false;    // a progress bar over chips x times on stderr
  int64_t calibrate_outputs = 0;  // output calibration at every time on N calibration samples
  // The samples ADC ranges and output gains are calibrated on (load_calibration); required when
  // calibration_samples_needed(chip, calibrate_outputs) > 0, never the evaluated data.
  const Dataset* calibration = nullptr;
  // Under MPI, share the chips out over every process (each calls with the same arguments; only
  // rank 0's result holds the trials and the counted actions). `eval --chip` sets it.
  bool distribute = false;
  // The digital passes for this model, data and chip (digital_reference), when the caller keeps
  // them across runs (a sweep, per mapping); else evaluate_analog computes them.
  const DigitalReference* reference = nullptr;
};

// Student's t quantile t(0.975, df), df >= 1: a 95% interval of a mean over df + 1 values.
double t_quantile_975(int64_t df);

struct AnalogTimeResult {
  double time_s = 0;
  std::vector<double> accuracy;   // per trial
  std::vector<double> agreement;  // per trial: fraction of predictions equal to the digital ones
  int64_t adc_clips = 0, adc_conversions = 0;
  double mean() const;
  double std() const;  // sample standard deviation over trials (0 for one trial)
  double min() const;
  double max() const;
  double mean_agreement() const;
  // The 95% t-interval of the mean over the chips, mean -+ t(0.975, n - 1) std / sqrt(n): the
  // chip-to-chip spread a difference must exceed to be called real. None for one chip.
  bool has_ci95() const { return accuracy.size() >= 2; }
  double ci95_low() const;
  double ci95_high() const;
};

struct AnalogEvalResult {
  DigitalEvalResult digital;         // the same quantized weights, digital
  DigitalEvalResult digital_float;   // the checkpoint as stored
  std::vector<AnalogTimeResult> times;
  double seconds = 0;
  double digital_seconds = 0;  // one pass of the quantized digital model over the data
  double analog_seconds = 0;   // all analog passes (trials x times), calibration excluded
  int chips_side_by_side = 1;  // chips run concurrently, one thread each (else 1: threads per chip)
  int processes = 1;           // MPI processes the chips were shared out over (distribute)
  std::vector<int64_t> unverified_cells, repaired_cells;  // per trial (write-verify failures)
  std::vector<int64_t> spare_lines, rows_moved;           // per trial (repair=spares, fault_aware_mapping)
  std::vector<int64_t> unverified_per_tile;               // trial 0, per tile
};

// Digital accuracy, then for each trial a freshly programmed chip evaluated at every time.
AnalogEvalResult evaluate_analog(const S4DModel& model, const Dataset& data, const ChipSpec& chip,
                                 const AnalogEvalOptions& options);

// Two configurations (two checkpoints, or one on two chips) on the same chips: chip k of each is
// programmed and aged with the same seed and trial, so each chip's difference b - a leaves out
// the chip-to-chip spread both share. Per time, the differences over chips with their 95%
// t-interval (AnalogTimeResult's, over the differences) and a verdict: "b better" or "b worse"
// only where the interval excludes 0, else "within the spread".
struct PairedTimeResult {
  double time_s = 0;
  AnalogTimeResult difference;  // `accuracy` holds b - a per chip
  std::string verdict;
};
struct PairedResult {
  AnalogEvalResult a, b;
  std::vector<PairedTimeResult> times;
};
PairedResult evaluate_paired(const S4DModel& model_a, const ChipSpec& chip_a, const S4DModel& model_b,
                             const ChipSpec& chip_b, const Dataset& data, const AnalogEvalOptions& options);

// A grid sweep: the cartesian product of "key=v1,v2,..." axes over a chip, each point evaluated
// like `eval --chip`, one CSV row per (point, time), rewritten atomically after every point
// (resume skips the points in it). Units of (point, chip trial) go out dynamically to MPI
// processes and their threads; noise keyed by (seed, trial) makes the CSV the same, byte for
// byte, for any number of both; rows are in point order.
struct SweepOptions {
  std::vector<std::string> grids;  // "periphery.adc_bits=4,6,8"
  std::vector<std::string> overrides;
  AnalogEvalOptions eval;
  std::string out_csv;
  bool resume = false;
  bool progress = true;            // a progress bar with time remaining on stderr
  // Print the points, the units to run and core-hours (one unit timed on a quarter of
  // timing_samples and on all: fixed plus per-sample cost), then stop.
  bool dry_run = false;
  int64_t timing_samples = 256;
  // What made the CSV (run_identity, grids, trials, times, version): written beside it as
  // CSV.run.json; --resume refuses a different one.
  nlohmann::json identity;
  // explore (issue #34): several checkpoints, as the first axis ("checkpoint", by these names;
  // empty: the one model run_sweep is given, no such column), and each point priced (cost_tech
  // not empty) from the actions its trial-0 chip counted at the first time on its first
  // cost_samples samples: energy per inference, area, latency, throughput, energy-delay product,
  // and a pareto column over `objectives` (parse_objectives), recomputed over every row at each
  // write. The costs are `qs4dsim energy`'s for the same chip and seed.
  std::vector<std::pair<std::string, const S4DModel*>> checkpoints;
  std::string cost_tech;
  int64_t cost_samples = 16;
  std::vector<std::string> objectives;
};
struct SweepSummary {
  int64_t points = 0, skipped = 0, evaluated = 0;
};
SweepSummary run_sweep(const S4DModel& model, const Dataset& data, const std::string& chip,
                       const SweepOptions& options);
// Checks a sweep before any work (each grid key once, at most a million points, every axis value
// and time valid on the chip; run_sweep calls it too) and returns the calibration samples it needs
// (calibration_samples_needed at any point).
int64_t check_sweep(const std::string& chip, const SweepOptions& options);

// The inverse question (issue #34): the largest (or smallest) value of one chip parameter at
// which, at every time, the lower end of the 95% t-interval over chips >= digital - max_drop.
// Bisection on [lo, hi], whose ends are measured first: the end that passes gives the direction
// (lower: the largest value tolerated, e.g. noise; upper: the smallest needed, e.g. bits). A probe
// outside its neighbours' intervals (an effect not monotone on the bracket) is refused, naming them.
struct ToleranceProbe {
  double value = 0;
  double digital = 0;      // the digital accuracy of this probe's mapping
  double worst_mean = 0;   // the mean over chips at the worst time
  double worst_low = 0;    // the lower 95% bound at that time (the mean for noise-free measures)
  double half_width = 0;   // worst_mean - worst_low
  bool passes = false;
};
struct ToleranceOptions {
  std::string key;
  double lo = 0, hi = 0;
  double max_drop = 0.01;
  int max_steps = 8;        // bisection steps after the three first probes
  bool integer = false;     // bisect on whole numbers (bits)
};
struct ToleranceResult {
  std::string key, direction;  // "largest" (lower end passes) or "smallest" (upper end passes)
  bool found = false;          // false: no value in the bracket passes (or every value does: see note)
  double value = 0;            // the passing side of the final bracket
  double bracket_lo = 0, bracket_hi = 0;  // the final bracket, the boundary inside it
  std::string note;
  std::vector<ToleranceProbe> probes;  // in the order measured
};
// `measure(v)` evaluates the chip with key = v (its passes field is set here).
ToleranceResult find_tolerance(const ToleranceOptions& options, const std::function<ToleranceProbe(double)>& measure);

// ---------------------------------------------------------------------------------------------
// An evaluation as asked for: the call under `qs4dsim eval` and the module's evaluate(), with
// one set of defaults (these), filled from text or from Python objects (times in seconds). Both
// get eval --json's keys, shared by digital and chip runs where they mean the same.
struct EvalRequest {
  std::string checkpoint;               // the checkpoint's path, as the report names it
  std::string data;                     // the data's path, or what the arrays were
  int64_t limit = 0;                    // the data is the file's first `limit` samples (0: all)
  std::optional<ChipSpec> chip;         // none: the digital reference only
  std::vector<std::string> overrides;   // the chip's overrides as given (recorded; inert ones noted)
  bool extrapolate = false;             // the chip allows times beyond its device source's range
  int64_t trials = 1;
  std::vector<double> times_s{0.0};
  uint64_t seed = 1;
  std::string mode = "auto";            // auto: recurrent where the checkpoint holds a state grid
  int64_t batch = 64;
  int threads = 0;                      // 0: the default
  std::string tech;                     // the energy figures' table; empty: the chip's own
  int64_t energy_samples = 16;          // counted on the first chip at the first time; 0: none
  int64_t calibrate = 0;                // chip-in-the-loop output calibration on N samples
  std::string calibration_path;         // calibration samples; empty: the training split beside data
  const Dataset* calibration = nullptr; // or the samples themselves (the module's arrays)
};
// Runs the request on `data` (printing eval's text report when `print`) and returns the report.
nlohmann::json evaluation_report(const S4DModel& model, const Dataset& data, const EvalRequest& request,
                                 bool print);
// What made a result: program, checkpoint and dataset with fingerprints, limit, chip (null for a
// digital run), overrides, seed. Every result file carries it; verbs add their own keys.
nlohmann::json run_identity(const std::string& checkpoint, const std::string& data_path, const Dataset& data,
                            int64_t limit, const ChipSpec* chip, const std::vector<std::string>& overrides,
                            uint64_t seed);
// `overrides` with PREFIX extrapolate=true added when `extrapolate` ("device." for a chip's device).
std::vector<std::string> with_extrapolation(std::vector<std::string> overrides, bool extrapolate,
                                            const std::string& prefix);
// The technology table a run prices with: `tech` when given, else the chip's own.
std::string tech_for(const ChipSpec& chip, const std::string& tech);
// The energy figures of a chip run from the actions it counted (printed when `print`).
nlohmann::json energy_for_eval(const S4DModel& model, int64_t length, const ChipSpec& chip,
                               const std::string& tech, const ActionCounts& counted, bool print);
// eval's and energy's text for an energy report.
void print_energy_report(const EnergyReport& report);

// The MPI run this process belongs to. Constructed once in main: under an MPI launcher (mpirun,
// srun; detected from its environment) it initialises MPI, else (or in a build without MPI) the
// process is rank 0 of 1 and nothing is initialised, so the binary runs without mpirun.
class MpiSession {
 public:
  MpiSession(int* argc, char*** argv);
  ~MpiSession();
  MpiSession(const MpiSession&) = delete;
  MpiSession& operator=(const MpiSession&) = delete;
  static int rank();  // 0 outside MPI
  static int size();  // 1 outside MPI
  // Ends every process of the run after an error on one (a no-op outside MPI).
  static void abort(int status);
  static bool built_with_mpi();
  // Refuses a run Slurm started as several tasks (SLURM_NTASKS > 1) that MPI did not join: each
  // would run the whole sweep into the same file (srun without --mpi=pmix, a build without MPI).
  static void require_one_run_per_job();
};

// Counts of one chip on the first `samples` inputs of `data` (trial 0, t = 0, ADC calibrated as
// in eval, on `calibration`), with the model's digital glue added, per inference.
struct CountOptions {
  int64_t samples = 16;
  const Dataset* calibration = nullptr;  // required when the chip calibrates its ADC ranges
  uint64_t seed = 1;
  int threads = 0;
  int activation_bits = 8;
};
ActionCounts count_inference(const S4DModel& model, const Dataset& data, const ChipSpec& chip,
                             const MappedModel& map, const CountOptions& options);

// Everything for one checkpoint on one chip: counts on `data`, priced by `tech`.
EnergyReport estimate_energy(const S4DModel& model, const Dataset& data, const ChipSpec& chip,
                             const TechTable& tech, const CountOptions& options);

}  // namespace qs4d
