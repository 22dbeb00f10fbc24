// Technology tables: strict parsing and the converter models that need more than a constant.
#include <cmath>

#include "energy/energy.h"
#include "core/core.h"
#include "core/fields.h"

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
    *ptr = bounded(s.at(k), p + "." + k, bounds::kTechFigure);
  }
  if (!s.contains("citation")) throw SpecError(p + ".citation", "missing: every entry needs its source");
  citations[section] = get_string(s.at("citation"), p + ".citation");
  if (citations[section].empty()) throw SpecError(p + ".citation", "is empty");
}

int64_t whole_number(double x, double lo, double hi, const std::string& path) {
  if (!(x >= lo && x <= hi) || x != std::floor(x)) {
    throw SpecError(path, "expected a whole number " + std::to_string(static_cast<int64_t>(lo)) + ".." +
                              std::to_string(static_cast<int64_t>(hi)) + ", got " + std::to_string(x));
  }
  return static_cast<int64_t>(x);
}

// memory: {activation_bits, sram_energy: {capacity_bytes: [..], pJ_per_bit: [..], citation},
// register, local, global_buffer, dram: {...numbers, citation}}.
void read_memory(const json& j, const std::string& path, TechTable::Memory& m,
                 std::map<std::string, std::string>& citations) {
  const std::string p = path + ".memory";
  if (!j.contains("memory") || !j.at("memory").is_object()) throw SpecError(p, "missing section");
  const json& s = j.at("memory");
  reject_unknown(s, p, {"activation_bits", "sram_energy", "register", "local", "global_buffer", "dram"});
  if (!s.contains("activation_bits")) throw SpecError(p + ".activation_bits", "missing");
  m.activation_bits = static_cast<int>(whole_number(get_number(s.at("activation_bits"), p + ".activation_bits"),
                                                    1, 64, p + ".activation_bits"));
  {
    const std::string q = p + ".sram_energy";
    if (!s.contains("sram_energy") || !s.at("sram_energy").is_object()) throw SpecError(q, "missing section");
    const json& e = s.at("sram_energy");
    reject_unknown(e, q, {"capacity_bytes", "pJ_per_bit", "citation"});
    auto numbers = [&](const char* key) {
      if (!e.contains(key) || !e.at(key).is_array()) throw SpecError(q + "." + key, "missing: a list of numbers");
      std::vector<double> out;
      for (const json& x : e.at(key)) {
        const double v = get_number(x, q + "." + key + "[]");
        if (!(v > 0) || !std::isfinite(v)) throw SpecError(q + "." + key, "entries must be finite and > 0");
        out.push_back(v);
      }
      return out;
    };
    m.sram_capacity_bytes = numbers("capacity_bytes");
    m.sram_pJ_per_bit = numbers("pJ_per_bit");
    if (m.sram_capacity_bytes.size() < 2 || m.sram_capacity_bytes.size() > 64 ||
        m.sram_capacity_bytes.size() != m.sram_pJ_per_bit.size()) {
      throw SpecError(q, "capacity_bytes and pJ_per_bit must be lists of the same length, 2..64");
    }
    for (size_t i = 1; i < m.sram_capacity_bytes.size(); ++i) {
      if (!(m.sram_capacity_bytes[i] > m.sram_capacity_bytes[i - 1])) {
        throw SpecError(q + ".capacity_bytes", "must be strictly ascending");
      }
    }
    if (!e.contains("citation")) throw SpecError(q + ".citation", "missing: every entry needs its source");
    citations["memory.sram_energy"] = get_string(e.at("citation"), q + ".citation");
  }
  std::map<std::string, std::string> level_citations;
  // SRAM levels: capacity and area, energy from sram_energy. Registers (inside each PE, their
  // area in the MAC's) and DRAM (off chip): a fixed energy per bit.
  auto level = [&](const char* name, TechTable::Memory::Level& l, bool sram) {
    std::vector<std::pair<std::string, double*>> keys = {{"bits_per_access", &l.bits_per_access}};
    if (sram) {
      keys.insert(keys.end(), {{"capacity_bytes", &l.capacity_bytes}, {"area_um2_per_bit", &l.area_um2_per_bit}});
    } else {
      keys.push_back({"pJ_per_bit", &l.pJ_per_bit});
    }
    read_section(s, p, name, keys, {}, level_citations);
    citations[std::string("memory.") + name] = level_citations.at(name);
    whole_number(l.bits_per_access, 1, 4096, p + "." + name + ".bits_per_access");
    if (sram && !(l.capacity_bytes >= 1 && l.capacity_bytes <= 1e12)) {
      throw SpecError(p + "." + name + ".capacity_bytes", "must be 1 .. 1e12 bytes");
    }
  };
  level("register", m.reg, false);
  level("local", m.local, true);
  level("global_buffer", m.global_buffer, true);
  level("dram", m.dram, false);
  m.local.pJ_per_bit = m.sram_energy_pJ_per_bit(m.local.capacity_bytes);
  m.global_buffer.pJ_per_bit = m.sram_energy_pJ_per_bit(m.global_buffer.capacity_bytes);
}

}  // namespace

