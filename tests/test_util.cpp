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

}  // namespace qs4d::test
