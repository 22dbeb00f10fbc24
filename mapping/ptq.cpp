// Post-training quantization of single components (see mapping/mapping.h): a LinearOverride that runs the
// model's products with quantized weights and inputs and the SSM step by step with a quantized
// state, and a calibration pass that finds the static scales.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <mutex>

#include <nlohmann/json.hpp>

#include "mapping/mapping.h"

namespace qs4d {
namespace {

using Complex = std::complex<double>;  // the model's own SSM precision (ComplexVec)

int qmax_of(int bits) { return (1 << (bits - 1)) - 1; }

template <typename T>
T quantize_value(T v, T scale, int qmax) {
  const T code = std::clamp(std::nearbyint(v / scale), -static_cast<T>(qmax), static_cast<T>(qmax));
  return code * scale;
}

// One whole tensor of n values, in place, by the mapper's post-training rule (symmetric, one
// max-based scale).
void quantize_values(double* v, int64_t n, int bits) {
  Eigen::Map<Eigen::MatrixXd> m(v, 1, n);
  const QuantizedMatrix q = post_training(m, bits, Granularity::kPerTensor);
  m = q.scale[0] * q.codes.cast<double>();
}

void quantize_values(float* v, int64_t n, int bits) {
  Eigen::Map<Eigen::VectorXf> m(v, n);
  Eigen::VectorXd d = m.cast<double>();
  quantize_values(d.data(), n, bits);
  m = d.cast<float>();
}

// One scale over the real and imaginary parts (std::complex is laid out as two values).
void quantize_complex(ComplexVec& v, int bits) {
  quantize_values(reinterpret_cast<double*>(v.data()), 2 * static_cast<int64_t>(v.size()), bits);
}

// Records the largest magnitude seen per slot (thread-safe; once per sample and slot).
class PeakRecorder {
 public:
  explicit PeakRecorder(size_t slots) : peaks_(slots, 0.0f) {}
  void record(size_t slot, float peak) const {
    std::lock_guard<std::mutex> lock(mutex_);
    peaks_[slot] = std::max(peaks_[slot], peak);
  }
  const std::vector<float>& peaks() const { return peaks_; }

 private:
  mutable std::mutex mutex_;
  mutable std::vector<float> peaks_;
};

class ComponentQuantizer final : public LinearOverride {
 public:
  ComponentQuantizer(const S4DModel& model, const std::map<std::string, int>& bits, const std::string& x_granularity)
      : model_(model), bits_(bits), x_granularity_(x_granularity) {
    const int64_t n_layers = model.config().n_layers;
    enc_w_ = model.encoder_weight();
    dec_w_ = model.decoder_weight();
    if (int b = bits_of("encoder")) quantize_values(enc_w_.data(), enc_w_.size(), b);
    if (int b = bits_of("decoder")) quantize_values(dec_w_.data(), dec_w_.size(), b);
    for (const S4DLayer& layer : model.layers()) {
      out_w_.push_back(layer.out_weight);
      if (int b = bits_of("projections")) {
        quantize_values(out_w_.back().data(), out_w_.back().size(), b);
      }
      Ssm s{layer.a_bar, layer.b_bar, layer.c, layer.d};
      if (int b = bits_of("abar")) quantize_complex(s.a, b);
      if (int b = bits_of("bbar")) quantize_complex(s.b, b);
      if (int b = bits_of("c")) quantize_complex(s.c, b);
      if (int b = bits_of("d")) quantize_values(s.d.data(), s.d.size(), b);
      for (const Complex& a : s.a) unstable_ += std::abs(a) >= 1.0;
      modes_ += static_cast<int64_t>(s.a.size());
      ssm_.push_back(std::move(s));
    }
    own_ssm_ = bits_of("abar") || bits_of("bbar") || bits_of("c") || bits_of("d") ||
               bits_of("x");
    state_scale_.assign(static_cast<size_t>(n_layers), 0.0f);
    act_scale_.assign(static_cast<size_t>(n_layers + 2), 0.0f);
    mode_peaks_.assign(static_cast<size_t>(n_layers), std::vector<float>(model.layers()[0].a_bar.size(), 0.0f));
  }

