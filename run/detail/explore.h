// The cost side of `qs4dsim explore` (run-internal; run/explore.cpp): a sweep whose points are
// also priced, and the Pareto flag over its rows.
#pragma once

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "run/run.h"

namespace qs4d {

// "accuracy,energy,area" -> the objectives of explore's Pareto front (accuracy, energy, area,
// latency, edp; at least two, each once); throws UsageError naming an unknown one.
std::vector<std::string> parse_objectives(const std::string& text);
// Which rows are on the Pareto front of `costs` (every objective to be minimised): no other row
// at most as large on every objective and smaller on one. Quadratic in the rows.
std::vector<bool> pareto_front(const std::vector<std::vector<double>>& costs);

}  // namespace qs4d

namespace qs4d::detail {

// A number as a sweep's CSV writes it (six significant digits): sweep and explore cells alike.
std::string csv_number(double v);

// The columns explore adds after a sweep's, in order; the last is "pareto".
const std::vector<std::string>& cost_columns();

// The costs of one point from the actions its trial-0 chip counted (per_inference applied here):
// {"energy_pJ", "area_mm2", "latency_ns", "pipelined_throughput_per_s"}, priced by `tech` on the point's mapping `map`.
nlohmann::json price_counts(const S4DModel& model, int64_t length, const ChipSpec& chip, const MappedModel& map,
                            const TechTable& tech, const ActionCounts& counted);

// The cost fields of a row (every column but "pareto", which write time fills in).
std::vector<std::string> cost_fields(const nlohmann::json& costs);

// Sets the "pareto" field (the last) of every row: within each time, "true" where no other row of
// that time is at least as good on every objective and better on one. `header` names the columns.
void mark_pareto(std::vector<std::vector<std::string>>& rows, const std::vector<std::string>& header,
                 const std::vector<std::string>& objectives);

}  // namespace qs4d::detail
