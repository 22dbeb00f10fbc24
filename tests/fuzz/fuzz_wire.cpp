// libFuzzer harness: the reading child's answer format (models/detail/wire.h) decoded from
// arbitrary bytes as each thing a loader returns (a model, a dataset, sequences, a matrix). The
// parent decodes only what its own child wrote, but a decoder that trusted its input would turn
// any bug in the child into a crash here: every size must be checked, every failure a FormatError.
#include <cstdint>
#include <exception>
#include <string>

#include "models/detail/wire.h"

namespace {

template <class T>
void decode(const std::string& bytes) {
  try {
    qs4d::h5::wire::Reader r(bytes, "fuzz");
    T value;
    qs4d::h5::wire::get(r, value);
    r.finish();
  } catch (const qs4d::FormatError&) {
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const std::string bytes(reinterpret_cast<const char*>(data) + 1, size - 1);
  switch (data[0] % 5) {
    case 0: decode<qs4d::S4DModel>(bytes); break;
    case 1: decode<qs4d::Dataset>(bytes); break;
    case 2: decode<qs4d::SequenceBatch>(bytes); break;
    case 3: decode<qs4d::RowMatrixXd>(bytes); break;
    default: decode<qs4d::RowMatrixXf>(bytes); break;
  }
  return 0;
}
