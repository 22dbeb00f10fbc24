// Steps 2 and 3 of the mapping: codes to device levels, and device columns onto tiles.
#include <algorithm>
#include <cmath>
#include <map>
#include <set>

#include "mapping/mapping.h"

namespace qs4d {
namespace {

int bit_width(int64_t v) {  // bits to hold 0..v
  int b = 0;
  while ((int64_t{1} << b) <= v) ++b;
  return b;
}

// How one matrix's codes become device levels (everything but the tile placement).
struct Scheme {
  bool differential = true;
  int32_t qmax = 0;
  int slices = 1;
  int slice_bits = 0;
  int64_t levels = 0;
  int64_t cols_per_output = 0;
};

Scheme make_scheme(const QuantizedMatrix& m, const MappingSpec& spec) {
  Scheme s;
  s.differential = spec.encoding == Encoding::kDifferential;
  s.qmax = m.qmax();
  const int64_t top = s.differential ? s.qmax : 2 * int64_t{s.qmax};  // largest non-negative value
  const int value_bits = bit_width(top);
  if (spec.bits_per_device > 0 && spec.bits_per_device < value_bits) {
    s.slice_bits = spec.bits_per_device;
    s.slices = (value_bits + s.slice_bits - 1) / s.slice_bits;
    s.levels = int64_t{1} << s.slice_bits;
  } else {
    s.levels = top + 1;
  }
  s.cols_per_output = s.slices * (s.differential ? 2 : 1);
  return s;
}

// Level of device (slice, polarity) for code c.
int64_t device_level(const Scheme& s, int32_t code, int slice, int polarity) {
  int64_t value;
  if (s.differential) {
    value = polarity == 0 ? std::max(code, 0) : std::max(-code, 0);
  } else {
    value = int64_t{code} + s.qmax;
  }
  if (s.slice_bits == 0) return value;
  return (value >> (s.slice_bits * slice)) & ((int64_t{1} << s.slice_bits) - 1);
}

double step_for(const Scheme& s, const ConductanceWindow& w, const std::string& name) {
  const double window = w.g_max_uS - w.g_min_uS;
  if (w.levels == 0) return window / static_cast<double>(s.levels - 1);
  if (w.levels < s.levels) {
    throw UsageError("matrix " + name + " needs " + std::to_string(s.levels) +
                     " conductance levels per device, the device has " +
                     std::to_string(w.levels) + " (slice the weights with "
                     "mapping.bits_per_device or use fewer bits)");
  }
  // A whole number of device steps per code step keeps every target on a device level.
  const int64_t per_step = (w.levels - 1) / (s.levels - 1);
  return static_cast<double>(per_step) * window / static_cast<double>(w.levels - 1);
}

class Placer {
 public:
  Placer(MappedModel& out) : out_(out), spec_(out.spec) {
    has_reference_ = spec_.encoding == Encoding::kOffset &&
                     spec_.offset_reference == OffsetReference::kColumn;
    usable_cols_ = spec_.tile_cols - (has_reference_ ? 1 : 0);
  }

  int64_t new_tile() {
    Tile t;
    t.target_uS = RowMatrixXf::Constant(spec_.tile_rows, spec_.tile_cols,
                                        static_cast<float>(out_.window.g_min_uS));
    t.rows.assign(static_cast<size_t>(spec_.tile_rows), RowRole{});
    t.cols.assign(static_cast<size_t>(spec_.tile_cols), ColumnRole{});
    if (has_reference_) t.cols.back().matrix = kReferenceColumn;
    out_.tiles.push_back(std::move(t));
    return static_cast<int64_t>(out_.tiles.size()) - 1;
  }

