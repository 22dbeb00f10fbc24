// The state on a grid (docs/model.md, "The state on a grid"): the one kernel that the trainer's
// compiled scan (bindings/state_scan.cpp) and the simulator's digital recurrence both run, so a
// checkpoint trained with its state quantized is evaluated on exactly the codes it was trained on.
#include <algorithm>
#include <cmath>

#include "models/model.h"

namespace qs4d {
namespace {

// A value on the grid of +-lim steps: clamped first (lim is a whole number, so this equals rounding
// first) and then rounded half to even, as torch.round, by the float trick (|v| < 2^22 once
// clamped). NaN goes to -lim rather than to an undefined integer conversion.
inline float to_grid(float v, float lim) {
  constexpr float kMagic = 12582912.0f;  // 1.5 * 2^23: v + kMagic has no fraction bits left
  v = v > -lim ? v : -lim;
  v = v < lim ? v : lim;
  return (v + kMagic) - kMagic;
}

}  // namespace

void grid_scan_channel(const GridChannel& p, int64_t M, const float* u, int64_t L, float levels, float* y,
                       int16_t* codes, float* peaks) {
  std::vector<float> qr(static_cast<size_t>(M), 0.0f), qi(static_cast<size_t>(M), 0.0f);
  std::vector<float> top(static_cast<size_t>(M), 0.0f);
  float* __restrict xr = qr.data();
  float* __restrict xi = qi.data();
  float* __restrict pk = top.data();
  // Local restrict copies: the planes never alias the state, which lets the mode loop vectorise
  // as plain loads (without them GCC versioned it into gathers, 15 ns per mode and step).
  const float* __restrict ar = p.ar;
  const float* __restrict ai = p.ai;
  const float* __restrict br = p.br;
  const float* __restrict bi = p.bi;
  const float* __restrict cr = p.cr;
  const float* __restrict ci = p.ci;
  for (int64_t t = 0; t < L; ++t) {
    const float ut = u[t];
    float acc = 0.0f;
#pragma omp simd reduction(+ : acc)
    for (int64_t m = 0; m < M; ++m) {
      const float pr = ar[m] * xr[m] - ai[m] * xi[m] + br[m] * ut;
      const float pi = ar[m] * xi[m] + ai[m] * xr[m] + bi[m] * ut;
      const float mag = std::fabs(pr) > std::fabs(pi) ? std::fabs(pr) : std::fabs(pi);
      pk[m] = pk[m] > mag ? pk[m] : mag;
      xr[m] = to_grid(pr, levels);
      xi[m] = to_grid(pi, levels);
      acc += cr[m] * xr[m] - ci[m] * xi[m];
    }
    if (codes) {
      int16_t* c = codes + t * 2 * M;
      for (int64_t m = 0; m < M; ++m) {
        c[m] = static_cast<int16_t>(xr[m]);
        c[M + m] = static_cast<int16_t>(xi[m]);
      }
    }
    y[t] = acc;
  }
  if (peaks)
    for (int64_t m = 0; m < M; ++m) peaks[m] = std::max(peaks[m], pk[m]);
}

GridChannel GridPlanes::channel(int64_t h, int64_t M) const {
  const int64_t o = h * M;
  return {ar.data() + o, ai.data() + o, br.data() + o, bi.data() + o, cr.data() + o, ci.data() + o};
}

GridPlanes grid_planes(const S4DLayer& layer) {
  const StateGrid& g = layer.state_grid;
  const size_t n = layer.a_bar.size();
  GridPlanes p;
  for (auto* v : {&p.ar, &p.ai, &p.br, &p.bi, &p.cr, &p.ci}) v->resize(n);
  for (size_t k = 0; k < n; ++k) {
    const float step = g.step.empty() ? 1.0f : g.step[k];
    p.ar[k] = static_cast<float>(layer.a_bar[k].real());
    p.ai[k] = static_cast<float>(layer.a_bar[k].imag());
    // float32 operations in the trainer's order: Bbar / step, C * (2 step).
    p.br[k] = static_cast<float>(layer.b_bar[k].real()) / step;
    p.bi[k] = static_cast<float>(layer.b_bar[k].imag()) / step;
    p.cr[k] = static_cast<float>(layer.c[k].real()) * (2.0f * step);
    p.ci[k] = static_cast<float>(layer.c[k].imag()) * (2.0f * step);
  }
  return p;
}

}  // namespace qs4d
