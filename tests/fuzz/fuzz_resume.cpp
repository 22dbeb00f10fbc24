// libFuzzer harness: a sweep resumed from an arbitrary CSV (the rows --resume keeps are validated
// like any input, issues #30 and #31), on the shipped IMSSA-sized checkpoint and eight synthetic
// sequences, as a dry run (the validation happens before it). Every row either passes every
// check or is refused with an error; nothing may crash.
#include <cstdint>
#include <cstdio>
#include <exception>
#include <filesystem>
#include <optional>

#include "run/run.h"
#include "tests/fuzz/fuzz_input.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const std::optional<qs4d::S4DModel> model = qs4d::S4DModel::load(
      qs4d::data_dir() + "/checkpoints/fmnist196_s4d_h8_n6_l4_imssa_qat2.h5");
  static const qs4d::Dataset samples = [] {
    qs4d::Dataset d;
    d.x = {8, 16, 1, std::vector<float>(8 * 16, 0.25f)};
    d.y = {0, 1, 2, 3, 4, 5, 6, 7};
    d.n_classes = 10;
    d.name = d.path = "fuzz";
    return d;
  }();
  qs4d::SweepOptions o;
  o.grids = {"periphery.adc_bits=4,8", "mapping.encoding=differential,offset"};
  o.eval.times_s = {1.0, 86400.0};
  o.eval.trials = 2;
  o.eval.threads = 1;
  o.resume = true;
  o.dry_run = true;
  o.progress = false;
  o.timing_samples = 2;
  o.out_csv = qs4d::fuzz::write_input(data, size, ".csv");
  std::FILE* quiet = std::freopen("/dev/null", "w", stdout);
  (void)quiet;
  try {
    qs4d::run_sweep(*model, samples, "ideal", o);
  } catch (const std::exception&) {
  }
  std::filesystem::remove(o.out_csv + ".run.json");
  return 0;
}