  // Writes inputs [in0, in0 + n_in) x outputs [o0, o0 + n_out) of matrix m at (r0, c0) of tile t.
  void place(int64_t m, const Scheme& s, int64_t t, int64_t r0, int64_t c0, int64_t in0,
             int64_t n_in, int64_t o0, int64_t n_out) {
    const QuantizedMatrix& q = out_.matrices[static_cast<size_t>(m)];
    MatrixEncoding& e = out_.encodings[static_cast<size_t>(m)];
    Tile& tile = out_.tiles[static_cast<size_t>(t)];
    for (int64_t i = 0; i < n_in; ++i) {
      tile.rows[static_cast<size_t>(r0 + i)] = {static_cast<int32_t>(m),
                                                static_cast<int32_t>(in0 + i)};
    }
    const int polarities = s.differential ? 2 : 1;
    for (int64_t j = 0; j < n_out; ++j) {
      for (int sl = 0; sl < s.slices; ++sl) {
        for (int p = 0; p < polarities; ++p) {
          const int64_t col = c0 + j * s.cols_per_output + sl * polarities + p;
          tile.cols[static_cast<size_t>(col)] = {
              static_cast<int32_t>(m), static_cast<int32_t>(o0 + j),
              static_cast<int8_t>(p == 0 ? 1 : -1),
              static_cast<int32_t>(int64_t{1} << (s.slice_bits * sl))};
          for (int64_t i = 0; i < n_in; ++i) {
            const int64_t level = device_level(s, q.codes(o0 + j, in0 + i), sl, p);
            tile.target_uS(r0 + i, col) =
                static_cast<float>(out_.window.g_min_uS + static_cast<double>(level) * e.step_uS);
          }
        }
      }
    }
    const int64_t used = n_in * n_out * s.cols_per_output;
    tile.devices_used += used;
    e.devices_used += used;
    if (e.tiles.empty() || e.tiles.back() != t) e.tiles.push_back(t);
  }

  // A matrix on tiles of its own: row tiles x column tiles, whole outputs per tile.
  void place_tiled(int64_t m, const Scheme& s) {
    const QuantizedMatrix& q = out_.matrices[static_cast<size_t>(m)];
    const int64_t outputs_per_tile = usable_cols_ / s.cols_per_output;
    if (outputs_per_tile == 0) {
      throw UsageError("matrix " + q.name + " needs " + std::to_string(s.cols_per_output) +
                       " columns per output, the tile has " + std::to_string(usable_cols_) +
                       " usable columns");
    }
    for (int64_t in0 = 0; in0 < q.inputs(); in0 += spec_.tile_rows) {
      const int64_t n_in = std::min(spec_.tile_rows, q.inputs() - in0);
      for (int64_t o0 = 0; o0 < q.outputs(); o0 += outputs_per_tile) {
        const int64_t n_out = std::min(outputs_per_tile, q.outputs() - o0);
        place(m, s, new_tile(), 0, 0, in0, n_in, o0, n_out);
      }
    }
  }

  // Small blocks packed block-diagonally: no two blocks share a row or a column.
  void place_packed(const std::vector<int64_t>& blocks) {
    int64_t tile = -1, row = 0, col = 0;
    for (int64_t m : blocks) {
      const QuantizedMatrix& q = out_.matrices[static_cast<size_t>(m)];
      const Scheme s = make_scheme(q, spec_);
      const int64_t rows = q.inputs(), cols = q.outputs() * s.cols_per_output;
      if (rows > spec_.tile_rows || cols > usable_cols_) {
        place_tiled(m, s);
        tile = -1;
        continue;
      }
      if (tile < 0 || row + rows > spec_.tile_rows || col + cols > usable_cols_) {
        tile = new_tile();
        row = col = 0;
      }
      place(m, s, tile, row, col, 0, rows, 0, q.outputs());
      row += rows;
      col += cols;
    }
  }

