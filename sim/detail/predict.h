// Batched prediction shared by evaluate_analog and DeployedChip (sim-internal; run/ above it uses it too).
#pragma once

#include <cstdint>
#include <functional>
#include <vector>

#include "models/model.h"

namespace qs4d::detail {

// Predictions for samples [first, first + count) of data in batches; `before_batch(offset)` runs
// before each batch (it sets the noise streams of the samples from `offset` on).
std::vector<int64_t> predict(const DigitalEngine& engine, const Dataset& data, int64_t first,
                             int64_t count, int64_t batch, int threads, const LinearOverride* ops,
                             const std::function<void(int64_t)>& before_batch);

}  // namespace qs4d::detail
