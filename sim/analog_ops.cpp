// The model's products on a chip: the analog recurrence's step kernel (every channel of a layer
// per step) and AnalogOps, which plugs the chip's products into the digital engine.
#include <algorithm>
#include <boost/random/mersenne_twister.hpp>
#include <cmath>
#include <mutex>

#include "sim/detail/fast_normal.h"
#include "sim/sim.h"

namespace qs4d {
namespace {
using Engine = boost::random::mt19937_64;
}  // namespace

// ---------------------------------------------------------------------------------------------
// The analog recurrence, one step for every channel (issue #15): the same stages as product()
// for a batch of one, as scalar loops over each channel's small blocks.
namespace {
int64_t noise_per_read(bool read_noise, bool reference, bool output_noise, int64_t n_conv) {
  return (read_noise ? n_conv + (reference ? 1 : 0) : 0) + (output_noise ? n_conv : 0);
}

}  // namespace

int64_t AnalogChip::recurrence_draws(const std::vector<int64_t>& matrices) const {
  const PeripherySpec& p = chip_->periphery;
  const int phases = p.two_phase_inputs ? 2 : 1;
  int64_t draws = 0;
  for (const int64_t m : matrices) {
    for (const Block& blk : blocks_[static_cast<size_t>(m)]) {
      const bool noisy = tiles_[static_cast<size_t>(blk.tile)].has_read_noise;
      draws += phases * noise_per_read(noisy, blk.reference >= 0, p.output_noise > 0,
                                       static_cast<int64_t>(blk.conversions.size()));
    }
  }
  return draws;
}

// One read of a block: a = d . g_rows and sd = sqrt(d^2 . var_rows) for every read-out, eight
// conversions per vector register, each summed over the rows in order (the sums g_eff gives).
// The accumulators stay in registers: through memory, every row waited on the last one's store.
void AnalogChip::read_conversions(const Block& blk, const float* d, int64_t rows, bool with_var,
                                  float* a, float* sd) {
  using V8 = float __attribute__((vector_size(32)));
  const int64_t stride = blk.g_rows.cols();
  for (int64_t c = 0; c < stride; c += 8) {
    V8 mean = {}, spread = {};
    for (int64_t r = 0; r < rows; ++r) {
      V8 g;
      __builtin_memcpy(&g, blk.g_rows.data() + r * stride + c, sizeof g);
      mean += d[r] * g;
      if (with_var) {
        V8 w;
        __builtin_memcpy(&w, blk.var_rows.data() + r * stride + c, sizeof w);
        spread += (d[r] * d[r]) * w;
      }
    }
    __builtin_memcpy(a + c, &mean, sizeof mean);
    if (with_var) {
      for (int k = 0; k < 8; ++k) sd[c + k] = std::sqrt(spread[k]);  // eight at once
    }
  }
}

void AnalogChip::recurrence_step(const std::vector<int64_t>& matrices, const RowMatrixXf& in,
                                 const float* noise, int dac_bits, int adc_bits, RecurrencePass& pass,
                                 RowMatrixXf& out) const {
  const MappedModel& map = *map_;
  const PeripherySpec& p = chip_->periphery;
  const int64_t H = in.rows(), n = in.cols();
  const int phases = p.two_phase_inputs ? 2 : 1;
  const bool output_noise = p.output_noise > 0;
  const float* z = noise;  // consumed in the order product() would use its draws
  if (pass.seen.size() != tiles_.size()) pass.seen.assign(tiles_.size(), 0.0f);
  const float dac_levels = dac_bits > 0 ? static_cast<float>((int64_t{1} << (dac_bits - 1)) - 1) : 0.0f;
  const float dac_step = dac_bits > 0 ? 1.0f / dac_levels : 0.0f;
  const float adc_q = adc_bits > 0 ? static_cast<float>((int64_t{1} << (adc_bits - 1)) - 1) : 0.0f;
  pass.v.resize(static_cast<size_t>(n));
  out.resize(H, n);
  // The calibration of trained state ranges also records each channel's |u|, |y| and input sum
  // (state_ranges.cpp); calibrated ranges need only the tiles' largest values.
  const bool record_peaks = calibrating_ && trained_state_ranges();
  if (record_peaks && pass.u_seen.size() != static_cast<size_t>(H)) {
    pass.u_seen.assign(static_cast<size_t>(H), 0.0f);
    pass.y_seen.assign(static_cast<size_t>(H), 0.0f);
    pass.sum_seen.assign(static_cast<size_t>(H), 0.0f);
  }
  for (int64_t h = 0; h < H; ++h) {
    const auto m = static_cast<size_t>(matrices[static_cast<size_t>(h)]);
    const QuantizedMatrix& q = map.matrices[m];
    // DAC: this channel's own scale, clipping and levels; with trained state ranges a fixed
    // scale (state_ranges.cpp).
    const bool trained = !state_dac_scale_.empty() && state_dac_scale_[m] > 0;
    float scale = trained ? state_dac_scale_[m] : static_cast<float>(p.dac_range);
    if (!trained && p.dac_range <= 0) {
      scale = 0;
      for (int64_t i = 0; i < n; ++i) scale = std::max(scale, std::abs(in(h, i)));
    }
    const float inv = scale > 0 ? 1.0f / scale : 0.0f;
    // Each row's own full scale (state_dac_ranges "mode"): clipped and quantized at S_i, then
    // carried as the fraction S_i / S of the channel's.
    const bool per_row = trained && m < state_dac_row_ratio_.size() && state_dac_row_ratio_[m].size() == n;
    float v_sum = 0;
    for (int64_t i = 0; i < n; ++i) {
      float x = in(h, i) * inv;
      if (per_row) x *= state_dac_row_inverse_[m][i];
      if (trained || p.dac_range > 0) x = std::clamp(x, -1.0f, 1.0f);
      if (dac_bits > 0) x = std::round(x * dac_levels) * dac_step;
      if (per_row) x *= state_dac_row_ratio_[m][i];
      pass.v[static_cast<size_t>(i)] = x;
      v_sum += x;
    }
    pass.acc.assign(static_cast<size_t>(q.outputs()), 0.0f);
    for (const Block& blk : blocks_[m]) {
      const TileState& s = tiles_[static_cast<size_t>(blk.tile)];
      const auto rows = static_cast<int64_t>(blk.rows.size());
      const auto n_conv = static_cast<int64_t>(blk.conversions.size());
      const bool per_conversion = trained && blk.conversion_range.size() == n_conv;
      const float tile_range = adc_range(blk);
      pass.drive.resize(static_cast<size_t>(rows));
      pass.analog.resize(static_cast<size_t>(blk.g_rows.cols()));
      pass.sd.resize(static_cast<size_t>(blk.g_rows.cols()));
      for (int phase = 0; phase < phases; ++phase) {
        const float sign = phase == 0 ? 1.0f : -1.0f;
        for (int64_t r = 0; r < rows; ++r) {
          const float x = pass.v[static_cast<size_t>(blk.inputs[static_cast<size_t>(r)])];
          pass.drive[static_cast<size_t>(r)] = !p.two_phase_inputs ? x : std::max(sign * x, 0.0f);
        }
        const float* d = pass.drive.data();
        double g_v2 = 0;  // this read's own sum: the running total is one add per read
        for (int64_t r = 0; r < rows; ++r) g_v2 += static_cast<double>(d[r] * d[r] * blk.row_g_sum[r]);
        pass.g_v2 += g_v2;
        // Crossbar: each conversion's mean and, column-level exact, its read noise, and the
        // reference column's (the column after the conversions in g_rows), drawn in that order.
        const int64_t n_read = n_conv + (blk.reference >= 0 ? 1 : 0);
        read_conversions(blk, d, rows, s.has_read_noise, pass.analog.data(), pass.sd.data());
        if (s.has_read_noise) {
          for (int64_t c = 0; c < n_read; ++c) pass.analog[static_cast<size_t>(c)] += pass.sd[static_cast<size_t>(c)] * z[c];
          z += n_read;
        }
        if (blk.reference >= 0) {
          Eigen::Map<Eigen::ArrayXf>(pass.analog.data(), n_conv) -=
              blk.ref_coef.array() * pass.analog[static_cast<size_t>(n_conv)];
        }
        // Output noise, then the ADC (or, while calibrating, the largest value seen); the
        // tile's range unless each conversion has its own.
        float range = tile_range;
        float to_code = range > 0 ? adc_q / range : 0.0f, lsb = adc_q > 0 ? range / adc_q : 0.0f;
        for (int64_t c = 0; c < n_conv; ++c) {
          if (per_conversion) {
            range = blk.conversion_range(c);
            to_code = range > 0 ? adc_q / range : 0.0f;
            lsb = adc_q > 0 ? range / adc_q : 0.0f;
          }
          float& a = pass.analog[static_cast<size_t>(c)];
          if (output_noise) {
            const float draw = *z++;
            if (range > 0) a += static_cast<float>(p.output_noise) * range * draw;
          }
          if (calibrating_) {
            pass.seen[static_cast<size_t>(blk.tile)] = std::max(pass.seen[static_cast<size_t>(blk.tile)], std::abs(a));
          } else if (adc_bits > 0 && range > 0) {
            const float code = a * to_code;
            pass.clips += std::abs(code) > adc_q;
            a = std::round(std::clamp(code, -adc_q, adc_q)) * lsb;
          }
          const Block::Conversion& conv = blk.conversions[static_cast<size_t>(c)];
          pass.acc[static_cast<size_t>(conv.output)] += sign * conv.weight * a;
        }
        pass.conversions += n_conv;
      }
    }
    const MatrixEncoding& e = map.encodings[m];
    const Eigen::VectorXf& f = scale_f_[m];
    for (int64_t o = 0; o < q.outputs(); ++o) {
      float a = pass.acc[static_cast<size_t>(o)];
      if (e.offset != 0) a -= static_cast<float>(e.offset) * v_sum;
      out(h, o) = scale * a * f[o];
    }
    if (record_peaks) {
      pass.sum_seen[static_cast<size_t>(h)] = std::max(pass.sum_seen[static_cast<size_t>(h)], std::abs(in.row(h).sum()));
      pass.u_seen[static_cast<size_t>(h)] = std::max(pass.u_seen[static_cast<size_t>(h)], std::abs(in(h, n - 1)));
      pass.y_seen[static_cast<size_t>(h)] = std::max(pass.y_seen[static_cast<size_t>(h)], std::abs(out(h, n - 1)));
    }
  }
  ++pass.steps;
}

void AnalogChip::flush_recurrence(const std::vector<int64_t>& matrices, int dac_bits, int adc_bits,
                                  RecurrencePass& pass) const {
  clips_.fetch_add(pass.clips, std::memory_order_relaxed);
  conversions_.fetch_add(pass.conversions, std::memory_order_relaxed);
  std::lock_guard<std::mutex> lock(mutex_);
  if (calibrating_) {
    for (size_t t = 0; t < pass.seen.size(); ++t) adc_range_[t] = std::max(adc_range_[t], pass.seen[t]);
    for (size_t h = 0; h < pass.u_seen.size() && h < matrices.size(); ++h) {
      const auto m = static_cast<size_t>(matrices[h]);
      u_peak_[m] = std::max(u_peak_[m], pass.u_seen[h]);
      y_peak_[m] = std::max(y_peak_[m], pass.y_seen[h]);
      sum_peak_[m] = std::max(sum_peak_[m], pass.sum_seen[h]);
    }
  }
  if (counts_ != nullptr && !calibrating_ && pass.steps > 0) {
    ActionCounts& c = *counts_;
    const auto steps = static_cast<double>(pass.steps);
    const double phases = chip_->periphery.two_phase_inputs ? 2 : 1;
    for (const int64_t m : matrices) {
      for (const Block& blk : blocks_[static_cast<size_t>(m)]) {
        const auto rows = static_cast<double>(blk.rows.size()), cols = static_cast<double>(blk.cols.size());
        const auto n_conv = static_cast<double>(blk.conversions.size());
        c.dac_conversions[dac_bits] += phases * steps * rows;
        c.row_activations += phases * steps * rows;
        c.cell_reads += phases * steps * rows * cols;
        c.adc_conversions[AdcKey{adc_bits, dac_bits, blk.r_col_log10_x20}] += phases * steps * n_conv;
        c.shift_adds += phases * steps * n_conv;
        MatrixActivity& a = c.matrices[m];
        a.conversions_per_tile[blk.tile] = n_conv;
        a.dac_conversions += phases * steps * rows;
        a.adc_conversions[AdcKey{adc_bits, dac_bits, blk.r_col_log10_x20}] += phases * steps * n_conv;
      }
      count_product(c, m, pass.steps, dac_bits, adc_bits);
    }
    c.g_v2_uS[dac_bits] += pass.g_v2;
    if (!matrices.empty()) c.matrices[matrices.front()].g_v2_uS += pass.g_v2;  // one sum per pass
  }
  pass = RecurrencePass{};
}

// ---------------------------------------------------------------------------------------------
AnalogOps::AnalogOps(const AnalogChip& chip, const S4DModel& model, const ChipSpec& spec)
    : chip_(&chip), spec_(&spec) {
  const MappedModel& map = chip.map();
  if (spec.analog_recurrence) {
    recurrence_.assign(static_cast<size_t>(model.config().n_layers),
                       std::vector<int64_t>(static_cast<size_t>(model.config().d_model), -1));
  }
  for (size_t m = 0; m < map.matrices.size(); ++m) {
    const QuantizedMatrix& q = map.matrices[m];
    if (q.kind == MatrixKind::kEncoder && spec.analog_encoder) encoder_ = static_cast<int64_t>(m);
    if (q.kind == MatrixKind::kDecoder && spec.analog_decoder) decoder_ = static_cast<int64_t>(m);
    if (q.kind == MatrixKind::kOutputProjection && spec.analog_projections) {
      projections_.resize(static_cast<size_t>(model.config().n_layers), -1);
      projections_[static_cast<size_t>(q.layer)] = static_cast<int64_t>(m);
    }
    if (q.kind == MatrixKind::kRecurrence && spec.analog_recurrence) {
      recurrence_[static_cast<size_t>(q.layer)][static_cast<size_t>(q.channel)] =
          static_cast<int64_t>(m);
    }
  }
}

bool AnalogOps::ssm(int64_t sample, int64_t layer, const RowMatrixXf& z, RowMatrixXf& y) const {
  if (recurrence_.empty()) return false;
  const std::vector<int64_t>& blocks = recurrence_[static_cast<size_t>(layer)];
  const int64_t H = z.rows(), L = z.cols();
  const int64_t n = chip_->map().matrices[static_cast<size_t>(blocks[0])].inputs();  // 2M + 1
  Engine gen(stream(sample, stream_key::recurrence_product(layer)));
  const auto bits = spec_->periphery.converter_bits(MatrixKind::kRecurrence);
  y.resize(H, L);
  if (chip_->recurrence_batched()) {
    // Every draw of the sequence at once: tiny draws per step made the generator's fixed cost
    // a quarter of the run.
    AnalogChip::RecurrencePass pass;
    const int64_t per_step = chip_->recurrence_draws(blocks);
    pass.noise.resize(static_cast<size_t>(per_step * L));
    if (per_step > 0) detail::fill_normal(gen(), pass.noise.data(), per_step * L);
    RowMatrixXf in = RowMatrixXf::Zero(H, n), out(H, n);
    for (int64_t t = 0; t < L; ++t) {
      in.col(n - 1) = z.col(t);
      chip_->recurrence_step(blocks, in, pass.noise.data() + t * per_step, bits.dac, bits.adc, pass, out);
      in.leftCols(n - 1) = out.leftCols(n - 1);
      y.col(t) = out.col(n - 1);
    }
    chip_->flush_recurrence(blocks, bits.dac, bits.adc, pass);
    return true;
  }
  // The per-cell reference path: one product per channel and step.
  RowMatrixXf in = RowMatrixXf::Zero(1, n), out(1, n);
  RowMatrixXf state = RowMatrixXf::Zero(H, n - 1);
  for (int64_t t = 0; t < L; ++t) {
    for (int64_t h = 0; h < H; ++h) {
      in.leftCols(n - 1) = state.row(h);
      in(0, n - 1) = z(h, t);
      chip_->mvm_into(blocks[static_cast<size_t>(h)], in, gen, bits.dac, bits.adc, out);
      state.row(h) = out.leftCols(n - 1);
      y(h, t) = out(0, n - 1);
    }
  }
  return true;
}

uint64_t AnalogOps::stream(int64_t sample, int64_t slot) const {
  return stream_seed(chip_->seed(), stream_base_, static_cast<uint64_t>(sample_offset_ + sample),
                     static_cast<uint64_t>(slot));
}

bool AnalogOps::encoder(int64_t sample, const Eigen::Ref<const Eigen::MatrixXf>& u,
                        RowMatrixXf& x) const {
  if (encoder_ < 0) return false;
  thread_local RowMatrixXf in;
  in = u.transpose();
  x = chip_->mvm_transposed(encoder_, in, stream(sample, stream_key::kEncoderProduct));
  return true;
}

bool AnalogOps::projection(int64_t sample, int64_t layer, const RowMatrixXf& y,
                           RowMatrixXf& g) const {
  if (projections_.empty() || projections_[static_cast<size_t>(layer)] < 0) return false;
  thread_local RowMatrixXf in;
  in = y.transpose();
  g = chip_->mvm_transposed(projections_[static_cast<size_t>(layer)], in, stream(sample, stream_key::projection_product(layer)));
  return true;
}

bool AnalogOps::decoder(int64_t sample, const Eigen::VectorXf& pooled,
                        Eigen::VectorXf& logits) const {
  if (decoder_ < 0) return false;
  const RowMatrixXf in = pooled.transpose();
  logits = chip_->mvm(decoder_, in, stream(sample, stream_key::kDecoderProduct)).row(0).transpose();
  return true;
}

void AnalogOps::set_stream(uint64_t base, int64_t sample_offset) {
  stream_base_ = base;
  sample_offset_ = sample_offset;
}

}  // namespace qs4d
