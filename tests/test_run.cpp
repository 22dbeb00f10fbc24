// The run layer's pure pieces: explore's Pareto front and objectives.
#include <gtest/gtest.h>

#include <algorithm>
#include <random>

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

}  // namespace
}  // namespace qs4d