 private:
  MappedModel& out_;
  const MappingSpec& spec_;
  bool has_reference_ = false;
  int64_t usable_cols_ = 0;
};

}  // namespace

MappedModel map_model(const S4DModel& model, const MappingSpec& spec,
                      const ConductanceWindow& window) {
  spec.validate();
  return map_matrices(logical_matrices(model, spec), spec, window);
}

MappedModel map_matrices(std::vector<QuantizedMatrix> matrices, const MappingSpec& spec,
                         const ConductanceWindow& window) {
  spec.validate();
  window.validate();
  MappedModel out;
  out.spec = spec;
  out.window = window;
  out.matrices = std::move(matrices);
  out.encodings.resize(out.matrices.size());
  for (size_t m = 0; m < out.matrices.size(); ++m) {
    const Scheme s = make_scheme(out.matrices[m], spec);
    MatrixEncoding& e = out.encodings[m];
    e.slices = s.slices;
    e.slice_bits = s.slice_bits;
    e.levels = s.levels;
    e.offset = s.differential ? 0 : s.qmax;
    e.step_uS = step_for(s, window, out.matrices[m].name);
  }
  Placer placer(out);
  std::vector<int64_t> blocks;
  int64_t blocks_layer = -1;
  auto flush_blocks = [&] {
    if (!blocks.empty()) placer.place_packed(blocks);
    blocks.clear();
  };
  for (size_t m = 0; m < out.matrices.size(); ++m) {
    const QuantizedMatrix& q = out.matrices[m];
    if (q.kind == MatrixKind::kRecurrence) {
      if (q.layer != blocks_layer) flush_blocks();  // one layer's blocks share tiles
      blocks_layer = q.layer;
      blocks.push_back(static_cast<int64_t>(m));
      continue;
    }
    flush_blocks();
    placer.place_tiled(static_cast<int64_t>(m), make_scheme(q, spec));
  }
  flush_blocks();
  return out;
}

int64_t MappedModel::devices_allocated() const {
  return static_cast<int64_t>(tiles.size()) * spec.tile_rows * spec.tile_cols;
}

int64_t MappedModel::devices_used() const {
  int64_t n = 0;
  for (const auto& t : tiles) n += t.devices_used;
  return n;
}

RowMatrixXf MappedModel::ideal_mvm(int64_t m, const RowMatrixXf& x) const {
  return mvm_through(m, x, [this](int64_t t) -> const RowMatrixXf& { return tiles[static_cast<size_t>(t)].target_uS; });
}

RowMatrixXf MappedModel::mvm_through(int64_t m, const RowMatrixXf& x,
                                     const std::function<const RowMatrixXf&(int64_t)>& g_uS) const {
  const QuantizedMatrix& q = matrices.at(static_cast<size_t>(m));
  const MatrixEncoding& e = encodings.at(static_cast<size_t>(m));
  if (x.cols() != q.inputs()) {
    throw UsageError("matrix " + q.name + " takes " + std::to_string(q.inputs()) +
                     " inputs, got " + std::to_string(x.cols()));
  }
  const Eigen::MatrixXd xd = x.cast<double>();
  Eigen::MatrixXd acc = Eigen::MatrixXd::Zero(x.rows(), q.outputs());
  for (int64_t t : e.tiles) {
    const Tile& tile = tiles[static_cast<size_t>(t)];
    // Drive this matrix's rows; every other row of the tile stays at 0 V.
    Eigen::MatrixXd v = Eigen::MatrixXd::Zero(x.rows(), spec.tile_rows);
    for (size_t r = 0; r < tile.rows.size(); ++r) {
      if (tile.rows[r].matrix == m) v.col(static_cast<Eigen::Index>(r)) = xd.col(tile.rows[r].input);
    }
    const Eigen::MatrixXd current = v * g_uS(t).cast<double>();
    const Eigen::VectorXd input_sum = v.rowwise().sum();
    Eigen::VectorXd reference = window.g_min_uS * input_sum;
    for (size_t c = 0; c < tile.cols.size(); ++c) {
      if (tile.cols[c].matrix == kReferenceColumn) reference = current.col(static_cast<Eigen::Index>(c));
    }
    for (size_t c = 0; c < tile.cols.size(); ++c) {
      const ColumnRole& role = tile.cols[c];
      if (role.matrix != m) continue;
      acc.col(role.output) += static_cast<double>(role.sign * role.significance) *
                              (current.col(static_cast<Eigen::Index>(c)) - reference) / e.step_uS;
    }
  }
  if (e.offset != 0) acc.colwise() -= static_cast<double>(e.offset) * xd.rowwise().sum();
  return (acc * q.scale.asDiagonal()).cast<float>();
}

std::vector<LayerMapSummary> summarize(const MappedModel& mapped) {
  std::map<int64_t, LayerMapSummary> by_layer;  // key: -1 encoder, i layers, big: decoder
  std::map<int64_t, std::set<int64_t>> tiles;
  for (size_t m = 0; m < mapped.matrices.size(); ++m) {
    const QuantizedMatrix& q = mapped.matrices[m];
    const int64_t key = q.kind == MatrixKind::kEncoder   ? -1
                        : q.kind == MatrixKind::kDecoder ? (int64_t{1} << 40)
                                                         : q.layer;
    LayerMapSummary& s = by_layer[key];
    s.layer = key == -1 ? "encoder"
              : key == (int64_t{1} << 40) ? "decoder"
                                          : "s4_layers." + std::to_string(q.layer);
    s.matrices += 1;
    s.devices_used += mapped.encodings[m].devices_used;
    for (int64_t t : mapped.encodings[m].tiles) tiles[key].insert(t);
  }
  std::vector<LayerMapSummary> out;
  for (auto& [key, s] : by_layer) {
    s.tiles = static_cast<int64_t>(tiles[key].size());
    s.devices_allocated = s.tiles * mapped.spec.tile_rows * mapped.spec.tile_cols;
    out.push_back(s);
  }
  return out;
}

}  // namespace qs4d
