// Energy figures as eval and energy report them: priced from a run's counted actions, and as
// text (run/run.h).
#include <cstdio>

#include <nlohmann/json.hpp>

#include "run/run.h"

namespace qs4d {
namespace {

void print_memory(const std::vector<MemoryLine>& lines, const char* indent) {
  for (const MemoryLine& l : lines) {
    std::printf("%s%-15s %-13s %10.4g bits %11.4g pJ  %s\n", indent, l.operand.c_str(), l.level.c_str(),
                l.bits, l.pJ, l.note.c_str());
  }
}

}  // namespace

void print_energy_report(const EnergyReport& r) {
  std::printf("energy      %.4g pJ per inference (%.4g nJ), %.3g TOPS/W system (every MAC of the model over all the "
              "energy); %.3g TOPS/W macro (the %.4g crossbar MACs over DAC + array + ADC)\n",
              r.energy_pJ, r.energy_pJ / 1e3, r.tops_per_w, r.macro_tops_per_w, r.analog_macs);
  for (const char* k : {"dac", "array", "adc", "digital", "buffer", "leakage"}) {
    const double v = r.breakdown_pJ.at(k);
    std::printf("  %-9s %12.4g pJ  %5.1f%%\n", k == std::string("buffer") ? "memory" : k, v,
                r.energy_pJ > 0 ? 100 * v / r.energy_pJ : 0.0);
  }
  std::printf("  (leakage: %.4g uW static power of the CMOS area over the latency)\n", r.static_power_uW);
  std::printf("per stage   converters and array (DAC + array + ADC); the digital and memory lines are shared\n");
  for (const auto& [stage, e] : r.stage_energy_pJ) {
    const double sum = e.at("dac") + e.at("array") + e.at("adc");
    std::printf("  %-22s %10.4g pJ  (DAC %.3g, array %.3g, ADC %.3g)\n", stage.c_str(), sum, e.at("dac"),
                e.at("array"), e.at("adc"));
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
  std::printf("throughput  %.4g inferences/s one after another; %.4g pipelined (each stage on its own tiles, "
              "%s the slowest)\n", r.throughput_per_s, r.pipelined_throughput_per_s, r.critical_stage.c_str());
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


std::string tech_for(const ChipSpec& chip, const std::string& tech) { return tech.empty() ? chip.technology : tech; }

nlohmann::json energy_for_eval(const S4DModel& model, int64_t length, const ChipSpec& chip,
                               const std::string& tech_name, const ActionCounts& counted, bool print) {
  const TechTable tech = load_tech(tech_name);
  const MappedModel map = map_model(model, chip.mapping, chip.device.window());
  const EnergyReport r = estimate_energy(
      model, length, map, chip, tech, per_inference(counted, model, length, chip, tech.memory.activation_bits));
  if (print) {
    std::printf("energy counted on the first %lld samples of trial 0 at the first time\n",
                static_cast<long long>(counted.samples));
    print_energy_report(r);
  }
  nlohmann::json j = r.to_json();
  j["energy_counted_samples"] = counted.samples;
  return j;
}

}  // namespace qs4d
