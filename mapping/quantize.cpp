// Step 1 of the mapping: the model's logical matrices as integer codes with per-output scales.
#include <algorithm>
#include <cmath>

#include "mapping/mapping.h"

namespace qs4d {

const char* to_string(MatrixKind kind) {
  switch (kind) {
    case MatrixKind::kEncoder: return "encoder";
    case MatrixKind::kOutputProjection: return "output_projection";
    case MatrixKind::kDecoder: return "decoder";
    case MatrixKind::kRecurrence: return "recurrence";
  }
  return "?";
}

RowMatrixXf QuantizedMatrix::dequantized() const {
  return (scale.asDiagonal() * codes.cast<double>()).cast<float>();
}

QuantizedMatrix post_training(const Eigen::MatrixXd& w, int bits, Granularity granularity) {
  QuantizedMatrix q;
  q.bits = bits;
  const double qmax = static_cast<double>(q.qmax());
  q.scale.resize(w.rows());
  const double tensor_max = w.cwiseAbs().maxCoeff();
  for (Eigen::Index r = 0; r < w.rows(); ++r) {
    const double m = granularity == Granularity::kPerColumn ? w.row(r).cwiseAbs().maxCoeff()
                                                             : tensor_max;
    q.scale[r] = m > 0 ? m / qmax : 1.0;
  }
  q.codes.resize(w.rows(), w.cols());
  for (Eigen::Index r = 0; r < w.rows(); ++r) {
    for (Eigen::Index c = 0; c < w.cols(); ++c) {
      const double v = std::nearbyint(w(r, c) / q.scale[r]);
      q.codes(r, c) = static_cast<int32_t>(std::clamp(v, -qmax, qmax));
    }
  }
  return q;
}

namespace {

// The checkpoint's own codes for a 2-D view (outputs, inputs) of tensor `name`.
QuantizedMatrix from_checkpoint(const QuantSpec& spec, const std::string& name, int64_t rows,
                                int64_t cols) {
  if (!spec.symmetric) {
    throw UsageError("/quant/" + name + " is asymmetric; the mapper places symmetric codes only "
                     "(use mapping.quantization = \"post_training\")");
  }
  if (spec.axis > 0) {
    throw UsageError("/quant/" + name + " has one scale per index of axis " +
                     std::to_string(spec.axis) + "; the mapper needs one per output (axis 0) or "
                     "one per tensor");
  }
  QuantizedMatrix q;
  q.bits = spec.bits;
  q.from_checkpoint = true;
  q.codes = Eigen::Map<const RowMatrixXi>(spec.codes.data(), rows, cols);
  q.scale.resize(rows);
  for (int64_t r = 0; r < rows; ++r) q.scale[r] = spec.axis == 0 ? spec.scale[r] : spec.scale[0];
  return q;
}

QuantizedMatrix quantize_tensor(const S4DModel& model, const MappingSpec& spec,
                                const std::string& tensor, int64_t rows, int64_t cols) {
  const auto q = model.quant().find(tensor);
  const bool use_checkpoint =
      spec.quantization == QuantSource::kCheckpoint ||
      (spec.quantization == QuantSource::kAuto && q != model.quant().end());
  if (use_checkpoint) {
    if (q == model.quant().end()) {
      throw UsageError(model.path() + " has no /quant/" + tensor +
                       " but mapping.quantization is \"checkpoint\"");
    }
    return from_checkpoint(q->second, tensor, rows, cols);
  }
  const auto& values = model.tensors().at(tensor).values;
  const Eigen::MatrixXd w =
      Eigen::Map<const RowMatrixXf>(values.data(), rows, cols).cast<double>();
  return post_training(w, spec.weight_bits, spec.granularity);
}

// Whether the block holds mode m's state rescaled, as x~ = beta x / Bbar_m (a state unit beta
// given and Bbar_m not 0), or as the model defines it.
bool rescales_state(std::complex<double> b_bar, double state_unit) {
  return state_unit > 0 && std::abs(b_bar) > 1e-12;
}

}  // namespace

Eigen::MatrixXd recurrence_block(const S4DLayer& layer, int64_t channel, int64_t modes,
                                 double state_unit) {
  const int64_t n = 2 * modes + 1;
  Eigen::MatrixXd b = Eigen::MatrixXd::Zero(n, n);
  std::complex<double> cb_sum = 0;
  for (int64_t m = 0; m < modes; ++m) {
    const size_t k = static_cast<size_t>(channel * modes + m);
    // With a state unit beta, each mode's state is held as x~ = beta x / Bbar, so that
    // x~' = Abar x~ + beta u and C becomes C Bbar / beta: the state rows hold Abar and beta
    // instead of Abar next to a Bbar often a hundred times smaller. The output y is unchanged.
    const std::complex<double> b0 = layer.b_bar[k];
    const bool normalise = rescales_state(b0, state_unit);
    const std::complex<double> a = layer.a_bar[k];
    const std::complex<double> bb = normalise ? std::complex<double>(state_unit) : b0;
    const std::complex<double> c = normalise ? layer.c[k] * b0 / state_unit : layer.c[k];
    // x'_m = Abar x_m + Bbar u, as a real 2x2 rotation-scale block plus the u column.
    b(2 * m, 2 * m) = a.real();
    b(2 * m, 2 * m + 1) = -a.imag();
    b(2 * m + 1, 2 * m) = a.imag();
    b(2 * m + 1, 2 * m + 1) = a.real();
    b(2 * m, n - 1) = bb.real();
    b(2 * m + 1, n - 1) = bb.imag();
    // y = 2 Re(sum_m C_m x'_m) + D u, written in terms of (x_{t-1}, u_t).
    const std::complex<double> ca = c * a;
    b(n - 1, 2 * m) = 2 * ca.real();
    b(n - 1, 2 * m + 1) = -2 * ca.imag();
    cb_sum += c * bb;
  }
  b(n - 1, n - 1) = 2 * cb_sum.real() + static_cast<double>(layer.d[channel]);
  return b;
}

Eigen::VectorXd recurrence_state_ranges(const S4DLayer& layer, int64_t channel, int64_t modes,
                                        double state_unit) {
  const StateGrid& grid = layer.state_grid;
  if (grid.bits == 0) return {};
  Eigen::VectorXd r(2 * modes);
  for (int64_t m = 0; m < modes; ++m) {
    const size_t k = static_cast<size_t>(channel * modes + m);
    const std::complex<double> b0 = layer.b_bar[k];
    // x~ = k x with k = beta / Bbar_m where recurrence_block rescales the state, else 1.
    const std::complex<double> scale = rescales_state(b0, state_unit) ? std::complex<double>(state_unit) / b0 : 1.0;
    const double bound = static_cast<double>(grid.step[k]) * grid.levels();
    r(2 * m) = r(2 * m + 1) = (std::abs(scale.real()) + std::abs(scale.imag())) * bound;
  }
  return r;
}

double recurrence_state_unit(const S4DModel& model, int64_t layer) {
  const auto q = model.quant().find("s4_layers." + std::to_string(layer) + ".kernel.Abar");
  const S4DLayer& l = model.layers()[static_cast<size_t>(layer)];
  if (l.discrete_from_quant && q != model.quant().end() && q->second.scale.size() == 1 &&
      q->second.bits >= 2) {
    // The QAT grid of Abar: with beta = scale x qmax, a block quantized per output at the same
    // bits puts Abar back on exactly its trained codes.
    return static_cast<double>(q->second.scale[0]) * ((1 << (q->second.bits - 1)) - 1);
  }
  double beta = 0;
  for (const auto& a : l.a_bar) beta = std::max({beta, std::abs(a.real()), std::abs(a.imag())});
  return beta > 0 ? beta : 1.0;
}

std::vector<QuantizedMatrix> logical_matrices(const S4DModel& model, const MappingSpec& spec) {
  const ModelConfig& c = model.config();
  const int64_t H = c.d_model;
  std::vector<QuantizedMatrix> out;
  auto add = [&](QuantizedMatrix q, std::string name, MatrixKind kind, int64_t layer,
                 int64_t channel) {
    q.name = std::move(name);
    q.kind = kind;
    q.layer = layer;
    q.channel = channel;
    out.push_back(std::move(q));
  };
  add(quantize_tensor(model, spec, "encoder.weight", H, c.d_input), "encoder",
      MatrixKind::kEncoder, -1, -1);
  for (int64_t i = 0; i < c.n_layers; ++i) {
    const std::string p = "s4_layers." + std::to_string(i) + ".";
    add(quantize_tensor(model, spec, p + "output_linear.0.weight", 2 * H, H),
        p + "output_linear", MatrixKind::kOutputProjection, i, -1);
    if (spec.map_recurrence) {
      const S4DLayer& layer = model.layers()[static_cast<size_t>(i)];
      const double unit = recurrence_state_unit(model, i);
      for (int64_t h = 0; h < H; ++h) {
        add(post_training(recurrence_block(layer, h, c.modes(), unit), spec.recurrence_bits,
                          Granularity::kPerColumn),
            p + "recurrence." + std::to_string(h), MatrixKind::kRecurrence, i, h);
        out.back().state_range = recurrence_state_ranges(layer, h, c.modes(), unit);
      }
    }
  }
  add(quantize_tensor(model, spec, "decoder.weight", c.d_output, H), "decoder",
      MatrixKind::kDecoder, -1, -1);
  return out;
}

}  // namespace qs4d
