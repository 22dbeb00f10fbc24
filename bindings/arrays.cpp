#include "bindings/arrays.h"

#include <algorithm>
#include <cmath>

#include "core/core.h"

namespace qs4d::py_bind {

std::string shape_text(const std::vector<int64_t>& shape) {
  std::string s = "(";
  for (size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
  return s + (shape.size() == 1 ? ",)" : ")");
}

int64_t element_count(const std::vector<int64_t>& shape) {
  int64_t n = 1;
  for (int64_t d : shape) {
    if (d < 0) return -1;
    if (d == 0) return 0;
    if (n > kMaxDatasetElements / d) return -1;
    n *= d;
  }
  return n;
}

void check_numeric(const ArrayInfo& a, const char* name) {
  if (a.kind != 'f' && a.kind != 'i' && a.kind != 'u') {
    throw UsageError(std::string(name) + ": expected a float array, found dtype " + printable(a.dtype));
  }
  if (element_count(a.shape) < 0) {
    throw UsageError(std::string(name) + ": shape " + shape_text(a.shape) + " holds more than " +
                     std::to_string(kMaxDatasetElements) + " values, expected at most that");
  }
}

void require_finite(const float* values, int64_t n, const char* name) {
  constexpr float kMaxMagnitude = 1e6f;
  for (int64_t i = 0; i < n; ++i) {
    if (!(std::abs(values[i]) <= kMaxMagnitude)) {
      throw UsageError(std::string(name) + ": element " + std::to_string(i) + " is " + format_number(values[i]) +
                       ", expected a finite value within +-1e6");
    }
  }
}

SequenceBatch sequences_of(const ArrayInfo& a, const float* values, const char* name) {
  if (a.shape.size() != 3) {
    throw UsageError(std::string(name) + ": expected inputs shaped (samples, length, features), found shape " +
                     shape_text(a.shape));
  }
  check_numeric(a, name);
  SequenceBatch b{a.shape[0], a.shape[1], a.shape[2], {}};
  if (b.n == 0 || b.length == 0 || b.width == 0) throw UsageError(std::string(name) + ": empty shape " + shape_text(a.shape));
  const int64_t n = element_count(a.shape);
  b.values.assign(values, values + n);
  require_finite(b.values.data(), n, name);
  return b;
}

RowMatrixXf matrix_of(const ArrayInfo& a, const float* values, const char* name) {
  if (a.shape.size() != 2) throw UsageError(std::string(name) + ": expected a 2-D array, found shape " + shape_text(a.shape));
  if (a.shape[0] < 1 || a.shape[1] < 1) throw UsageError(std::string(name) + ": empty shape " + shape_text(a.shape));
  check_numeric(a, name);
  RowMatrixXf m(a.shape[0], a.shape[1]);
  std::copy(values, values + m.size(), m.data());
  require_finite(m.data(), m.size(), name);
  return m;
}

void check_labels_shape(const ArrayInfo& y, int64_t n_samples) {
  if (y.shape.size() != 1 || y.shape[0] != n_samples) {
    throw UsageError("y: expected labels shaped (" + std::to_string(n_samples) + ",) to match x, found shape " +
                     shape_text(y.shape));
  }
  if (y.kind != 'i' && y.kind != 'u') throw UsageError("y: expected integer labels, found dtype " + printable(y.dtype));
}

std::vector<int64_t> labels_of(const int64_t* values, int64_t n, int64_t n_classes) {
  std::vector<int64_t> y(values, values + n);
  for (size_t i = 0; i < y.size(); ++i) {
    if (y[i] < 0 || y[i] >= n_classes) {
      throw UsageError("y: label " + std::to_string(y[i]) + " at index " + std::to_string(i) + " is outside [0, " +
                       std::to_string(n_classes) + ") (the checkpoint's outputs)");
    }
  }
  return y;
}

std::string path_from(const std::string& path) {
  if (path.find('\0') != std::string::npos) {
    throw UsageError("path \"" + printable(path) + "\" holds a NUL byte, which no file name can");
  }
  return path;
}

}  // namespace qs4d::py_bind
