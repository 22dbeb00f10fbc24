// The small binary format in which the child process that reads an untrusted file hands what it
// parsed to the parent (models/contain.cpp), so the parent never calls libhdf5 on such a file.
// Values are written in this machine's byte order (both ends are the same binary); every count
// is checked against the bytes that remain before anything is allocated, and a malformed answer
// is a FormatError naming the file, never a crash.
#pragma once

#include <Eigen/Core>
#include <algorithm>
#include <complex>
#include <cstdint>
#include <cstring>
#include <map>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "core/core.h"
#include "models/model.h"

namespace qs4d::h5::wire {

class Writer {
 public:
  void bytes(const void* p, size_t n) { out_.append(static_cast<const char*>(p), n); }
  template <class T>
  void pod(const T& v) {
    static_assert(std::is_trivially_copyable_v<T>);
    bytes(&v, sizeof v);
  }
  std::string& data() { return out_; }

 private:
  std::string out_;
};

class Reader {
 public:
  // Reads `data`, which must outlive the reader; `file` (for messages) is copied.
  Reader(const std::string& data, std::string file)
      : p_(data.data()), left_(data.size()), file_(std::move(file)) {}
  // Refuses when fewer than n bytes remain.
  void need(size_t n) const {
    if (n > left_) fail(std::to_string(n) + " bytes wanted, " + std::to_string(left_) + " left");
  }
  void bytes(void* p, size_t n) {
    need(n);
    if (n > 0) std::memcpy(p, p_, n);
    p_ += n;
    left_ -= n;
  }
  template <class T>
  T pod() {
    static_assert(std::is_trivially_copyable_v<T>);
    T v;
    bytes(&v, sizeof v);
    return v;
  }
  // A count of elements of at least `min_bytes` each, checked against what remains.
  size_t count(size_t min_bytes) {
    const uint64_t n = pod<uint64_t>();
    if (n > left_ / std::max<size_t>(1, min_bytes)) {
      fail("a count of " + std::to_string(n) + " past the end of the answer");
    }
    return static_cast<size_t>(n);
  }
  void finish() const {
    if (left_ != 0) fail(std::to_string(left_) + " bytes left over");
  }
  [[noreturn]] void fail(const std::string& what) const {
    throw FormatError(ErrorKind::kUnreadable, file_, "",
                      "the reading child process's answer is malformed (" + what + ")");
  }

 private:
  const char* p_;
  size_t left_;
  std::string file_;
};

// Arithmetic values and enums.
template <class T>
  requires(std::is_arithmetic_v<T> || std::is_enum_v<T>)
void put(Writer& w, const T& v) {
  w.pod(v);
}
template <class T>
  requires(std::is_arithmetic_v<T> || std::is_enum_v<T>)
void get(Reader& r, T& v) {
  v = r.pod<T>();
}

// A bool travels as one byte that must be 0 or 1 (loading any other byte as a bool is undefined;
// found by fuzz_wire).
inline void put(Writer& w, bool v) { w.pod<uint8_t>(v ? 1 : 0); }
inline void get(Reader& r, bool& v) {
  const auto b = r.pod<uint8_t>();
  if (b > 1) r.fail("a flag of " + std::to_string(b));
  v = b == 1;
}

inline void put(Writer& w, const std::string& s) {
  w.pod<uint64_t>(s.size());
  w.bytes(s.data(), s.size());
}
inline void get(Reader& r, std::string& s) {
  s.resize(r.count(1));
  r.bytes(s.data(), s.size());
}

// Vectors of plain values in one block; of anything else, element by element.
template <class T>
void put(Writer& w, const std::vector<T>& v) {
  w.pod<uint64_t>(v.size());
  if constexpr (std::is_trivially_copyable_v<T>) {
    w.bytes(v.data(), v.size() * sizeof(T));
  } else {
    for (const T& x : v) put(w, x);
  }
}
template <class T>
void get(Reader& r, std::vector<T>& v) {
  if constexpr (std::is_trivially_copyable_v<T>) {
    v.resize(r.count(sizeof(T)));
    r.bytes(v.data(), v.size() * sizeof(T));
  } else {
    v.resize(r.count(8));  // every element writes at least one count or value
    for (T& x : v) get(r, x);
  }
}

template <class V>
void put(Writer& w, const std::map<std::string, V>& m) {
  w.pod<uint64_t>(m.size());
  for (const auto& [k, v] : m) {
    put(w, k);
    put(w, v);
  }
}
template <class V>
void get(Reader& r, std::map<std::string, V>& m) {
  const size_t n = r.count(9);
  m.clear();
  for (size_t i = 0; i < n; ++i) {
    std::string k;
    get(r, k);
    get(r, m[k]);
  }
}

// Dense Eigen matrices and vectors: rows, cols, then the values in storage order.
template <class Derived>
void put(Writer& w, const Eigen::PlainObjectBase<Derived>& m) {
  w.pod<int64_t>(m.rows());
  w.pod<int64_t>(m.cols());
  w.bytes(m.data(), static_cast<size_t>(m.size()) * sizeof(typename Derived::Scalar));
}
template <class Derived>
void get(Reader& r, Eigen::PlainObjectBase<Derived>& m) {
  using Scalar = typename Derived::Scalar;
  const int64_t rows = r.pod<int64_t>(), cols = r.pod<int64_t>();
  if (rows < 0 || cols < 0 || (Derived::ColsAtCompileTime == 1 && cols != 1) ||
      (Derived::RowsAtCompileTime == 1 && rows != 1) ||
      (cols > 0 && static_cast<uint64_t>(rows) > UINT64_MAX / sizeof(Scalar) / static_cast<uint64_t>(cols))) {
    r.fail("a matrix of " + std::to_string(rows) + " x " + std::to_string(cols));
  }
  const size_t n = static_cast<size_t>(rows) * static_cast<size_t>(cols);
  r.need(n * sizeof(Scalar));  // before the matrix is sized
  m.derived().resize(rows, cols);
  r.bytes(m.derived().data(), n * sizeof(Scalar));
}

// What the loaders return (models/contain.cpp).
void put(Writer& w, const S4DModel& m);
void get(Reader& r, S4DModel& m);
void put(Writer& w, const SequenceBatch& b);
void get(Reader& r, SequenceBatch& b);
void put(Writer& w, const Dataset& d);
void get(Reader& r, Dataset& d);

}  // namespace qs4d::h5::wire
