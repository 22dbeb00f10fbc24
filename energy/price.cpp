// Prices per-inference action counts with a technology table; the digital baseline.
#include <algorithm>
#include <cmath>

#include "energy/energy.h"

namespace qs4d {
namespace {

using nlohmann::json;

double digital_ops(const ActionCounts& c) {
  return c.digital_adds + c.digital_muls + c.digital_macs + c.nonlinear + c.shift_adds;
}

double glue_energy_pJ(const ActionCounts& c, const TechTable& t) {
  return c.digital_adds * t.digital.add_pJ + c.digital_muls * t.digital.mul_pJ +
         c.nonlinear * t.digital.nonlinear_pJ + c.shift_adds * t.digital.shift_add_pJ;
}

// `weight_bits` per stored weight; MACs at INT8 cost up to 8 bits, at FP32 cost above.
DigitalBaseline baseline(const ActionCounts& all_digital, const ModelComplexity& model,
                         const TechTable& t, const std::string& precision, double weight_bits) {
  DigitalBaseline b;
  b.precision = precision;
  const double weight_bytes = static_cast<double>(model.parameters) * weight_bits / 8.0;
  b.weights_in_sram = weight_bytes <= t.baseline.sram_capacity_bytes;
  // The SRAM holds what fits; the share of weights beyond its capacity streams from DRAM.
  b.dram_fraction = b.weights_in_sram ? 0.0 : 1.0 - t.baseline.sram_capacity_bytes / weight_bytes;
  const double fetch = (1 - b.dram_fraction) * t.baseline.sram_read_pJ_per_bit +
                       b.dram_fraction * t.baseline.dram_read_pJ_per_bit;
  // Every MAC fetches its weight (or SSM parameter): nothing stays in the datapath between uses.
  const double macs = all_digital.digital_macs;
  const double mac_pJ = macs * (weight_bits > 8 ? t.baseline.mac_fp32_pJ : t.baseline.mac_int8_pJ);
  const double fetch_pJ = macs * weight_bits * fetch;
  const double glue_pJ = glue_energy_pJ(all_digital, t);
  const double buffer_pJ = all_digital.buffer_read_bits * t.buffer.read_pJ_per_bit +
                           all_digital.buffer_write_bits * t.buffer.write_pJ_per_bit;
  b.energy_pJ = mac_pJ + fetch_pJ + glue_pJ + buffer_pJ;
  b.breakdown_pJ = json{{"mac", mac_pJ}, {"weight_fetch", fetch_pJ},
                        {"digital", glue_pJ}, {"buffer", buffer_pJ}};
  b.latency_ns = macs / t.baseline.macs_per_ns + (digital_ops(all_digital) - macs) / t.digital.ops_per_ns;
  const double sram_bits = std::min(weight_bytes, t.baseline.sram_capacity_bytes) * 8.0;
  b.area_mm2 = t.baseline.mac_area_mm2 + sram_bits * t.baseline.sram_area_um2_per_bit * 1e-6 +
               t.digital.area_mm2_shared;
  return b;
}

json baseline_json(const DigitalBaseline& b) {
  return json{{"precision", b.precision},
              {"weights_in", b.weights_in_sram ? "sram" : "sram+dram"},
              {"weight_fraction_from_dram", b.dram_fraction},
              {"energy_pJ_per_inference", b.energy_pJ},
              {"latency_ns_per_inference", b.latency_ns},
              {"area_mm2", b.area_mm2},
              {"breakdown_pJ", b.breakdown_pJ}};
}

}  // namespace

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
  // MACs the chip leaves digital are priced at the digital MAC energy, their weights local.
  const double digital = glue_energy_pJ(c, t) + c.digital_macs * t.digital.mac_pJ;
  const double buffer = c.buffer_read_bits * t.buffer.read_pJ_per_bit + c.buffer_write_bits * t.buffer.write_pJ_per_bit;
  return {{"dac", dac}, {"array", array}, {"adc", adc}, {"digital", digital}, {"buffer", buffer}};
}

