// Issue #14: what a chip does about faulty devices. Every other error source is off, so the
// analog product equals the ideal one exactly except where a stuck device disturbs it: partner
// repair keeps its effect after ageing, spare lines remove the failed cells they take over,
// fault-aware mapping moves weight rows away from stuck devices, spares are counted in the area,
// and the options refuse what they cannot do.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <tuple>

#include <boost/random/mersenne_twister.hpp>
#include <boost/random/uniform_real_distribution.hpp>

#include "sim/detail/assignment.h"
#include "run/run.h"
#include "tests/test_util.h"

namespace qs4d {
namespace {

std::vector<std::string> quiet(std::vector<std::string> extra) {
  std::vector<std::string> o = {"device.programming.scale=0", "device.read_noise.scale=0", "device.window_dtod=0",
                                "device.drift.std_uS=0", "device.drift.std_per_ln_s=0", "device.drift.mean_per_ln_s=0",
                                "periphery.dac_bits=0", "periphery.adc_bits=0", "periphery.state_dac_bits=0",
                                "periphery.state_adc_bits=0"};
  o.insert(o.end(), extra.begin(), extra.end());
  return o;
}

// Relative RMS error of every matrix's analog product against the ideal one at time t.
double product_error(const MappedModel& map, AnalogChip& analog, double t) {
  analog.age(t);
  double err = 0, ref = 0;
  boost::random::mt19937_64 gen(3);
  boost::random::uniform_real_distribution<float> u(-1.0f, 1.0f);
  for (size_t m = 0; m < map.matrices.size(); ++m) {
    RowMatrixXf x(4096, map.matrices[m].inputs());  // enough vectors that the error is its expectation
    for (Eigen::Index i = 0; i < x.size(); ++i) x.data()[i] = u(gen);
    const RowMatrixXf ideal = map.ideal_mvm(static_cast<int64_t>(m), x);
    err += (analog.mvm(static_cast<int64_t>(m), x, 7) - ideal).squaredNorm();
    ref += ideal.squaredNorm();
  }
  return std::sqrt(err / ref);
}

struct Outcome {
  double error_0, error_1s;
  int64_t unverified, repaired, spare_lines, rows_moved;
};

Outcome run(const std::vector<std::string>& overrides, uint64_t seed = 4);

// `base` with `extra` appended: one configuration varied by a few keys.
Outcome run_with(std::vector<std::string> base, const std::vector<std::string>& extra) {
  base.insert(base.end(), extra.begin(), extra.end());
  return run(base);
}

Outcome run(const std::vector<std::string>& overrides, uint64_t seed) {
  const S4DModel model = S4DModel::load(test::manifest()["models"][0]["checkpoint"]);
  const ChipSpec spec = load_chip("imssa_64", quiet(overrides));
  const MappedModel map = map_model(model, spec.mapping, spec.device.window());
  AnalogChip analog(map, spec, seed, 0);
  Outcome o;
  o.error_0 = product_error(map, analog, 0.0);
  o.error_1s = product_error(map, analog, 1.0);
  o.unverified = analog.unverified_cells();
  o.repaired = analog.repaired_cells();
  o.spare_lines = analog.spare_lines_used();
  o.rows_moved = analog.rows_moved();
  return o;
}

// rram_multilevel relaxes from its programmed state before the window clamps (log relaxation);
// a repaired partner must relax from its new state, not from the one it had before the repair.
TEST(Faults, PartnerRepairSurvivesAgeing) {
  const std::vector<std::string> pairs = {"mapping.encoding=differential", "device.stuck.at_max=0.01",
                                          "device.stuck.at_min=0"};
  const Outcome none = run_with(pairs, {"repair=none"}), partner = run_with(pairs, {"repair=partner"});
  EXPECT_GT(none.error_0, 0.01);
  EXPECT_LT(partner.error_0, none.error_0 / 3);
  // With every relaxation term 0 the state at 1 s is the programmed one.
  EXPECT_NEAR(partner.error_1s, partner.error_0, 1e-6) << none.error_1s;
}

// Enough spare lines for every failed line: the product is exact again (no failed cell is left
// in use); too few: fewer failed cells, a smaller error; none asked for: nothing changes.
TEST(Faults, SparesTakeOverTheLinesWithFailedCells) {
  const std::vector<std::string> faults = {"mapping.encoding=differential", "device.stuck.at_max=0.002",
                                           "device.stuck.at_min=0"};
  const Outcome none = run_with(faults, {"repair=none"});
  const Outcome few = run_with(faults, {"repair=spares", "spares.cols=1"});
  const Outcome many = run_with(faults, {"repair=spares", "spares.rows=8", "spares.cols=8"});
  const Outcome unused = run_with(faults, {"repair=none", "spares.rows=8", "spares.cols=8"});
  ASSERT_GT(none.unverified, 0);
  EXPECT_EQ(none.spare_lines, 0);
  EXPECT_EQ(unused.error_0, none.error_0);  // spares unused without repair=spares
  EXPECT_LT(few.unverified, none.unverified);
  EXPECT_GT(few.spare_lines, 0);
  EXPECT_LT(few.error_0, none.error_0);
  EXPECT_EQ(many.unverified, 0);
  EXPECT_EQ(many.repaired, none.unverified);
  EXPECT_LT(many.error_0, 1e-5) << "failed cells left: " << many.unverified;
  EXPECT_LT(many.error_1s, 1e-5);
}

// Offset encoding: a device stuck at g_min reads as the most negative code. Placing on its row
// a weight row whose value there is (nearly) the most negative code, or an unused row, removes
// most of the error; without faults the mapping moves nothing and the chip is the same.
TEST(Faults, FaultAwareMappingMovesWeightsAwayFromStuckDevices) {
  const Outcome plain = run({"device.stuck.at_min=0.002", "device.stuck.at_max=0"});
  const Outcome aware = run({"device.stuck.at_min=0.002", "device.stuck.at_max=0", "fault_aware_mapping=true"});
  // Full tiles (9 rows: the recurrence blocks fill them): rows can only trade places.
  const Outcome full = run({"device.stuck.at_min=0.002", "device.stuck.at_max=0", "mapping.tile_rows=9"});
  const Outcome full_aware = run({"device.stuck.at_min=0.002", "device.stuck.at_max=0", "mapping.tile_rows=9",
                                  "fault_aware_mapping=true"});
  EXPECT_GT(full.error_0, 0.01);
  EXPECT_GT(full_aware.rows_moved, 0);
  EXPECT_LT(full_aware.error_0, full.error_0) << full.error_0 << " -> " << full_aware.error_0;
  EXPECT_GT(plain.error_0, 0.01);
  EXPECT_GT(aware.rows_moved, 0);
  EXPECT_LT(aware.error_0, plain.error_0 / 3) << plain.error_0 << " -> " << aware.error_0;
  const Outcome clean = run({"device.stuck.at_min=0", "device.stuck.at_max=0"});
  const Outcome clean_aware = run({"device.stuck.at_min=0", "device.stuck.at_max=0", "fault_aware_mapping=true"});
  EXPECT_EQ(clean_aware.rows_moved, 0);
  EXPECT_EQ(clean_aware.error_0, clean.error_0);
}

// Fault-aware mapping with partner repair: the repair re-programs the devices that hold each
// row now, so it still undoes stuck-on devices.
TEST(Faults, PartnerRepairFollowsMovedRows) {
  // Tiles of 9 rows: the recurrence blocks (9 inputs) fill them, so rows only trade places.
  const std::vector<std::string> o = {"mapping.encoding=differential", "device.stuck.at_max=0.01",
                                      "device.stuck.at_min=0", "fault_aware_mapping=true", "mapping.tile_rows=9"};
  const Outcome none = run_with(o, {"repair=none"}), partner = run_with(o, {"repair=partner"});
  EXPECT_GT(none.rows_moved, 0);
  EXPECT_GT(partner.repaired, 0);
  EXPECT_LT(partner.error_0, none.error_0 / 2) << none.error_0 << " -> " << partner.error_0;
}

TEST(Faults, SparesAreInTheTileArea) {
  const S4DModel model = S4DModel::load(test::manifest()["models"][0]["checkpoint"]);
  const ChipSpec spec = load_chip("imssa_64", {"mapping.encoding=differential", "spares.rows=2", "spares.cols=3"});
  const MappedModel map = map_model(model, spec.mapping, spec.device.window());
  AnalogChip analog(map, spec, 1, 0);
  ActionCounts counts;
  analog.count_actions(&counts);
  ASSERT_FALSE(counts.converters.empty());
  for (const TileConverters& c : counts.converters) {
    if (c.rows == 0) continue;  // a tile no matrix uses
    EXPECT_EQ(c.rows, 64 + 2);
    EXPECT_EQ(c.cols, 64 + 3);
  }
}

TEST(Faults, OptionsRefuseWhatTheyCannotDo) {
  EXPECT_THROW(load_chip("imssa_64", {"repair=spares"}), SpecError);  // no spare lines
  EXPECT_THROW(load_chip("imssa_64", {"repair=spares", "spares.rows=2", "device.write_verify.enabled=false"}),
               SpecError);
  EXPECT_THROW(load_chip("imssa_64", {"spares.diagonals=2"}), SpecError);
  EXPECT_THROW(load_chip("imssa_64", {"spares.rows=-1"}), SpecError);
  EXPECT_THROW(load_chip("imssa_64", {"repair=spares", "spares.rows=2", "periphery.row_wire_ohm=1"}), SpecError);
  EXPECT_THROW(load_chip("imssa_64", {"fault_aware_mapping=true", "periphery.col_wire_ohm=1"}), SpecError);
  EXPECT_NO_THROW(load_chip("imssa_64", {"repair=spares", "spares.rows=2", "fault_aware_mapping=true"}));
}

}  // namespace
}  // namespace qs4d

