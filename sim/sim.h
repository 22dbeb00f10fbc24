// sim: runs models on (simulated) hardware and reports what comes out.
//
// This first part holds the digital evaluation that every analog figure is compared against
// (accuracy and throughput of the reference model on a dataset) and the report writers that
// make every result file appear atomically. The command-line tool `qs4dsim` lives in sim/cli.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "models/model.h"

namespace qs4d {

struct DigitalEvalOptions {
  ExecMode mode = ExecMode::kConv;
  int64_t batch = 64;   // samples handed to the engine at once
  int threads = 0;      // 0 = OpenMP default
};

struct DigitalEvalResult {
  int64_t n_samples = 0;
  int64_t correct = 0;
  double accuracy = 0;
  double seconds = 0;
  double samples_per_s = 0;
  std::vector<int64_t> predictions;
};

// Runs the digital reference over the whole dataset.
DigitalEvalResult evaluate_digital(const S4DModel& model, const Dataset& data,
                                   const DigitalEvalOptions& options);

// Index of the largest logit in each row (first one on ties).
std::vector<int64_t> argmax_rows(const RowMatrixXf& logits);

// Writes `text` to `path` through a temporary file and a rename: readers never see half a file.
void write_text_atomic(const std::string& path, const std::string& text);

}  // namespace qs4d
