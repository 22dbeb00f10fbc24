// libFuzzer harness: the chip and device spec parsers (JSON: nesting, types, ranges, unknown
// keys) on arbitrary bytes, each input read as a chip file and as a device file. Run:
// build-fuzz/tests/fuzz/fuzz_specs -max_total_time=1800 CORPUS (seeded with data/chips and
// data/devices by scripts/fuzz.sh).
#include <cstdint>
#include <exception>

#include "devices/devices.h"
#include "run/run.h"
#include "tests/fuzz/fuzz_input.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string path = qs4d::fuzz::write_input(data, size, ".json");
  try {
    const qs4d::ChipSpec chip = qs4d::load_chip(path, {});
  } catch (const std::exception&) {
  }
  try {
    const qs4d::DeviceSpec device = qs4d::load_device(path, {}, qs4d::data_dir());
  } catch (const std::exception&) {
  }
  return 0;
}
