// The one wrapper around the HDF5 C API. Everything that reads or writes HDF5 goes through here,
// so handle lifetimes, error silencing and the translation of HDF5 failures into FormatError live
// in one place. HDF5 (Debian's serial build) is not thread-safe: call from one thread at a time.
#pragma once

#include <hdf5.h>

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "models/detail/wire.h"
#include "models/model.h"

namespace qs4d::h5 {

// Reads untrusted files with libhdf5's crashes, hangs and memory blow-ups contained
// (models/contain.cpp): the parent opens the file (a regular file only) and forks; the child reads
// it through that descriptor (a path swapped afterwards changes nothing), under an address-space
// limit that scales with the file's size, and writes what it parsed, or the error it met, to a
// pipe in a small format of our own (models/detail/wire.h); the parent waits with its own
// deadline (QS4D_READ_TIMEOUT_S, default 120 s), kills a child that overruns it, and never calls
// libhdf5 on the file. QS4D_UNCONTAINED_READS=1 reads here instead (the fuzz harnesses).
bool reads_uncontained();
// Runs `read` in the child as above and returns its answer's bytes (wire::Writer's), or throws
// the child's error, or a FormatError naming the file when the child crashed, hung or ran out of
// memory.
std::string read_in_child(const std::string& path, const std::function<void(wire::Writer&)>& read);
// The path libhdf5 opens for `path`: inside the reading child, its descriptor (/proc/self/fd/N).
std::string open_path(const std::string& path);

// The read of `path`, made once in a child process and decoded here.
template <class Read>
auto read_contained(const std::string& path, const Read& read) {
  using T = decltype(read());
  if (reads_uncontained()) return read();
  const std::string answer = read_in_child(path, [&](wire::Writer& w) { wire::put(w, read()); });
  wire::Reader r(answer, path);
  T value;
  wire::get(r, value);
  r.finish();
  return value;
}

// Owns one hid_t and closes it with the matching H5*close.
class Handle {
 public:
  Handle() = default;
  explicit Handle(hid_t id) : id_(id) {}
  ~Handle() { reset(); }
  Handle(Handle&& o) noexcept : id_(o.id_) { o.id_ = H5I_INVALID_HID; }
  Handle& operator=(Handle&& o) noexcept {
    if (this != &o) {
      reset();
      id_ = o.id_;
      o.id_ = H5I_INVALID_HID;
    }
    return *this;
  }
  Handle(const Handle&) = delete;
  Handle& operator=(const Handle&) = delete;
  hid_t get() const { return id_; }
  bool valid() const { return id_ >= 0; }
  void reset();

 private:
  hid_t id_ = H5I_INVALID_HID;
};

enum class ValueClass { kInteger, kFloat, kString, kOther };

struct DatasetInfo {
  std::vector<int64_t> shape;
  ValueClass value_class = ValueClass::kOther;
  size_t element_size = 0;
  int64_t numel() const;
};

// A file opened for reading; every error names the file and the object.
// The most a dataset over 1 MiB may claim per byte the file stores for it (check_stored).
inline constexpr double kMaxCompressionRatio = 64.0;

class Reader {
 public:
  explicit Reader(const std::string& path);
  // Refuses a dataset over 1 MiB that claims more than kMaxCompressionRatio times the bytes the
  // file stores for it (before any allocation or decompression).
  void check_stored(const std::string& dataset, const DatasetInfo& info) const;
  const std::string& path() const { return path_; }

  bool exists(const std::string& object) const;  // group or dataset, absolute path
  bool has_attr(const std::string& object, const std::string& name) const;
  std::vector<std::string> children(const std::string& group) const;  // sorted names
  bool is_group(const std::string& object) const;

  // Scalar attributes; `name` is reported as object/@name.
  int64_t attr_int(const std::string& object, const std::string& name) const;
  double attr_float(const std::string& object, const std::string& name) const;
  std::string attr_string(const std::string& object, const std::string& name) const;
  // Any attribute rendered as text (for /meta).
  std::string attr_as_text(const std::string& object, const std::string& name) const;
  std::vector<std::string> attr_names(const std::string& object) const;

  DatasetInfo info(const std::string& dataset) const;
  // Reads a whole floating dataset as float32 (float64 is converted). `limit_rows` > 0 reads only
  // that many leading rows (hyperslab along axis 0).
  std::vector<float> read_float(const std::string& dataset, int64_t limit_rows = 0) const;
  std::vector<int64_t> read_int(const std::string& dataset, int64_t limit_rows = 0) const;
  std::vector<double> read_double(const std::string& dataset) const;  // any float dtype

  [[noreturn]] void fail(ErrorKind kind, const std::string& object,
                         const std::string& detail) const;

 private:
  static std::string missing_filter(hid_t dataset);
  Handle open_dataset(const std::string& dataset) const;
  Handle open_attr(const std::string& object, const std::string& name) const;
  // read_float, read_double and read_int: one typed read with its dtype check.
  template <typename T>
  std::vector<T> read_values(const std::string& dataset, hid_t mem_type, ValueClass want,
                             const char* expected, int64_t limit_rows) const;
  void read_rows(const std::string& dataset, hid_t mem_type, void* out, int64_t limit_rows,
                 const DatasetInfo& info) const;
  std::string path_;
  Handle file_;
};

// Writes a new file at a temporary name and renames it over `path` on commit(), so an
// interrupted run never leaves a half-written result.
class AtomicWriter {
 public:
  explicit AtomicWriter(const std::string& path);
  ~AtomicWriter();
  void write_float(const std::string& dataset, const std::vector<int64_t>& shape,
                   const float* data);
  void write_double(const std::string& dataset, const std::vector<int64_t>& shape,
                    const double* data);
  void write_int(const std::string& dataset, const std::vector<int64_t>& shape,
                 const int64_t* data);
  void attr_string(const std::string& object, const std::string& name, const std::string& v);
  void attr_int(const std::string& object, const std::string& name, int64_t v);
  void commit();

 private:
  void ensure_parent_groups(const std::string& dataset);
  std::string path_, tmp_path_;
  Handle file_;
  bool committed_ = false;
};

// "(2, 3)", "(4,)", "()": shapes as numpy prints them.
std::string shape_text(const std::vector<int64_t>& shape);

// Turns off HDF5's own error printing once per process (errors become exceptions instead).
void silence_library_errors();

}  // namespace qs4d::h5
