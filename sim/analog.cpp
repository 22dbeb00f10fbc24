// One simulated chip: the mapped model programmed onto devices, aged to a time, and the analog
// matrix-vector product with its periphery (DAC, read noise, IR drop, ADC, digital glue). The
// recurrence kernel and AnalogOps are in analog_ops.cpp.
#include <algorithm>
#include <boost/random/mersenne_twister.hpp>
#include <boost/random/normal_distribution.hpp>
#include <cmath>
#include <cstring>
#include <mutex>
#include <tuple>

#include "sim/detail/fast_normal.h"
#include "sim/detail/parallel.h"
#include "sim/sim.h"

namespace qs4d {
namespace {

using Engine = boost::random::mt19937_64;


}  // namespace

AnalogChip::AnalogChip(const MappedModel& map, const ChipSpec& chip, uint64_t seed, int64_t trial, bool age_now)
    : map_(&map), chip_(&chip), device_(chip.device), seed_(seed), trial_(trial) {
  tiles_.resize(map.tiles.size());
  unverified_.assign(map.tiles.size(), 0);
  for (size_t t = 0; t < map.tiles.size(); ++t) {
    const uint64_t key = stream_seed(seed, stream_key::kProgramTiles, static_cast<uint64_t>(trial), t);
    tiles_[t].programmed = device_.program(map.tiles[t].target_uS, key);
    if (chip.fault_aware_mapping) {
      // The first programming stands in for the chip's fault test: its stuck devices are the
      // known faults (a device's stuck state does not depend on its target).
      tiles_[t].physical_row = rows_around_faults(t, tiles_[t].programmed);
      if (!tiles_[t].physical_row.empty()) tiles_[t].programmed = program_tile(t, map.tiles[t].target_uS, key);
    }
    if (chip.repair_partner) repair_partners(t, key);
    if (chip.repair_spares) use_spares(t, key);
    unverified_[t] = unverified_in_use(t);
  }
  for (const QuantizedMatrix& q : map.matrices) scale_f_.push_back(q.scale.cast<float>());
  blocks_.resize(map.matrices.size());
  for (size_t m = 0; m < map.matrices.size(); ++m) {
    for (int64_t t : map.encodings[m].tiles) {
      const Tile& tile = map.tiles[static_cast<size_t>(t)];
      Block b;
      b.tile = t;
      for (size_t r = 0; r < tile.rows.size(); ++r) {
        if (tile.rows[r].matrix != static_cast<int32_t>(m)) continue;
        b.rows.push_back(static_cast<int64_t>(r));
        b.inputs.push_back(tile.rows[r].input);
      }
      for (size_t c = 0; c < tile.cols.size(); ++c) {
        const ColumnRole& role = tile.cols[c];
        if (role.matrix == kReferenceColumn) b.reference = static_cast<int64_t>(b.cols.size());
        if (role.matrix != static_cast<int32_t>(m) && role.matrix != kReferenceColumn) continue;
        b.cols.push_back(static_cast<int64_t>(c));
      }
      // One ADC conversion per run of adjacent columns of the same (output, slice).
      std::vector<std::pair<int64_t, int64_t>> groups;
      for (int64_t c = 0; c < static_cast<int64_t>(b.cols.size());) {
        const ColumnRole& role = tile.cols[static_cast<size_t>(b.cols[static_cast<size_t>(c)])];
        if (role.matrix != static_cast<int32_t>(m)) {
          ++c;
          continue;
        }
        int64_t end = c + 1;
        while (end < static_cast<int64_t>(b.cols.size())) {
          const ColumnRole& next = tile.cols[static_cast<size_t>(b.cols[static_cast<size_t>(end)])];
          if (next.matrix != role.matrix || next.output != role.output ||
              next.significance != role.significance) {
            break;
          }
          ++end;
        }
        groups.emplace_back(c, end);
        c = end;
      }
      b.signs.assign(b.cols.size(), 0.0f);
      for (const auto& [c0, c1] : groups) {
        Block::Conversion conv;
        conv.begin = c0;
        conv.end = c1;
        for (int64_t k = c0; k < c1; ++k) {
          const ColumnRole& role = tile.cols[static_cast<size_t>(b.cols[static_cast<size_t>(k)])];
          b.signs[static_cast<size_t>(k)] = role.sign;
          conv.sign_sum += role.sign;
        }
        const ColumnRole& role = tile.cols[static_cast<size_t>(b.cols[static_cast<size_t>(c0)])];
        conv.output = role.output;
        conv.weight = static_cast<float>(role.significance / map.encodings[m].step_uS);
        b.conversions.push_back(conv);
      }
      blocks_[m].push_back(std::move(b));
    }
  }
  check_trained_state_ranges();
  if (age_now) age(0.0);
}

namespace {
size_t checked_tile(int64_t tile, size_t tiles) {
  if (tile < 0 || static_cast<size_t>(tile) >= tiles) {
    throw UsageError("tile " + std::to_string(tile) + " is not on the chip (it has " + std::to_string(tiles) +
                     " tiles)");
  }
  return static_cast<size_t>(tile);
}
}  // namespace

const ProgrammedArray& AnalogChip::programmed(int64_t tile) const {
  return tiles_[checked_tile(tile, tiles_.size())].programmed;
}

const RowMatrixXf& AnalogChip::conductances_uS(int64_t tile) const {
  return tiles_[checked_tile(tile, tiles_.size())].g_uS;
}

int64_t AnalogChip::unverified_cells() const {
  int64_t n = 0;
  for (int64_t u : unverified_) n += u;
  return n;
}

void AnalogChip::fill_blocks() {
  for (auto& per_matrix : blocks_) {
    for (Block& b : per_matrix) {
      const TileState& s = tiles_[static_cast<size_t>(b.tile)];
      const auto rows = static_cast<Eigen::Index>(b.rows.size());
      const auto cols = static_cast<Eigen::Index>(b.cols.size());
      b.g_uS.resize(rows, cols);
      b.read_var.resize(rows, cols);
      for (Eigen::Index i = 0; i < rows; ++i) {
        for (Eigen::Index j = 0; j < cols; ++j) {
          b.g_uS(i, j) = s.g_uS(b.rows[static_cast<size_t>(i)], b.cols[static_cast<size_t>(j)]);
          b.read_var(i, j) = s.read_var(b.rows[static_cast<size_t>(i)], b.cols[static_cast<size_t>(j)]);
        }
      }
      const auto n_conv = static_cast<Eigen::Index>(b.conversions.size());
      b.g_eff.setZero(rows, n_conv);
      b.var_eff.setZero(rows, n_conv);
      const float g_min = static_cast<float>(map_->window.g_min_uS);
      for (Eigen::Index g = 0; g < n_conv; ++g) {
        const Block::Conversion& conv = b.conversions[static_cast<size_t>(g)];
        for (int64_t k = conv.begin; k < conv.end; ++k) {
          b.g_eff.col(g) += b.signs[static_cast<size_t>(k)] * b.g_uS.col(k);
          b.var_eff.col(g) += b.read_var.col(k);
        }
        if (b.reference < 0) b.g_eff.col(g).array() -= conv.sign_sum * g_min;
      }
      if (b.reference >= 0) {
        b.ref_g = b.g_uS.col(b.reference);
        b.ref_var = b.read_var.col(b.reference);
      }
      b.row_g_sum = b.g_uS.rowwise().sum();
      double col_sum = 0;
      int64_t n_cols = 0;
      for (const Block::Conversion& conv : b.conversions) {
        for (int64_t k = conv.begin; k < conv.end; ++k) {
          col_sum += b.g_uS.col(k).sum();
          ++n_cols;
        }
      }
      const double mean_uS = n_cols ? col_sum / static_cast<double>(n_cols) : 0.0;
      // R_col in ohm from the mean column conductance in uS; an empty column counts as 1 GOhm.
      const double r_ohm = mean_uS > 0 ? 1e6 / mean_uS : 1e9;
      b.r_col_log10_x20 = static_cast<int>(std::lround(20.0 * std::log10(r_ohm)));
      for (Block::Conversion& conv : b.conversions) conv.factor = 1.0f;
    }
  }
  if (chip_->drift_compensation != DriftCompensation::kNone && time_s_ > 0) compensate_drift();
  for (auto& per_matrix : blocks_) {
    for (Block& b : per_matrix) {
      // The conversions, then the reference column if any, padded with zeros to whole
      // 8-float vectors so the step's inner loop has no remainder.
      const Eigen::Index n_conv = b.g_eff.cols(), n_read = n_conv + (b.reference >= 0 ? 1 : 0);
      const Eigen::Index stride = (n_read + 7) / 8 * 8;
      b.g_rows.setZero(b.g_eff.rows(), stride);
      b.var_rows.setZero(b.g_eff.rows(), stride);
      b.g_rows.leftCols(n_conv) = b.g_eff;
      b.var_rows.leftCols(n_conv) = b.var_eff;
      b.ref_coef.resize(n_conv);
      if (b.reference >= 0) {
        b.g_rows.col(n_conv) = b.ref_g;
        b.var_rows.col(n_conv) = b.ref_var;
        for (Eigen::Index c = 0; c < n_conv; ++c) {
          const Block::Conversion& conv = b.conversions[static_cast<size_t>(c)];
          b.ref_coef[c] = conv.factor * conv.sign_sum;
        }
      }
    }
  }
}

// Drift compensation (see DriftCompensation): each read-out's reference value right after
// programming ("then", the programmed conductances) and now (after drift, relaxation and IR
// drop), through the differential or reference-column subtraction, so unused cells and cells
// that drift alike in a pair cancel. One-hot modes sum |read-out| over the rows read one at a
// time; all-ones modes take the signed read-out of all rows at once. A factor comes from a
// ratio only where the reference is stable (now and then both well away from zero, same sign);
// else 1 (tile) or the tile's factor (read-out): never a division by a cancelled sum.
void AnalogChip::compensate_drift() {
  const DriftCompensation mode = chip_->drift_compensation;
  const bool one_hot = mode == DriftCompensation::kGlobal || mode == DriftCompensation::kPerColumn;
  const bool per_column = mode == DriftCompensation::kPerColumn || mode == DriftCompensation::kPerColumnOnes;
  const double g_min = map_->window.g_min_uS;
  struct Readout { Block* block; std::vector<double> then, now; };
  std::vector<std::vector<Readout>> per_tile(tiles_.size());
  for (auto& per_matrix : blocks_) {
    for (Block& b : per_matrix) {
      const RowMatrixXf& programmed = tiles_[static_cast<size_t>(b.tile)].programmed.g_uS;
      Readout ro{&b, {}, {}};
      for (const Block::Conversion& conv : b.conversions) {
        double then = 0, now = 0;
        for (size_t i = 0; i < b.rows.size(); ++i) {
          const int64_t r = b.rows[i];
          const auto row = static_cast<Eigen::Index>(i);
          double v_then = -conv.sign_sum * (b.reference >= 0 ? programmed(r, b.cols[static_cast<size_t>(b.reference)]) : g_min);
          double v_now = -conv.sign_sum * (b.reference >= 0 ? b.g_uS(row, b.reference) : g_min);
          for (int64_t k = conv.begin; k < conv.end; ++k) {
            v_then += b.signs[static_cast<size_t>(k)] * programmed(r, b.cols[static_cast<size_t>(k)]);
            v_now += b.signs[static_cast<size_t>(k)] * b.g_uS(row, static_cast<Eigen::Index>(k));
          }
          then += one_hot ? std::abs(v_then) : v_then;
          now += one_hot ? std::abs(v_now) : v_now;
        }
        ro.then.push_back(then);
        ro.now.push_back(now);
      }
      per_tile[static_cast<size_t>(b.tile)].push_back(std::move(ro));
    }
  }
  // A ratio then / now, or `fallback` where the reference read-out is not stable.
  const auto ratio = [](double then, double now, double scale, double fallback) {
    const bool stable = std::abs(then) > 1e-3 * scale && std::abs(now) > 1e-3 * scale && then * now > 0;
    return stable ? then / now : fallback;
  };
  for (auto& readouts : per_tile) {
    double sum_then = 0, sum_now = 0;
    size_t n = 0;
    for (const Readout& ro : readouts) {
      for (size_t g = 0; g < ro.then.size(); ++g) {
        sum_then += std::abs(ro.then[g]);
        sum_now += std::abs(ro.now[g]);
        ++n;
      }
    }
    const double mean_then = n ? sum_then / static_cast<double>(n) : 0.0;
    const double tile_factor = ratio(sum_then, sum_now, sum_then, 1.0);
    for (Readout& ro : readouts) {
      Block& b = *ro.block;
      for (size_t g = 0; g < ro.then.size(); ++g) {
        // All-ones read-outs below a tenth of the tile's mean are too close to cancelling.
        const double scale = one_hot ? std::abs(ro.then[g]) : 100 * mean_then;
        const double f = per_column ? ratio(ro.then[g], ro.now[g], scale, tile_factor) : tile_factor;
        b.conversions[g].factor = static_cast<float>(f);
        b.g_eff.col(static_cast<Eigen::Index>(g)) *= static_cast<float>(f);
        b.var_eff.col(static_cast<Eigen::Index>(g)) *= static_cast<float>(f * f);
      }
    }
  }
}

// The tile through its wires: the product is linear in the row voltages, so the transfer matrix
// A (cols x rows) of the tile's network, transposed, takes the place of the conductances and
// every product stays exact for the mean. Read noise acts on each device's conductance; its
// current reaches the sense node attenuated by that cell's own gain A_ji / G_ij (first order in
// the noise: a fluctuation of one cell also shifts the others' currents slightly, which is
// neglected), so its variance is scaled by that gain squared.
void AnalogChip::apply_ir_drop(TileState& s, const CircuitSpec& circuit, CircuitSolver solver) {
  const Eigen::MatrixXd g = s.g_uS.cast<double>();
  const Eigen::MatrixXd a = transfer_matrix(g, circuit, solver);
  for (Eigen::Index r = 0; r < g.rows(); ++r) {
    for (Eigen::Index c = 0; c < g.cols(); ++c) {
      const double gain = g(r, c) > 0 ? a(c, r) / g(r, c) : 0.0;
      s.read_var(r, c) = static_cast<float>(s.read_var(r, c) * gain * gain);
    }
  }
  s.g_uS = a.transpose().cast<float>();
}

void AnalogChip::age(double t_s) {
  time_s_ = t_s;
  const uint64_t key = stream_seed(seed_, stream_key::kAgeTiles, static_cast<uint64_t>(trial_), double_bits(t_s));
  const CircuitSpec& circuit = chip_->periphery.circuit;
  for (size_t t = 0; t < tiles_.size(); ++t) {
    TileState& s = tiles_[t];
    s.g_uS = device_.at_time(s.programmed, t_s, stream_seed(key, t));
    const RowMatrixXf sigma = device_.read_sigma(s.g_uS);
    s.read_var = sigma.cwiseProduct(sigma);
  }
  if (circuit.any()) {
    // The tiles' networks side by side, each solved on one thread (Eigen runs its products
    // serially inside a parallel region), so the arithmetic is the same for any thread count.
    detail::parallel_for_each(static_cast<int64_t>(tiles_.size()), [&](int64_t t) {
      apply_ir_drop(tiles_[static_cast<size_t>(t)], circuit, chip_->periphery.ir_drop);
    });
  }
  for (TileState& s : tiles_) s.has_read_noise = s.read_var.maxCoeff() > 0;
  adc_range_.assign(tiles_.size(), 0.0f);
  gain_.clear();  // a new time: the output calibration is stale
  offset_.clear();
  fill_blocks();
  calibrating_ = false;
  clips_ = 0;
  conversions_ = 0;
}

void AnalogChip::begin_calibration() {
  std::fill(adc_range_.begin(), adc_range_.end(), 0.0f);
  u_peak_.assign(map_->matrices.size(), 0.0f);
  y_peak_.assign(map_->matrices.size(), 0.0f);
  sum_peak_.assign(map_->matrices.size(), 0.0f);
  state_dac_scale_.clear();  // the calibration runs on dynamic DAC scales
  state_dac_row_ratio_.clear();
  state_dac_row_inverse_.clear();
  calibrating_ = true;
}

void AnalogChip::end_calibration() {
  calibrating_ = false;
  clips_ = conversions_ = 0;  // counters describe the evaluation, not the calibration
  for (float& r : adc_range_) {
    // Headroom above the largest value the calibration saw: unseen inputs exceed it, and a
    // clipped state of a recurrence does not recover (RESULTS section 7).
    r = r > 0 ? r * static_cast<float>(chip_->periphery.adc_headroom) : 1.0f;  // 1: no signal
  }
  if (trained_state_ranges()) fill_state_ranges();
}

void AnalogChip::count_actions(ActionCounts* counts, int activation_bits) {
  counts_ = counts;
  activation_bits_ = activation_bits;
  if (!counts) return;
  // Each tile's converters, at the bits of the matrices placed on it (the widest, if several).
  counts->converters.assign(tiles_.size(), TileConverters{});
  std::vector<bool> placed(tiles_.size(), false);
  for (size_t m = 0; m < map_->matrices.size(); ++m) {
    const MatrixKind kind = map_->matrices[m].kind;
    const auto bits = chip_->periphery.converter_bits(kind);
    for (const int64_t t : map_->encodings[m].tiles) {
      TileConverters& c = counts->converters[static_cast<size_t>(t)];
      const auto wider = [&](int mine, int theirs) {
        return !placed[static_cast<size_t>(t)] ? theirs : (mine == 0 || theirs == 0 ? 0 : std::max(mine, theirs));
      };
      c.tile = t;
      c.rows = map_->spec.tile_rows + chip_->spare_rows;  // spares are built whether used or not
      c.cols = map_->spec.tile_cols + chip_->spare_cols;
      c.dac_bits = wider(c.dac_bits, bits.dac);
      c.adc_bits = wider(c.adc_bits, bits.adc);
      if (!placed[static_cast<size_t>(t)] || kind == MatrixKind::kRecurrence) {
        c.role = kind == MatrixKind::kRecurrence ? "recurrence" : "matrix";
      }
      placed[static_cast<size_t>(t)] = true;
    }
  }
  for (size_t t = 0; t < tiles_.size(); ++t) {
    const RowMatrixXi16& pulses = tiles_[t].programmed.pulses;
    const Tile& tile = map_->tiles[t];
    // Without write-verify every used device takes one programming pulse. With it, the pulses of
    // the cells that hold a weight or the reference: an unused cell is never written.
    if (pulses.size() == 0) {
      counts->programming_pulses += static_cast<double>(tile.devices_used);
      continue;
    }
    int64_t sum = 0;
    const auto rows = std::min<Eigen::Index>(pulses.rows(), static_cast<Eigen::Index>(tile.rows.size()));
    const auto cols = std::min<Eigen::Index>(pulses.cols(), static_cast<Eigen::Index>(tile.cols.size()));
    for (Eigen::Index r = 0; r < rows; ++r) {
      const int32_t m = tile.rows[static_cast<size_t>(r)].matrix;
      if (m < 0) continue;
      for (Eigen::Index c = 0; c < cols; ++c) {
        const int32_t col = tile.cols[static_cast<size_t>(c)].matrix;
        if (col == m || col == kReferenceColumn) sum += pulses(r, c);
      }
    }
    counts->programming_pulses += static_cast<double>(sum);
  }
  counts->programming_pulses += repair_pulses_;
}

void AnalogChip::record(int64_t m, const Block& blk, int64_t batch, const RowMatrixXf& drive,
                        int dac_bits, int adc_bits, int phase) const {
  const auto rows = static_cast<double>(blk.rows.size());
  const auto cols = static_cast<double>(blk.cols.size());
  const auto n_conv = static_cast<double>(blk.conversions.size());
  const auto b = static_cast<double>(batch);
  const double g_v2 = (drive.cwiseProduct(drive) * blk.row_g_sum).cast<double>().sum();
  std::lock_guard<std::mutex> lock(mutex_);
  ActionCounts& c = *counts_;
  c.dac_conversions[dac_bits] += b * rows;
  c.row_activations += b * rows;
  c.cell_reads += b * rows * cols;
  c.g_v2_uS[dac_bits] += g_v2;
  c.adc_conversions[AdcKey{adc_bits, dac_bits, blk.r_col_log10_x20}] += b * n_conv;
  c.shift_adds += b * n_conv;  // each conversion shifted into its output's partial sum
  MatrixActivity& a = c.matrices[m];
  a.dac_conversions += b * rows;
  a.g_v2_uS += g_v2;
  a.adc_conversions[AdcKey{adc_bits, dac_bits, blk.r_col_log10_x20}] += b * n_conv;
  if (phase == 0) {
    a.conversions_per_tile[blk.tile] = n_conv;
  }
}

RowMatrixXf AnalogChip::mvm(int64_t m, const RowMatrixXf& x, uint64_t stream) const {
  Engine gen(stream);
  const auto bits = chip_->periphery.converter_bits(map_->matrices[static_cast<size_t>(m)].kind);
  return mvm(m, x, gen, bits.dac, bits.adc);
}

RowMatrixXf AnalogChip::mvm(int64_t m, const RowMatrixXf& x, Engine& gen, int dac_bits,
                            int adc_bits) const {
  RowMatrixXf y;
  mvm_into(m, x, gen, dac_bits, adc_bits, y);
  return y;
}

// Each calling thread keeps one scratch for its products: they can be hundreds of kB, and
// allocating them anew for every product made page faults a top entry in the profile.
AnalogChip::ProductScratch& AnalogChip::scratch() {
  thread_local ProductScratch s;
  return s;
}

void AnalogChip::mvm_into(int64_t m, const RowMatrixXf& x, Engine& gen, int dac_bits, int adc_bits,
                          RowMatrixXf& y) const {
  ProductScratch& s = scratch();
  product(m, x, gen, dac_bits, adc_bits, s);
  y.noalias() = (s.x_scale.asDiagonal() * s.acc) * scale_f_[static_cast<size_t>(m)].asDiagonal();
}

RowMatrixXf AnalogChip::mvm_transposed(int64_t m, const RowMatrixXf& x, uint64_t stream) const {
  Engine gen(stream);
  const auto bits = chip_->periphery.converter_bits(map_->matrices[static_cast<size_t>(m)].kind);
  ProductScratch& s = scratch();
  product(m, x, gen, bits.dac, bits.adc, s);
  // acc is column-major (batch, outputs): its memory is the row-major (outputs, batch) matrix.
  const Eigen::Map<const RowMatrixXf> acc_t(s.acc.data(), s.acc.cols(), s.acc.rows());
  return scale_f_[static_cast<size_t>(m)].asDiagonal() * acc_t * s.x_scale.asDiagonal();
}

// One product: DAC, then per block and read phase the crossbar read, the ADC and the digital
// accumulation, then the offset and the counts. Results stay in `s` (acc before the output
// scales, x_scale); mvm_into and mvm_transposed read them out.
void AnalogChip::product(int64_t m, const RowMatrixXf& x, Engine& gen, int dac_bits, int adc_bits,
                         ProductScratch& s) const {
  const QuantizedMatrix& q = map_->matrices.at(static_cast<size_t>(m));
  const MatrixEncoding& e = map_->encodings[static_cast<size_t>(m)];
  const PeripherySpec& p = chip_->periphery;
  const int64_t B = x.rows();
  dac(x, dac_bits, s);
  s.acc.setZero(B, q.outputs());
  s.clips = s.conversions = 0;
  const bool counting = counts_ != nullptr && !calibrating_;
  for (const Block& blk : blocks_[static_cast<size_t>(m)]) {
    gather_inputs(blk, s);
    float seen = 0;
    const int phases = p.two_phase_inputs ? 2 : 1;
    for (int phase = 0; phase < phases; ++phase) {
      // Two-phase: positive and negative inputs as two reads of non-negative pulses, subtracted
      // digitally; else signed pulses (polarity) in one read.
      const float sign = phase == 0 ? 1.0f : -1.0f;
      if (p.two_phase_inputs) {
        s.drive = (sign * s.signed_drive).cwiseMax(0.0f);
      } else {
        s.drive = s.signed_drive;
      }
      read_block(blk, gen, s);
      seen = std::max(seen, convert(blk, adc_bits, s));
      accumulate(blk, sign, s);
      if (counting) record(m, blk, B, s.drive, dac_bits, adc_bits, phase);
    }
    if (calibrating_) {
      std::lock_guard<std::mutex> lock(mutex_);
      adc_range_[static_cast<size_t>(blk.tile)] = std::max(adc_range_[static_cast<size_t>(blk.tile)], seen);
    }
  }
  if (e.offset != 0) s.acc.colwise() -= static_cast<float>(e.offset) * s.v.rowwise().sum();
  if (fitting_) fit_product(m, x, s);
  if (!gain_.empty()) correct_outputs(m, s);
  // Relaxed atomics: products come from every thread, and a lock per product made them queue.
  clips_.fetch_add(s.clips, std::memory_order_relaxed);
  conversions_.fetch_add(s.conversions, std::memory_order_relaxed);
  if (counting) {
    std::lock_guard<std::mutex> lock(mutex_);
    count_product(*counts_, m, B, dac_bits, adc_bits);
  }
}

// DAC: each input vector scaled by its own absolute maximum (dynamic range), or by a fixed
// full-scale value with clipping, and rounded to the DAC's levels; the scale is restored
// digitally afterwards.
void AnalogChip::dac(const RowMatrixXf& x, int dac_bits, ProductScratch& s) const {
  const PeripherySpec& p = chip_->periphery;
  const int64_t B = x.rows();
  s.x_scale.resize(B);
  for (int64_t b = 0; b < B; ++b) {
    s.x_scale[b] = p.dac_range > 0 ? static_cast<float>(p.dac_range) : x.row(b).cwiseAbs().maxCoeff();
  }
  s.inv = (s.x_scale.array() > 0).select(s.x_scale.cwiseInverse(), 0.0f);
  s.v.noalias() = s.inv.asDiagonal() * x;
  if (p.dac_range > 0) s.v = s.v.cwiseMax(-1.0f).cwiseMin(1.0f);
  if (dac_bits > 0) {
    const float levels = static_cast<float>((int64_t{1} << (dac_bits - 1)) - 1);
    s.v = ((s.v.array() * levels).round() / levels).matrix();
  }
}

// The DAC outputs a block's rows take: usually one contiguous run of inputs.
void AnalogChip::gather_inputs(const Block& blk, ProductScratch& s) const {
  const auto rows = static_cast<int64_t>(blk.rows.size());
  const int64_t first = blk.inputs.empty() ? 0 : blk.inputs.front();
  const bool contiguous = !blk.inputs.empty() && blk.inputs.back() - first == rows - 1 &&
                          std::adjacent_find(blk.inputs.begin(), blk.inputs.end(),
                                             [](int64_t a, int64_t b) { return b != a + 1; }) == blk.inputs.end();
  if (contiguous) {
    s.signed_drive = s.v.middleCols(first, rows);
  } else {
    s.signed_drive.resize(s.v.rows(), rows);
    for (int64_t r = 0; r < rows; ++r) s.signed_drive.col(r) = s.v.col(blk.inputs[static_cast<size_t>(r)]);
  }
}

float AnalogChip::adc_range(const Block& blk) const {
  const PeripherySpec& p = chip_->periphery;
  if (p.adc_calibrated) return adc_range_[static_cast<size_t>(blk.tile)];
  const float full_scale = static_cast<float>(static_cast<double>(map_->tiles[static_cast<size_t>(blk.tile)].target_uS.rows()) *
                                              (map_->window.g_max_uS - map_->window.g_min_uS));
  return static_cast<float>(p.adc_range_fraction) * full_scale;
}

// One read of the block with s.drive on its rows: every conversion's column current after the
// differential (or reference) subtraction, with read noise and output noise, into s.analog.
void AnalogChip::read_block(const Block& blk, Engine& gen, ProductScratch& s) const {
  const PeripherySpec& p = chip_->periphery;
  const TileState& tile = tiles_[static_cast<size_t>(blk.tile)];
  const int64_t B = s.drive.rows();
  const auto n_conv = static_cast<Eigen::Index>(blk.conversions.size());
  if (p.per_cell_read_noise && tile.has_read_noise) {
    read_block_per_cell(blk, gen, s);
  } else {
    // Exact at the conversion: sum_i N(0, s_ij^2) v_i over the rows and the signed columns
    // of one conversion is N(0, sum_i v_i^2 sum_k f_k^2 s_ik^2), one draw per conversion.
    s.analog.noalias() = s.drive * blk.g_eff;
    if (tile.has_read_noise) {
      s.var.noalias() = s.drive.cwiseProduct(s.drive) * blk.var_eff;
      s.noise.resize(B, n_conv);
      detail::fill_normal(gen(), s.noise.data(), s.noise.size());
      s.analog.array() += s.var.array().sqrt() * s.noise.array();
    }
    if (blk.reference >= 0) {
      s.reference.noalias() = s.drive * blk.ref_g;
      if (tile.has_read_noise) {
        s.ref_sd.noalias() = s.drive.cwiseProduct(s.drive) * blk.ref_var;
        s.ref_sd = s.ref_sd.cwiseSqrt();
        s.noise.resize(B, 1);
        detail::fill_normal(gen(), s.noise.data(), s.noise.size());
        s.reference.array() += s.ref_sd.array() * s.noise.col(0).array();
      }
      for (Eigen::Index g = 0; g < n_conv; ++g) {
        const Block::Conversion& conv = blk.conversions[static_cast<size_t>(g)];
        s.analog.col(g) -= (conv.factor * conv.sign_sum) * s.reference;
      }
    }
  }
  const float range = adc_range(blk);
  if (p.output_noise > 0 && range > 0) {
    s.noise.resize(B, n_conv);
    detail::fill_normal(gen(), s.noise.data(), s.noise.size());
    s.analog += (static_cast<float>(p.output_noise) * range) * s.noise;
  }
}

// The reference path: every cell read with its own noise draw, vector by vector, then the
// differential subtraction column by column.
void AnalogChip::read_block_per_cell(const Block& blk, Engine& gen, ProductScratch& s) const {
  boost::random::normal_distribution<float> normal;
  const int64_t B = s.drive.rows();
  const auto rows = static_cast<int64_t>(blk.rows.size()), cols = static_cast<int64_t>(blk.cols.size());
  const auto n_conv = static_cast<Eigen::Index>(blk.conversions.size());
  s.current.resize(B, cols);
  RowMatrixXf g_read(rows, cols);
  for (int64_t b = 0; b < B; ++b) {
    for (Eigen::Index i = 0; i < g_read.size(); ++i) {
      g_read.data()[i] = blk.g_uS.data()[i] + std::sqrt(blk.read_var.data()[i]) * normal(gen);
    }
    s.current.row(b) = s.drive.row(b) * g_read;
  }
  Eigen::VectorXf reference = static_cast<float>(map_->window.g_min_uS) * s.drive.rowwise().sum();
  if (blk.reference >= 0) reference = s.current.col(blk.reference);
  s.analog.resize(B, n_conv);
  for (Eigen::Index g = 0; g < n_conv; ++g) {
    const Block::Conversion& conv = blk.conversions[static_cast<size_t>(g)];
    auto col = s.analog.col(g);
    col = (-conv.sign_sum) * reference;
    for (int64_t k = conv.begin; k < conv.end; ++k) col += blk.signs[static_cast<size_t>(k)] * s.current.col(k);
    col *= conv.factor;
  }
}

// ADC: s.analog quantized in place to the block's range, clips counted; during calibration the
// values pass unquantized and the largest is returned.
float AnalogChip::convert(const Block& blk, int adc_bits, ProductScratch& s) const {
  s.conversions += s.analog.size();
  if (calibrating_) return s.analog.size() ? s.analog.cwiseAbs().maxCoeff() : 0.0f;
  const float range = adc_range(blk);
  if (adc_bits > 0 && range > 0) {
    const float q = static_cast<float>((int64_t{1} << (adc_bits - 1)) - 1);
    s.adc_codes = s.analog.array() * (q / range);
    s.clips += (s.adc_codes.abs() > q).count();
    s.analog = (s.adc_codes.max(-q).min(q).round() * (range / q)).matrix();
  }
  return 0.0f;
}

// Digital recombination: each conversion shifted by its slice significance into its output.
void AnalogChip::accumulate(const Block& blk, float sign, ProductScratch& s) const {
  for (Eigen::Index g = 0; g < static_cast<Eigen::Index>(blk.conversions.size()); ++g) {
    const Block::Conversion& conv = blk.conversions[static_cast<size_t>(g)];
    s.acc.col(conv.output) += (sign * conv.weight) * s.analog.col(g);
  }
}

// The per-product actions around the crossbar reads (caller holds the lock): digital scaling,
// buffer traffic, the matrix's activity.
void AnalogChip::count_product(ActionCounts& c, int64_t m, int64_t batch, int dac_bits, int adc_bits) const {
  const QuantizedMatrix& q = map_->matrices[static_cast<size_t>(m)];
  const MatrixEncoding& e = map_->encodings[static_cast<size_t>(m)];
  const PeripherySpec& p = chip_->periphery;
  const auto b = static_cast<double>(batch);
  const double in = static_cast<double>(q.inputs()), out = static_cast<double>(q.outputs());
  // The recurrence's state loops from its ADCs to its DACs inside the periphery at a range
  // set once (the simulation rescales per vector, an ideal range match); only u_t and y_t
  // are scaled digitally and pass through the buffer. Other products read and write whole
  // vectors and scale them.
  const bool recurrence = q.kind == MatrixKind::kRecurrence;
  if (recurrence) {
    c.digital_muls += 2 * b;     // u_t into the DAC range, y_t out of the ADC range
  } else {
    if (p.dac_range <= 0) {
      c.digital_adds += b * in;  // |x| max of each vector for its DAC scale
      c.digital_muls += b * in;  // and the division into the DAC's range
    }
    c.digital_muls += b * out;   // one combined rescale per output (input and weight scales)
  }
  if (e.offset != 0) c.digital_adds += b * out;
  c.buffer_read_bits += b * (recurrence ? 1 : in) * activation_bits_;
  c.buffer_write_bits += b * (recurrence ? 1 : out) * activation_bits_;
  MatrixActivity& a = c.matrices[m];
  if (a.name.empty()) {
    a.name = q.name;
    a.group = q.kind == MatrixKind::kEncoder   ? "encoder"
              : q.kind == MatrixKind::kDecoder ? "decoder"
              : "layer " + std::to_string(q.layer) +
                    (q.kind == MatrixKind::kRecurrence ? " recurrence" : " projection");
    a.dac_bits = dac_bits;
    a.adc_bits = adc_bits;
  }
  a.vectors += b * (p.two_phase_inputs ? 2 : 1);
}

}  // namespace qs4d
