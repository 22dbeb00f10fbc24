#include "models/detail/h5.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <memory>
#include <sstream>
#include <unistd.h>

namespace qs4d::h5 {
namespace {

const char* class_name(ValueClass c) {
  switch (c) {
    case ValueClass::kInteger: return "integer";
    case ValueClass::kFloat: return "floating point";
    case ValueClass::kString: return "string";
    default: return "non-numeric";
  }
}

ValueClass classify(hid_t type) {
  switch (H5Tget_class(type)) {
    case H5T_INTEGER: return ValueClass::kInteger;
    case H5T_FLOAT: return ValueClass::kFloat;
    case H5T_STRING: return ValueClass::kString;
    default: return ValueClass::kOther;
  }
}

// Splits "/a/b/c" into its non-empty components.
std::vector<std::string> components(const std::string& path) {
  std::vector<std::string> parts;
  std::string cur;
  for (char ch : path) {
    if (ch == '/') {
      if (!cur.empty()) parts.push_back(cur);
      cur.clear();
    } else {
      cur += ch;
    }
  }
  if (!cur.empty()) parts.push_back(cur);
  return parts;
}

std::string attr_label(const std::string& object, const std::string& name) {
  return (object == "/" ? std::string("/") : object + "/") + "@" + name;
}

}  // namespace

std::string shape_text(const std::vector<int64_t>& shape) {
  std::ostringstream out;
  out << "(";
  for (size_t i = 0; i < shape.size(); ++i) out << (i ? ", " : "") << shape[i];
  if (shape.size() == 1) out << ",";
  out << ")";
  return out.str();
}

void silence_library_errors() {
  static const bool done = [] {
    H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr);
    return true;
  }();
  (void)done;
}

void Handle::reset() {
  if (id_ < 0) return;
  switch (H5Iget_type(id_)) {
    case H5I_FILE: H5Fclose(id_); break;
    case H5I_GROUP: H5Gclose(id_); break;
    case H5I_DATASET: H5Dclose(id_); break;
    case H5I_DATASPACE: H5Sclose(id_); break;
    case H5I_DATATYPE: H5Tclose(id_); break;
    case H5I_ATTR: H5Aclose(id_); break;
    case H5I_GENPROP_LST: H5Pclose(id_); break;
    default: break;
  }
  id_ = H5I_INVALID_HID;
}

int64_t DatasetInfo::numel() const {
  // Saturates instead of overflowing: a claimed shape of (2^32, 2^32) reads as "too large"
  // wherever a size is checked, never as a wrapped small number.
  int64_t n = 1;
  for (int64_t d : shape) {
    if (d < 0 || (d > 0 && n > std::numeric_limits<int64_t>::max() / d)) {
      return std::numeric_limits<int64_t>::max();
    }
    n *= d;
  }
  return n;
}

// ---------------------------------------------------------------------------------------------
Reader::Reader(const std::string& path) : path_(path) {
  silence_library_errors();
  // Inside the reading child, the descriptor the parent opened (messages keep `path`).
  const std::string opened = open_path(path);
  std::error_code ec;
  if (!std::filesystem::exists(opened, ec)) {
    fail(ErrorKind::kUnreadable, "", "no such file");
  }
  if (std::filesystem::is_directory(opened, ec)) fail(ErrorKind::kUnreadable, "", "is a directory");
  {
    std::ifstream probe(opened, std::ios::binary);
    if (!probe) fail(ErrorKind::kUnreadable, "", "cannot be opened for reading");
  }
  const htri_t is_h5 = H5Fis_hdf5(opened.c_str());
  if (is_h5 <= 0) {
    fail(ErrorKind::kUnreadable, "", "not an HDF5 file (no HDF5 signature found)");
  }
  file_ = Handle(H5Fopen(opened.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT));
  if (!file_.valid()) {
    fail(ErrorKind::kUnreadable, "",
         "HDF5 signature present but the file cannot be opened (truncated or corrupt)");
  }
}

