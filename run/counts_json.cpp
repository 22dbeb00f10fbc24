// ActionCounts as JSON and back. Maps with integer or structured keys become arrays of
// [key, value] pairs; doubles survive nlohmann's round trip exactly.
#include "run/detail/counts_json.h"

namespace qs4d::detail {
namespace {

template <class K, class V>
nlohmann::json pairs(const std::map<K, V>& m) {
  nlohmann::json a = nlohmann::json::array();
  for (const auto& [k, v] : m) a.push_back({k, v});
  return a;
}

template <class K, class V>
std::map<K, V> unpairs(const nlohmann::json& a) {
  std::map<K, V> m;
  for (const auto& kv : a) m[kv.at(0).get<K>()] = kv.at(1).get<V>();
  return m;
}

// ADC conversions by key as [bits, input bits, r_col_log10_x20, count] rows.
nlohmann::json adc_list(const std::map<AdcKey, double>& m) {
  nlohmann::json a = nlohmann::json::array();
  for (const auto& [k, v] : m) a.push_back({k.bits, k.input_bits, k.r_col_log10_x20, v});
  return a;
}

std::map<AdcKey, double> adc_map(const nlohmann::json& a) {
  std::map<AdcKey, double> m;
  for (const auto& r : a) m[AdcKey{r.at(0).get<int>(), r.at(1).get<int>(), r.at(2).get<int>()}] = r.at(3).get<double>();
  return m;
}

}  // namespace

nlohmann::json counts_to_json(const ActionCounts& c) {
  nlohmann::json j;
  j["samples"] = c.samples;
  j["converters"] = nlohmann::json::array();
  for (const TileConverters& t : c.converters) {
    j["converters"].push_back({t.tile, t.rows, t.cols, t.dac_bits, t.adc_bits, t.role});
  }
  j["dac_conversions"] = pairs(c.dac_conversions);
  j["g_v2_uS"] = pairs(c.g_v2_uS);
  j["adc_conversions"] = adc_list(c.adc_conversions);
  ActionCounts::each_scalar(c, [&](const char* name, const double& v) { j["scalars"][name] = v; });
  j["operands"] = nlohmann::json::object();
  for (const auto& [name, o] : c.operands) {
    j["operands"][name] = {o.footprint_bits, o.units, o.read_bits, o.write_bits};
  }
  j["programming_pulses"] = c.programming_pulses;
  j["matrices"] = nlohmann::json::array();
  for (const auto& [m, a] : c.matrices) {
    j["matrices"].push_back({{"index", m}, {"name", a.name}, {"group", a.group}, {"vectors", a.vectors},
                             {"dac_bits", a.dac_bits}, {"adc_bits", a.adc_bits},
                             {"per_tile", pairs(a.conversions_per_tile)}, {"dac", a.dac_conversions},
                             {"g_v2_uS", a.g_v2_uS}, {"adc", adc_list(a.adc_conversions)}});
  }
  return j;
}

ActionCounts counts_from_json(const nlohmann::json& j) {
  ActionCounts c;
  c.samples = j.at("samples").get<int64_t>();
  for (const auto& t : j.at("converters")) {
    c.converters.push_back({t.at(0).get<int64_t>(), t.at(1).get<int64_t>(), t.at(2).get<int64_t>(),
                            t.at(3).get<int>(), t.at(4).get<int>(), t.at(5).get<std::string>()});
  }
  c.dac_conversions = unpairs<int, double>(j.at("dac_conversions"));
  c.g_v2_uS = unpairs<int, double>(j.at("g_v2_uS"));
  c.adc_conversions = adc_map(j.at("adc_conversions"));
  const nlohmann::json& scalars = j.at("scalars");
  ActionCounts::each_scalar(c, [&](const char* name, double& v) { v = scalars.at(name).get<double>(); });
  for (const auto& [name, o] : j.at("operands").items()) {
    c.operands[name] = {o.at(0).get<double>(), o.at(1).get<double>(), o.at(2).get<double>(), o.at(3).get<double>()};
  }
  c.programming_pulses = j.at("programming_pulses").get<double>();
  for (const auto& m : j.at("matrices")) {
    MatrixActivity a;
    a.name = m.at("name").get<std::string>();
    a.group = m.at("group").get<std::string>();
    a.vectors = m.at("vectors").get<double>();
    a.dac_bits = m.at("dac_bits").get<int>();
    a.adc_bits = m.at("adc_bits").get<int>();
    a.conversions_per_tile = unpairs<int64_t, double>(m.at("per_tile"));
    a.dac_conversions = m.at("dac").get<double>();
    a.g_v2_uS = m.at("g_v2_uS").get<double>();
    a.adc_conversions = adc_map(m.at("adc"));
    c.matrices[m.at("index").get<int64_t>()] = a;
  }
  return c;
}

}  // namespace qs4d::detail
