// The run layer's pure pieces: explore's Pareto front and objectives.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>

#include "run/detail/explore.h"
#include "run/run.h"

namespace qs4d {
namespace {

// An independent two-objective front: sorted by the first objective (then the second), a row is on
// the front when its second objective is below every earlier row's (the staircase sweep), with
// exact duplicates of a front row on it too.
std::vector<bool> staircase(const std::vector<std::vector<double>>& rows) {
  std::vector<size_t> order(rows.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::sort(order.begin(), order.end(), [&](size_t a, size_t b) { return rows[a] < rows[b]; });
  std::vector<bool> front(rows.size(), false);
  double best = std::numeric_limits<double>::infinity();
  std::vector<double> last;
  for (size_t k : order) {
    if (rows[k][1] < best) {
      front[k] = true;
      best = rows[k][1];
      last = rows[k];
    } else if (rows[k] == last) {
      front[k] = true;  // the same point twice: neither dominates the other
    }
  }
  return front;
}

TEST(Explore, ParetoFrontMatchesAStaircaseOnRandomRows) {
  std::mt19937_64 gen(7);
  std::uniform_int_distribution<int> value(0, 12);  // few values: ties and duplicates happen
  for (int trial = 0; trial < 200; ++trial) {
    std::vector<std::vector<double>> rows(1 + trial % 30);
    for (auto& r : rows) r = {static_cast<double>(value(gen)), static_cast<double>(value(gen))};
    EXPECT_EQ(pareto_front(rows), staircase(rows)) << "trial " << trial;
  }
}

TEST(Explore, ParetoFrontHandSolvedInThreeObjectives) {
  // (1,1,1) dominates (2,2,2); (0,5,5) and (5,0,5) trade off against it; (1,1,1) twice both stay.
  const std::vector<std::vector<double>> rows = {{1, 1, 1}, {2, 2, 2}, {0, 5, 5}, {5, 0, 5}, {1, 1, 1}, {1, 1, 2}};
  EXPECT_EQ(pareto_front(rows), (std::vector<bool>{true, false, true, true, true, false}));
}

TEST(Explore, ObjectivesAreCheckedByName) {
  EXPECT_EQ(parse_objectives("accuracy,energy,area"), (std::vector<std::string>{"accuracy", "energy", "area"}));
  EXPECT_THROW(parse_objectives("accuracy"), UsageError);
  EXPECT_THROW(parse_objectives("accuracy,accuracy"), UsageError);
  EXPECT_THROW(parse_objectives("accuracy,power"), UsageError);
}

// A synthetic monotone chip: accuracy 0.9 - 0.1 v (noise-free, so the 95% bound is the mean),
// digital 0.9: within a drop of 0.05 up to v = 0.5 exactly.
ToleranceProbe linear_chip(double v) {
  ToleranceProbe p;
  p.digital = 0.9;
  p.worst_mean = p.worst_low = 0.9 - 0.1 * v;
  return p;
}

TEST(Tolerance, FindsTheKnownThresholdOfAMonotoneCase) {
  ToleranceOptions o;
  o.key = "device.programming.scale";
  o.lo = 0;
  o.hi = 4;
  o.max_drop = 0.05;
  o.max_steps = 12;
  const ToleranceResult r = find_tolerance(o, linear_chip);
  EXPECT_EQ(r.direction, "largest");
  ASSERT_TRUE(r.found);
  EXPECT_LE(r.bracket_lo, 0.5);
  EXPECT_GE(r.bracket_hi, 0.5);
  EXPECT_LT(r.bracket_hi - r.bracket_lo, 4.0 / 1000);  // 12 halvings after the middle
  EXPECT_EQ(r.value, r.bracket_lo);
  EXPECT_EQ(r.probes[0].value, 0);  // the bracket's ends first
  EXPECT_EQ(r.probes[1].value, 4);
}

TEST(Tolerance, BitsSearchTheSmallestValueOnWholeNumbers) {
  // Accuracy rises with bits: 0.9 from 6 bits up, 0.5 below: the smallest passing is 6.
  ToleranceOptions o;
  o.key = "periphery.adc_bits";
  o.lo = 2;
  o.hi = 12;
  o.integer = true;
  const ToleranceResult r = find_tolerance(o, [](double bits) {
    ToleranceProbe p;
    p.digital = 0.9;
    p.worst_mean = p.worst_low = bits >= 6 ? 0.9 : 0.5;
    return p;
  });
  EXPECT_EQ(r.direction, "smallest");
  EXPECT_TRUE(r.found);
  EXPECT_EQ(r.value, 6);
  EXPECT_EQ(r.bracket_lo, 5);
  for (const auto& p : r.probes) EXPECT_EQ(p.value, std::floor(p.value));
}

TEST(Tolerance, RefusesANonMonotoneParameter) {
  // A V shape: good at both ends, bad in the middle.
  ToleranceOptions o;
  o.key = "device.g_min_uS";
  o.lo = 0;
  o.hi = 10;
  try {
    find_tolerance(o, [](double v) {
      ToleranceProbe p;
      p.digital = 0.9;
      p.worst_mean = p.worst_low = 0.5 + 0.08 * std::abs(v - 5);
      return p;
    });
    FAIL() << "a V-shaped parameter was bisected";
  } catch (const UsageError& e) {
    EXPECT_NE(std::string(e.what()).find("does not act monotonically"), std::string::npos) << e.what();
  }
}

TEST(Tolerance, SaysWhenTheWholeBracketPassesOrFails) {
  ToleranceOptions o;
  o.key = "device.read_noise.scale";
  o.lo = 0;
  o.hi = 0.1;
  o.max_drop = 0.05;
  const ToleranceResult all = find_tolerance(o, linear_chip);
  EXPECT_TRUE(all.found);
  EXPECT_EQ(all.value, 0.1);
  EXPECT_NE(all.note.find("widen"), std::string::npos);
  o.lo = 2;
  o.hi = 4;
  const ToleranceResult none = find_tolerance(o, linear_chip);
  EXPECT_FALSE(none.found);
  EXPECT_EQ(find_tolerance(o, linear_chip).probes.size(), 3u);
}

}  // namespace
}  // namespace qs4d