namespace {
// Whether libhdf5's current error stack holds a failed allocation (it reports running out of
// memory as an ordinary error: a file that claims gigabytes meets the reading child's limit).
herr_t find_allocation_failure(unsigned, const H5E_error2_t* e, void* found) {
  if (e->maj_num == H5E_RESOURCE && (e->min_num == H5E_NOSPACE || e->min_num == H5E_CANTALLOC)) {
    *static_cast<bool*>(found) = true;
  }
  return 0;
}
bool allocation_failed() {
  bool found = false;
  H5Ewalk2(H5E_DEFAULT, H5E_WALK_UPWARD, find_allocation_failure, &found);
  return found;
}
// The innermost description on libhdf5's error stack ("data size exceeds buffer size"), or "".
herr_t take_innermost(unsigned n, const H5E_error2_t* e, void* out) {
  if (n == 0 && e->desc != nullptr) *static_cast<std::string*>(out) = e->desc;
  return 0;
}
std::string library_reason() {
  std::string reason;
  H5Ewalk2(H5E_DEFAULT, H5E_WALK_UPWARD, take_innermost, &reason);
  return reason;
}
}  // namespace

void Reader::fail(ErrorKind kind, const std::string& object, const std::string& detail) const {
  if (allocation_failed()) {
    throw FormatError(ErrorKind::kAbsurdSize, path_, object,
                      detail + ": libhdf5 ran out of memory, the file claims far more data than it "
                               "holds (the reading child's limit scales with the file's size)");
  }
  const std::string reason = kind == ErrorKind::kUnreadable ? library_reason() : "";
  throw FormatError(kind, path_, object, reason.empty() ? detail : detail + " (libhdf5: " + reason + ")");
}

bool Reader::exists(const std::string& object) const {
  if (object == "/") return true;
  std::string prefix;
  for (const auto& part : components(object)) {
    prefix += "/" + part;
    if (H5Lexists(file_.get(), prefix.c_str(), H5P_DEFAULT) <= 0) return false;
    // A checkpoint or dataset is one file: links into other files are refused, and a soft link
    // must lead to an object of this file.
    H5L_info_t link;
    if (H5Lget_info(file_.get(), prefix.c_str(), &link, H5P_DEFAULT) < 0) {
      fail(ErrorKind::kUnreadable, prefix, "cannot read the link");
    }
    if (link.type == H5L_TYPE_EXTERNAL) {
      fail(ErrorKind::kUnreadable, prefix, "is an external link into another file: refused (one file holds all)");
    }
    if (link.type == H5L_TYPE_SOFT && H5Oexists_by_name(file_.get(), prefix.c_str(), H5P_DEFAULT) <= 0) {
      fail(ErrorKind::kMissingObject, prefix, "is a soft link that leads to no object (dangling or looping)");
    }
  }
  return true;
}

bool Reader::is_group(const std::string& object) const {
  if (!exists(object)) return false;
  Handle o(H5Oopen(file_.get(), object.c_str(), H5P_DEFAULT));
  return o.valid() && H5Iget_type(o.get()) == H5I_GROUP;
}

std::vector<std::string> Reader::children(const std::string& group) const {
  Handle g(H5Gopen2(file_.get(), group.c_str(), H5P_DEFAULT));
  if (!g.valid()) fail(ErrorKind::kUnreadable, group, "cannot open group");
  H5G_info_t info;
  if (H5Gget_info(g.get(), &info) < 0) fail(ErrorKind::kUnreadable, group, "cannot list group");
  std::vector<std::string> names;
  for (hsize_t i = 0; i < info.nlinks; ++i) {
    const ssize_t len = H5Lget_name_by_idx(g.get(), ".", H5_INDEX_NAME, H5_ITER_INC, i, nullptr,
                                           0, H5P_DEFAULT);
    if (len < 0) fail(ErrorKind::kUnreadable, group, "cannot read a member name");
    std::string name(static_cast<size_t>(len), '\0');
    H5Lget_name_by_idx(g.get(), ".", H5_INDEX_NAME, H5_ITER_INC, i, name.data(), name.size() + 1,
                       H5P_DEFAULT);
    names.push_back(name);
  }
  std::sort(names.begin(), names.end());
  return names;
}

bool Reader::has_attr(const std::string& object, const std::string& name) const {
  if (!exists(object)) return false;
  return H5Aexists_by_name(file_.get(), object.c_str(), name.c_str(), H5P_DEFAULT) > 0;
}

namespace {
herr_t collect_attr_name(hid_t, const char* name, const H5A_info_t*, void* out) {
  static_cast<std::vector<std::string>*>(out)->push_back(name);
  return 0;
}
}  // namespace

