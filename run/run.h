// run: what runs the simulator for a user and reports on it, above both sim/ (the chip
// simulation) and energy/ (pricing). So far: counting a chip's actions on real inputs and
// pricing them. May include every module; none includes it but the command line and the
// Python module.
#pragma once

#include <cstdint>

#include "energy/energy.h"
#include "sim/sim.h"

namespace qs4d {

// Counts of one chip on the first `samples` inputs of `data` (trial 0, t = 0, ADC calibrated as
// in eval), with the model's digital glue added, per inference.
struct CountOptions {
  int64_t samples = 16;
  uint64_t seed = 1;
  int threads = 0;
  int activation_bits = 8;
};
ActionCounts count_inference(const S4DModel& model, const Dataset& data, const ChipSpec& chip,
                             const MappedModel& map, const CountOptions& options);

// Everything for one checkpoint on one chip: counts on `data`, priced by `tech`.
EnergyReport estimate_energy(const S4DModel& model, const Dataset& data, const ChipSpec& chip,
                             const TechTable& tech, const CountOptions& options);

}  // namespace qs4d
