// core/counts.h: the action counts that sim/ records while a chip runs and energy/ prices (and
// run/ carries between them), apart from core.h because only those three need them.
#pragma once

#include <compare>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace qs4d {

// What the analog executor did, summed over every product since counting began (divide by
// `samples` for per-inference figures). Keys carry what a price table needs and nothing it
// decides, so one count is priced by any technology table (energy/): converter bits, the input
// bits of the product an ADC conversion belongs to, and the column resistance that conversion
// saw (NeuroSim's SAR ADC power depends on it), in twentieths of a decade.
struct AdcKey {
  int bits = 0;        // ADC bits (0 = ideal converter)
  int input_bits = 0;  // DAC bits of the product (bit-serial designs integrate once per bit)
  int r_col_log10_x20 = 0;  // round(20 log10 R_col / ohm), R_col = 1 / sum of G over driven rows
  auto operator<=>(const AdcKey&) const = default;
};
struct MatrixActivity {
  std::string name;
  std::string group;       // "encoder", "layer 0 projection", "layer 0 recurrence", "decoder"
  double vectors = 0;      // input vectors applied (times phases)
  int dac_bits = 0, adc_bits = 0;
  std::map<int64_t, double> conversions_per_tile;  // ADC conversions of one vector, per tile
  // This matrix's own converter and array actions (ActionCounts' maps are their sums), so each
  // stage is priced apart; a recurrence pass records its array sum on its layer's first matrix.
  double dac_conversions = 0, g_v2_uS = 0;  // at dac_bits
  std::map<AdcKey, double> adc_conversions;
};
// A digital operand that a stationary dataflow may keep in a unit's local storage: its footprint
// in one unit, how many units hold one, and the bits all units read and write per inference.
struct OperandTraffic {
  double footprint_bits = 0, units = 0;
  double read_bits = 0, write_bits = 0;
};
// The converters built on one tile (the area inputs of energy/): a DAC per row and ADCs for
// its columns, at the bits of the products that run on it.
struct TileConverters {
  int64_t tile = 0, rows = 0, cols = 0;
  int dac_bits = 0, adc_bits = 0;  // 0: ideal (priced as 8 bits)
  std::string role;                // "recurrence" or "matrix"
};
struct ActionCounts {
  int64_t samples = 0;                     // inferences counted
  std::vector<TileConverters> converters;  // every tile of the chip, once (not per inference)
  std::map<int, double> dac_conversions;   // by DAC bits: one per driven row per read
  double row_activations = 0;
  double cell_reads = 0;
  std::map<int, double> g_v2_uS;           // by DAC bits: sum over cells read of G (uS) v^2,
                                           // v the drive in units of the DAC full scale
  std::map<AdcKey, double> adc_conversions;
  // Digital work: scaling into and out of the converters, shift-and-add of slices and
  // partial sums across row tiles, and (from energy/) the model's digital glue.
  double digital_adds = 0, digital_muls = 0, digital_macs = 0, nonlinear = 0, shift_adds = 0;
  // Activations (and the recurrence's u_t, y_t) read and written between stages.
  double buffer_read_bits = 0, buffer_write_bits = 0;
  // The digital recurrence's operands ("ssm_parameters", "ssm_state"), from energy/.
  std::map<std::string, OperandTraffic> operands;
  double programming_pulses = 0;           // one-time: write-verify iterations of every device
  std::map<int64_t, MatrixActivity> matrices;  // by matrix index

  // Every per-inference scalar counter, named once: add(), scaling and reports visit this list
  // (programming_pulses is per chip, not per inference, and stays out of it).
  template <class Self, class F>
  static void each_scalar(Self& self, F&& f) {
    f("row_activations", self.row_activations);
    f("cell_reads", self.cell_reads);
    f("digital_adds", self.digital_adds);
    f("digital_muls", self.digital_muls);
    f("digital_macs", self.digital_macs);
    f("nonlinear", self.nonlinear);
    f("shift_adds", self.shift_adds);
    f("buffer_read_bits", self.buffer_read_bits);
    f("buffer_write_bits", self.buffer_write_bits);
  }
  // Every per-inference count, keyed ones included, times f (sums over samples to means).
  void scale(double f);
  void add(const ActionCounts& other);
  // The scalar counters with DAC and ADC conversions summed over their keys, by name.
  nlohmann::json summary() const;
};

}  // namespace qs4d