std::vector<std::string> Reader::attr_names(const std::string& object) const {
  std::vector<std::string> names;
  if (H5Aiterate_by_name(file_.get(), object.c_str(), H5_INDEX_NAME, H5_ITER_INC, nullptr,
                         collect_attr_name, &names, H5P_DEFAULT) < 0) {
    fail(ErrorKind::kUnreadable, object, "cannot read attributes");
  }
  return names;
}

Handle Reader::open_attr(const std::string& object, const std::string& name) const {
  if (!has_attr(object, name)) {
    fail(ErrorKind::kMissingObject, attr_label(object, name), "attribute is missing");
  }
  Handle a(H5Aopen_by_name(file_.get(), object.c_str(), name.c_str(), H5P_DEFAULT, H5P_DEFAULT));
  if (!a.valid()) fail(ErrorKind::kUnreadable, attr_label(object, name), "cannot open attribute");
  Handle space(H5Aget_space(a.get()));
  const hssize_t n = H5Sget_simple_extent_npoints(space.get());
  if (n != 1) {
    fail(ErrorKind::kWrongShape, attr_label(object, name),
         "has " + std::to_string(n) + " elements, expected a scalar");
  }
  return a;
}

int64_t Reader::attr_int(const std::string& object, const std::string& name) const {
  Handle a = open_attr(object, name);
  Handle type(H5Aget_type(a.get()));
  const ValueClass c = classify(type.get());
  if (c != ValueClass::kInteger) {
    fail(ErrorKind::kWrongType, attr_label(object, name),
         std::string("is ") + class_name(c) + ", expected an integer");
  }
  int64_t v = 0;
  if (H5Aread(a.get(), H5T_NATIVE_INT64, &v) < 0) {
    fail(ErrorKind::kUnreadable, attr_label(object, name), "cannot read attribute");
  }
  return v;
}

double Reader::attr_float(const std::string& object, const std::string& name) const {
  Handle a = open_attr(object, name);
  Handle type(H5Aget_type(a.get()));
  const ValueClass c = classify(type.get());
  if (c != ValueClass::kInteger && c != ValueClass::kFloat) {
    fail(ErrorKind::kWrongType, attr_label(object, name),
         std::string("is ") + class_name(c) + ", expected a number");
  }
  double v = 0;
  if (H5Aread(a.get(), H5T_NATIVE_DOUBLE, &v) < 0) {
    fail(ErrorKind::kUnreadable, attr_label(object, name), "cannot read attribute");
  }
  return v;
}

std::string Reader::attr_string(const std::string& object, const std::string& name) const {
  Handle a = open_attr(object, name);
  Handle type(H5Aget_type(a.get()));
  const ValueClass c = classify(type.get());
  if (c != ValueClass::kString) {
    fail(ErrorKind::kWrongType, attr_label(object, name),
         std::string("is ") + class_name(c) + ", expected a string");
  }
  Handle mem(H5Tcopy(H5T_C_S1));
  if (H5Tis_variable_str(type.get()) > 0) {
    H5Tset_size(mem.get(), H5T_VARIABLE);
    H5Tset_cset(mem.get(), H5Tget_cset(type.get()));
    char* raw = nullptr;
    if (H5Aread(a.get(), mem.get(), &raw) < 0) {
      fail(ErrorKind::kUnreadable, attr_label(object, name), "cannot read string attribute");
    }
    std::string out = raw ? raw : "";
    H5free_memory(raw);
    return out;
  }
  const size_t size = H5Tget_size(type.get());
  if (size > (1u << 20)) {
    fail(ErrorKind::kAbsurdSize, attr_label(object, name),
         "string of " + std::to_string(size) + " bytes, expected at most 1 MiB");
  }
  H5Tset_size(mem.get(), size + 1);
  H5Tset_cset(mem.get(), H5Tget_cset(type.get()));
  std::string buf(size + 1, '\0');
  if (H5Aread(a.get(), mem.get(), buf.data()) < 0) {
    fail(ErrorKind::kUnreadable, attr_label(object, name), "cannot read string attribute");
  }
  buf.resize(std::strlen(buf.c_str()));
  while (!buf.empty() && buf.back() == ' ') buf.pop_back();
  return buf;
}

