// Action counts: merging and scaling, over the counters ActionCounts names once.
#include "core/core.h"
#include "core/counts.h"

namespace qs4d {

void ActionCounts::add(const ActionCounts& o) {
  samples += o.samples;
  if (converters.empty()) converters = o.converters;
  for (const auto& [k, v] : o.dac_conversions) dac_conversions[k] += v;
  for (const auto& [k, v] : o.g_v2_uS) g_v2_uS[k] += v;
  for (const auto& [k, v] : o.adc_conversions) adc_conversions[k] += v;
  std::vector<double> theirs;  // both walks visit the counters in the same order
  each_scalar(o, [&](const char*, const double& v) { theirs.push_back(v); });
  size_t i = 0;
  each_scalar(*this, [&](const char*, double& v) { v += theirs[i++]; });
  for (const auto& [k, v] : o.operands) {
    OperandTraffic& mine = operands[k];
    mine.footprint_bits = v.footprint_bits;
    mine.units = v.units;
    mine.read_bits += v.read_bits;
    mine.write_bits += v.write_bits;
  }
  programming_pulses += o.programming_pulses;
  for (const auto& [m, a] : o.matrices) {
    MatrixActivity& mine = matrices[m];
    if (mine.name.empty()) {
      mine = a;
      continue;
    }
    mine.vectors += a.vectors;
    mine.dac_conversions += a.dac_conversions;
    mine.g_v2_uS += a.g_v2_uS;
    for (const auto& [k, v] : a.adc_conversions) mine.adc_conversions[k] += v;
  }
}

nlohmann::json ActionCounts::summary() const {
  double adc = 0, dac = 0;
  for (const auto& [k, v] : adc_conversions) adc += v;
  for (const auto& [k, v] : dac_conversions) dac += v;
  nlohmann::json j{{"dac_conversions", dac}, {"adc_conversions", adc}};
  each_scalar(*this, [&](const char* name, const double& v) { j[name] = v; });
  return j;
}

void ActionCounts::scale(double f) {
  for (auto& [k, v] : dac_conversions) v *= f;
  for (auto& [k, v] : g_v2_uS) v *= f;
  for (auto& [k, v] : adc_conversions) v *= f;
  each_scalar(*this, [&](const char*, double& v) { v *= f; });
  for (auto& [k, v] : operands) {
    v.read_bits *= f;
    v.write_bits *= f;
  }
  for (auto& [m, a] : matrices) {
    a.vectors *= f;
    a.dac_conversions *= f;
    a.g_v2_uS *= f;
    for (auto& [k, v] : a.adc_conversions) v *= f;
  }
}

}  // namespace qs4d
