// libFuzzer harness: the Python module's array checks (bindings/arrays.cpp, the code its
// converters call) on arbitrary shapes, dtype kinds and values, as numpy could hand them over
// (issue #31). Input: [what][kind][ndim][ndim x int64 sizes][values...]. The checks run in the
// module's order: shape and kind first, then (when the shape holds at most 2^16 values, what this
// harness can afford to build) the values, cycled from the input's remaining bytes. Every
// refusal is a UsageError; nothing may crash, allocate what the shape claims before it is
// checked, or accept a non-finite value.
#include <cmath>
#include <cstdint>
#include <cstring>
#include <exception>
#include <vector>

#include "bindings/arrays.h"
#include "core/core.h"

namespace {

template <class T>
std::vector<T> cycled(const uint8_t* data, size_t size, int64_t n) {
  std::vector<T> out(static_cast<size_t>(n));
  if (size == 0) return out;
  std::vector<uint8_t> bytes(sizeof(T));
  for (int64_t i = 0; i < n; ++i) {
    for (size_t b = 0; b < sizeof(T); ++b) bytes[b] = data[(static_cast<size_t>(i) * sizeof(T) + b) % size];
    std::memcpy(&out[static_cast<size_t>(i)], bytes.data(), sizeof(T));
  }
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace qs4d::py_bind;
  if (size < 3) return 0;
  const uint8_t what = data[0] % 4;
  ArrayInfo a;
  a.kind = static_cast<char>(data[1]);
  a.dtype = std::string(1, a.kind) + "?";
  const size_t ndim = data[2] % 6;
  size_t at = 3;
  for (size_t d = 0; d < ndim && at + 8 <= size; ++d, at += 8) {
    int64_t n = 0;
    std::memcpy(&n, data + at, 8);
    a.shape.push_back(n);
  }
  const uint8_t* rest = data + at;
  const size_t rest_size = size - at;
  const int64_t count = element_count(a.shape);
  const bool buildable = count >= 0 && count <= (1 << 16);
  try {
    switch (what) {
      case 0: {  // inputs (samples, length, features)
        check_numeric(a, "x");
        if (!buildable) break;
        const std::vector<float> v = cycled<float>(rest, rest_size, count);
        const qs4d::SequenceBatch b = sequences_of(a, v.data(), "x");
        for (float x : b.values) {
          if (!(std::abs(x) <= 1e6f)) __builtin_trap();  // a non-finite value passed
        }
        if (b.n * b.length * b.width != count || b.n < 1) __builtin_trap();
        break;
      }
      case 1: {  // a matrix (weights, targets)
        if (a.shape.size() == 2 && a.shape[0] >= 1 && a.shape[1] >= 1) check_numeric(a, "w");
        if (!buildable) break;
        const std::vector<float> v = cycled<float>(rest, rest_size, count);
        const qs4d::RowMatrixXf m = matrix_of(a, v.data(), "w");
        if (!m.allFinite() || m.size() != count) __builtin_trap();
        break;
      }
      case 2: {  // labels for 4 samples of 10 classes
        check_labels_shape(a, 4);
        if (!buildable) break;
        const std::vector<int64_t> v = cycled<int64_t>(rest, rest_size, count);
        for (int64_t y : labels_of(v.data(), count, 10)) {
          if (y < 0 || y >= 10) __builtin_trap();
        }
        break;
      }
      default: {  // a path
        const std::string path(reinterpret_cast<const char*>(rest), rest_size);
        if (path_from(path).find('\0') != std::string::npos) __builtin_trap();
      }
    }
  } catch (const qs4d::UsageError&) {
  }
  return 0;
}
