// qs4dsim energy and compare: cost per inference on a chip against a digital baseline, and the
// complexity of several checkpoints side by side.
#include <cmath>
#include <cstdio>
#include <cstdlib>

#include <nlohmann/json.hpp>

#include "run/run.h"
#include "run/cli/commands.h"

namespace qs4d::cli {
namespace {

// The dataset to count on: --data, else the test split of the dataset named in /meta.
std::string counting_data(const std::string& given, const S4DModel& model, const std::string& ckpt) {
  if (!given.empty()) return given;
  const auto it = model.meta().find("dataset");
  if (it == model.meta().end()) {
    throw UsageError(ckpt + ": /meta has no 'dataset' attribute; pass --data FILE (inputs to count "
                     "the chip's actions on)");
  }
  // A dataset name, not a path: the default stays inside the data folder.
  const std::string& name = it->second;
  if (name.empty() || name.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-") !=
                          std::string::npos) {
    throw UsageError(ckpt + ": /meta@dataset is \"" + name.substr(0, 60) +
                     "\", expected a dataset name (letters, digits, _ and -); pass --data FILE");
  }
  return data_dir() + "/datasets/" + name + "_test.h5";
}

CountOptions count_options(int64_t samples, uint64_t seed, int threads, const CalibrationSet& calibration) {
  CountOptions o;
  o.samples = samples;
  o.seed = seed;
  o.threads = threads;
  if (calibration.data.x.n > 0) o.calibration = &calibration.data;
  return o;
}

}  // namespace

int run_energy(const EnergyArgs& args) {
  const S4DModel model = S4DModel::load(args.checkpoint);
  const ChipSpec chip = load_chip(args.chip, args.overrides);
  const TechTable tech = load_tech(tech_for(chip, args.tech));
  const std::string data_path = counting_data(args.data, model, args.checkpoint);
  const Dataset data = load_dataset(data_path, args.samples);  // only the samples it counts on
  nlohmann::json calibration_report;
  const CalibrationSet calibration = calibration_for(chip, 0, args.calibration, data, calibration_report);
  const EnergyReport r = estimate_energy(model, data, chip, tech,
                                         count_options(args.samples, args.seed, args.threads, calibration));
  std::printf("checkpoint  %s\nchip        %s\ntech        %s: %s\n", args.checkpoint.c_str(),
              chip.name.c_str(), tech.name.c_str(), tech.description.c_str());
  std::printf("counted on  %lld samples of %s (L = %lld), seed %llu\n",
              static_cast<long long>(std::min(args.samples, data.x.n)), data_path.c_str(),
              static_cast<long long>(data.x.length), static_cast<unsigned long long>(args.seed));
  if (calibration.data.x.n > 0) {
    std::printf("calibration %lld samples of %s (ADC ranges; none of them counted)\n\n",
                static_cast<long long>(calibration.data.x.n), calibration.data.path.c_str());
  } else {
    std::printf("calibration none: %s\n\n", calibration_report.value("why", std::string()).c_str());
  }
  print_energy_report(r);
  if (!args.json_out.empty()) {
    nlohmann::json j = r.to_json();
    j["run"] = run_identity(args.checkpoint, data_path, data, args.samples, &chip, args.overrides, args.seed);
    j["run"]["energy_samples"] = std::min(args.samples, data.x.n);
    j["run"]["tech"] = tech.name;
    j["run"]["calibration"] = calibration_report;
    j["calibration"] = calibration_report;
    j["checkpoint"] = args.checkpoint;
    j["chip"] = chip.resolved;
    j["data"] = data_path;
    j["samples"] = std::min(args.samples, data.x.n);
    j["seed"] = args.seed;
    j["citations"] = tech.citations;
    write_text_atomic(args.json_out, j.dump(2) + "\n");
  }
  return 0;
}

int run_compare(const CompareArgs& args) {
  const ChipSpec chip = load_chip(args.chip, args.overrides);
  const TechTable tech = load_tech(tech_for(chip, args.tech));
  std::vector<EnergyReport> reports;
  std::vector<std::string> names;
  std::vector<double> accuracy;
  std::vector<nlohmann::json> calibrations;
  for (const std::string& path : args.checkpoints) {
    const S4DModel model = S4DModel::load(path);
    const Dataset data = load_dataset(counting_data(args.data, model, path), args.samples);
    nlohmann::json calibration_report;
    const CalibrationSet calibration = calibration_for(chip, 0, args.calibration, data, calibration_report);
    reports.push_back(estimate_energy(model, data, chip, tech,
                                      count_options(args.samples, args.seed, args.threads, calibration)));
    calibrations.push_back(calibration_report);
    const auto acc = model.meta().find("test_accuracy");
    accuracy.push_back(acc == model.meta().end() ? std::nan("") : std::atof(acc->second.c_str()));
    const auto slash = path.find_last_of('/');
    names.push_back(slash == std::string::npos ? path : path.substr(slash + 1));
  }
  std::printf("chip %s, tech %s, seed %llu\n\n", chip.name.c_str(), tech.name.c_str(),
              static_cast<unsigned long long>(args.seed));
  auto row = [&](const char* label, auto value, const char* fmt) {
    std::printf("%-34s", label);
    for (const EnergyReport& r : reports) std::printf(fmt, value(r));
    std::printf("\n");
  };
  size_t width = 12;
  for (const auto& n : names) width = std::max(width, n.size());
  const std::string w = std::to_string(width);
  std::printf("%-34s", "");
  for (const auto& n : names) std::printf(" %*s", static_cast<int>(width), n.c_str());
  std::printf("\n");
  row("parameters", [](const EnergyReport& r) { return static_cast<double>(r.model.parameters); }, (" %" + w + ".0f").c_str());
  row("crossbar weight bits (mean)", [](const EnergyReport& r) { return r.model.weight_bits_mean; }, (" %" + w + ".2f").c_str());
  row("weight memory (KiB)", [](const EnergyReport& r) { return r.model.weight_bytes / 1024.0; }, (" %" + w + ".1f").c_str());
  row("MACs per inference", [](const EnergyReport& r) { return r.model.macs_per_inference; }, (" %" + w + ".4g").c_str());
  row("crossbar devices used", [](const EnergyReport& r) { return static_cast<double>(r.model.devices_used); }, (" %" + w + ".0f").c_str());
  row("tiles", [](const EnergyReport& r) { return static_cast<double>(r.model.tiles); }, (" %" + w + ".0f").c_str());
  row("analog energy (nJ/inference)", [](const EnergyReport& r) { return r.energy_pJ / 1e3; }, (" %" + w + ".4g").c_str());
  row("analog latency (us/inference)", [](const EnergyReport& r) { return r.latency_ns / 1e3; }, (" %" + w + ".4g").c_str());
  row("analog area (mm^2)", [](const EnergyReport& r) { return r.area_mm2; }, (" %" + w + ".4g").c_str());
  row("TOPS/W", [](const EnergyReport& r) { return r.tops_per_w; }, (" %" + w + ".4g").c_str());
  row("digital INT8 energy (nJ)", [](const EnergyReport& r) { return r.int8.energy_pJ / 1e3; }, (" %" + w + ".4g").c_str());
  row("digital FP32 energy (nJ)", [](const EnergyReport& r) { return r.fp32.energy_pJ / 1e3; }, (" %" + w + ".4g").c_str());
  row("digital energy, own precision (nJ)", [](const EnergyReport& r) { return r.native.energy_pJ / 1e3; }, ("" " %" + w + ".4g").c_str());
  row("test accuracy (from /meta)", [&](const EnergyReport& r) { return accuracy[static_cast<size_t>(&r - reports.data())]; }, (" %" + w + ".4f").c_str());
  row("analog / digital INT8 energy", [](const EnergyReport& r) { return r.energy_pJ / r.int8.energy_pJ; }, (" %" + w + ".4g").c_str());
  if (!args.json_out.empty()) {
    nlohmann::json j;
    j["chip"] = chip.resolved;
    j["tech"] = tech.name;
    j["seed"] = args.seed;
    for (size_t i = 0; i < reports.size(); ++i) {
      nlohmann::json e = reports[i].to_json();
      e["checkpoint"] = args.checkpoints[i];
      e["calibration"] = calibrations[i];
      j["checkpoints"].push_back(e);
    }
    write_text_atomic(args.json_out, j.dump(2) + "\n");
  }
  return 0;
}

}  // namespace qs4d::cli
