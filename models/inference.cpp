// Digital reference inference of the S4D model (docs/model.md), in float32.
//
// Layout: one sample at a time, activations as (H, L) row-major matrices, so that each channel's
// sequence is contiguous for the FFT and the 1x1 convolutions are plain matrix products. OpenMP
// runs over samples; every sample's arithmetic is the same whatever the thread count.
#include <omp.h>

#include <cmath>
#include <optional>
// With QS4D_USE_FFTW, Eigen's FFT module runs on FFTW instead of its built-in kissfft.
#ifdef QS4D_USE_FFTW
#define EIGEN_FFTW_DEFAULT
#endif
#include <unsupported/Eigen/FFT>
#include <unsupported/Eigen/SpecialFunctions>

#include "core/cancel.h"
#include "core/core.h"
#include "models/model.h"

namespace qs4d {

const char* to_string(ExecMode mode) { return mode == ExecMode::kConv ? "conv" : "recurrent"; }

ExecMode parse_exec_mode(const std::string& text) {
  if (text == "conv") return ExecMode::kConv;
  if (text == "recurrent") return ExecMode::kRecurrent;
  throw UsageError("mode \"" + text + "\" is not known, expected \"conv\", \"recurrent\" or \"auto\"");
}

int state_bits(const S4DModel& model) {
  int bits = 0;
  for (const S4DLayer& layer : model.layers()) bits = std::max(bits, layer.state_grid.bits);
  return bits;
}

ExecMode resolve_exec_mode(const std::string& text, const S4DModel& model) {
  if (text == "auto") return state_bits(model) > 0 ? ExecMode::kRecurrent : ExecMode::kConv;
  return parse_exec_mode(text);
}

namespace {

using ArrayXXfRow = Eigen::Array<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

// Smallest n >= min_n that is a multiple of 4 (kissfft's fast real path) with only the factors
// 2, 3 and 5 (its fast butterflies).
int64_t fft_size(int64_t min_n) {
  for (int64_t n = (min_n + 3) / 4 * 4;; n += 4) {
    int64_t m = n;
    for (int64_t p : {2, 3, 5}) {
      while (m % p == 0) m /= p;
    }
    if (m == 1) return n;
  }
}

// Exact (erf-based) GELU, as torch.nn.GELU() with approximate="none".
void gelu_inplace(RowMatrixXf& y) {
  auto a = y.array();
  a = 0.5f * a * (1.0f + (a * float(M_SQRT1_2)).erf());
}

}  // namespace

struct DigitalEngine::Impl {
  struct ConvLayer {
    int64_t nfft = 0;
    // (H, nfft/2 + 1) spectrum of the kernel, already divided by nfft (the inverse is unscaled).
    std::vector<std::complex<float>> spectrum;
  };
  // Recurrent mode works on blocks of kLanes channels and kGroup modes at a time: the block's
  // coefficients and states stay in registers while time runs in the innermost loop, so memory
  // traffic per step is one input and one output vector. With the state scaled by 1/Bbar,
  // x'_t = Abar x'_{t-1} + u_t and y_t = sum_m Re(W_m x'_t) with W = 2 C Bbar.
  static constexpr int64_t kLanes = 16;
  static constexpr int64_t kGroup = 4;
  struct RecurrentLayer {
    int64_t padded_h = 0, padded_m = 0;
    // [channel block][mode][lane], zero for padding channels and modes.
    std::vector<float> ar, ai, wr, wi;
  };
  std::vector<ConvLayer> conv;
  std::vector<RecurrentLayer> rec;
  std::vector<GridPlanes> grid;  // per layer; empty planes where the state stays float
  static void recurrent_ssm(const RecurrentLayer& rl, const RowMatrixXf& u, RowMatrixXf& y);

