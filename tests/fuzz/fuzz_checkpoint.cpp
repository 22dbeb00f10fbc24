// libFuzzer harness: the checkpoint loader on arbitrary bytes, through the public entry point
// (S4DModel::load: the contained read in a child process, then the read here). Any crash,
// sanitizer report or hang in this process is a finding; our own FormatError is the expected
// answer to a bad file. Run: build-fuzz/tests/fuzz/fuzz_checkpoint -max_total_time=1800 CORPUS
// (scripts/fuzz.sh seeds the corpus with the shipped checkpoints).
#include <cstdint>
#include <exception>

#include "models/model.h"
#include "tests/fuzz/fuzz_input.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string path = qs4d::fuzz::write_input(data, size, ".h5");
  try {
    const qs4d::S4DModel model = qs4d::S4DModel::load(path);
  } catch (const std::exception&) {
  }
  return 0;
}
