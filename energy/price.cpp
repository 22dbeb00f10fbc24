// Prices per-inference action counts with a technology table; the digital baseline.
#include <algorithm>
#include <cmath>
#include <cstdio>

#include "energy/energy.h"

namespace qs4d {
namespace {

using nlohmann::json;

double digital_ops(const ActionCounts& c) {
  return c.digital_adds + c.digital_muls + c.digital_macs + c.nonlinear + c.shift_adds;
}


json memory_json(const std::vector<MemoryLine>& lines) {
  json out = json::array();
  for (const MemoryLine& l : lines) {
    out.push_back(json{{"operand", l.operand}, {"level", l.level}, {"accesses", l.accesses},
                       {"bits", l.bits}, {"pJ", l.pJ}, {"note", l.note}});
  }
  return out;
}

double total_pJ(const std::vector<MemoryLine>& lines) {
  double sum = 0;
  for (const MemoryLine& l : lines) sum += l.pJ;
  return sum;
}

json baseline_json(const DigitalBaseline& b) {
  return json{{"precision", b.precision},
              {"dataflow", b.dataflow},
              {"weights_in", b.weights_in_sram ? "sram" : "sram+dram"},
              {"weight_fraction_from_dram", b.dram_fraction},
              {"weight_fetches_per_inference", b.weight_fetches_per_inference},
              {"memory", memory_json(b.memory)},
              {"energy_pJ_per_inference", b.energy_pJ},
              {"latency_ns_per_inference", b.latency_ns},
              {"area_mm2", b.area_mm2},
              {"breakdown_pJ", b.breakdown_pJ}};
}

// What the figures assume: the dataflow, each level's capacity and energy per bit, and any use
// of the SRAM energy points outside the range they cover.
json assumptions(const DataflowSpec& d, const TechTable& t) {
  json levels = json::object(), flags = json::array();
  auto sram = [&](const char* name, const TechTable::Memory::Level& l) {
    std::string note;
    t.memory.sram_energy_pJ_per_bit(l.capacity_bytes, &note);
    levels[name] = json{{"capacity_bytes", l.capacity_bytes}, {"pJ_per_bit", l.pJ_per_bit},
                        {"bits_per_access", l.bits_per_access}, {"source", t.citations.at(std::string("memory.") + name)}};
    if (!note.empty()) flags.push_back(std::string(name) + ": " + note);
  };
  levels["register"] = json{{"pJ_per_bit", t.memory.reg.pJ_per_bit}, {"source", t.citations.at("memory.register")}};
  sram("local", t.memory.local);
  sram("global_buffer", t.memory.global_buffer);
  levels["dram"] = json{{"pJ_per_bit", t.memory.dram.pJ_per_bit}, {"source", t.citations.at("memory.dram")}};
  return json{{"dataflow", d.to_json()},
              {"crossbar_weights", "stationary in the cells, programmed once per chip (not per inference)"},
              {"local_storage", "one per digital recurrence unit (one unit per layer); the SSM state first, "
                                "then as many mode parameters as fit"},
              {"activation_bits", t.memory.activation_bits},
              {"activation_buffers", d.activations_local
                                         ? "local buffers next to each unit, priced as SRAMs of the local capacity"
                                         : "the global buffer"},
              {"write_energy", "equal to the read energy per bit at every level"},
              {"memory_levels", levels},
              {"range_flags", flags}};
}

}  // namespace

double glue_energy_pJ(const ActionCounts& c, const TechTable& t) {
  return c.digital_adds * t.digital.add_pJ + c.digital_muls * t.digital.mul_pJ +
         c.nonlinear * t.digital.nonlinear_pJ + c.shift_adds * t.digital.shift_add_pJ;
}

std::map<std::string, double> energy_breakdown_pJ(const ActionCounts& c, const TechTable& t) {
  double dac = 0, array = 0, adc = 0;
  for (const auto& [bits, n] : c.dac_conversions) {
    dac += n * (t.dac.energy_pJ_base + t.dac.energy_pJ_per_bit * magnitude_bits(bits));
  }
  const double v2 = t.array.v_read_V * t.array.v_read_V;
  for (const auto& [bits, g_v2] : c.g_v2_uS) {
    const double t_read_ns = t.array.t_read_ns_base + t.array.t_read_ns_per_bit * magnitude_bits(bits);
    array += g_v2 * v2 * t_read_ns * 1e-3;  // uS x V^2 x ns = 1e-15 J = 1e-3 pJ
  }
  for (const auto& [key, n] : c.adc_conversions) {
    adc += n * t.adc_energy_pJ(key.bits, key.input_bits, std::pow(10.0, key.r_col_log10_x20 / 20.0));
  }
  // MACs the chip leaves digital are priced at the digital MAC energy; what they read is priced
  // with the memory lines.
  const double digital = glue_energy_pJ(c, t) + c.digital_macs * t.digital.mac_pJ;
  return {{"dac", dac}, {"array", array}, {"adc", adc}, {"digital", digital}};
}

// Each stage's converter and array energy, priced from its matrices' own actions by the same
// formulas as the chip-wide figures.
static std::map<std::string, std::map<std::string, double>> stage_energy_pJ(const ActionCounts& c,
                                                                          const TechTable& t) {
  std::map<std::string, ActionCounts> stages;
  for (const auto& [m, a] : c.matrices) {
    ActionCounts& s = stages[a.group];
    s.dac_conversions[a.dac_bits] += a.dac_conversions;
    s.g_v2_uS[a.dac_bits] += a.g_v2_uS;
    for (const auto& [k, v] : a.adc_conversions) s.adc_conversions[k] += v;
  }
  std::map<std::string, std::map<std::string, double>> out;
  for (const auto& [group, s] : stages) {
    auto e = energy_breakdown_pJ(s, t);
    e.erase("digital");
    out[group] = e;
  }
  return out;
}

EnergyReport price(const ActionCounts& c, const ActionCounts& all_digital, const ModelComplexity& model,
                   const ChipSpec& chip, const TechTable& t) {
  EnergyReport r;
  r.tech = t.name;
  r.model = model;
  r.counts = c;
  r.breakdown_pJ = energy_breakdown_pJ(c, t);
  r.memory = memory_lines(c, chip.dataflow, t, t.memory.activation_bits);
  r.breakdown_pJ["buffer"] = total_pJ(r.memory);
  if (c.operands.count("ssm_parameters") && chip.dataflow.ssm_parameters_local) {
    DataflowSpec streamed = chip.dataflow;
    streamed.ssm_parameters_local = false;
    for (const MemoryLine& l : memory_lines(c, streamed, t, t.memory.activation_bits)) {
      if (l.operand == "ssm_parameters") r.memory_if_streamed.push_back(l);
    }
  }
  for (const auto& [k, v] : r.breakdown_pJ) r.energy_pJ += v;
  r.analog_macs = std::max(0.0, model.macs_per_inference - c.digital_macs);
  const double macro_pJ = r.breakdown_pJ["dac"] + r.breakdown_pJ["array"] + r.breakdown_pJ["adc"];
  r.macro_tops_per_w = macro_pJ > 0 ? 2.0 * r.analog_macs / macro_pJ : 0;

  // Latency: products one after another; within a group (one matrix, or one layer's recurrence
  // blocks) tiles work in parallel and each tile's conversions share its ADCs.
  auto adcs_of = [&](int64_t tile) {
    const auto cols = static_cast<double>(c.converters.at(static_cast<size_t>(tile)).cols);
    return std::max(1.0, std::ceil(cols / static_cast<double>(t.adc.columns_per_adc)));
  };
  std::map<std::string, std::pair<double, double>> groups;  // group -> (vectors, time per vector)
  std::map<std::string, std::map<int64_t, double>> group_tile_conversions;
  std::map<std::string, std::pair<int, int>> group_bits;
  for (const auto& [m, a] : c.matrices) {
    for (const auto& [tile, n] : a.conversions_per_tile) group_tile_conversions[a.group][tile] += n;
    auto& g = groups[a.group];
    g.first = std::max(g.first, a.vectors);
    group_bits[a.group] = {a.dac_bits, a.adc_bits};
  }
  double analog_ns = 0;
  for (auto& [name, g] : groups) {
    const auto [dac_bits, adc_bits] = group_bits[name];
    double worst = 0;
    for (const auto& [tile, n] : group_tile_conversions[name]) {
      worst = std::max(worst, std::ceil(n / adcs_of(tile)));
    }
    const double t_read = t.array.t_read_ns_base + t.array.t_read_ns_per_bit * magnitude_bits(dac_bits);
    g.second = t.dac.latency_ns + t_read + worst * t.adc_latency_ns(adc_bits, dac_bits);
    analog_ns += g.first * g.second;
    r.latency_breakdown_ns[name] = g.first * g.second;
  }
  r.latency_breakdown_ns["digital"] = digital_ops(c) / t.digital.ops_per_ns;
  r.latency_ns = analog_ns + r.latency_breakdown_ns["digital"];
  double longest = -1;
  for (const auto& [stage, ns] : r.latency_breakdown_ns) {
    if (ns > longest) longest = ns, r.critical_stage = stage;
  }

  // Area of every tile the mapping allocated, each converter sized by its own bits (ideal
  // converters priced as 8 bits), as the periphery built them.
  double cells = 0, dacs = 0, adcs = 0, recurrence_adcs = 0;
  for (const TileConverters& k : c.converters) {
    const auto rows = static_cast<double>(k.rows), cols = static_cast<double>(k.cols);
    const double n_adc = std::ceil(cols / static_cast<double>(t.adc.columns_per_adc));
    const double adc = n_adc * (t.adc.area_um2_base + t.adc.area_um2_per_bit * (k.adc_bits > 0 ? k.adc_bits : kIdealConverterPricedBits)) * 1e-6;
    cells += rows * cols * t.array.cell_area_um2 * 1e-6;
    dacs += rows * t.dac.area_um2_per_row * 1e-6;
    adcs += adc;
    if (k.role == "recurrence") recurrence_adcs += adc;
  }
  r.area_breakdown_mm2 = {
      {"memory", memory_area_mm2(c, chip.dataflow, t, 1.0)},
      {"cells", cells},
      {"dac", dacs},
      {"adc", adcs},
      {"adc_recurrence", recurrence_adcs},  // the part of "adc" on recurrence tiles (not added twice)
      {"digital", static_cast<double>(c.converters.size()) * t.digital.area_mm2_per_tile + t.digital.area_mm2_shared}};
  for (const auto& [k, v] : r.area_breakdown_mm2) {
    if (k != "adc_recurrence") r.area_mm2 += v;
  }

  // Leakage of the CMOS area (all but the cells) for the whole latency; the efficiency figures
  // and the energy-delay product below include it.
  r.static_power_uW = t.leakage.uW_per_mm2 * (r.area_mm2 - cells);
  r.breakdown_pJ["leakage"] = r.static_power_uW * r.latency_ns * 1e-3;  // uW x ns = 1e-3 pJ
  r.energy_pJ += r.breakdown_pJ["leakage"];
  r.tops_per_w = r.energy_pJ > 0 ? 2.0 * model.macs_per_inference / r.energy_pJ : 0;
  r.throughput_per_s = r.latency_ns > 0 ? 1e9 / r.latency_ns : 0;
  r.pipelined_throughput_per_s = longest > 0 ? 1e9 / longest : 0;
  r.stage_energy_pJ = stage_energy_pJ(c, t);

  r.programming_energy_pJ = c.programming_pulses * t.programming.pulse_pJ;
  r.programming_time_ns = c.programming_pulses * t.programming.pulse_ns;
  r.int8 = digital_baseline(all_digital, model, chip.dataflow, t, "int8", 8.0);
  r.fp32 = digital_baseline(all_digital, model, chip.dataflow, t, "fp32", 32.0);
  r.native = digital_baseline(all_digital, model, chip.dataflow, t, "checkpoint", model.mac_weight_bits);
  r.assumptions = assumptions(chip.dataflow, t);
  r.edp_pJ_ns = r.energy_pJ * r.latency_ns;
  return r;
}

json EnergyReport::to_json() const {
  json sensitivity_rows = json::array();
  for (const SensitivityRow& s : sensitivity) {
    sensitivity_rows.push_back(json{{"assumption", s.assumption}, {"value", s.value}, {"analog_pJ", s.analog_pJ},
                                    {"int8_pJ", s.int8_pJ}, {"fp32_pJ", s.fp32_pJ},
                                    {"int8_over_analog", s.analog_pJ > 0 ? s.int8_pJ / s.analog_pJ : 0.0},
                                    {"fp32_over_analog", s.analog_pJ > 0 ? s.fp32_pJ / s.analog_pJ : 0.0}});
  }
  json j{{"tech", tech},
         {"counts_per_inference", counts.summary()},
         {"energy_pJ_per_inference", energy_pJ},
         {"breakdown_pJ", breakdown_pJ},
         {"tops_per_w", tops_per_w},
         {"tops_per_w_system", tops_per_w},
         {"tops_per_w_macro", macro_tops_per_w},
         {"analog_macs_per_inference", analog_macs},
         {"latency_ns_per_inference", latency_ns},
         {"latency_breakdown_ns", latency_breakdown_ns},
         {"latency_critical_stage", critical_stage},
         {"latency_vs_int8_baseline", int8.latency_ns > 0 ? latency_ns / int8.latency_ns : 0.0},
         {"edp_pJ_ns", edp_pJ_ns},
         {"throughput_per_s", throughput_per_s},
         {"pipelined_throughput_per_s", pipelined_throughput_per_s},
         {"stage_energy_pJ", stage_energy_pJ},
         {"static_power_uW", static_power_uW},
         {"edp_int8_baseline_pJ_ns", int8.energy_pJ * int8.latency_ns},
         {"area_mm2", area_mm2},
         {"area_breakdown_mm2", area_breakdown_mm2},
         {"memory", memory_json(memory)},
         {"memory_if_ssm_parameters_streamed", memory_json(memory_if_streamed)},
         {"assumptions", assumptions},
         {"digital_baseline", baseline_json(int8)},
         {"digital_baseline_fp32", baseline_json(fp32)},
         {"digital_baseline_checkpoint_precision", baseline_json(native)},
         {"analog_vs_digital_energy_ratio", int8.energy_pJ > 0 ? energy_pJ / int8.energy_pJ : 0.0},
         {"digital_over_analog_energy", energy_pJ > 0 ? int8.energy_pJ / energy_pJ : 0.0},
         {"fp32_digital_over_analog_energy", energy_pJ > 0 ? fp32.energy_pJ / energy_pJ : 0.0},
         {"programming", {{"pulses", counts.programming_pulses},
                          {"energy_pJ", programming_energy_pJ},
                          {"time_ns", programming_time_ns}}},
         {"complexity", {{"parameters", model.parameters},
                         {"weight_bytes", model.weight_bytes},
                         {"weight_bits_mean", model.weight_bits_mean},
                         {"macs_per_inference", model.macs_per_inference},
                         {"mac_weight_bits", model.mac_weight_bits},
                         {"sequence_length", model.length},
                         {"devices_used", model.devices_used},
                         {"devices_allocated", model.devices_allocated},
                         {"tiles", model.tiles}}}};
  if (!sensitivity.empty()) j["sensitivity"] = sensitivity_rows;
  return j;
}

std::vector<SensitivityRow> energy_sensitivity(const EnergyReport& r, const ActionCounts& all_digital,
                                               const ChipSpec& chip, const TechTable& tech) {
  std::vector<SensitivityRow> rows;
  auto add = [&](const std::string& assumption, const std::string& value, const ChipSpec& c, const TechTable& t) {
    const EnergyReport p = price(r.counts, all_digital, r.model, c, t);
    rows.push_back(SensitivityRow{assumption, value, p.energy_pJ, p.int8.energy_pJ, p.fp32.energy_pJ});
  };
  auto kib = [](double bytes) { return std::to_string(static_cast<int64_t>(bytes / 1024)) + " KiB"; };
  add("as reported", "", chip, tech);
  for (double bytes : {1024.0, 4096.0, 16384.0, 65536.0}) {
    TechTable t = tech;
    t.memory.local.capacity_bytes = bytes;
    t.memory.local.pJ_per_bit = t.memory.sram_energy_pJ_per_bit(bytes);
    add("local storage per unit", kib(bytes), chip, t);
  }
  for (double bytes : {65536.0, 262144.0, 1048576.0}) {
    TechTable t = tech;
    t.memory.global_buffer.capacity_bytes = bytes;
    t.memory.global_buffer.pJ_per_bit = t.memory.sram_energy_pJ_per_bit(bytes);
    add("global buffer", kib(bytes), chip, t);
  }
  for (int64_t batch : {1, 8, 64}) {
    ChipSpec c = chip;
    c.dataflow.batch = batch;
    add("batch", std::to_string(batch), c, tech);
  }
  for (bool local : {true, false}) {
    ChipSpec c = chip;
    c.dataflow.activations_local = local;
    add("activations", local ? "local" : "global_buffer", c, tech);
  }
  for (bool local : {true, false}) {
    ChipSpec c = chip;
    c.dataflow.ssm_parameters_local = local;
    add("ssm_parameters", local ? "local" : "streamed", c, tech);
  }
  for (double factor : {0.1, 10.0}) {
    TechTable t = tech;
    t.leakage.uW_per_mm2 *= factor;
    char value[32];
    std::snprintf(value, sizeof value, "%g uW/mm^2", t.leakage.uW_per_mm2);
    add("leakage", value, chip, t);
  }
  return rows;
}

}  // namespace qs4d