  // Scratch owned by one thread. The FFT buffers never move, so FFTW's plans (made for their
  // alignment on first use) stay valid for every later transform.
  struct Workspace {
    RowMatrixXf x, z, y, g;
    std::optional<Eigen::FFT<float>> fft;
    std::vector<float, Eigen::aligned_allocator<float>> time;
    std::vector<std::complex<float>, Eigen::aligned_allocator<std::complex<float>>> freq;
    RowMatrixXf zt, yt;
  };
};

DigitalEngine::DigitalEngine(const S4DModel& model, int64_t length, ExecMode mode)
    : model_(&model), length_(length), mode_(mode), impl_(std::make_unique<Impl>()) {
  if (length <= 0 || length > kMaxDim) {
    throw UsageError("sequence length " + std::to_string(length) + " is not in 1.." +
                     std::to_string(kMaxDim));
  }
  const ModelConfig& c = model.config();
  const int64_t H = c.d_model, M = c.modes();
  for (int64_t i = 0; i < c.n_layers; ++i) {
    const S4DLayer& layer = model.layers()[static_cast<size_t>(i)];
    if (mode == ExecMode::kConv) {
      Impl::ConvLayer cl;
      cl.nfft = fft_size(2 * length - 1);
      const int64_t nf = cl.nfft / 2 + 1;
      cl.spectrum.resize(static_cast<size_t>(H * nf));
      const Eigen::MatrixXd k = kernel(i);
      // FFTW's planner is not thread-safe: every FFT object is made and used for planning
      // inside this one named critical section.
#pragma omp critical(qs4d_fft_planner)
      {
      Eigen::FFT<double> fft;
      fft.SetFlag(Eigen::FFT<double>::HalfSpectrum);
      std::vector<double> padded(static_cast<size_t>(cl.nfft), 0.0);
      std::vector<std::complex<double>> spec(static_cast<size_t>(nf));
      for (int64_t h = 0; h < H; ++h) {
        for (int64_t l = 0; l < length; ++l) padded[static_cast<size_t>(l)] = k(h, l);
        fft.fwd(spec.data(), padded.data(), cl.nfft);
        for (int64_t f = 0; f < nf; ++f) {
          cl.spectrum[static_cast<size_t>(h * nf + f)] =
              std::complex<float>(spec[static_cast<size_t>(f)] / static_cast<double>(cl.nfft));
        }
      }
      }
      impl_->conv.push_back(std::move(cl));
    } else {
      Impl::RecurrentLayer rl;
      rl.padded_h = (H + Impl::kLanes - 1) / Impl::kLanes * Impl::kLanes;
      rl.padded_m = (M + Impl::kGroup - 1) / Impl::kGroup * Impl::kGroup;
      for (auto* v : {&rl.ar, &rl.ai, &rl.wr, &rl.wi}) {
        v->assign(static_cast<size_t>(rl.padded_h * rl.padded_m), 0.0f);
      }
      for (int64_t h = 0; h < H; ++h) {
        for (int64_t m = 0; m < M; ++m) {
          const size_t src = static_cast<size_t>(h * M + m);
          const size_t dst = static_cast<size_t>(((h / Impl::kLanes) * rl.padded_m + m) *
                                                     Impl::kLanes + h % Impl::kLanes);
          const std::complex<double> w = 2.0 * layer.c[src] * layer.b_bar[src];
          rl.ar[dst] = static_cast<float>(layer.a_bar[src].real());
          rl.ai[dst] = static_cast<float>(layer.a_bar[src].imag());
          rl.wr[dst] = static_cast<float>(w.real());
          rl.wi[dst] = static_cast<float>(w.imag());
        }
      }
      impl_->rec.push_back(std::move(rl));
      impl_->grid.push_back(layer.state_grid.bits > 0 ? grid_planes(layer) : GridPlanes{});
    }
  }
}

int DigitalEngine::state_bits() const { return mode_ == ExecMode::kRecurrent ? qs4d::state_bits(*model_) : 0; }

DigitalEngine::~DigitalEngine() = default;
DigitalEngine::DigitalEngine(DigitalEngine&&) noexcept = default;

Eigen::MatrixXd DigitalEngine::kernel(int64_t layer_index) const {
  const S4DLayer& layer = model_->layers().at(static_cast<size_t>(layer_index));
  const int64_t H = model_->config().d_model, M = model_->config().modes();
  Eigen::MatrixXd k = Eigen::MatrixXd::Zero(H, length_);
  for (int64_t h = 0; h < H; ++h) {
    for (int64_t m = 0; m < M; ++m) {
      const size_t i = static_cast<size_t>(h * M + m);
      const std::complex<double> cb = 2.0 * layer.c[i] * layer.b_bar[i];
      std::complex<double> power = 1.0;
      for (int64_t l = 0; l < length_; ++l) {
        k(h, l) += (cb * power).real();
        power *= layer.a_bar[i];
      }
    }
  }
  return k;
}

namespace {

void apply_norm(RowMatrixXf& x, const S4DLayer& layer, const ModelConfig& c) {
  if (c.norm == NormKind::kLayer) {
    // Over channels, separately at each time step (the columns of x).
    const Eigen::RowVectorXf mean = x.colwise().mean();
    x.rowwise() -= mean;
    const Eigen::RowVectorXf inv_std =
        ((x.array().square().colwise().sum() / static_cast<float>(x.rows())) + c.norm_eps).rsqrt();
    x.array().rowwise() *= inv_std.array();
    x.array().colwise() *= layer.norm_weight.array();
    x.colwise() += layer.norm_bias;
  } else {
    const Eigen::ArrayXf scale =
        layer.norm_weight.array() * (layer.running_var.array() + c.norm_eps).rsqrt();
    const Eigen::ArrayXf shift = layer.norm_bias.array() - layer.running_mean.array() * scale;
    x.array().colwise() *= scale;
    x.array().colwise() += shift;
  }
}

}  // namespace

// y (L, padded H) += the SSM response to u (L, padded H), block by block (see RecurrentLayer).
void DigitalEngine::Impl::recurrent_ssm(const RecurrentLayer& rl, const RowMatrixXf& u,
                                        RowMatrixXf& y) {
  constexpr int64_t V = kLanes, G = kGroup;
  const int64_t L = u.rows(), stride = u.cols();
  for (int64_t hb = 0; hb < rl.padded_h / V; ++hb) {
    for (int64_t m0 = 0; m0 < rl.padded_m; m0 += G) {
      const size_t base = static_cast<size_t>((hb * rl.padded_m + m0) * V);
      float ar[G][V], ai[G][V], wr[G][V], wi[G][V], xr[G][V] = {}, xi[G][V] = {};
      for (int64_t g = 0; g < G; ++g) {
        for (int64_t v = 0; v < V; ++v) {
          const size_t k = base + static_cast<size_t>(g * V + v);
          ar[g][v] = rl.ar[k];
          ai[g][v] = rl.ai[k];
          wr[g][v] = rl.wr[k];
          wi[g][v] = rl.wi[k];
        }
      }
      const float* __restrict up = u.data() + hb * V;
      float* __restrict yp = y.data() + hb * V;
      for (int64_t t = 0; t < L; ++t) {
        float acc[V];
#pragma omp simd
        for (int64_t v = 0; v < V; ++v) acc[v] = yp[t * stride + v];
        for (int64_t g = 0; g < G; ++g) {
#pragma omp simd
          for (int64_t v = 0; v < V; ++v) {
            const float nr = ar[g][v] * xr[g][v] - ai[g][v] * xi[g][v] + up[t * stride + v];
            const float ni = ar[g][v] * xi[g][v] + ai[g][v] * xr[g][v];
            xr[g][v] = nr;
            xi[g][v] = ni;
            acc[v] += wr[g][v] * nr - wi[g][v] * ni;
          }
        }
#pragma omp simd
        for (int64_t v = 0; v < V; ++v) yp[t * stride + v] = acc[v];
      }
    }
  }
}

RowMatrixXf DigitalEngine::logits(const SequenceBatch& batch, int threads,
                                  const LinearOverride* ops) const {
  throw_if_cancelled();  // between batches: every evaluation runs through here
  const ModelConfig& c = model_->config();
  if (batch.width != c.d_input) {
    throw UsageError("input has " + std::to_string(batch.width) + " features per step, the model " +
                     (model_->path().empty() ? std::string() : model_->path() + " ") +
                     "expects d_input = " + std::to_string(c.d_input));
  }
  if (batch.length != length_) {
    throw UsageError("input has length " + std::to_string(batch.length) + ", this engine was " +
                     "prepared for length " + std::to_string(length_));
  }
  const int64_t H = c.d_model, L = length_;
  RowMatrixXf out(batch.n, c.d_output);
  const ThreadScope scope(threads);  // no nested teams inside (Eigen's products)

#pragma omp parallel num_threads(scope.threads())
  {
    Impl::Workspace ws;
    if (mode_ == ExecMode::kConv) {
      const int64_t nfft = impl_->conv.empty() ? 4 : impl_->conv.front().nfft;
      ws.time.assign(static_cast<size_t>(nfft), 0.0f);
      ws.freq.resize(static_cast<size_t>(nfft / 2 + 1));
#pragma omp critical(qs4d_fft_planner)
      {
        ws.fft.emplace();
        ws.fft->SetFlag(Eigen::FFT<float>::HalfSpectrum);
        ws.fft->SetFlag(Eigen::FFT<float>::Unscaled);
        ws.fft->fwd(ws.freq.data(), ws.time.data(), nfft);  // plan both directions now
        ws.fft->inv(ws.time.data(), ws.freq.data(), nfft);
      }
    }
#pragma omp for schedule(dynamic, 1)
    for (int64_t s = 0; s < batch.n; ++s) {
      if (cancel_requested()) continue;  // the rest of the batch is skipped; thrown after the region
      // Encoder: the sample is (L, d_input) row-major, i.e. (d_input, L) column-major.
      const Eigen::Map<const Eigen::MatrixXf> u(batch.sample(s), c.d_input, L);
      if (!ops || !ops->encoder(s, u, ws.x)) ws.x.noalias() = model_->encoder_weight() * u;
      ws.x.colwise() += model_->encoder_bias();
      for (int64_t li = 0; li < c.n_layers; ++li) {
        const S4DLayer& layer = model_->layers()[static_cast<size_t>(li)];
        ws.z = ws.x;
        if (c.prenorm) apply_norm(ws.z, layer, c);
        ws.y.resize(H, L);
        const bool ssm_done = ops && ops->ssm(s, li, ws.z, ws.y);  // with its D skip
        if (ssm_done) {
        } else if (mode_ == ExecMode::kConv) {
          const Impl::ConvLayer& cl = impl_->conv[static_cast<size_t>(li)];
          const int64_t nf = cl.nfft / 2 + 1;
          for (int64_t h = 0; h < H; ++h) {
            std::copy(ws.z.row(h).data(), ws.z.row(h).data() + L, ws.time.begin());
            std::fill(ws.time.begin() + L, ws.time.end(), 0.0f);
            ws.fft->fwd(ws.freq.data(), ws.time.data(), cl.nfft);
            // Complex product written out on the interleaved floats: std::complex's operator*
            // carries NaN/inf recovery that keeps the loop from vectorising.
            float* __restrict fr = reinterpret_cast<float*>(ws.freq.data());
            const float* __restrict kr = reinterpret_cast<const float*>(cl.spectrum.data() + h * nf);
#pragma omp simd
            for (int64_t f = 0; f < nf; ++f) {
              const float a = fr[2 * f], b = fr[2 * f + 1], c = kr[2 * f], d = kr[2 * f + 1];
              fr[2 * f] = a * c - b * d;
              fr[2 * f + 1] = a * d + b * c;
            }
            ws.fft->inv(ws.time.data(), ws.freq.data(), cl.nfft);
            std::copy(ws.time.begin(), ws.time.begin() + L, ws.y.row(h).data());
          }
        } else if (!impl_->grid[static_cast<size_t>(li)].ar.empty()) {
          // The state on its trained grid (docs/model.md), channel by channel.
          const GridPlanes& gp = impl_->grid[static_cast<size_t>(li)];
          const int64_t M = c.modes();
          for (int64_t h = 0; h < H; ++h)
            grid_scan_channel(gp.channel(h, M), M, ws.z.row(h).data(), L, layer.state_grid.levels(),
                              ws.y.row(h).data(), nullptr, nullptr);
        } else {
          const Impl::RecurrentLayer& rl = impl_->rec[static_cast<size_t>(li)];
          ws.zt.setZero(L, rl.padded_h);
          ws.zt.leftCols(H) = ws.z.transpose();
          ws.yt.setZero(L, rl.padded_h);
          Impl::recurrent_ssm(rl, ws.zt, ws.yt);
          ws.y = ws.yt.leftCols(H).transpose();
        }
        if (!ssm_done) ws.y.array() += ws.z.array().colwise() * layer.d.array();
        gelu_inplace(ws.y);
        if (!ops || !ops->projection(s, li, ws.y, ws.g)) ws.g.noalias() = layer.out_weight * ws.y;
        ws.g.colwise() += layer.out_bias;
        // GLU over channels: first half gated by the sigmoid of the second half.
        ws.x.array() += ws.g.topRows(H).array() * ws.g.bottomRows(H).array().logistic();
        if (!c.prenorm) apply_norm(ws.x, layer, c);
      }
      const Eigen::VectorXf pooled = ws.x.rowwise().mean();
      Eigen::VectorXf logits;
      if (!ops || !ops->decoder(s, pooled, logits)) logits = model_->decoder_weight() * pooled;
      out.row(s) = (logits + model_->decoder_bias()).transpose();
    }
#pragma omp critical(qs4d_fft_planner)
    ws.fft.reset();  // destroying FFTW plans also goes through the planner
  }
  throw_if_cancelled();  // samples were skipped: the logits are incomplete
  return out;
}

std::vector<int64_t> argmax_rows(const RowMatrixXf& logits) {
  std::vector<int64_t> out(static_cast<size_t>(logits.rows()));
  for (Eigen::Index r = 0; r < logits.rows(); ++r) {
    Eigen::Index best = 0;
    logits.row(r).maxCoeff(&best);
    out[static_cast<size_t>(r)] = best;
  }
  return out;
}

}  // namespace qs4d