std::string Reader::attr_as_text(const std::string& object, const std::string& name) const {
  Handle a(H5Aopen_by_name(file_.get(), object.c_str(), name.c_str(), H5P_DEFAULT, H5P_DEFAULT));
  if (!a.valid()) return "";
  Handle type(H5Aget_type(a.get()));
  Handle space(H5Aget_space(a.get()));
  const hssize_t n = H5Sget_simple_extent_npoints(space.get());
  const ValueClass c = classify(type.get());
  if (n == 1 && c == ValueClass::kString) return attr_string(object, name);
  if (n >= 1 && n <= 4096 && (c == ValueClass::kInteger || c == ValueClass::kFloat)) {
    std::vector<double> v(static_cast<size_t>(n));
    if (H5Aread(a.get(), H5T_NATIVE_DOUBLE, v.data()) < 0) return "";
    std::ostringstream out;
    out.precision(8);
    if (n > 1) out << "[";
    for (size_t i = 0; i < v.size(); ++i) out << (i ? ", " : "") << v[i];
    if (n > 1) out << "]";
    return out.str();
  }
  return std::string("<") + class_name(c) + " attribute with " + std::to_string(n) +
         " elements>";
}

Handle Reader::open_dataset(const std::string& dataset) const {
  if (!exists(dataset)) fail(ErrorKind::kMissingObject, dataset, "dataset is missing");
  Handle d(H5Dopen2(file_.get(), dataset.c_str(), H5P_DEFAULT));
  if (!d.valid()) fail(ErrorKind::kWrongType, dataset, "is not a dataset");
  return d;
}

DatasetInfo Reader::info(const std::string& dataset) const {
  Handle d = open_dataset(dataset);
  Handle space(H5Dget_space(d.get()));
  Handle type(H5Dget_type(d.get()));
  const int rank = H5Sget_simple_extent_ndims(space.get());
  if (rank < 0) fail(ErrorKind::kUnreadable, dataset, "cannot read the dataspace");
  std::vector<hsize_t> dims(static_cast<size_t>(rank));
  H5Sget_simple_extent_dims(space.get(), dims.data(), nullptr);
  DatasetInfo out;
  for (hsize_t v : dims) out.shape.push_back(static_cast<int64_t>(v));
  out.value_class = classify(type.get());
  out.element_size = H5Tget_size(type.get());
  return out;
}

void Reader::read_rows(const std::string& dataset, hid_t mem_type, void* out, int64_t limit_rows,
                       const DatasetInfo& info) const {
  Handle d = open_dataset(dataset);
  herr_t status;
  if (limit_rows > 0 && !info.shape.empty() && limit_rows < info.shape[0]) {
    Handle file_space(H5Dget_space(d.get()));
    std::vector<hsize_t> start(info.shape.size(), 0), count(info.shape.begin(), info.shape.end());
    count[0] = static_cast<hsize_t>(limit_rows);
    H5Sselect_hyperslab(file_space.get(), H5S_SELECT_SET, start.data(), nullptr, count.data(),
                        nullptr);
    Handle mem_space(H5Screate_simple(static_cast<int>(count.size()), count.data(), nullptr));
    status = H5Dread(d.get(), mem_type, mem_space.get(), file_space.get(), H5P_DEFAULT, out);
  } else {
    status = H5Dread(d.get(), mem_type, H5S_ALL, H5S_ALL, H5P_DEFAULT, out);
  }
  if (status < 0) {
    const std::string filter = missing_filter(d.get());
    if (!filter.empty()) {
      fail(ErrorKind::kUnreadable, dataset,
           "is compressed with the HDF5 filter " + filter +
               ", which this libhdf5 does not have; save it without that filter (h5py: "
               "compression=\"gzip\" or none)");
    }
    fail(ErrorKind::kUnreadable, dataset, "reading the data failed (file truncated or corrupt)");
  }
}

