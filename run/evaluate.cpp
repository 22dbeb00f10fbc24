#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <stdexcept>
#include <unistd.h>

#include "run/run.h"

namespace qs4d {

DigitalEvalResult evaluate_digital(const S4DModel& model, const Dataset& data,
                                   const DigitalEvalOptions& options) {
  check_data_fits(model, data, options.batch);
  const DigitalEngine engine(model, data.x.length, options.mode);
  DigitalEvalResult r;
  r.n_samples = data.x.n;
  r.predictions.reserve(static_cast<size_t>(data.x.n));
  const int64_t per_sample = data.x.length * data.x.width;
  const auto start = std::chrono::steady_clock::now();
  SequenceBatch chunk;
  chunk.length = data.x.length;
  chunk.width = data.x.width;
  for (int64_t first = 0; first < data.x.n; first += options.batch) {
    chunk.n = std::min(options.batch, data.x.n - first);
    chunk.values.assign(data.x.values.begin() + first * per_sample,
                        data.x.values.begin() + (first + chunk.n) * per_sample);
    const auto pred = argmax_rows(engine.logits(chunk, options.threads));
    r.predictions.insert(r.predictions.end(), pred.begin(), pred.end());
  }
  r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  for (size_t i = 0; i < r.predictions.size(); ++i) r.correct += r.predictions[i] == data.y[i];
  r.accuracy = static_cast<double>(r.correct) / static_cast<double>(r.n_samples);
  r.samples_per_s = static_cast<double>(r.n_samples) / std::max(r.seconds, 1e-9);
  return r;
}

}  // namespace qs4d
