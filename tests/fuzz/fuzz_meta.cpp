// libFuzzer harness: a checkpoint's /meta attributes, which the loader keeps as text and several
// verbs read (issue #31): `info` prints them, `quantize` parses /meta x_ranges as JSON (nesting
// bounded), and energy derives its default dataset from /meta dataset. The input is a list of
// attributes, "name\0value\0name\0value..."; the first byte picks how each is stored (fixed or
// variable-length string, or the value's bytes as doubles). They replace /meta of the shipped
// IMSSA-sized checkpoint, written with libhdf5 as a trainer would; the copy is then loaded
// (contained), printed by info, and run through the x-range PTQ on two short synthetic
// sequences. Refusals are errors; nothing may crash, hang or print a control character.
#include <hdf5.h>

#include <cstdint>
#include <cstdio>
#include <cstring>
#include <exception>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "mapping/mapping.h"
#include "run/cli/commands.h"
#include "run/run.h"
#include "tests/fuzz/fuzz_input.h"

namespace {

const std::string& seed_bytes() {
  static const std::string bytes = [] {
    std::ifstream in(qs4d::data_dir() + "/checkpoints/fmnist196_s4d_h8_n6_l4_imssa_qat2.h5", std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(in), {});
  }();
  return bytes;
}

// Splits "a\0b\0c" into its fields (at most 16: a checkpoint holds a handful of attributes).
std::vector<std::string> fields(const uint8_t* data, size_t size) {
  std::vector<std::string> out(1);
  for (size_t i = 0; i < size && out.size() <= 16; ++i) {
    if (data[i] == 0) {
      out.emplace_back();
    } else {
      out.back() += static_cast<char>(data[i]);
    }
  }
  return out;
}

void write_attribute(hid_t group, const std::string& name, const std::string& value, uint8_t how) {
  if (name.empty() || H5Aexists(group, name.c_str()) != 0) return;
  hid_t type = -1, space = -1;
  const void* buffer = nullptr;
  const char* text = value.c_str();
  std::vector<double> numbers(value.size() / 8);
  if (how == 2 && !numbers.empty()) {  // the value's bytes as doubles (NaN, Inf, denormals...)
    std::memcpy(numbers.data(), value.data(), numbers.size() * 8);
    type = H5Tcopy(H5T_NATIVE_DOUBLE);
    const hsize_t n = numbers.size();
    space = H5Screate_simple(1, &n, nullptr);
    buffer = numbers.data();
  } else if (how == 1) {  // variable-length, as h5py writes str
    type = H5Tcopy(H5T_C_S1);
    H5Tset_size(type, H5T_VARIABLE);
    H5Tset_cset(type, H5T_CSET_UTF8);
    space = H5Screate(H5S_SCALAR);
    buffer = &text;
  } else {  // fixed-length
    type = H5Tcopy(H5T_C_S1);
    H5Tset_size(type, value.empty() ? 1 : value.size());
    space = H5Screate(H5S_SCALAR);
    buffer = text;
  }
  const hid_t attr = H5Acreate2(group, name.c_str(), type, space, H5P_DEFAULT, H5P_DEFAULT);
  if (attr >= 0) {
    H5Awrite(attr, type, buffer);
    H5Aclose(attr);
  }
  H5Sclose(space);
  H5Tclose(type);
}

// The seed checkpoint with its /meta replaced by the input's attributes.
bool write_checkpoint(const std::string& path, const uint8_t* data, size_t size) {
  std::ofstream(path, std::ios::binary).write(seed_bytes().data(), static_cast<std::streamsize>(seed_bytes().size()));
  const hid_t file = H5Fopen(path.c_str(), H5F_ACC_RDWR, H5P_DEFAULT);
  if (file < 0) return false;
  if (H5Lexists(file, "/meta", H5P_DEFAULT) > 0) H5Ldelete(file, "/meta", H5P_DEFAULT);
  const hid_t group = H5Gcreate2(file, "/meta", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
  const std::vector<std::string> f = fields(data + 1, size - 1);
  for (size_t i = 0; i + 1 < f.size(); i += 2) write_attribute(group, f[i], f[i + 1], static_cast<uint8_t>((data[0] >> (i % 8)) % 3));
  H5Gclose(group);
  H5Fclose(file);
  return true;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1 || size > 4096) return 0;
  static const bool quiet_hdf5 = [] { return H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr) >= 0; }();
  (void)quiet_hdf5;
  const std::string path = qs4d::fuzz::input_path(".h5");
  if (!write_checkpoint(path, data, size)) return 0;
  static const qs4d::Dataset samples = [] {
    qs4d::Dataset d;
    d.x = {2, 16, 1, std::vector<float>(2 * 16, 0.5f)};
    d.y = {0, 1};
    d.n_classes = 10;
    d.name = d.path = "fuzz";
    return d;
  }();
  static const qs4d::Dataset calibration = [] {
    qs4d::Dataset d = samples;
    d.x.values.assign(d.x.values.size(), -0.25f);
    d.name = d.path = "fuzz calibration";
    return d;
  }();
  std::FILE* quiet = std::freopen("/dev/null", "w", stdout);
  (void)quiet;
  try {
    const qs4d::S4DModel model = qs4d::S4DModel::load(path);
    qs4d::cli::run_info(qs4d::cli::InfoArgs{path});
    // Printed text is escaped: no control character may reach the terminal.
    for (const auto& [key, value] : model.meta()) {
      for (char c : qs4d::printable(key) + qs4d::printable(value)) {
        if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) __builtin_trap();
      }
    }
    qs4d::PtqOptions o;
    o.bits = {{"x", 8}};
    o.threads = 1;
    qs4d::evaluate_ptq(model, samples, calibration, o);
  } catch (const std::exception&) {
  }
  return 0;
}