namespace qs4d {
namespace {

// The assignment against every assignment there is, on small random problems (with ties).
TEST(Faults, CheapestAssignmentIsTheBruteForceOptimum) {
  boost::random::mt19937_64 gen(11);
  boost::random::uniform_real_distribution<double> u(0.0, 1.0);
  for (int trial = 0; trial < 200; ++trial) {
    const int64_t n = 1 + trial % 4, m = n + trial % 3;
    Eigen::MatrixXd cost(n, m);
    for (Eigen::Index i = 0; i < cost.size(); ++i) cost.data()[i] = trial % 2 ? std::floor(4 * u(gen)) : u(gen);
    const std::vector<int64_t> got = detail::cheapest_assignment(cost);
    double total = 0;
    std::vector<bool> used(static_cast<size_t>(m), false);
    for (int64_t i = 0; i < n; ++i) {
      ASSERT_GE(got[static_cast<size_t>(i)], 0);
      ASSERT_FALSE(used[static_cast<size_t>(got[static_cast<size_t>(i)])]);
      used[static_cast<size_t>(got[static_cast<size_t>(i)])] = true;
      total += cost(i, got[static_cast<size_t>(i)]);
    }
    // Brute force: every injective map of rows to columns.
    std::vector<int64_t> cols(static_cast<size_t>(m));
    for (int64_t j = 0; j < m; ++j) cols[static_cast<size_t>(j)] = j;
    double best = 1e300;
    do {
      double s = 0;
      for (int64_t i = 0; i < n; ++i) s += cost(i, cols[static_cast<size_t>(i)]);
      best = std::min(best, s);
    } while (std::next_permutation(cols.begin(), cols.end()));
    EXPECT_NEAR(total, best, 1e-12) << "n " << n << " m " << m;
  }
}

}  // namespace
}  // namespace qs4d