  // Runs the calibration samples with float x and inputs, recording their peaks, then sets the
  // static scales of x (per layer) and act (per product).
  void calibrate(const SequenceBatch& samples, int threads) {
    if (!bits_of("x") && !bits_of("act")) return;
    PeakRecorder states(state_scale_.size()), inputs(act_scale_.size());
    states_ = &states;
    inputs_ = &inputs;
    DigitalEngine(model_, samples.length, ExecMode::kRecurrent).logits(samples, threads, this);
    states_ = inputs_ = nullptr;
    if (int b = bits_of("x")) set_scales(state_scale_, trained_ranges_or(states.peaks()), b);
    // Every mode's step: the trained grid's (never recalibrated), else one per layer, or the
    // calibration's peak over each channel or mode (x_granularity) / qmax.
    x_steps_.clear();
    for (size_t i = 0; i < state_scale_.size() && bits_of("x"); ++i) {
      const size_t n = mode_peaks_[i].size(), M = n / static_cast<size_t>(model_.config().d_model);
      std::vector<float> steps(n, state_scale_[i]);
      if (trained_grid()) {
        steps = model_.layers()[i].state_grid.step;
      } else if (x_granularity_ != "layer" && !trained_state_ranges()) {
        const float qmax = static_cast<float>(qmax_of(bits_of("x")));
        for (size_t h = 0; h * M < n; ++h) {
          const float channel = *std::max_element(mode_peaks_[i].begin() + h * M, mode_peaks_[i].begin() + (h + 1) * M);
          for (size_t m = 0; m < M; ++m)
            steps[h * M + m] = std::max(x_granularity_ == "mode" ? mode_peaks_[i][h * M + m] : channel, 1e-30f) / qmax;
        }
      }
      state_scale_[i] = *std::max_element(steps.begin(), steps.end());
      x_steps_.push_back(std::move(steps));
    }
    if (int b = bits_of("act")) set_scales(act_scale_, inputs.peaks(), b);
  }

  bool trained_state_ranges() const { return model_.meta().count("x_ranges") > 0 || trained_grid(); }
  // x asked at the bits its /state_quant grid was trained at, in every layer: that grid is used.
  bool trained_grid() const {
    if (!bits_of("x")) return false;
    for (const S4DLayer& layer : model_.layers())
      if (layer.state_grid.bits != bits_of("x")) return false;
    return true;
  }

  bool encoder(int64_t, const Eigen::Ref<const Eigen::MatrixXf>& u, RowMatrixXf& x) const override {
    if (!bits_of("encoder") && !bits_of("act") && !inputs_) return false;
    Eigen::MatrixXf in = u;
    quantize_input(0, in.data(), in.size());
    x.noalias() = enc_w_ * in;
    return true;
  }

  bool projection(int64_t, int64_t layer, const RowMatrixXf& y, RowMatrixXf& g) const override {
    if (!bits_of("projections") && !bits_of("act") && !inputs_) return false;
    RowMatrixXf in = y;
    quantize_input(static_cast<size_t>(1 + layer), in.data(), in.size());
    g.noalias() = out_w_[static_cast<size_t>(layer)] * in;
    return true;
  }

  bool decoder(int64_t, const Eigen::VectorXf& pooled, Eigen::VectorXf& logits) const override {
    if (!bits_of("decoder") && !bits_of("act") && !inputs_) return false;
    Eigen::VectorXf in = pooled;
    quantize_input(act_scale_.size() - 1, in.data(), in.size());
    logits.noalias() = dec_w_ * in;
    return true;
  }

