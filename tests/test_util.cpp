#include "tests/test_util.h"

#include <cstdlib>
#include <fstream>
#include <stdexcept>

namespace qs4d::test {

std::string fixtures_dir() {
  const char* dir = std::getenv("QS4D_FIXTURES");
  if (!dir) throw std::runtime_error("QS4D_FIXTURES is not set; run the tests through ctest");
  return dir;
}

nlohmann::json manifest() {
  std::ifstream in(fixtures_dir() + "/manifest.json");
  if (!in) throw std::runtime_error("no manifest.json in " + fixtures_dir());
  return nlohmann::json::parse(in);
}

double max_abs_diff(const RowMatrixXf& a, const RowMatrixXf& b) {
  if (a.rows() != b.rows() || a.cols() != b.cols()) return 1e30;
  return (a - b).cwiseAbs().maxCoeff();
}

Dataset calibration_set(const Dataset& evaluated) {
  Dataset c = evaluated;
  const int64_t per = evaluated.x.length * evaluated.x.width;
  for (int64_t i = 0; i < evaluated.x.n; ++i) {
    const float* from = evaluated.x.sample(evaluated.x.n - 1 - i);
    for (int64_t k = 0; k < per; ++k) c.x.values[static_cast<size_t>(i * per + k)] = 0.95f * from[k];
    c.y[static_cast<size_t>(i)] = evaluated.y[static_cast<size_t>(evaluated.x.n - 1 - i)];
  }
  c.path.clear();
  c.name = evaluated.name + " (calibration)";
  return c;
}

}  // namespace qs4d::test
