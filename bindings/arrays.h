// What the Python module checks of an array handed over, apart from Python: the shape and
// element kind numpy reports, then the values once numpy has converted them (float32 or int64,
// C order). bindings/convert.cpp calls these for every array argument; tests/fuzz/fuzz_arrays
// runs the same code on arbitrary shapes and values (issue #31), so it includes no pybind11.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "models/model.h"

namespace qs4d::py_bind {

// An array as numpy describes it: its sizes and its dtype's kind ('f' float, 'i' signed,
// 'u' unsigned, 'b' bool, 'c' complex, 'O' object, ...).
struct ArrayInfo {
  std::vector<int64_t> shape;
  char kind = 'f';
  std::string dtype;  // numpy's name for it, for messages ("float64", "<U3")
};

// "(2, 3)", "(4,)".
std::string shape_text(const std::vector<int64_t>& shape);
// The element count, or -1 when a size is negative or the product passes kMaxDatasetElements
// (checked factor by factor: a claimed shape never overflows).
int64_t element_count(const std::vector<int64_t>& shape);
// Before conversion: numbers (float, signed or unsigned integers) and at most kMaxDatasetElements
// of them; a UsageError naming `name`, the dtype or shape found and what was expected.
void check_numeric(const ArrayInfo& a, const char* name);
// Every value finite and within +-1e6 (beyond any normalised input or weight float32 products
// overflow and the logits become NaN); the error names the first element that is not.
void require_finite(const float* values, int64_t n, const char* name);

// After conversion (float32, C order, `a.shape`):
// inputs (samples, length, features), every size >= 1;
SequenceBatch sequences_of(const ArrayInfo& a, const float* values, const char* name);
// a matrix (rows, columns), both >= 1;
RowMatrixXf matrix_of(const ArrayInfo& a, const float* values, const char* name);
// Labels: before conversion, integers shaped (n_samples,); after, each in [0, n_classes).
void check_labels_shape(const ArrayInfo& y, int64_t n_samples);
std::vector<int64_t> labels_of(const int64_t* values, int64_t n, int64_t n_classes);
// A file path as given, refused when it holds a NUL byte (C would cut it there).
std::string path_from(const std::string& path);

}  // namespace qs4d::py_bind
