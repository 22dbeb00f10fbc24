// One programmed chip driven by its caller: evaluate_analog's trials and the Python module.
#include "sim/detail/predict.h"
#include "sim/sim.h"

namespace qs4d {

namespace detail {

std::vector<int64_t> predict(const DigitalEngine& engine, const Dataset& data, int64_t first,
                             int64_t count, int64_t batch, int threads, const LinearOverride* ops,
                             const std::function<void(int64_t)>& before_batch) {
  std::vector<int64_t> out;
  out.reserve(static_cast<size_t>(count));
  const int64_t per = data.x.length * data.x.width;
  SequenceBatch chunk{0, data.x.length, data.x.width, {}};
  for (int64_t s = first; s < first + count; s += batch) {
    chunk.n = std::min(batch, first + count - s);
    chunk.values.assign(data.x.values.begin() + s * per, data.x.values.begin() + (s + chunk.n) * per);
    if (before_batch) before_batch(s);
    const auto p = argmax_rows(engine.logits(chunk, threads, ops));
    out.insert(out.end(), p.begin(), p.end());
  }
  return out;
}

}  // namespace detail

DeployedChip::DeployedChip(const S4DModel& model, const MappedModel& map, const ChipSpec& chip,
                           uint64_t seed, int64_t trial, bool age_at_zero)
    : chip_(&chip), analog_(map, chip, seed, trial, age_at_zero), ops_(analog_, model, chip), seed_(seed),
      trial_(trial) {}

bool DeployedChip::calibrates() const { return chip_->calibrates_adc(); }

uint64_t DeployedChip::stream_base() const {
  if (time_index_ < 0) throw UsageError("the chip has not been aged yet: call age(time) before running inputs");
  return stream_seed(seed_, static_cast<uint64_t>(trial_), static_cast<uint64_t>(time_index_), stream_key::kEvaluate);
}

void DeployedChip::age(double t_s, int64_t time_index, const DigitalEngine* engine, const Dataset* calibration,
                       int64_t batch, int threads) {
  if (time_index < 0) throw UsageError("time index must be >= 0, got " + std::to_string(time_index));
  if (calibrates() && (calibration == nullptr || calibration->x.n == 0 || engine == nullptr)) {
    throw UsageError("chip '" + chip_->name + "' calibrates its ADC ranges on the first " +
                     std::to_string(chip_->periphery.calibration_samples) +
                     " calibration samples: give calibration samples (never the evaluated ones)");
  }
  analog_.age(t_s);
  time_index_ = time_index;
  if (!calibrates()) return;
  // Calibration on the first calibration samples, with noise streams of their own.
  const uint64_t base = stream_base() ^ stream_key::kCalibration;
  analog_.begin_calibration();
  try {
    detail::predict(*engine, *calibration, 0, std::min(calibration->x.n, chip_->periphery.calibration_samples),
                    batch, threads, &ops_, [&](int64_t off) { ops_.set_stream(base, off); });
  } catch (...) {
    // Stopped half-way (an error, or a cancelled run): leave calibration mode, and refuse inputs
    // until the chip is aged again rather than run them on half-calibrated ranges.
    analog_.end_calibration();
    time_index_ = -1;
    throw;
  }
  analog_.end_calibration();
}

void DeployedChip::calibrate_outputs(const DigitalEngine& engine, const Dataset& data, int64_t samples,
                                     int64_t batch, int threads) {
  if (samples <= 0) throw UsageError("output calibration needs at least one sample, got " + std::to_string(samples));
  const uint64_t base = stream_base() ^ stream_key::kOutputFit;
  analog_.begin_output_fit();
  try {
    detail::predict(engine, data, 0, std::min(data.x.n, samples), batch, threads, &ops_,
                    [&](int64_t off) { ops_.set_stream(base, off); });
  } catch (...) {
    analog_.end_output_fit();  // as in age(): out of the fit, and unusable until aged again
    time_index_ = -1;
    throw;
  }
  analog_.end_output_fit();
}

RowMatrixXf DeployedChip::logits(const DigitalEngine& engine, const SequenceBatch& x, int64_t first_sample,
                                 int threads) {
  ops_.set_stream(stream_base(), first_sample);
  return engine.logits(x, threads, &ops_);
}

std::vector<int64_t> DeployedChip::predict(const DigitalEngine& engine, const Dataset& data, int64_t first,
                                           int64_t count, int64_t batch, int threads) {
  const uint64_t base = stream_base();
  return detail::predict(engine, data, first, count, batch, threads, &ops_,
                         [&](int64_t off) { ops_.set_stream(base, off); });
}

}  // namespace qs4d
