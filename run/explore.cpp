// Design-space exploration (issue #34): the pricing of a sweep point from its own counted actions
// and the Pareto front over the rows. The sweep machinery (run/sweep.cpp) runs the points.
#include <cmath>
#include <map>

#include "energy/energy.h"
#include "mapping/mapping.h"
#include "run/detail/explore.h"

namespace qs4d {

namespace {

// Each objective: the CSV column it reads and whether larger is better.
struct Objective {
  const char* column;
  bool maximise;
};
const std::map<std::string, Objective>& objective_table() {
  static const std::map<std::string, Objective> table = {
      {"accuracy", {"analog_accuracy_mean", true}},
      {"energy", {"energy_pJ_per_inference", false}},
      {"area", {"area_mm2", false}},
      {"latency", {"latency_ns_per_inference", false}},
      {"edp", {"edp_pJ_ns", false}},
  };
  return table;
}

}  // namespace

std::vector<std::string> parse_objectives(const std::string& text) {
  std::vector<std::string> out;
  size_t start = 0;
  while (start <= text.size()) {
    const size_t comma = std::min(text.find(',', start), text.size());
    const std::string name = text.substr(start, comma - start);
    if (!objective_table().count(name)) {
      throw UsageError("objective \"" + name + "\" is not known, expected a comma-separated list of accuracy, "
                       "energy, area, latency, edp");
    }
    for (const auto& o : out)
      if (o == name) throw UsageError("objective \"" + name + "\" is given twice");
    out.push_back(name);
    start = comma + 1;
  }
  if (out.size() < 2) throw UsageError("objectives \"" + text + "\": a front needs at least two");
  return out;
}

std::vector<bool> pareto_front(const std::vector<std::vector<double>>& costs) {
  std::vector<bool> front(costs.size(), true);
  for (size_t i = 0; i < costs.size(); ++i) {
    for (size_t j = 0; j < costs.size() && front[i]; ++j) {
      if (j == i) continue;
      bool no_worse = true, better = false;
      for (size_t k = 0; k < costs[i].size(); ++k) {
        no_worse = no_worse && costs[j][k] <= costs[i][k];
        better = better || costs[j][k] < costs[i][k];
      }
      if (no_worse && better) front[i] = false;
    }
  }
  return front;
}

namespace detail {

std::string csv_number(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.6g", v);
  return buf;
}

const std::vector<std::string>& cost_columns() {
  static const std::vector<std::string> columns = {"energy_pJ_per_inference", "area_mm2", "latency_ns_per_inference",
                                                   "throughput_per_s", "pipelined_throughput_per_s", "edp_pJ_ns",
                                                   "pareto"};
  return columns;
}

nlohmann::json price_counts(const S4DModel& model, int64_t length, const ChipSpec& chip, const MappedModel& map,
                            const TechTable& tech, const ActionCounts& counted) {
  const EnergyReport r = estimate_energy(model, length, map, chip, tech,
                                         per_inference(counted, model, length, chip, tech.memory.activation_bits));
  return {{"energy_pJ", r.energy_pJ}, {"area_mm2", r.area_mm2}, {"latency_ns", r.latency_ns},
          {"pipelined_throughput_per_s", r.pipelined_throughput_per_s}};
}

std::vector<std::string> cost_fields(const nlohmann::json& costs) {
  const double e = costs.at("energy_pJ").get<double>(), a = costs.at("area_mm2").get<double>(),
               l = costs.at("latency_ns").get<double>();
  // Throughput one inference at a time (1 / latency), and pipelined across the stages.
  return {csv_number(e), csv_number(a), csv_number(l), csv_number(l > 0 ? 1e9 / l : 0.0),
          csv_number(costs.at("pipelined_throughput_per_s").get<double>()), csv_number(e * l)};
}

void mark_pareto(std::vector<std::vector<std::string>>& rows, const std::vector<std::string>& header,
                 const std::vector<std::string>& objectives) {
  auto column = [&](const std::string& name) {
    for (size_t c = 0; c < header.size(); ++c)
      if (header[c] == name) return c;
    throw UsageError("explore: no column " + name);
  };
  const size_t time = column("time_s");
  std::vector<size_t> columns;
  std::vector<bool> maximise;
  for (const auto& o : objectives) {
    columns.push_back(column(objective_table().at(o).column));
    maximise.push_back(objective_table().at(o).maximise);
  }
  std::map<std::string, std::vector<size_t>> by_time;
  for (size_t r = 0; r < rows.size(); ++r) by_time[rows[r].at(time)].push_back(r);
  for (const auto& [t, members] : by_time) {
    std::vector<std::vector<double>> costs;
    for (size_t r : members) {
      std::vector<double> c;
      for (size_t k = 0; k < columns.size(); ++k) {
        const double v = std::stod(rows[r].at(columns[k]));
        c.push_back(maximise[k] ? -v : v);  // every objective minimised
      }
      costs.push_back(c);
    }
    const std::vector<bool> front = pareto_front(costs);
    for (size_t i = 0; i < members.size(); ++i) rows[members[i]].back() = front[i] ? "true" : "false";
  }
}

}  // namespace detail
}  // namespace qs4d
