// Helpers shared by the tests: where the fixtures are and how to read them.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

#include "models/model.h"

namespace qs4d::test {

// $QS4D_FIXTURES (written by python/scripts/make_fixtures.py); throws if unset.
std::string fixtures_dir();
nlohmann::json manifest();
// Calibration samples apart from `evaluated`: its samples in reverse order, each scaled by 0.95
// (the same statistics, none of the same values), as a test's calibration set.
Dataset calibration_set(const Dataset& evaluated);
// Maximum absolute element difference.
double max_abs_diff(const RowMatrixXf& a, const RowMatrixXf& b);

}  // namespace qs4d::test
