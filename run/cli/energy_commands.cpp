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

void print_memory(const std::vector<MemoryLine>& lines, const char* indent) {
  for (const MemoryLine& l : lines) {
    std::printf("%s%-15s %-13s %10.4g bits %11.4g pJ  %s\n", indent, l.operand.c_str(), l.level.c_str(),
                l.bits, l.pJ, l.note.c_str());
  }
}

void print_report(const EnergyReport& r) {
  std::printf("energy      %.4g pJ per inference (%.4g nJ), %.3g TOPS/W system (every MAC of the model over all the "
              "energy); %.3g TOPS/W macro (the %.4g crossbar MACs over DAC + array + ADC)\n",
              r.energy_pJ, r.energy_pJ / 1e3, r.tops_per_w, r.macro_tops_per_w, r.analog_macs);
  for (const char* k : {"dac", "array", "adc", "digital", "buffer"}) {
    const double v = r.breakdown_pJ.at(k);
    std::printf("  %-9s %12.4g pJ  %5.1f%%\n", k == std::string("buffer") ? "memory" : k, v,
                r.energy_pJ > 0 ? 100 * v / r.energy_pJ : 0.0);
  }
  std::printf("memory      by operand and level (dataflow: %s)\n", r.assumptions["dataflow"].dump().c_str());
  print_memory(r.memory, "  ");
  if (!r.memory_if_streamed.empty()) {
    std::printf("  if the SSM parameters were streamed at every step instead:\n");
    print_memory(r.memory_if_streamed, "  ");
  }
  for (const auto& flag : r.assumptions["range_flags"]) std::printf("  note: %s\n", flag.get<std::string>().c_str());
  std::printf("latency     %.4g us per inference (stages one after another; critical: %s), EDP %.4g pJ s\n",
              r.latency_ns / 1e3, r.critical_stage.c_str(), r.edp_pJ_ns * 1e-9);
  for (const auto& [stage, ns] : r.latency_breakdown_ns)
    std::printf("  %-22s %10.4g us  %5.1f%%\n", stage.c_str(), ns / 1e3, r.latency_ns > 0 ? 100 * ns / r.latency_ns : 0.0);
  if (r.int8.latency_ns > 0 && r.latency_ns > r.int8.latency_ns) {
    std::printf("  note: %.3gx the int8 baseline's %.4g us. The chip runs each stage's vectors one after another,\n"
                "  and each vector waits for its tiles' shared ADCs (columns per ADC, one conversion after another),\n"
                "  while the baseline's PE array streams MACs; %s takes %.0f%% of the time.\n",
                r.latency_ns / r.int8.latency_ns, r.int8.latency_ns / 1e3, r.critical_stage.c_str(),
                100 * r.latency_breakdown_ns.at(r.critical_stage) / r.latency_ns);
  }
  std::printf("area        %.4g mm^2 (cells %.3g, DAC %.3g, ADC %.3g, digital %.3g, memory %.3g)\n", r.area_mm2,
              r.area_breakdown_mm2.at("cells"), r.area_breakdown_mm2.at("dac"),
              r.area_breakdown_mm2.at("adc"), r.area_breakdown_mm2.at("digital"),
              r.area_breakdown_mm2.at("memory"));
  std::printf("programming %.4g pulses, %.4g uJ once per chip\n", r.counts.programming_pulses,
              r.programming_energy_pJ / 1e6);
  std::printf("digital baselines: %s\n", r.int8.dataflow.c_str());
  for (const DigitalBaseline* b : {&r.int8, &r.fp32, &r.native}) {
    std::printf("digital %-10s %.4g pJ (weights from %s), %.4g us, %.4g mm^2: analog uses %.3gx less energy\n",
                b->precision.c_str(), b->energy_pJ, b->weights_in_sram ? "SRAM" : "SRAM+DRAM",
                b->latency_ns / 1e3, b->area_mm2, r.energy_pJ > 0 ? b->energy_pJ / r.energy_pJ : 0.0);
    std::string parts;  // where the baseline's energy goes, as the analog breakdown above
    for (const auto& [k, v] : b->breakdown_pJ.items()) {
      char part[96];
      std::snprintf(part, sizeof part, "%s%s %.4g pJ (%.1f%%)", parts.empty() ? "" : ", ",
                    k == "buffer" ? "memory" : k.c_str(), v.get<double>(),
                    b->energy_pJ > 0 ? 100 * v.get<double>() / b->energy_pJ : 0.0);
      parts += part;
    }
    if (!parts.empty()) std::printf("  %s\n", parts.c_str());
  }
  if (!r.sensitivity.empty()) {
    std::printf("sensitivity of the ratios (digital / analog energy), one assumption changed at a time:\n");
    for (const SensitivityRow& s : r.sensitivity) {
      std::printf("  %-24s %-14s analog %10.4g pJ  int8 %6.3gx  fp32 %6.3gx\n", s.assumption.c_str(),
                  s.value.c_str(), s.analog_pJ, s.int8_pJ / s.analog_pJ, s.fp32_pJ / s.analog_pJ);
    }
  }
}

}  // namespace

nlohmann::json energy_for_eval(const S4DModel& model, int64_t length, const ChipSpec& chip,
                               const std::string& tech_name, const ActionCounts& counted, bool print) {
  const TechTable tech = load_tech(tech_name);
  const MappedModel map = map_model(model, chip.mapping, chip.device.window());
  const EnergyReport r = estimate_energy(
      model, length, map, chip, tech, per_inference(counted, model, length, chip, tech.memory.activation_bits));
  if (print) {
    std::printf("energy counted on the first %lld samples of trial 0 at the first time\n",
                static_cast<long long>(counted.samples));
    print_report(r);
  }
  nlohmann::json j = r.to_json();
  j["energy_counted_samples"] = counted.samples;
  return j;
}

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
  print_report(r);
  if (!args.json_out.empty()) {
    nlohmann::json j = r.to_json();
    j["run"] = run_identity(args.checkpoint, data_path, data, args.samples, chip, args.overrides, args.seed);
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
