// sim: runs models on (simulated) hardware and reports what comes out.
//
// This first part holds the digital evaluation that every analog figure is compared against
// (accuracy and throughput of the reference model on a dataset) and the report writers that
// make every result file appear atomically. The command-line tool `qs4dsim` lives in sim/cli.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "devices/devices.h"
#include "mapping/mapping.h"
#include "models/model.h"

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

// Index of the largest logit in each row (first one on ties).
std::vector<int64_t> argmax_rows(const RowMatrixXf& logits);

// The converters and wires around each crossbar tile.
struct PeripherySpec {
  int dac_bits = 0;             // input DAC bits (signed), 0 = ideal
  int adc_bits = 0;             // output ADC bits (signed), 0 = ideal
  bool adc_calibrated = true;   // range per tile from a calibration pass, else a fixed fraction
  double adc_range_fraction = 1.0;  // fixed: fraction of the tile's full-scale current
  int64_t calibration_samples = 16;
  double output_noise = 0.0;    // Gaussian noise after the column, relative to the ADC range
  double wire_resistance_ohm = 0.0;  // per cell segment, first-order IR drop
  bool per_cell_read_noise = false;  // reference path: sample each cell (else column-level exact)
  static PeripherySpec from_json(const nlohmann::json& j, const std::string& path);
  nlohmann::json to_json() const;
};

enum class DriftCompensation { kNone, kGlobal, kPerColumn };

// A chip: devices, how weights are mapped onto them, the periphery, and which products are
// analog. Parsed strictly from JSON (unknown keys are errors naming their dotted path); presets
// live in data/chips/<name>.json. "device" is a device preset name or a full device object.
struct ChipSpec {
  std::string name;
  std::string description;
  DeviceSpec device;
  MappingSpec mapping;
  PeripherySpec periphery;
  bool analog_encoder = true, analog_projections = true, analog_decoder = true;
  DriftCompensation drift_compensation = DriftCompensation::kNone;
  nlohmann::json resolved;  // the full spec after presets and overrides, echoed in reports

  static ChipSpec from_json(const nlohmann::json& j);
};

// The folder holding device, chip and energy presets: $QS4D_DATA_DIR, else the source tree's data/.
std::string data_dir();
// Loads a chip preset by name (data/chips/NAME.json) or from a path, then applies overrides
// "a.b=value" (value parsed as JSON when it is valid JSON, else taken as a string).
ChipSpec load_chip(const std::string& name_or_path, const std::vector<std::string>& overrides);

// "1s,1h,1d,1y" -> seconds. Units s, m (minutes), h, d, y (365.25 days); a bare number is
// seconds. Throws UsageError naming the bad entry.
std::vector<double> parse_times(const std::string& text);
// Seconds as the shortest of those units that gives a whole number ("3600" -> "1h").
std::string format_time(double seconds);

// Writes `text` to `path` through a temporary file and a rename: readers never see half a file.
void write_text_atomic(const std::string& path, const std::string& text);

}  // namespace qs4d
