// The verbs of qs4dsim. main.cpp only parses arguments into these structs; each run_* does the
// work through the library and prints. Errors propagate as exceptions to main, which prints one
// line and returns a non-zero status.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "models/model.h"
#include "run/run.h"

namespace qs4d::cli {

struct InfoArgs {
  std::string checkpoint;
};

// eval's text options; everything typed is the library's request, its defaults the library's.
struct EvalArgs {
  EvalRequest request;
  std::string chip;   // empty: digital only
  std::string times;  // empty: the request's default
  std::string json_out;
};

struct PredictArgs {
  std::string checkpoint;
  std::string input;
  std::string input_dataset;
  std::string out;
  std::string mode = "auto";
  int threads = 0;
};

struct MapArgs {
  std::string checkpoint;
  std::string chip;
  std::vector<std::string> overrides;
  std::string json_out;
};

struct DeviceArgs {
  std::string device;
  std::vector<std::string> overrides;
  int64_t levels = 0;  // 0: the device's own levels, or 8 when continuous
  std::string times = "1s,1h,1d,1y";
  int64_t devices = 100000;
  uint64_t seed = 1;
  double sigmas = 3.0;
  std::string csv_out;
  bool extrapolate = false;  // allow times outside the device source's range
};

struct SweepArgs {
  std::string checkpoint, data, chip, out, times = "0", mode = "auto";
  std::vector<std::string> grids, overrides;
  int64_t trials = 1, limit = 0, batch = 64;
  int threads = 0;
  uint64_t seed = 1;
  bool resume = false;
  bool extrapolate = false;  // allow times outside the device source's range
  bool dry_run = false;      // print the plan and a core-hour estimate, run nothing
  int64_t calibrate = 0;     // chip-in-the-loop output calibration on the first N calibration samples
  std::string calibration;   // calibration samples; empty: the training split beside `data`
};

// explore: a sweep over several checkpoints whose points are priced too (issue #34).
struct ExploreArgs : SweepArgs {
  std::vector<std::string> checkpoints;
  std::string tech;                               // empty: the chip's own table
  std::string objectives = "accuracy,energy,area";
  int64_t energy_samples = 16;                    // samples each point's first chip counts on
};

// tolerance: the largest (smallest) value of one chip parameter within an accuracy drop (#34).
struct ToleranceArgs {
  std::string checkpoint, data, chip, find, range, times = "0", calibration, json_out, mode = "auto";
  std::vector<std::string> overrides;
  double max_drop = 0.01;
  int64_t trials = 5, limit = 0, batch = 64;
  int steps = 8, threads = 0;
  uint64_t seed = 1;
  bool extrapolate = false;
};

struct QuantizeArgs {
  std::string checkpoint, data, calibration, components, study, json_out, logits_out;
  std::string x_granularity = "layer";
  int64_t limit = 0, calibrate = 64, batch = 64;
  int64_t draws = 1;  // calibration sets: the evenly spaced one, then random subsets
  uint64_t seed = 1;  // keys the random calibration subsets
  int threads = 0;
};

struct CircuitArgs {
  std::string in, out, solver = "exact", netlist;  // netlist: also write the tile as SPICE
  int threads = 0;
  double row_wire_ohm = 0, col_wire_ohm = 0, driver_ohm = 0, sense_ohm = 0, access_ohm = 0;
  double cell_v0 = 0;  // > 0: cells conduct G v0 sinh(V / v0), solved by Newton's method
};

// What energy and compare share: the chip, the table, and the inputs the actions are counted on.
struct CostArgs {
  std::string chip, tech, data, json_out;  // tech empty: the chip's own table
  std::string calibration;  // ADC calibration samples; empty: the training split beside `data`
  std::vector<std::string> overrides;
  int64_t samples = 16;
  uint64_t seed = 1;
  int threads = 0;
};

struct EnergyArgs : CostArgs {
  std::string checkpoint;
};

struct CompareArgs : CostArgs {
  std::vector<std::string> checkpoints;
  // --paired: accuracy of two configurations on the same chips instead of the cost table; a is
  // the first checkpoint on --chip with --set, b the second checkpoint (else the first) on
  // --chip-b (else --chip) with --set and --set-b.
  bool paired = false;
  std::string chip_b;
  std::vector<std::string> overrides_b;
  int64_t trials = 10, limit = 0, batch = 64;
  int64_t calibrate = 0;  // --paired: chip-in-the-loop output calibration of both, on N calibration samples
  std::string times = "0";
  bool extrapolate = false;
};

int run_energy(const EnergyArgs& args);
int run_compare(const CompareArgs& args);
int run_paired_compare(const CompareArgs& args);
int run_info(const InfoArgs& args);
int run_sweep(const SweepArgs& args);
int run_explore(const ExploreArgs& args);
int run_tolerance(const ToleranceArgs& args);
int run_device(const DeviceArgs& args);
// The device, chip and technology-table presets in data/ with their one-line descriptions.
int run_presets();
int run_bounds();  // presets --bounds
int run_map(const MapArgs& args);
// The request eval runs: times parsed, the chip loaded with its overrides.
EvalRequest eval_request(const EvalArgs& args);
int run_eval(const EvalArgs& args);
int run_predict(const PredictArgs& args);
int run_quantize(const QuantizeArgs& args);
int run_circuit(const CircuitArgs& args);

}  // namespace qs4d::cli
