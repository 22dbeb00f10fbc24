// libFuzzer harness: a sweep resumed from an arbitrary CSV (the rows --resume keeps are validated
// like any input, issues #30 and #31) and its sidecar (the run identity a resume must match), on
// the shipped IMSSA-sized checkpoint and eight synthetic sequences, as a dry run (the validation
// happens before it). The input is the CSV, then optionally "@@SIDECAR@@" and the sidecar's
// text. Every row either passes every check or is refused with an error; nothing may crash.
#include <cstdint>
#include <cstdio>
#include <exception>
#include <filesystem>
#include <fstream>
#include <optional>
#include <string>

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
  const std::string input(reinterpret_cast<const char*>(data), size);
  const size_t split = input.find("@@SIDECAR@@");
  o.out_csv = qs4d::fuzz::input_path(".csv");
  qs4d::fuzz::write_input(data, std::min(size, split), ".csv");
  std::filesystem::remove(o.out_csv + ".run.json");
  if (split != std::string::npos) {
    const std::string sidecar = input.substr(split + 11);
    std::ofstream(o.out_csv + ".run.json", std::ios::binary) << sidecar;
  }
  o.identity = {{"checkpoint", "fuzz.h5"}, {"seed", 1}, {"trials", 2}, {"times_s", {1.0, 86400.0}}};
  std::FILE* quiet = std::freopen("/dev/null", "w", stdout);
  (void)quiet;
  try {
    qs4d::run_sweep(*model, samples, "ideal", o);
  } catch (const std::exception&) {
  }
  std::filesystem::remove(o.out_csv + ".run.json");
  return 0;
}
