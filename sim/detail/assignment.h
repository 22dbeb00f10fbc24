// The linear assignment problem (sim-internal; sim/faults.cpp uses it for fault-aware mapping).
#pragma once

#include <cstdint>
#include <vector>

#include <Eigen/Core>

namespace qs4d::detail {

// The assignment of each of the n rows of `cost` (n x m, n <= m) to a distinct column with the
// least total cost; returns the column of each row.
std::vector<int64_t> cheapest_assignment(const Eigen::MatrixXd& cost);

}  // namespace qs4d::detail