// The first filter of the dataset's pipeline that this libhdf5 cannot apply ("name (id N)"),
// or "" when every filter is available.
std::string Reader::missing_filter(hid_t dataset) {
  Handle plist(H5Dget_create_plist(dataset));
  if (!plist.valid()) return "";
  const int n = H5Pget_nfilters(plist.get());
  for (int i = 0; i < n; ++i) {
    unsigned flags = 0, config = 0;
    size_t n_values = 0;
    char name[128] = {0};
    const H5Z_filter_t id = H5Pget_filter2(plist.get(), static_cast<unsigned>(i), &flags, &n_values,
                                           nullptr, sizeof name, name, &config);
    name[sizeof name - 1] = '\0';  // a name as long as the buffer comes back unterminated
    if (id >= 0 && H5Zfilter_avail(id) <= 0) {
      std::string out = "(id " + std::to_string(id) + ")";
      if (name[0] != '\0') out.insert(0, std::string(1, '\'') + name + "' ");
      return out;
    }
  }
  return "";
}

// A claimed size must not drive the allocation: the file has to hold the data it claims, up to
// what compression can plausibly save (1000x; a dataset with no data written stores 0 bytes).
void Reader::check_stored(const std::string& dataset, const DatasetInfo& inf) const {
  const double claimed = static_cast<double>(inf.numel()) * static_cast<double>(inf.element_size);
  if (claimed <= double(1 << 20)) return;  // small: read it whatever it is
  Handle d = open_dataset(dataset);
  const double stored = static_cast<double>(H5Dget_storage_size(d.get()));
  // What a dataset may claim scales with what the file stores (issue #31): compressed samples
  // and weights reach a few x (the shipped files are uncompressed, 1x); a dataset claiming more
  // than kMaxCompressionRatio times its stored bytes is refused before it is decompressed (a
  // 9 MB file that decompressed 127x cost 38 s and 1 GB).
  if (claimed > kMaxCompressionRatio * stored) {
    fail(ErrorKind::kAbsurdSize, dataset,
         "claims " + std::to_string(static_cast<long long>(claimed)) + " bytes of data but the file stores " +
             std::to_string(static_cast<long long>(stored)) + " (" + format_number(claimed / std::max(stored, 1.0)) +
             "x, above the " + format_number(kMaxCompressionRatio) +
             "x a dataset over 1 MiB may claim: data not written, not this file's, or compressed beyond reason; "
             "store it uncompressed)");
  }
}

namespace {
// Elements to read: the whole dataset, or its first `limit_rows` rows.
int64_t elements_to_read(const DatasetInfo& inf, int64_t limit_rows) {
  const int64_t n = inf.numel();
  if (limit_rows > 0 && !inf.shape.empty() && limit_rows < inf.shape[0]) {
    return n / inf.shape[0] * limit_rows;
  }
  return n;
}
}  // namespace

template <typename T>
std::vector<T> Reader::read_values(const std::string& dataset, hid_t mem_type, ValueClass want,
                                   const char* expected, int64_t limit_rows) const {
  const DatasetInfo inf = info(dataset);
  if (inf.value_class != want) {
    fail(ErrorKind::kWrongType, dataset,
         std::string("dtype is ") + class_name(inf.value_class) + ", expected " + expected);
  }
  check_stored(dataset, inf);
  std::vector<T> out(static_cast<size_t>(elements_to_read(inf, limit_rows)));
  read_rows(dataset, mem_type, out.data(), limit_rows, inf);
  return out;
}

std::vector<float> Reader::read_float(const std::string& dataset, int64_t limit_rows) const {
  return read_values<float>(dataset, H5T_NATIVE_FLOAT, ValueClass::kFloat, "float32", limit_rows);
}

std::vector<double> Reader::read_double(const std::string& dataset) const {
  return read_values<double>(dataset, H5T_NATIVE_DOUBLE, ValueClass::kFloat, "float", 0);
}

std::vector<int64_t> Reader::read_int(const std::string& dataset, int64_t limit_rows) const {
  return read_values<int64_t>(dataset, H5T_NATIVE_INT64, ValueClass::kInteger, "integer",
                              limit_rows);
}

// ---------------------------------------------------------------------------------------------
AtomicWriter::AtomicWriter(const std::string& path)
    : path_(path), tmp_path_(exclusive_temp_path(path)) {
  silence_library_errors();
  // Exclusive (O_EXCL: nothing planted there is followed or truncated) under an unpredictable name.
  file_ = Handle(H5Fcreate(tmp_path_.c_str(), H5F_ACC_EXCL, H5P_DEFAULT, H5P_DEFAULT));
  if (!file_.valid()) {
    throw FormatError(ErrorKind::kUnreadable, path_, "", "cannot create file for writing");
  }
}

