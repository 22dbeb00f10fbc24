// A checkpoint programmed on one chip, queried step by step (ProgrammedModel), and weights as a
// chip holds them (perturb_weights): the library under the Python module's program() and
// perturb(). The module converts Python objects into these requests and nothing more.
#include <algorithm>
#include <cmath>

#include "core/cancel.h"
#include "program/program.h"

namespace qs4d {

RowMatrixXf logits_in_pieces(const SequenceBatch& batch, int64_t outputs,
                             const std::function<RowMatrixXf(const SequenceBatch& part, int64_t first)>& logits) {
  RowMatrixXf out(batch.n, outputs);
  const int64_t per = batch.length * batch.width, piece = 256;
  for (int64_t s = 0; s < batch.n; s += piece) {
    throw_if_cancelled();
    const int64_t n = std::min(piece, batch.n - s);
    const SequenceBatch part{n, batch.length, batch.width,
                             std::vector<float>(batch.values.begin() + s * per, batch.values.begin() + (s + n) * per)};
    out.middleRows(s, n) = logits(part, s);
  }
  return out;
}

ProgrammedModel::ProgrammedModel(const ProgramRequest& request)
    : model_(request.model),
      spec_(request.chip),
      mode_(model_ ? resolve_exec_mode(request.mode, *model_) : ExecMode::kConv),
      tech_(tech_for(request.chip, request.tech)),
      activation_bits_(load_tech(tech_).memory.activation_bits) {
  if (!model_) throw UsageError("program: no checkpoint given");
  map_ = map_model(*model_, spec_.mapping, spec_.device.window());
  chip_ = std::make_unique<DeployedChip>(*model_, map_, spec_, request.seed, request.trial);
}

const DigitalEngine& ProgrammedModel::engine(int64_t length) {
  std::unique_ptr<DigitalEngine>& e = engines_[length];
  if (!e) e = std::make_unique<DigitalEngine>(*model_, length, mode_);
  return *e;
}

void ProgrammedModel::age(double t_s, int64_t time_index, const Dataset* calibration, int64_t batch, int threads) {
  chip_->age(t_s, time_index, calibration ? &engine(calibration->x.length) : nullptr, calibration, batch, threads);
}

void ProgrammedModel::calibrate_outputs(const Dataset& data, int64_t samples, int64_t batch, int threads) {
  chip_->calibrate_outputs(engine(data.x.length), data, samples > 0 ? samples : data.x.n, batch, threads);
}

RowMatrixXf ProgrammedModel::logits(const SequenceBatch& x, int64_t first_sample, int threads, bool count) {
  const DigitalEngine& e = engine(x.length);
  ActionCounts run;
  if (count) chip_->analog().count_actions(&run, activation_bits_);
  RowMatrixXf out;
  try {
    out = logits_in_pieces(x, model_->config().d_output, [&](const SequenceBatch& part, int64_t first) {
      return chip_->logits(e, part, first_sample + first, threads);
    });
  } catch (...) {
    chip_->analog().count_actions(nullptr);  // a stopped run counts nothing
    throw;
  }
  if (count) {
    chip_->analog().count_actions(nullptr);
    run.samples = x.n;
    if (counts_.samples > 0) run.programming_pulses = 0;  // once per chip
    counts_.add(run);
    counted_length_ = x.length;
  }
  return out;
}

nlohmann::json ProgrammedModel::energy() const {
  if (counts_.samples == 0) throw UsageError("no actions counted yet: run forward(x, count=True) on some inputs first");
  return energy_for_eval(*model_, counted_length_, spec_, tech_, counts_, false);
}

RowMatrixXf ProgrammedModel::realised_weights(int64_t matrix) const {
  const QuantizedMatrix& q = map_.matrices.at(static_cast<size_t>(matrix));
  const RowMatrixXf eye = RowMatrixXf::Identity(q.inputs(), q.inputs());
  const AnalogChip& analog = chip_->analog();
  return map_.mvm_through(matrix, eye, [&](int64_t t) -> const RowMatrixXf& { return analog.conductances_uS(t); })
      .transpose();
}

namespace {

// Codes of w with the caller's scales (one, or one per output), as the mapper takes a checkpoint's
// /quant codes: round(w / scale), clipped to the symmetric range of `bits`.
QuantizedMatrix with_scales(const NamedWeights& given, int bits) {
  const RowMatrixXf& w = given.w;
  const auto n = static_cast<Eigen::Index>(given.scales.size());
  if (n != 1 && n != w.rows()) {
    throw UsageError("scales['" + given.name + "']: " + std::to_string(n) + " given, expected one scale or one per output (" +
                     std::to_string(w.rows()) + ")");
  }
  QuantizedMatrix q;
  q.bits = bits;
  q.from_checkpoint = true;
  q.codes.resize(w.rows(), w.cols());
  q.scale.resize(w.rows());
  const int32_t qmax = q.qmax();
  for (Eigen::Index r = 0; r < w.rows(); ++r) {
    const double s = given.scales[static_cast<size_t>(n == 1 ? 0 : r)];
    if (!(s > 0) || !std::isfinite(s)) {
      throw UsageError("scales['" + given.name + "']: a scale is not positive (" + std::to_string(s) + ")");
    }
    q.scale[r] = s;
    for (Eigen::Index c = 0; c < w.cols(); ++c) {
      const double code = std::nearbyint(static_cast<double>(w(r, c)) / s);
      q.codes(r, c) = static_cast<int32_t>(std::clamp<double>(code, -qmax, qmax));
    }
  }
  return q;
}

}  // namespace

std::vector<RowMatrixXf> perturb_weights(const PerturbRequest& request) {
  ChipSpec spec = request.chip;  // ideal converters: the weights as the devices hold them
  spec.periphery.dac_bits = spec.periphery.adc_bits = 0;
  spec.periphery.state_dac_bits = spec.periphery.state_adc_bits = 0;
  spec.periphery.output_noise = 0;
  if (!request.read_noise) spec.device.read = SigmaModel{};
  const int bits = request.bits > 0 ? request.bits : spec.mapping.weight_bits;
  if (bits < kMinQuantBits || bits > kMaxQuantBits) {
    throw UsageError("bits: " + std::to_string(bits) + ", expected " + std::to_string(kMinQuantBits) + ".." +
                     std::to_string(kMaxQuantBits));
  }
  std::vector<QuantizedMatrix> matrices;
  for (const NamedWeights& given : request.weights) {
    QuantizedMatrix q = given.scales.empty() ? post_training(given.w.cast<double>(), bits, spec.mapping.granularity)
                                             : with_scales(given, bits);
    q.name = given.name;
    q.kind = MatrixKind::kOutputProjection;
    matrices.push_back(std::move(q));
  }
  const MappedModel map = map_matrices(std::move(matrices), spec.mapping, spec.device.window());
  AnalogChip analog(map, spec, request.seed, request.trial);
  analog.age(request.time_s);
  std::vector<RowMatrixXf> held(map.matrices.size());
  for (size_t m = 0; m < held.size(); ++m) {
    const int64_t inputs = map.matrices[m].inputs();
    const RowMatrixXf eye = RowMatrixXf::Identity(inputs, inputs);
    const uint64_t stream = stream_seed(request.seed, static_cast<uint64_t>(request.trial), m, stream_key::kWeightRead);
    held[m] = analog.mvm(static_cast<int64_t>(m), eye, stream).transpose();
  }
  return held;
}

}  // namespace qs4d
