// chip: the description of a chip, a leaf of everything that simulates or prices one.
//
// Holds what a chip is made of and how it is organised, parsed strictly from JSON presets
// (data/chips) with overrides: the device (devices/), the mapping of weights onto tiles
// (mapping/), the periphery around each tile (converters, circuit/ resistances), drift
// compensation, the dataflow of the digital side, and which products are analog. May include
// core/, circuit/, devices/, mapping/ and models/; the simulator (sim/) and the pricing
// (energy/) include it, never the reverse.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "circuit/circuit.h"
#include "devices/devices.h"
#include "mapping/mapping.h"

namespace qs4d {

// The converters and wires around each crossbar tile.
struct PeripherySpec {
  int dac_bits = 0;             // input DAC bits (signed), 0 = ideal
  double dac_range = 0.0;       // fixed input full scale (inputs clipped), 0 = per-vector max
  bool two_phase_inputs = false;  // signed inputs as two reads of +/- parts (else pulse polarity)
  int adc_bits = 0;             // output ADC bits (signed), 0 = ideal
  bool adc_calibrated = true;   // range per tile from a calibration pass, else a fixed fraction
  double adc_range_fraction = 1.0;  // fixed: fraction of the tile's full-scale current
  int64_t calibration_samples = 16;
  double adc_headroom = 1.0;    // calibrated range = headroom x the largest value seen
  double output_noise = 0.0;    // Gaussian noise after the column, relative to the ADC range
  CircuitSpec circuit;          // wires, driver, sense and access resistances (IR drop)
  CircuitSolver ir_drop = CircuitSolver::kExact;  // how a tile with resistances is solved
  int state_dac_bits = 0;       // analog recurrence: bits of the state fed back, 0 = ideal
  int state_adc_bits = 0;       // analog recurrence: bits of the state read out, 0 = ideal
  // Analog recurrence: the state converters' ranges. false ("calibrated"): each channel's DAC
  // scales to its input vector, the ADCs share their tile's calibrated range. true ("trained"):
  // from the checkpoint's trained state grid (sim/state_ranges.cpp, docs/model.md).
  bool state_ranges_trained = false;
  // With trained ranges, the state DAC's full scale: false ("channel"): one per channel, the
  // largest bound of its modes; true ("mode"): each row's DAC its own, the bound of the mode it
  // feeds back (a reference trimmed per row, set at programming; docs/model.md).
  bool state_dac_per_mode = false;
  bool per_cell_read_noise = false;  // reference path: sample each cell (else column-level exact)
  // The converters a product of this kind runs through: the recurrence's state loop has its own
  // DAC and ADC, every other product the input DAC and output ADC. The one place that decides.
  struct ConverterBits {
    int dac = 0, adc = 0;
  };
  ConverterBits converter_bits(MatrixKind kind) const {
    return kind == MatrixKind::kRecurrence ? ConverterBits{state_dac_bits, state_adc_bits}
                                           : ConverterBits{dac_bits, adc_bits};
  }
  static PeripherySpec from_json(const nlohmann::json& j, const std::string& path);
  nlohmann::json to_json() const;
  static std::vector<std::string> keys();  // its JSON keys, from the one table that reads them
};

// Drift compensation: a reference read of every tile right after programming and at the time of
// use, one factor per tile (global) or per read-out (per column). "global" and "per_column" read
// as aihwkit's GlobalDriftCompensation and PerColumnDriftCompensation do: one-hot inputs (each
// row alone) and the mean absolute read-out, which cannot cancel. "global_ones" and
// "per_column_ones" read with all inputs on at once and take each read-out's signed sum (the
// project's earlier method, kept for comparison): a read-out whose weights sum to about zero
// gives no stable factor, so it falls back to 1 (global) or to the tile's factor (per column).
enum class DriftCompensation { kNone, kGlobal, kPerColumn, kGlobalOnes, kPerColumnOnes };

// Where the digital side keeps what it reuses, and how often it moves (priced by energy/ with
// the technology table's memory hierarchy). The crossbar weights are stationary in the cells.
struct DataflowSpec {
  // The SSM mode parameters (Abar, Bbar, C) of a digital recurrence: held in the recurrence
  // unit's local storage for the sequence when they fit (fetched once per batch from the global
  // buffer), or streamed from the global buffer at every step.
  bool ssm_parameters_local = true;
  // Activations and states between stages: in local buffers next to the units (a pipelined,
  // step-by-step design) or in the global buffer (a layer-by-layer design).
  bool activations_local = true;
  int64_t batch = 1;  // inferences that share one fetch of what is stationary
  static DataflowSpec from_json(const nlohmann::json& j, const std::string& path);
  nlohmann::json to_json() const;
  static std::vector<std::string> keys();
};

// A chip: devices, how weights are mapped onto them, the periphery, and which products are
// analog. Parsed strictly from JSON (unknown keys are errors naming their dotted path); presets
// live in data/chips/<name>.json. "device" is a device preset name or a full device object.
struct ChipSpec {
  std::string name;
  std::string description;
  DeviceSpec device;
  MappingSpec mapping;
  PeripherySpec periphery;
  DataflowSpec dataflow;
  bool analog_encoder = true, analog_projections = true, analog_decoder = true;
  bool analog_recurrence = false;  // IMSSA style: the per-channel blocks on crossbars
  DriftCompensation drift_compensation = DriftCompensation::kNone;
  // What the chip does with the cells write-verify reports as failed (sim/faults.cpp): nothing;
  // "partner" (differential encoding) re-programs each one's partner so that the pair's
  // difference is the target again; "spares" moves the tile rows and columns with the most
  // failed cells onto the tile's spare rows and columns (spare_rows, spare_cols per tile, built
  // on every tile and counted in its area whether used or not).
  bool repair_partner = false, repair_spares = false;
  int64_t spare_rows = 0, spare_cols = 0;
  // Known faults (the stuck devices a test finds before the weights are written) steer each
  // tile's rows: a greedy assignment puts on a row with stuck devices the weight row whose values
  // there the stuck conductances disturb least (an unused row, when the tile has one).
  bool fault_aware_mapping = false;
  // The technology table (data/energy) that prices this chip unless --tech names another.
  std::string technology = "22nm_lp";
  nlohmann::json resolved;  // the full spec after presets and overrides, echoed in reports

