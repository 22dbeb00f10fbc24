// The analog recurrence's state converters ranged by the checkpoint's trained state grid
// (periphery.state_ranges "trained"; docs/model.md, "State converters ranged by the trained
// grid").
//
// A channel's block reads (x_{t-1}, u_t) through one DAC scale S (the products' read-back
// multiplies by it, so one scale per channel vector) and converts each output o, the new state
// x_t and y_t, on its own columns. With the trained ranges:
//   S = max(largest trained bound of the channel's state, headroom x largest |u_t| calibrated),
//     fixed (inputs clipped to it, then quantized at state_dac_bits); with state_dac_ranges
//     "mode" each row's DAC clips and quantizes at its own bound instead (fill_row_dac_scales);
//   ADC range of state output o, in x units: its trained bound R_o (mapping's state_range), so
//     at state_adc_bits equal to the grid's bits the ADC's step is the trained step (times the
//     rescaling's |Re k| + |Im k|, mapping/quantize.cpp); of y_t: headroom x largest |y_t|
//     calibrated.
// An output o read by one conversion of weight w has analog value
//   a = (x_o / f_o + offset sum_i u_i) / (S w)
// (f_o the output's scale; offset the encoding's code offset, 0 for differential pairs, whose
// current the ADC sees before it is removed digitally), so its range in analog units is
//   (R_o / |f_o| + |offset| headroom max |sum_i u_i|) / (S |w|),
// the input sum's largest |value| from the calibration too.
#include <algorithm>
#include <cmath>
#include <string>

#include "sim/sim.h"

namespace qs4d {

bool AnalogChip::trained_state_ranges() const {
  const PeripherySpec& p = chip_->periphery;
  return chip_->analog_recurrence && p.state_ranges_trained && (p.state_dac_bits > 0 || p.state_adc_bits > 0);
}

// Refuses what the ranges cannot be derived for: a checkpoint without a state grid, outputs read
// by several conversions (bit slices), or the per-cell read path.
void AnalogChip::check_trained_state_ranges() const {
  if (!trained_state_ranges()) return;
  const std::string why = "chip '" + chip_->name + "': periphery.state_ranges \"trained\" ";
  if (chip_->periphery.per_cell_read_noise) {
    throw UsageError(why + "is modelled on the column-level read path (read_noise_path \"column\")");
  }
  for (size_t m = 0; m < map_->matrices.size(); ++m) {
    const QuantizedMatrix& q = map_->matrices[m];
    if (q.kind != MatrixKind::kRecurrence) continue;
    if (q.state_range.size() != q.outputs() - 1) {
      throw UsageError(why + "needs a checkpoint trained with its state on a grid (/state_quant); layer " +
                       std::to_string(q.layer) + " has none (run it with state_ranges \"calibrated\")");
    }
    int64_t conversions = 0;
    for (const Block& blk : blocks_[m]) conversions += static_cast<int64_t>(blk.conversions.size());
    if (conversions != q.outputs()) {
      throw UsageError(why + "needs one conversion per read-out; " + q.name + " has " +
                       std::to_string(conversions) + " for " + std::to_string(q.outputs()) +
                       " (bit slices: mapping.slices 1)");
    }
  }
}

// periphery.state_dac_ranges "mode": the DAC of input row i (state i of x_{t-1}, or u_t last) has
// its own full scale S_i, the bound R_i of the mode it feeds back (u: its calibrated range), so
// the row carries the voltage round(clip(x_i / S_i) L) / L * S_i / S of the channel's full
// scale S = max_i S_i, and the read-back's multiplication by S is unchanged. A mode whose bound
// is 0 (its state never leaves 0) keeps the channel's scale.
void AnalogChip::fill_row_dac_scales(size_t m, float channel_scale, float u_range) {
  const QuantizedMatrix& q = map_->matrices[m];
  const int64_t inputs = q.inputs(), states = q.outputs() - 1;
  Eigen::VectorXf ratio = Eigen::VectorXf::Ones(inputs);
  for (int64_t i = 0; i < inputs; ++i) {
    const float bound = i < states ? static_cast<float>(q.state_range(i)) : u_range;
    if (bound > 0 && channel_scale > 0) ratio(i) = std::min(1.0f, bound / channel_scale);
  }
  state_dac_row_ratio_[m] = ratio;
  state_dac_row_inverse_[m] = ratio.cwiseInverse();
}

void AnalogChip::fill_state_ranges() {
  const auto headroom = static_cast<float>(chip_->periphery.adc_headroom);
  state_dac_scale_.assign(map_->matrices.size(), 0.0f);
  state_dac_row_ratio_.assign(map_->matrices.size(), Eigen::VectorXf());
  state_dac_row_inverse_.assign(map_->matrices.size(), Eigen::VectorXf());
  for (size_t m = 0; m < map_->matrices.size(); ++m) {
    const QuantizedMatrix& q = map_->matrices[m];
    if (q.kind != MatrixKind::kRecurrence) continue;
    const int64_t states = q.outputs() - 1;
    float scale = headroom * u_peak_[m];
    for (int64_t o = 0; o < states; ++o) scale = std::max(scale, static_cast<float>(q.state_range(o)));
    if (!(scale > 0)) scale = 1.0f;  // no signal at all
    state_dac_scale_[m] = scale;
    if (chip_->periphery.state_dac_per_mode) fill_row_dac_scales(m, scale, headroom * u_peak_[m]);
    const float y_range = y_peak_[m] > 0 ? headroom * y_peak_[m] : 1.0f;
    const float offset_current = std::abs(static_cast<float>(map_->encodings[m].offset)) * headroom * sum_peak_[m];
    for (Block& blk : blocks_[m]) {
      blk.conversion_range.resize(static_cast<int64_t>(blk.conversions.size()));
      for (size_t c = 0; c < blk.conversions.size(); ++c) {
        const Block::Conversion& conv = blk.conversions[c];
        const float bound = conv.output < states ? static_cast<float>(q.state_range(conv.output)) : y_range;
        const float f = std::abs(scale_f_[m][conv.output]);
        const float range = (f > 0 ? bound / f : 0.0f) + offset_current;
        const float per_unit = scale * std::abs(conv.weight);
        blk.conversion_range(static_cast<int64_t>(c)) = per_unit > 0 && range > 0 ? range / per_unit : 1.0f;
      }
    }
  }
}

}  // namespace qs4d
