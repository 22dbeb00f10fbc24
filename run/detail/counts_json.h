// ActionCounts as JSON and back, exactly (run-internal): an MPI rank that counted the energy
// chip's actions sends them to rank 0 (run/analog_eval.cpp).
#pragma once

#include <nlohmann/json.hpp>

#include "core/core.h"
#include "core/counts.h"

namespace qs4d::detail {

nlohmann::json counts_to_json(const ActionCounts& counts);
ActionCounts counts_from_json(const nlohmann::json& j);

}  // namespace qs4d::detail