  // x_t = Abar x_{t-1} + Bbar u_t (then quantized), y_t = 2 Re(C x_t) + D u_t, mode by mode.
  bool ssm(int64_t, int64_t layer, const RowMatrixXf& z, RowMatrixXf& y) const override {
    if (!own_ssm_ && !states_) return false;
    const Ssm& s = ssm_[static_cast<size_t>(layer)];
    const int64_t H = z.rows(), L = z.cols(), M = static_cast<int64_t>(s.a.size()) / H;
    const std::vector<float>* steps = x_steps_.empty() ? nullptr : &x_steps_[static_cast<size_t>(layer)];
    const int qmax = bits_of("x") ? qmax_of(bits_of("x")) : 0;
    std::vector<float> mode_peak(states_ ? s.a.size() : 0, 0.0f);
    double peak = 0;
    for (int64_t h = 0; h < H; ++h) {
      y.row(h) = s.d[h] * z.row(h);
      for (int64_t m = 0; m < M; ++m) {
        const size_t k = static_cast<size_t>(h * M + m);
        // Complex arithmetic written out: std::complex's operator* carries NaN recovery
        // (__muldc3) that costs more than the step itself.
        const double scale = steps ? static_cast<double>((*steps)[k]) : 0.0;
        const double ar = s.a[k].real(), ai = s.a[k].imag(), br = s.b[k].real(),
                     bi = s.b[k].imag(), cr = 2 * s.c[k].real(), ci = 2 * s.c[k].imag();
        double xr = 0, xi = 0;
        for (int64_t t = 0; t < L; ++t) {
          const double u = z(h, t);
          const double nr = ar * xr - ai * xi + br * u;
          xi = ar * xi + ai * xr + bi * u;
          xr = nr;
          if (qmax > 0 && !states_) {
            xr = quantize_value(xr, scale, qmax);
            xi = quantize_value(xi, scale, qmax);
          }
          peak = std::max({peak, std::abs(xr), std::abs(xi)});
          if (states_) mode_peak[k] = std::max(mode_peak[k], static_cast<float>(std::max(std::abs(xr), std::abs(xi))));
          y(h, t) += static_cast<float>(cr * xr - ci * xi);
        }
      }
    }
    if (states_) {
      states_->record(static_cast<size_t>(layer), static_cast<float>(peak));
      std::lock_guard<std::mutex> lock(mode_mutex_);
      std::vector<float>& kept = mode_peaks_[static_cast<size_t>(layer)];
      for (size_t k = 0; k < kept.size(); ++k) kept[k] = std::max(kept[k], mode_peak[k]);
    }
    return true;
  }

  int64_t unstable_modes() const { return unstable_; }
  int64_t modes() const { return modes_; }
  const std::vector<float>& state_scales() const { return state_scale_; }
  const std::vector<float>& activation_scales() const { return act_scale_; }

 private:
  struct Ssm {
    ComplexVec a, b, c;
    Eigen::VectorXf d;
  };

  int bits_of(const std::string& component) const {
    const auto it = bits_.find(component);
    return it == bits_.end() ? 0 : it->second;
  }

  static void set_scales(std::vector<float>& scales, const std::vector<float>& peaks, int bits) {
    for (size_t i = 0; i < scales.size(); ++i) {
      scales[i] = std::max(peaks[i], 1e-30f) / static_cast<float>(qmax_of(bits));
    }
  }

  // The ranges of x a QAT run trained with (qs4d.train --x-bits writes /meta x_ranges, one per
  // layer): the trained model depends on them (RESULTS.md section 7), so they win over the
  // calibration's peaks.
  std::vector<float> trained_ranges_or(const std::vector<float>& calibrated) const {
    const auto it = model_.meta().find("x_ranges");
    if (it == model_.meta().end()) return calibrated;
    const auto refuse = [&](const std::string& detail) {
      return FormatError(ErrorKind::kBadValue, model_.path(), "/meta attribute x_ranges", detail);
    };
    nlohmann::json j;
    try {  // nesting bounded: a crafted attribute must not exhaust the stack
      j = spec_json::parse_bounded(it->second, "/meta attribute x_ranges");
    } catch (const nlohmann::json::exception&) {
      throw refuse("not JSON: " + it->second.substr(0, 80));
    } catch (const UsageError& e) {
      throw refuse(std::string("not usable JSON: ") + e.what());
    }
    if (!j.is_array() || j.size() != calibrated.size())
      throw refuse("expected a list of " + std::to_string(calibrated.size()) +
                   " numbers (one per layer), found " + spec_json::describe(j));
    std::vector<float> ranges;
    for (const auto& v : j) {
      const double r = v.is_number() ? v.get<double>() : -1.0;
      if (!(r > 0 && std::isfinite(r) && r < 1e30))
        throw refuse("expected positive finite numbers, found " + spec_json::describe(v));
      ranges.push_back(static_cast<float>(r));
    }
    return ranges;
  }

  void quantize_input(size_t slot, float* v, int64_t n) const {
    if (inputs_) {
      float peak = 0;
      for (int64_t i = 0; i < n; ++i) peak = std::max(peak, std::abs(v[i]));
      inputs_->record(slot, peak);
      return;
    }
    const int b = bits_of("act");
    if (!b) return;
    const int qmax = qmax_of(b);
    for (int64_t i = 0; i < n; ++i) v[i] = quantize_value(v[i], act_scale_[slot], qmax);
  }

