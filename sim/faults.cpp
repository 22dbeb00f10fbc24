// What a chip does about faulty devices (issue #14): fault-aware placement of a tile's rows,
// partner repair on differential pairs, and spare rows and columns.
//
// Every tile keeps its programmed state in the mapping's row order; when fault-aware mapping
// moved rows, `physical_row` says which tile row holds each mapped row, and programming goes
// through program_tile so that each device keeps its own stream (stuck state, window, noise).
#include <algorithm>
#include <cmath>
#include <limits>
#include <map>
#include <tuple>

#include "sim/detail/assignment.h"
#include "sim/sim.h"

namespace qs4d {
namespace {

// Copies row (or column) `from` of every per-device field of `src` into row (or column) `to`
// of `dst`; fields a device model leaves empty stay empty.
template <bool kRow>
void copy_line(const ProgrammedArray& src, int64_t from, ProgrammedArray& dst, int64_t to) {
  auto copy = [&](const auto& s, auto& d) {
    if (s.size() == 0 || d.size() == 0) return;
    if constexpr (kRow) {
      d.row(to) = s.row(from);
    } else {
      d.col(to) = s.col(from);
    }
  };
  copy(src.target_uS, dst.target_uS);
  copy(src.g_uS, dst.g_uS);
  copy(src.g_raw_uS, dst.g_raw_uS);
  copy(src.nu, dst.nu);
  copy(src.stuck, dst.stuck);
  copy(src.pulses, dst.pulses);
  copy(src.unverified, dst.unverified);
  copy(src.g_min_uS, dst.g_min_uS);
  copy(src.g_max_uS, dst.g_max_uS);
}

}  // namespace

// Programs `targets` (mapped row order) on tile t's devices: mapped row r on tile row
// physical_row[r], from the tile's stream, and returns the state in mapped row order.
ProgrammedArray AnalogChip::program_tile(size_t t, const RowMatrixXf& targets, uint64_t seed) const {
  const std::vector<int64_t>& where = tiles_[t].physical_row;
  if (where.empty()) return device_.program(targets, seed);
  RowMatrixXf physical(targets.rows(), targets.cols());
  for (int64_t r = 0; r < targets.rows(); ++r) physical.row(where[static_cast<size_t>(r)]) = targets.row(r);
  const ProgrammedArray on_tile = device_.program(physical, seed);
  ProgrammedArray mapped = on_tile;
  for (int64_t r = 0; r < targets.rows(); ++r) copy_line<true>(on_tile, where[static_cast<size_t>(r)], mapped, r);
  return mapped;
}

// A failed cell takes part in a product when its row is driven by a matrix and its column is
// read for the same matrix (or is the tile's reference column); a failed cell elsewhere carries
// no current that is read.
bool AnalogChip::failed_in_use(size_t t, int64_t r, int64_t c) const {
  const Tile& tile = map_->tiles[t];
  if (!tiles_[t].programmed.unverified(r, c)) return false;
  const int32_t m = tile.rows[static_cast<size_t>(r)].matrix;
  const int32_t col = tile.cols[static_cast<size_t>(c)].matrix;
  return m >= 0 && (col == m || col == kReferenceColumn);
}

int64_t AnalogChip::unverified_in_use(size_t t) const {
  const ProgrammedArray& p = tiles_[t].programmed;
  int64_t n = 0;
  for (int64_t r = 0; r < p.unverified.rows(); ++r) {
    for (int64_t c = 0; c < p.unverified.cols(); ++c) n += failed_in_use(t, r, c);
  }
  return n;
}

namespace detail {

// The cheapest assignment of each of n rows of `cost` (n x m, n <= m) to its own column: the
// Hungarian method with potentials (Kuhn 1955; Munkres 1957), O(n^2 m). Returns the column of
// each row.
std::vector<int64_t> cheapest_assignment(const Eigen::MatrixXd& cost) {
  const int64_t n = cost.rows(), m = cost.cols();
  const double inf = std::numeric_limits<double>::infinity();
  std::vector<double> u(static_cast<size_t>(n + 1), 0), v(static_cast<size_t>(m + 1), 0);
  std::vector<int64_t> row_of(static_cast<size_t>(m + 1), 0), way(static_cast<size_t>(m + 1), 0);
  for (int64_t i = 1; i <= n; ++i) {
    row_of[0] = i;
    int64_t j0 = 0;
    std::vector<double> least(static_cast<size_t>(m + 1), inf);
    std::vector<bool> used(static_cast<size_t>(m + 1), false);
    do {
      used[static_cast<size_t>(j0)] = true;
      const int64_t i0 = row_of[static_cast<size_t>(j0)];
      double delta = inf;
      int64_t j1 = 0;
      for (int64_t j = 1; j <= m; ++j) {
        if (used[static_cast<size_t>(j)]) continue;
        const double reduced = cost(i0 - 1, j - 1) - u[static_cast<size_t>(i0)] - v[static_cast<size_t>(j)];
        if (reduced < least[static_cast<size_t>(j)]) {
          least[static_cast<size_t>(j)] = reduced;
          way[static_cast<size_t>(j)] = j0;
        }
        if (least[static_cast<size_t>(j)] < delta) {
          delta = least[static_cast<size_t>(j)];
          j1 = j;
        }
      }
      for (int64_t j = 0; j <= m; ++j) {
        if (used[static_cast<size_t>(j)]) {
          u[static_cast<size_t>(row_of[static_cast<size_t>(j)])] += delta;
          v[static_cast<size_t>(j)] -= delta;
        } else {
          least[static_cast<size_t>(j)] -= delta;
        }
      }
      j0 = j1;
    } while (row_of[static_cast<size_t>(j0)] != 0);
    do {
      const int64_t j1 = way[static_cast<size_t>(j0)];
      row_of[static_cast<size_t>(j0)] = row_of[static_cast<size_t>(j1)];
      j0 = j1;
    } while (j0 != 0);
  }
  std::vector<int64_t> column(static_cast<size_t>(n), -1);
  for (int64_t j = 1; j <= m; ++j) {
    if (row_of[static_cast<size_t>(j)] != 0) column[static_cast<size_t>(row_of[static_cast<size_t>(j)] - 1)] = j - 1;
  }
  return column;
}

}  // namespace detail

// Fault-aware mapping. Cost of putting mapped row l on tile row p: the sum, over p's stuck
// devices in columns that row l's matrix reads, of the weight error the stuck conductance
// makes there, |stuck conductance - l's target| / conductance step x slice significance x the
// output's scale (a reference cell's error at the sum of those over the matrix's columns); 0 for
// an unused row. The tile rows with stuck devices get the mapped rows of least total cost (an
// exact assignment; a move costs 1e-9 more than staying, so equal costs leave rows in place),
// and the other mapped rows fill the remaining tile rows, each on its own row where that is
// free. The total is never above that of the mapping as it was. Returns mapped row -> tile row,
// or empty when no row moves.
std::vector<int64_t> AnalogChip::rows_around_faults(size_t t, const ProgrammedArray& known) {
  const Tile& tile = map_->tiles[t];
  const int64_t R = known.g_uS.rows(), C = known.g_uS.cols();
  std::vector<std::vector<int64_t>> stuck(static_cast<size_t>(R));
  std::vector<int64_t> faulty;
  for (int64_t r = 0; r < R; ++r) {
    for (int64_t c = 0; c < C; ++c) {
      if (known.stuck(r, c) != static_cast<uint8_t>(StuckState::kNone)) stuck[static_cast<size_t>(r)].push_back(c);
    }
    if (!stuck[static_cast<size_t>(r)].empty()) faulty.push_back(r);
  }
  if (faulty.empty()) return {};
  // A column's weight per unit of code: its output's scale times its slice significance; the
  // reference column is subtracted from every column of the matrix, so it weighs their sum.
  std::map<int32_t, double> reference_weight;
  auto column_weight = [&](const ColumnRole& role) {
    const QuantizedMatrix& q = map_->matrices[static_cast<size_t>(role.matrix)];
    return q.scale[role.output] * std::abs(static_cast<double>(role.significance));
  };
  for (const ColumnRole& role : tile.cols) {
    if (role.matrix >= 0) reference_weight[role.matrix] += column_weight(role);
  }
  auto cost = [&](int64_t l, int64_t p) {
    const int32_t m = tile.rows[static_cast<size_t>(l)].matrix;
    if (m < 0) return 0.0;
    const double step = map_->encodings[static_cast<size_t>(m)].step_uS;
    double sum = 0;
    for (int64_t c : stuck[static_cast<size_t>(p)]) {
      const ColumnRole& role = tile.cols[static_cast<size_t>(c)];
      if (role.matrix != m && role.matrix != kReferenceColumn) continue;
      const double weight = role.matrix == m ? column_weight(role) : reference_weight[m];
      sum += weight * std::abs(known.g_uS(p, c) - tile.target_uS(l, c)) / step;
    }
    return sum;
  };
  Eigen::MatrixXd costs(static_cast<Eigen::Index>(faulty.size()), R);
  for (size_t f = 0; f < faulty.size(); ++f) {
    for (int64_t l = 0; l < R; ++l) costs(static_cast<Eigen::Index>(f), l) = cost(l, faulty[f]) + (l == faulty[f] ? 0 : 1e-9);
  }
  const std::vector<int64_t> chosen = detail::cheapest_assignment(costs);
  std::vector<int64_t> mapped_on(static_cast<size_t>(R), -1);  // tile row -> mapped row
  std::vector<bool> placed(static_cast<size_t>(R), false);
  for (size_t f = 0; f < faulty.size(); ++f) {
    mapped_on[static_cast<size_t>(faulty[f])] = chosen[f];
    placed[static_cast<size_t>(chosen[f])] = true;
  }
  for (int64_t p = 0; p < R; ++p) {  // a fault-free row keeps its own mapped row if that is free
    if (mapped_on[static_cast<size_t>(p)] < 0 && !placed[static_cast<size_t>(p)]) {
      mapped_on[static_cast<size_t>(p)] = p;
      placed[static_cast<size_t>(p)] = true;
    }
  }
  int64_t next = 0;
  for (int64_t p = 0; p < R; ++p) {
    if (mapped_on[static_cast<size_t>(p)] >= 0) continue;
    while (placed[static_cast<size_t>(next)]) ++next;
    mapped_on[static_cast<size_t>(p)] = next;
    placed[static_cast<size_t>(next)] = true;
  }
  std::vector<int64_t> where(static_cast<size_t>(R));
  bool moved = false;
  for (int64_t p = 0; p < R; ++p) {
    where[static_cast<size_t>(mapped_on[static_cast<size_t>(p)])] = p;
    moved = moved || mapped_on[static_cast<size_t>(p)] != p;
  }
  if (!moved) return {};
  for (int64_t l = 0; l < R; ++l) {
    rows_moved_ += where[static_cast<size_t>(l)] != l && tile.rows[static_cast<size_t>(l)].matrix >= 0;
  }
  return where;
}

// Partner repair on differential pairs: for every cell write-verify reports as failed whose
// partner (the other device of its pair: same matrix, output and slice, opposite sign) did
// verify, the partner is re-programmed to g_failed - sign (T+ - T-), so that the pair's
// difference is the target again; clamped to the window where the failed cell sits too far
// off. Only partners are re-programmed; their pulses count as programming pulses.
void AnalogChip::repair_partners(size_t t, uint64_t seed) {
  const Tile& tile = map_->tiles[t];
  ProgrammedArray& p = tiles_[t].programmed;
  if (p.unverified.size() == 0 || p.unverified.cast<int64_t>().sum() == 0) return;
  std::map<std::tuple<int32_t, int32_t, int32_t, int8_t>, int64_t> column_of;
  for (size_t c = 0; c < tile.cols.size(); ++c) {
    const ColumnRole& r = tile.cols[c];
    if (r.matrix >= 0) column_of[{r.matrix, r.output, r.significance, r.sign}] = static_cast<int64_t>(c);
  }
  RowMatrixXf targets = tile.target_uS;
  std::vector<std::pair<int64_t, int64_t>> partners;
  std::vector<bool> reachable;  // the partner's window holds the compensating conductance
  const float lo = static_cast<float>(map_->window.g_min_uS), hi = static_cast<float>(map_->window.g_max_uS);
  for (int64_t r = 0; r < p.g_uS.rows(); ++r) {
    for (int64_t c = 0; c < p.g_uS.cols(); ++c) {
      const ColumnRole& role = tile.cols[static_cast<size_t>(c)];
      if (!p.unverified(r, c) || role.matrix < 0 || tile.rows[static_cast<size_t>(r)].matrix != role.matrix) continue;
      const auto it = column_of.find({role.matrix, role.output, role.significance, static_cast<int8_t>(-role.sign)});
      if (it == column_of.end() || p.unverified(r, it->second)) continue;  // no partner, or it failed too
      const float sign = role.sign;
      const float difference = sign * (tile.target_uS(r, c) - tile.target_uS(r, it->second));
      const float wanted = p.g_uS(r, c) - sign * difference;
      targets(r, it->second) = std::clamp(wanted, lo, hi);
      partners.emplace_back(r, it->second);
      reachable.push_back(wanted >= lo && wanted <= hi);
    }
  }
  if (partners.empty()) return;
  // The same stream as the first programming, so that every device keeps its stuck state and
  // window; only the partners' new states are taken from it.
  const ProgrammedArray again = program_tile(t, targets, seed);
  for (size_t k = 0; k < partners.size(); ++k) {
    const auto [r, c] = partners[k];
    const bool fixed = reachable[k] && !again.unverified(r, c);
    p.g_uS(r, c) = again.g_uS(r, c);
    if (p.g_raw_uS.size()) p.g_raw_uS(r, c) = again.g_raw_uS(r, c);
    if (p.nu.size()) p.nu(r, c) = again.nu(r, c);
    if (p.pulses.size()) repair_pulses_ += again.pulses(r, c);
    p.unverified(r, c) = again.unverified(r, c);
    p.target_uS(r, c) = again.target_uS(r, c);
    repaired_ += fixed;
  }
}

// Spare rows and columns: while the tile has failed cells in use and spares left, the line (row
// or column; a column on a tie) with the most failed cells is re-programmed on the next spare
// line of its kind, a fresh set of devices with their own stream (which may hold stuck devices
// too; a line whose spare fails again can move to another spare). The spare's devices then
// stand in for the line's: its read-out goes where the line's went. Their pulses count as
// programming pulses.
void AnalogChip::use_spares(size_t t, uint64_t seed) {
  const Tile& tile = map_->tiles[t];
  ProgrammedArray& p = tiles_[t].programmed;
  const int64_t R = p.g_uS.rows(), C = p.g_uS.cols();
  const int64_t failed_before = unverified_in_use(t);
  int64_t rows_used = 0, cols_used = 0;
  while (rows_used < chip_->spare_rows || cols_used < chip_->spare_cols) {
    std::vector<int64_t> per_row(static_cast<size_t>(R), 0), per_col(static_cast<size_t>(C), 0);
    for (int64_t r = 0; r < R; ++r) {
      for (int64_t c = 0; c < C; ++c) {
        if (failed_in_use(t, r, c)) {
          ++per_row[static_cast<size_t>(r)];
          ++per_col[static_cast<size_t>(c)];
        }
      }
    }
    const auto worst_row = std::max_element(per_row.begin(), per_row.end());
    const auto worst_col = std::max_element(per_col.begin(), per_col.end());
    if (*worst_row == 0 && *worst_col == 0) break;
    const bool column = cols_used < chip_->spare_cols && (rows_used == chip_->spare_rows || *worst_col >= *worst_row);
    if ((column ? *worst_col : *worst_row) == 0) break;  // the failures left are on lines of the other kind
    const uint64_t line_seed =
        stream_seed(seed, stream_key::kSpareLines, column ? 1 : 0, static_cast<uint64_t>(column ? cols_used : rows_used));
    if (column) {
      const int64_t c = worst_col - per_col.begin();
      const ProgrammedArray spare = device_.program(RowMatrixXf(tile.target_uS.col(c)), line_seed);
      copy_line<false>(spare, 0, p, c);
      if (spare.pulses.size()) repair_pulses_ += static_cast<double>(spare.pulses.cast<int64_t>().sum());
      ++cols_used;
    } else {
      const int64_t r = worst_row - per_row.begin();
      const ProgrammedArray spare = device_.program(RowMatrixXf(tile.target_uS.row(r)), line_seed);
      copy_line<true>(spare, 0, p, r);
      if (spare.pulses.size()) repair_pulses_ += static_cast<double>(spare.pulses.cast<int64_t>().sum());
      ++rows_used;
    }
  }
  spare_lines_used_ += rows_used + cols_used;
  repaired_ += std::max<int64_t>(0, failed_before - unverified_in_use(t));
}

}  // namespace qs4d
