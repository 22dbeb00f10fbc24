// program: a checkpoint programmed on one chip and queried step by step (ProgrammedModel), and
// weights as a chip holds them (perturb_weights): the library under the Python module's
// program() and perturb(), with typed requests whose defaults are eval's. Above run/ (it prices
// with run's energy_for_eval and names the chip's table with tech_for); only bindings/ and the
// tests include it.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "run/run.h"

namespace qs4d {

// A checkpoint on one chip, as chip `trial` of an evaluation with `seed` (EvalRequest's defaults).
struct ProgramRequest {
  std::shared_ptr<const S4DModel> model;
  ChipSpec chip;
  uint64_t seed = 1;
  int64_t trial = 0;
  std::string mode = "auto";  // auto: recurrent where the checkpoint holds a state grid
  std::string tech;           // the energy figures' table; empty: the chip's own
};

// Programmed at construction; aged, calibrated and run on inputs by the caller, in eval's order
// (age, then calibrate_outputs, then logits). What it runs with count = true, energy() prices as
// eval does. Its chip points into what it holds, so it stays where it was made.
class ProgrammedModel {
 public:
  explicit ProgrammedModel(const ProgramRequest& request);
  ProgrammedModel(const ProgrammedModel&) = delete;
  ProgrammedModel& operator=(const ProgrammedModel&) = delete;

  // Conductances t_s after programming with the noise streams of eval's time `time_index`; a
  // chip that calibrates its ADC ranges does so on `calibration` (null: none given).
  void age(double t_s, int64_t time_index, const Dataset* calibration, int64_t batch, int threads);
  // Chip-in-the-loop output calibration on the first `samples` of data (0: all), after age().
  void calibrate_outputs(const Dataset& data, int64_t samples, int64_t batch, int threads);
  // Logits (n, outputs) of x, its sample i read with the noise streams of sample first_sample + i
  // (so eval's logits of its sample k are logits(sample k, k)); count adds the run's actions.
  RowMatrixXf logits(const SequenceBatch& x, int64_t first_sample, int threads, bool count);
  nlohmann::json energy() const;                      // energy_for_eval of the counted actions
  RowMatrixXf realised_weights(int64_t matrix) const;  // (outputs, inputs) the conductances hold
  const MappedModel& map() const { return map_; }
  const AnalogChip& analog() const { return chip_->analog(); }
  const ActionCounts& counts() const { return counts_; }

 private:
  const DigitalEngine& engine(int64_t length);
  std::shared_ptr<const S4DModel> model_;
  ChipSpec spec_;
  ExecMode mode_;
  std::string tech_;
  int activation_bits_;
  MappedModel map_;
  std::unique_ptr<DeployedChip> chip_;
  std::map<int64_t, std::unique_ptr<DigitalEngine>> engines_;  // by sequence length
  ActionCounts counts_;
  int64_t counted_length_ = 0;
};

// `logits(part, first)` over `batch` in pieces of 256 samples (sample `first` of the batch opens
// each piece) into one (n, outputs) matrix: a cancel request (core/cancel.h) stops it between
// pieces, and per-sample noise streams make the pieces change no number.
RowMatrixXf logits_in_pieces(const SequenceBatch& batch, int64_t outputs,
                             const std::function<RowMatrixXf(const SequenceBatch& part, int64_t first)>& logits);

// Weights as a chip holds them (hardware-aware training): each quantized as the chip's mapping
// does (bits, else mapping.weight_bits; with scales, one or one per output, round(W / s) as a QAT
// checkpoint's codes), programmed on tiles of its own, aged to time_s, read back row by row
// through ideal converters (one read-noise draw when read_noise).
struct NamedWeights {
  std::string name;
  RowMatrixXf w;               // (outputs, inputs)
  std::vector<double> scales;  // empty: post-training scales
};
struct PerturbRequest {
  ChipSpec chip;
  std::vector<NamedWeights> weights;
  uint64_t seed = 1;
  double time_s = 0;
  int64_t trial = 0;
  int bits = 0;  // 0: the chip's mapping.weight_bits
  bool read_noise = true;
};
std::vector<RowMatrixXf> perturb_weights(const PerturbRequest& request);  // in request.weights' order

}  // namespace qs4d