double TechTable::Memory::sram_energy_pJ_per_bit(double capacity_bytes, std::string* note) const {
  const auto& c = sram_capacity_bytes;
  const auto& e = sram_pJ_per_bit;
  if (c.empty()) return 0;
  if (capacity_bytes <= c.front()) {
    if (note && capacity_bytes < c.front()) {
      *note = "below the smallest published SRAM (" + std::to_string(static_cast<int64_t>(c.front())) +
              " B): its energy per bit used, an upper bound";
    }
    return e.front();
  }
  size_t i = 1;
  while (i + 1 < c.size() && capacity_bytes > c[i]) ++i;
  if (note && capacity_bytes > c.back()) {
    *note = "above the largest published SRAM (" + std::to_string(static_cast<int64_t>(c.back())) +
            " B): extrapolated along the last segment";
  }
  const double slope = std::log(e[i] / e[i - 1]) / std::log(c[i] / c[i - 1]);
  return e[i - 1] * std::pow(capacity_bytes / c[i - 1], slope);
}

TechTable TechTable::from_json(const json& j, const std::string& source) {
  const std::string path = source;
  TechTable t;
  reject_unknown(j, path, {"name", "description", "feature_nm", "dac", "array", "adc", "digital",
                           "memory", "programming", "baseline", "leakage"});
  for (const char* k : {"name", "description", "feature_nm"}) {
    if (!j.contains(k)) throw SpecError(path + "." + k, "missing");
  }
  t.name = get_string(j.at("name"), path + ".name");
  t.description = get_string(j.at("description"), path + ".description");
  t.feature_nm = get_number(j.at("feature_nm"), path + ".feature_nm");
  if (!(t.feature_nm > 0 && t.feature_nm < 1000)) {
    throw SpecError(path + ".feature_nm", "expected 0 < nm < 1000, got " + describe(j.at("feature_nm")));
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
    t.adc.columns_per_adc = whole_number(columns_per_adc, 1, 4096, p + ".columns_per_adc");
    if (t.adc.neurosim_sar && !(t.adc.clock_GHz > 0)) throw SpecError(p + ".clock_GHz", "must be > 0");
  }
  read_section(j, path, "digital",
               {{"add_pJ", &t.digital.add_pJ}, {"mul_pJ", &t.digital.mul_pJ}, {"mac_pJ", &t.digital.mac_pJ},
                {"nonlinear_pJ", &t.digital.nonlinear_pJ}, {"shift_add_pJ", &t.digital.shift_add_pJ},
                {"ops_per_ns", &t.digital.ops_per_ns}, {"area_mm2_per_tile", &t.digital.area_mm2_per_tile},
                {"area_mm2_shared", &t.digital.area_mm2_shared}},
               {}, c);
  if (!(t.digital.ops_per_ns > 0)) throw SpecError(path + ".digital.ops_per_ns", "must be > 0");
  read_section(j, path, "programming",
               {{"pulse_pJ", &t.programming.pulse_pJ}, {"pulse_ns", &t.programming.pulse_ns}}, {}, c);
  double pe_rows = 1, pe_cols = 1;
  read_section(j, path, "baseline",
               {{"mac_int8_pJ", &t.baseline.mac_int8_pJ}, {"mac_fp32_pJ", &t.baseline.mac_fp32_pJ},
                {"macs_per_ns", &t.baseline.macs_per_ns}, {"mac_area_mm2", &t.baseline.mac_area_mm2},
                {"pe_rows", &pe_rows}, {"pe_cols", &pe_cols}},
               {}, c);
  if (!(t.baseline.macs_per_ns > 0)) throw SpecError(path + ".baseline.macs_per_ns", "must be > 0");
  t.baseline.pe_rows = whole_number(pe_rows, 1, 65536, path + ".baseline.pe_rows");
  t.baseline.pe_cols = whole_number(pe_cols, 1, 65536, path + ".baseline.pe_cols");
  read_section(j, path, "leakage", {{"uW_per_mm2", &t.leakage.uW_per_mm2}}, {}, c);
  read_memory(j, path, t.memory, c);
  return t;
}

TechTable load_tech(const std::string& name_or_path) {
  const std::string path = preset_path(name_or_path, data_dir() + "/energy");
  return TechTable::from_json(read_json_file(path, "technology table \"" + name_or_path + "\""), path);
}

int magnitude_bits(int dac_bits) { return dac_bits <= 0 ? kIdealConverterPricedBits : std::max(1, dac_bits - 1); }

double TechTable::adc_energy_pJ(int bits, int input_bits, double r_col_ohm) const {
  const int b = bits <= 0 ? kIdealConverterPricedBits : bits;
  const double per_input = adc.energy_pJ_per_input_bit * magnitude_bits(input_bits);
  if (!adc.neurosim_sar) return adc.energy_pJ_base + adc.energy_pJ_per_bit * b + per_input;
  // NeuroSim SarADC::GetColumnPower: the column resistance is referred to a 0.5 V read.
  const double r = r_col_ohm * 0.5 / array.v_read_V;
  const double power_W = ((adc.a_uW * b + adc.b_uW) * 1e-6 + adc.c_W * std::exp(-adc.k * std::log10(r))) *
                         (1.0 + 1.3e-3 * (adc.temperature_K - 300.0));
  return power_W * (b + 1) / (adc.clock_GHz * 1e9) * 1e12 + per_input;
}

double TechTable::adc_latency_ns(int bits, int input_bits) const {
  const int b = bits <= 0 ? kIdealConverterPricedBits : bits;
  const double per_input = adc.latency_ns_per_input_bit * magnitude_bits(input_bits);
  if (adc.neurosim_sar) return (b + 1) / adc.clock_GHz + per_input;
  return adc.latency_ns_base + adc.latency_ns_per_bit * b + per_input;
}

}  // namespace qs4d