  // Why setting `key` (an override's dotted key, "device.programming.scale") has no effect on
  // this chip at t_s seconds after programming; empty when it may. The device's rules
  // (DeviceSpec::inert_reason), then the periphery's: the calibration of ADC ranges
  // (periphery.calibration_samples, adc_headroom) acts only on calibrated, finite-resolution
  // ADCs; the recurrence's converters (state_dac_bits, state_adc_bits) only on an analog
  // recurrence.
  std::string inert_reason(const std::string& key, double t_s) const;
  // Why `key` changes nothing at any of `times_s` (the first time's reason); empty when it acts
  // at one of them.
  std::string inert_at_every(const std::string& key, const std::vector<double>& times_s) const;
  // Whether its ADC ranges are calibrated on samples: calibrated ranges on finite-resolution ADCs
  // (the output ADCs, or the state ADCs of an analog recurrence, or its state DAC when ranged by
  // the trained grid: the input u's range is calibrated).
  bool calibrates_adc() const {
    return periphery.adc_calibrated &&
           (periphery.adc_bits > 0 ||
            (analog_recurrence && (periphery.state_adc_bits > 0 ||
                                   (periphery.state_ranges_trained && periphery.state_dac_bits > 0))));
  }
  static ChipSpec from_json(const nlohmann::json& j);
  static std::vector<std::string> keys();  // the chip's own keys (the nested specs have theirs)
};

// The folder holding device, chip and energy presets: $QS4D_DATA_DIR, else the presets installed
// with the Python module (a wheel's qs4dsim_data, set_installed_data_dir), else the source
// tree's data/.
std::string data_dir();
// Called once by the Python module at import when a wheel installed the presets beside it.
void set_installed_data_dir(const std::string& dir);
// Loads a chip preset by name (data/chips/NAME.json) or from a path, then applies overrides
// "a.b=value" (value parsed as JSON when it is valid JSON, else taken as a string).
ChipSpec load_chip(const std::string& name_or_path, const std::vector<std::string>& overrides);
// The same from a chip object already in memory (the Python module's dicts): `where` names it in
// errors, and a device given by a relative path is read relative to `base_dir`.
ChipSpec load_chip_json(nlohmann::json chip, const std::string& where, const std::string& base_dir,
                        const std::vector<std::string>& overrides);

}  // namespace qs4d
