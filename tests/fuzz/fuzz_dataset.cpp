// libFuzzer harness: the dataset loader (load_dataset, contained like the checkpoint loader)
// on arbitrary bytes. Run: build-fuzz/tests/fuzz/fuzz_dataset -max_total_time=1800 CORPUS.
#include <cstdint>
#include <exception>

#include "models/model.h"
#include "tests/fuzz/fuzz_input.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string path = qs4d::fuzz::write_input(data, size, ".h5");
  try {
    const qs4d::Dataset ds = qs4d::load_dataset(path, 64);
  } catch (const std::exception&) {
  }
  return 0;
}
