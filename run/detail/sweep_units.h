// The work units of a sweep and how they are shared out (run-internal; run/sweep_units.cpp).
#pragma once

#include <cstdint>
#include <functional>
#include <vector>

#include <nlohmann/json.hpp>

namespace qs4d::detail {

struct SweepUnit {
  int64_t point = 0, trial = 0;
};

// What one chip (trial) of one point measured, per time.
struct UnitResult {
  int64_t point = 0, trial = 0;
  double digital_accuracy = 0;
  std::vector<double> accuracy, agreement;
  std::vector<int64_t> clips, conversions;
  nlohmann::json extra;  // what else the caller's unit measured (eval: write-verify, counts)
  nlohmann::json to_json() const;  // doubles survive the round trip exactly
  static UnitResult from_json(const nlohmann::json& j);
};

using RunUnit = std::function<UnitResult(const SweepUnit& unit, int threads)>;
// Called on rank 0, once per point, when all its trials are in (by_trial[k] is trial k), one call
// at a time.
using PointDone = std::function<void(int64_t point, const std::vector<UnitResult>& by_trial)>;

// Runs the units points x [0, trials) over every process of the MPI run (just this one outside
// MPI) and `threads` threads in each: units go out one at a time to whichever worker asks next,
// each worker runs its unit with threads / workers threads. Only rank 0 needs `points` and gets
// `done` calls; every rank must call this.
void run_units(const std::vector<int64_t>& points, int64_t trials, int threads, const RunUnit& run,
               const PointDone& done);

}  // namespace qs4d::detail
