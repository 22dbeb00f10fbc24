// Technology tables: strict parsing and the converter models that need more than a constant.
#include <cmath>

#include "energy/energy.h"
#include "mapping/detail/spec_json.h"

namespace qs4d {
namespace {

using nlohmann::json;
using namespace spec_json;

// Reads the numeric keys of one section into `out` (all required), plus its citation.
void read_section(const json& j, const std::string& path, const std::string& section,
                  const std::vector<std::pair<std::string, double*>>& numbers,
                  const std::set<std::string>& extra, std::map<std::string, std::string>& citations) {
  const std::string p = path + "." + section;
  if (!j.contains(section)) throw SpecError(p, "missing section");
  const json& s = j.at(section);
  std::set<std::string> known = extra;
  known.insert("citation");
  for (const auto& [k, ptr] : numbers) known.insert(k);
  reject_unknown(s, p, known);
  for (const auto& [k, ptr] : numbers) {
    if (!s.contains(k)) throw SpecError(p + "." + k, "missing");
    *ptr = get_number(s.at(k), p + "." + k);
    if (!std::isfinite(*ptr) || *ptr < 0) {
      throw SpecError(p + "." + k, "expected a finite non-negative number, got " + s.at(k).dump());
    }
  }
  if (!s.contains("citation")) throw SpecError(p + ".citation", "missing: every entry needs its source");
  citations[section] = get_string(s.at("citation"), p + ".citation");
  if (citations[section].empty()) throw SpecError(p + ".citation", "is empty");
}

}  // namespace

TechTable TechTable::from_json(const json& j, const std::string& source) {
  const std::string path = source;
  TechTable t;
  reject_unknown(j, path, {"name", "description", "feature_nm", "dac", "array", "adc", "digital",
                           "buffer", "programming", "baseline"});
  for (const char* k : {"name", "description", "feature_nm"}) {
    if (!j.contains(k)) throw SpecError(path + "." + k, "missing");
  }
  t.name = get_string(j.at("name"), path + ".name");
  t.description = get_string(j.at("description"), path + ".description");
  t.feature_nm = get_number(j.at("feature_nm"), path + ".feature_nm");
  if (!(t.feature_nm > 0 && t.feature_nm < 1000)) {
    throw SpecError(path + ".feature_nm", "expected 0 < nm < 1000, got " + j.at("feature_nm").dump());
  }
  auto& c = t.citations;
  read_section(j, path, "dac",
               {{"energy_pJ_base", &t.dac.energy_pJ_base}, {"energy_pJ_per_bit", &t.dac.energy_pJ_per_bit},
                {"latency_ns", &t.dac.latency_ns}, {"area_um2_per_row", &t.dac.area_um2_per_row}},
               {}, c);
  read_section(j, path, "array",
               {{"v_read_V", &t.array.v_read_V}, {"t_read_ns_base", &t.array.t_read_ns_base},
                {"t_read_ns_per_bit", &t.array.t_read_ns_per_bit}, {"cell_area_um2", &t.array.cell_area_um2}},
               {}, c);
  if (!(t.array.v_read_V > 0)) throw SpecError(path + ".array.v_read_V", "must be > 0");
  // The ADC section depends on its model.
  {
    const std::string p = path + ".adc";
    if (!j.contains("adc") || !j.at("adc").is_object()) throw SpecError(p, "missing section");
    const json& a = j.at("adc");
    if (!a.contains("model")) throw SpecError(p + ".model", "missing (\"neurosim_sar\" or \"linear\")");
    t.adc.neurosim_sar = get_enum<bool>(a.at("model"), p + ".model",
                                        {{"neurosim_sar", true}, {"linear", false}});
    double columns_per_adc = 1;
    std::vector<std::pair<std::string, double*>> numbers = {
        {"energy_pJ_per_input_bit", &t.adc.energy_pJ_per_input_bit},
        {"latency_ns_per_input_bit", &t.adc.latency_ns_per_input_bit},
        {"columns_per_adc", &columns_per_adc},
        {"area_um2_base", &t.adc.area_um2_base},
        {"area_um2_per_bit", &t.adc.area_um2_per_bit}};
    if (t.adc.neurosim_sar) {
      numbers.insert(numbers.end(), {{"a_uW", &t.adc.a_uW}, {"b_uW", &t.adc.b_uW}, {"c_W", &t.adc.c_W},
                                     {"k", &t.adc.k}, {"temperature_K", &t.adc.temperature_K},
                                     {"clock_GHz", &t.adc.clock_GHz}});
    } else {
      numbers.insert(numbers.end(), {{"energy_pJ_base", &t.adc.energy_pJ_base},
                                     {"energy_pJ_per_bit", &t.adc.energy_pJ_per_bit},
                                     {"latency_ns_base", &t.adc.latency_ns_base},
                                     {"latency_ns_per_bit", &t.adc.latency_ns_per_bit}});
    }
    read_section(j, path, "adc", numbers, {"model"}, c);
    if (columns_per_adc < 1 || columns_per_adc != std::floor(columns_per_adc) || columns_per_adc > 4096) {
      throw SpecError(p + ".columns_per_adc", "expected a whole number 1..4096, got " + a.at("columns_per_adc").dump());
    }
    t.adc.columns_per_adc = static_cast<int64_t>(columns_per_adc);
    if (t.adc.neurosim_sar && !(t.adc.clock_GHz > 0)) throw SpecError(p + ".clock_GHz", "must be > 0");
  }
  read_section(j, path, "digital",
               {{"add_pJ", &t.digital.add_pJ}, {"mul_pJ", &t.digital.mul_pJ}, {"mac_pJ", &t.digital.mac_pJ},
                {"nonlinear_pJ", &t.digital.nonlinear_pJ}, {"shift_add_pJ", &t.digital.shift_add_pJ},
                {"ops_per_ns", &t.digital.ops_per_ns}, {"area_mm2_per_tile", &t.digital.area_mm2_per_tile},
                {"area_mm2_shared", &t.digital.area_mm2_shared}},
               {}, c);
  if (!(t.digital.ops_per_ns > 0)) throw SpecError(path + ".digital.ops_per_ns", "must be > 0");
  double activation_bits = 8;
  read_section(j, path, "buffer",
               {{"read_pJ_per_bit", &t.buffer.read_pJ_per_bit}, {"write_pJ_per_bit", &t.buffer.write_pJ_per_bit},
                {"activation_bits", &activation_bits}},
               {}, c);
  if (activation_bits < 1 || activation_bits > 64 || activation_bits != std::floor(activation_bits)) {
    throw SpecError(path + ".buffer.activation_bits", "expected a whole number 1..64");
  }
  t.buffer.activation_bits = static_cast<int>(activation_bits);
  read_section(j, path, "programming",
               {{"pulse_pJ", &t.programming.pulse_pJ}, {"pulse_ns", &t.programming.pulse_ns}}, {}, c);
  read_section(j, path, "baseline",
               {{"mac_int8_pJ", &t.baseline.mac_int8_pJ}, {"mac_fp32_pJ", &t.baseline.mac_fp32_pJ},
                {"sram_read_pJ_per_bit", &t.baseline.sram_read_pJ_per_bit},
                {"dram_read_pJ_per_bit", &t.baseline.dram_read_pJ_per_bit},
                {"sram_capacity_bytes", &t.baseline.sram_capacity_bytes},
                {"macs_per_ns", &t.baseline.macs_per_ns},
                {"sram_area_um2_per_bit", &t.baseline.sram_area_um2_per_bit},
                {"mac_area_mm2", &t.baseline.mac_area_mm2}},
               {}, c);
  if (!(t.baseline.macs_per_ns > 0)) throw SpecError(path + ".baseline.macs_per_ns", "must be > 0");
  return t;
}

TechTable load_tech(const std::string& name_or_path) {
  const std::string path = preset_path(name_or_path, data_dir() + "/energy");
  return TechTable::from_json(read_json_file(path, "technology table \"" + name_or_path + "\""), path);
}

int magnitude_bits(int dac_bits) { return dac_bits <= 0 ? 8 : std::max(1, dac_bits - 1); }

double TechTable::adc_energy_pJ(int bits, int input_bits, double r_col_ohm) const {
  const int b = bits <= 0 ? 8 : bits;
  const double per_input = adc.energy_pJ_per_input_bit * magnitude_bits(input_bits);
  if (!adc.neurosim_sar) return adc.energy_pJ_base + adc.energy_pJ_per_bit * b + per_input;
  // NeuroSim SarADC::GetColumnPower: the column resistance is referred to a 0.5 V read.
  const double r = r_col_ohm * 0.5 / array.v_read_V;
  const double power_W = ((adc.a_uW * b + adc.b_uW) * 1e-6 + adc.c_W * std::exp(-adc.k * std::log10(r))) *
                         (1.0 + 1.3e-3 * (adc.temperature_K - 300.0));
  return power_W * (b + 1) / (adc.clock_GHz * 1e9) * 1e12 + per_input;
}

double TechTable::adc_latency_ns(int bits, int input_bits) const {
  const int b = bits <= 0 ? 8 : bits;
  const double per_input = adc.latency_ns_per_input_bit * magnitude_bits(input_bits);
  if (adc.neurosim_sar) return (b + 1) / adc.clock_GHz + per_input;
  return adc.latency_ns_base + adc.latency_ns_per_bit * b + per_input;
}

}  // namespace qs4d