AtomicWriter::~AtomicWriter() {
  if (!committed_) {
    file_.reset();
    std::error_code ec;
    std::filesystem::remove(tmp_path_, ec);
  }
}

void AtomicWriter::ensure_parent_groups(const std::string& dataset) {
  const auto parts = components(dataset);
  std::string prefix;
  for (size_t i = 0; i + 1 < parts.size(); ++i) {
    prefix += "/" + parts[i];
    if (H5Lexists(file_.get(), prefix.c_str(), H5P_DEFAULT) <= 0) {
      Handle g(H5Gcreate2(file_.get(), prefix.c_str(), H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT));
      if (!g.valid()) throw FormatError(ErrorKind::kUnreadable, path_, prefix, "cannot create");
    }
  }
}

namespace {
void write_any(hid_t file, const std::string& path, const std::string& dataset,
               const std::vector<int64_t>& shape, hid_t file_type, hid_t mem_type,
               const void* data) {
  std::vector<hsize_t> dims(shape.begin(), shape.end());
  Handle space(shape.empty() ? H5Screate(H5S_SCALAR)
                             : H5Screate_simple(static_cast<int>(dims.size()), dims.data(),
                                                nullptr));
  Handle d(H5Dcreate2(file, dataset.c_str(), file_type, space.get(), H5P_DEFAULT, H5P_DEFAULT,
                      H5P_DEFAULT));
  if (!d.valid() || H5Dwrite(d.get(), mem_type, H5S_ALL, H5S_ALL, H5P_DEFAULT, data) < 0) {
    throw FormatError(ErrorKind::kUnreadable, path, dataset, "cannot write dataset");
  }
}
}  // namespace

void AtomicWriter::write_float(const std::string& dataset, const std::vector<int64_t>& shape,
                               const float* data) {
  ensure_parent_groups(dataset);
  write_any(file_.get(), path_, dataset, shape, H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, data);
}

void AtomicWriter::write_double(const std::string& dataset, const std::vector<int64_t>& shape,
                                const double* data) {
  ensure_parent_groups(dataset);
  write_any(file_.get(), path_, dataset, shape, H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, data);
}

void AtomicWriter::write_int(const std::string& dataset, const std::vector<int64_t>& shape,
                             const int64_t* data) {
  ensure_parent_groups(dataset);
  write_any(file_.get(), path_, dataset, shape, H5T_STD_I64LE, H5T_NATIVE_INT64, data);
}

void AtomicWriter::attr_string(const std::string& object, const std::string& name,
                               const std::string& v) {
  Handle type(H5Tcopy(H5T_C_S1));
  H5Tset_size(type.get(), H5T_VARIABLE);
  H5Tset_cset(type.get(), H5T_CSET_UTF8);
  Handle space(H5Screate(H5S_SCALAR));
  Handle a(H5Acreate_by_name(file_.get(), object.c_str(), name.c_str(), type.get(), space.get(),
                             H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT));
  const char* p = v.c_str();
  if (!a.valid() || H5Awrite(a.get(), type.get(), &p) < 0) {
    throw FormatError(ErrorKind::kUnreadable, path_, attr_label(object, name), "cannot write");
  }
}

void AtomicWriter::attr_int(const std::string& object, const std::string& name, int64_t v) {
  Handle space(H5Screate(H5S_SCALAR));
  Handle a(H5Acreate_by_name(file_.get(), object.c_str(), name.c_str(), H5T_STD_I64LE,
                             space.get(), H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT));
  if (!a.valid() || H5Awrite(a.get(), H5T_NATIVE_INT64, &v) < 0) {
    throw FormatError(ErrorKind::kUnreadable, path_, attr_label(object, name), "cannot write");
  }
}

void AtomicWriter::commit() {
  if (H5Fflush(file_.get(), H5F_SCOPE_GLOBAL) < 0) {
    throw FormatError(ErrorKind::kUnreadable, path_, "", "flush failed");
  }
  file_.reset();
  std::error_code ec;
  std::filesystem::rename(tmp_path_, path_, ec);
  if (ec) {
    throw FormatError(ErrorKind::kUnreadable, path_, "", "cannot rename into place: " + ec.message());
  }
  committed_ = true;
}

}  // namespace qs4d::h5
