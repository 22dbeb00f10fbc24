// Counting a chip's actions by running it (the simulator) and pricing them (energy/): the one
// place where the two meet, above both.
#include <algorithm>

#include "run/run.h"

namespace qs4d {

ActionCounts count_inference(const S4DModel& model, const Dataset& data, const ChipSpec& chip,
                             const MappedModel& map, const CountOptions& o) {
  if (o.samples < 1) throw UsageError("energy: --samples must be at least 1");
  const int64_t n = std::min(o.samples, data.x.n);
  const DigitalEngine engine(model, data.x.length, ExecMode::kConv);
  AnalogChip analog(map, chip, o.seed, 0);
  AnalogOps ops(analog, model, chip);
  const uint64_t base = stream_seed(o.seed, 0, 0, stream_key::kEnergyCount);
  const int64_t per = data.x.length * data.x.width;
  auto run = [&](const Dataset& samples, int64_t count, uint64_t stream) {
    SequenceBatch chunk{0, samples.x.length, samples.x.width, {}};
    for (int64_t s = 0; s < count; s += 64) {
      chunk.n = std::min<int64_t>(64, count - s);
      chunk.values.assign(samples.x.values.begin() + s * per, samples.x.values.begin() + (s + chunk.n) * per);
      ops.set_stream(stream, s);
      engine.logits(chunk, o.threads, &ops);
    }
  };
  if (calibration_samples_needed(chip, 0) > 0) {
    if (o.calibration == nullptr || o.calibration->x.n == 0) {
      throw UsageError("chip '" + chip.name + "' calibrates its ADC ranges: counting its actions needs "
                       "calibration samples apart from the counted ones (--calibration FILE)");
    }
    check_disjoint(*o.calibration, data);
    analog.begin_calibration();
    run(*o.calibration, std::min(o.calibration->x.n, chip.periphery.calibration_samples),
        base ^ stream_key::kCalibration);
    analog.end_calibration();
  }
  ActionCounts counts;
  analog.count_actions(&counts, o.activation_bits);
  run(data, n, base);
  analog.count_actions(nullptr);
  counts.samples = n;
  return per_inference(counts, model, data.x.length, chip, o.activation_bits);
}

EnergyReport estimate_energy(const S4DModel& model, const Dataset& data, const ChipSpec& chip,
                             const TechTable& tech, const CountOptions& options) {
  const MappedModel map = map_model(model, chip.mapping, chip.device.window());
  CountOptions o = options;
  o.activation_bits = tech.memory.activation_bits;
  return estimate_energy(model, data.x.length, map, chip, tech, count_inference(model, data, chip, map, o));
}

}  // namespace qs4d