  const S4DModel& model_;
  std::map<std::string, int> bits_;
  RowMatrixXf enc_w_, dec_w_;
  std::vector<RowMatrixXf> out_w_;
  std::vector<Ssm> ssm_;
  bool own_ssm_ = false;
  int64_t unstable_ = 0, modes_ = 0;
  std::vector<float> state_scale_, act_scale_;
  std::string x_granularity_;
  std::vector<std::vector<float>> x_steps_;          // per layer, per mode (h * M + m)
  mutable std::vector<std::vector<float>> mode_peaks_;  // the calibration's |Re|, |Im| peaks per mode
  mutable std::mutex mode_mutex_;
  // Set only during calibrate(): record peaks, quantize nothing.
  const PeakRecorder* states_ = nullptr;
  const PeakRecorder* inputs_ = nullptr;
};

}  // namespace

const std::vector<std::string>& ptq_components() {
  static const std::vector<std::string> names = {"encoder", "projections", "decoder", "abar",
                                                 "bbar",    "c",           "d",       "x",
                                                 "act"};
  return names;
}

std::map<std::string, int> parse_component_bits(const std::string& text) {
  std::map<std::string, int> out;
  size_t start = 0;
  while (start < text.size()) {
    const size_t comma = std::min(text.find(',', start), text.size());
    const std::string item = text.substr(start, comma - start);
    const size_t eq = item.find('=');
    const std::string name = item.substr(0, eq);
    int bits = 0;
    try {
      size_t used = 0;
      bits = eq == std::string::npos ? 0 : std::stoi(item.substr(eq + 1), &used);
      if (eq != std::string::npos && used != item.size() - eq - 1) bits = 0;
    } catch (const std::exception&) {
      bits = 0;
    }
    const auto& names = ptq_components();
    const bool known = name == "all" || std::find(names.begin(), names.end(), name) != names.end();
    if (!known || bits < kMinQuantBits || bits > kMaxQuantBits) {
      std::string list = "all";
      for (const auto& n : names) list += ", " + n;
      throw UsageError("component bits \"" + item + "\": expected NAME=BITS with BITS in 2..16 "
                       "and NAME one of " + list);
    }
    if (name == "all") {
      for (const auto& n : names) out[n] = bits;
    } else {
      out[name] = bits;
    }
    start = comma + 1;
  }
  return out;
}

PtqResult evaluate_ptq(const S4DModel& model, const Dataset& data, const Dataset& calibration,
                       const PtqOptions& options) {
  check_data_fits(model, data, options.batch);
  for (const auto& [name, bits] : options.bits) {
    parse_component_bits(name + "=" + std::to_string(bits));  // validates
  }
  const auto start = std::chrono::steady_clock::now();
  if (options.x_granularity != "layer" && options.x_granularity != "channel" && options.x_granularity != "mode")
    throw UsageError("x granularity \"" + options.x_granularity + "\": expected layer, channel or mode");
  ComponentQuantizer quantizer(model, options.bits, options.x_granularity);
  quantizer.calibrate(calibration.x, options.threads);
  const DigitalEngine engine(model, data.x.length, ExecMode::kRecurrent);
  PtqResult r;
  r.n_samples = data.x.n;
  const int64_t per_sample = data.x.length * data.x.width;
  SequenceBatch chunk{0, data.x.length, data.x.width, {}};
  if (options.keep_logits) r.logits.resize(data.x.n, model.config().d_output);
  for (int64_t first = 0; first < data.x.n; first += options.batch) {
    chunk.n = std::min(options.batch, data.x.n - first);
    chunk.values.assign(data.x.values.begin() + first * per_sample,
                        data.x.values.begin() + (first + chunk.n) * per_sample);
    const RowMatrixXf logits = engine.logits(chunk, options.threads, &quantizer);
    if (options.keep_logits) r.logits.middleRows(first, chunk.n) = logits;
    const auto pred = argmax_rows(logits);
    for (int64_t i = 0; i < chunk.n; ++i) {
      r.correct += pred[static_cast<size_t>(i)] == data.y[static_cast<size_t>(first + i)];
    }
  }
  r.accuracy = static_cast<double>(r.correct) / static_cast<double>(r.n_samples);
  r.unstable_modes = quantizer.unstable_modes();
  r.modes = quantizer.modes();
  if (options.bits.count("x")) {
    r.state_scales = quantizer.state_scales();
    r.state_scale_source = quantizer.trained_state_ranges() ? "trained" : "calibrated";
  }
  if (options.bits.count("act")) r.activation_scales = quantizer.activation_scales();
  r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return r;
}

}  // namespace qs4d