EnergyReport price(const ActionCounts& c, const ActionCounts& all_digital, const ModelComplexity& model,
                   const MappedModel& map, const ChipSpec& chip, const TechTable& t) {
  EnergyReport r;
  r.tech = t.name;
  r.model = model;
  r.counts = c;
  r.breakdown_pJ = energy_breakdown_pJ(c, t);
  for (const auto& [k, v] : r.breakdown_pJ) r.energy_pJ += v;
  r.tops_per_w = r.energy_pJ > 0 ? 2.0 * model.macs_per_inference / r.energy_pJ : 0;

  // Latency: products one after another; within a group (one matrix, or one layer's recurrence
  // blocks) tiles work in parallel and each tile's conversions share its ADCs.
  const int64_t adcs_per_tile = std::max<int64_t>(
      1, (chip.mapping.tile_cols + t.adc.columns_per_adc - 1) / t.adc.columns_per_adc);
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
      worst = std::max(worst, std::ceil(n / static_cast<double>(adcs_per_tile)));
    }
    const double t_read = t.array.t_read_ns_base + t.array.t_read_ns_per_bit * magnitude_bits(dac_bits);
    g.second = t.dac.latency_ns + t_read + worst * t.adc_latency_ns(adc_bits, dac_bits);
    analog_ns += g.first * g.second;
  }
  r.latency_ns = analog_ns + digital_ops(c) / t.digital.ops_per_ns;

  // Area of every tile the mapping allocated.
  const auto tiles = static_cast<double>(map.tiles.size());
  const auto rows = static_cast<double>(chip.mapping.tile_rows), cols = static_cast<double>(chip.mapping.tile_cols);
  const int adc_bits = chip.periphery.adc_bits > 0 ? chip.periphery.adc_bits : 8;
  r.area_breakdown_mm2 = {
      {"cells", tiles * rows * cols * t.array.cell_area_um2 * 1e-6},
      {"dac", tiles * rows * t.dac.area_um2_per_row * 1e-6},
      {"adc", tiles * static_cast<double>(adcs_per_tile) * (t.adc.area_um2_base + t.adc.area_um2_per_bit * adc_bits) * 1e-6},
      {"digital", tiles * t.digital.area_mm2_per_tile + t.digital.area_mm2_shared}};
  for (const auto& [k, v] : r.area_breakdown_mm2) r.area_mm2 += v;

  r.programming_energy_pJ = c.programming_pulses * t.programming.pulse_pJ;
  r.programming_time_ns = c.programming_pulses * t.programming.pulse_ns;
  r.int8 = baseline(all_digital, model, t, "int8", 8.0);
  r.fp32 = baseline(all_digital, model, t, "fp32", 32.0);
  r.native = baseline(all_digital, model, t, "checkpoint", model.mac_weight_bits);
  return r;
}

json EnergyReport::to_json() const {
  double adc_conv = 0, dac_conv = 0;
  for (const auto& [k, v] : counts.adc_conversions) adc_conv += v;
  for (const auto& [k, v] : counts.dac_conversions) dac_conv += v;
  json j{{"tech", tech},
         {"energy_pJ_per_inference", energy_pJ},
         {"breakdown_pJ", breakdown_pJ},
         {"tops_per_w", tops_per_w},
         {"latency_ns_per_inference", latency_ns},
         {"area_mm2", area_mm2},
         {"area_breakdown_mm2", area_breakdown_mm2},
         {"digital_baseline", baseline_json(int8)},
         {"digital_baseline_fp32", baseline_json(fp32)},
         {"digital_baseline_checkpoint_precision", baseline_json(native)},
         {"analog_vs_digital_energy_ratio", int8.energy_pJ > 0 ? energy_pJ / int8.energy_pJ : 0.0},
         {"digital_over_analog_energy", energy_pJ > 0 ? int8.energy_pJ / energy_pJ : 0.0},
         {"fp32_digital_over_analog_energy", energy_pJ > 0 ? fp32.energy_pJ / energy_pJ : 0.0},
         {"programming", {{"pulses", counts.programming_pulses},
                          {"energy_pJ", programming_energy_pJ},
                          {"time_ns", programming_time_ns}}},
         {"counts_per_inference", {{"dac_conversions", dac_conv},
                                   {"row_activations", counts.row_activations},
                                   {"cell_reads", counts.cell_reads},
                                   {"adc_conversions", adc_conv},
                                   {"digital_adds", counts.digital_adds},
                                   {"digital_muls", counts.digital_muls},
                                   {"digital_macs", counts.digital_macs},
                                   {"nonlinear", counts.nonlinear},
                                   {"shift_adds", counts.shift_adds},
                                   {"buffer_read_bits", counts.buffer_read_bits},
                                   {"buffer_write_bits", counts.buffer_write_bits}}},
         {"complexity", {{"parameters", model.parameters},
                         {"weight_bytes", model.weight_bytes},
                         {"weight_bits_mean", model.weight_bits_mean},
                         {"macs_per_inference", model.macs_per_inference},
                         {"mac_weight_bits", model.mac_weight_bits},
                         {"sequence_length", model.length},
                         {"devices_used", model.devices_used},
                         {"devices_allocated", model.devices_allocated},
                         {"tiles", model.tiles}}}};
  return j;
}

}  // namespace qs4d
