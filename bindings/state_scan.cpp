// The S4D recurrence with its state on a fixed-point grid, for quantization-aware training of the
// state x (python/qs4d/state_scan.py holds the formulas and the autograd wrapper).
//
// Why in C++: the recurrence steps 784 times per sequence at L = 784 and every step is a few
// flops per mode; torch on a CPU pays ~40 us per elementwise op on a (B, H, M) plane, ~30 ops
// per step forward and backward (11 s per batch of 64 for four layers). Here each (b, h) row
// runs its whole sequence with its M modes in cache, rows in parallel over h (so the sums over
// the batch are taken in one fixed order: results do not depend on the thread count).
#include <omp.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include "bindings/bindings.h"
#include "core/core.h"
#include "models/model.h"

namespace qs4d::py_bind {
namespace {

using Floats = py::array_t<float, py::array::c_style | py::array::forcecast>;
using Codes = py::array_t<int16_t, py::array::c_style>;

// Shapes checked once: every array is named in the error with what it was and was expected.
struct ScanShape {
  int64_t B, H, L, M;
};

void expect_shape(const py::array& a, const char* name, std::vector<int64_t> want) {
  bool ok = a.ndim() == static_cast<py::ssize_t>(want.size());
  for (size_t i = 0; ok && i < want.size(); ++i) ok = a.shape(static_cast<py::ssize_t>(i)) == want[i];
  if (ok) return;
  auto text = [](auto get, size_t n) {
    std::string s = "(";
    for (size_t i = 0; i < n; ++i) s += (i ? ", " : "") + std::to_string(get(i));
    return s + ")";
  };
  throw UsageError("state scan: " + std::string(name) + " has shape " +
                   text([&](size_t i) { return a.shape(static_cast<py::ssize_t>(i)); },
                        static_cast<size_t>(a.ndim())) +
                   ", expected " + text([&](size_t i) { return want[i]; }, want.size()));
}

ScanShape scan_shape(const Floats& modes, const Floats& z) {
  if (modes.ndim() != 3 || modes.shape(0) != 3 || z.ndim() != 3)
    throw UsageError("state scan: modes must be (3, H, M) and z (B, H, L)");
  ScanShape s{z.shape(0), z.shape(1), z.shape(2), modes.shape(2)};
  if (s.B < 1 || s.H < 1 || s.L < 1 || s.M < 1) {
    throw UsageError("state scan: empty shape: z is (" + std::to_string(s.B) + ", " + std::to_string(s.H) +
                     ", " + std::to_string(s.L) + ") and modes have M = " + std::to_string(s.M) +
                     ", expected every size >= 1");
  }
  expect_shape(modes, "modes", {3, s.H, s.M});
  return s;
}

// One (3, H, M) array per plane pair: [Abar; Bbar in grid steps; 2 step C] real parts, imag parts.
struct Planes {
  const float *ar, *ai, *br, *bi, *cr, *ci;
};

Planes planes(const Floats& re, const Floats& im, const ScanShape& s) {
  const int64_t hm = s.H * s.M;
  return {re.data(), im.data(), re.data() + hm, im.data() + hm, re.data() + 2 * hm, im.data() + 2 * hm};
}

// x_t = clamp(round(Abar x_{t-1} + Bbar u_t)) in grid steps, y_t = sum_m (2 step C x_t) real part:
// models/state_grid.cpp's grid_scan_channel, the kernel the simulator's recurrence runs too, one
// (b, h) row at a time. Returns y (B, H, L) and the largest |Re|, |Im| of every mode before
// rounding, in steps (H, M); writes the codes (B, H, L, 2, M) when given.
py::tuple scan_forward(const Floats& re, const Floats& im, const Floats& z, int levels, py::object codes_out,
                       int threads) {
  const ScanShape s = scan_shape(re, z);
  expect_shape(im, "imag modes", {3, s.H, s.M});
  if (levels < 1 || levels > 32767) throw UsageError("state scan: levels must be in [1, 32767], got " + std::to_string(levels));
  int16_t* codes = nullptr;
  if (!codes_out.is_none()) {  // written in place: a converted copy would swallow the codes
    auto c = py::array::ensure(codes_out);
    if (!c || !c.dtype().is(py::dtype::of<int16_t>()) || !(c.flags() & py::array::c_style) || !c.writeable())
      throw UsageError("state scan: codes must be a writeable C-contiguous int16 array");
    expect_shape(c, "codes", {s.B, s.H, s.L, 2, s.M});
    codes = static_cast<int16_t*>(c.mutable_data());
  }
  const Planes p = planes(re, im, s);
  const float* u = z.data();
  Floats y({s.B, s.H, s.L});
  Floats peaks({s.H, s.M});
  float* out = y.mutable_data();
  float* top = peaks.mutable_data();
  std::fill(top, top + s.H * s.M, 0.0f);
  const float lim = static_cast<float>(levels);
  {
    py::gil_scoped_release release;
    ThreadScope scope(threads);
#pragma omp parallel for num_threads(scope.threads()) schedule(static)
    for (int64_t h = 0; h < s.H; ++h) {
      const int64_t o = h * s.M;
      const GridChannel channel{p.ar + o, p.ai + o, p.br + o, p.bi + o, p.cr + o, p.ci + o};
      for (int64_t b = 0; b < s.B; ++b) {
        const int64_t row = b * s.H + h;
        grid_scan_channel(channel, s.M, u + row * s.L, s.L, lim, out + row * s.L,
                          codes ? codes + row * s.L * 2 * s.M : nullptr, top + o);
      }
    }
  }
  return py::make_tuple(y, peaks);
}

// The straight-through adjoint (python/qs4d/state_scan.py), in the forward's units. A component
// clamped at the grid's end (|round(p)| > levels) passes no gradient back, as torch.clamp does:
// lam_t = conj(Abar) mu_{t+1} + conj(2 step C) dy_t, mu_t = lam_t where not clamped, else 0.
// Returns (g, gz'): g (4, 2, H, M) holds gA = sum mu conj(x_{t-1}) [x in steps], gB' = sum mu u,
// gC' = sum dy conj(x) [steps] as [real; imag] planes and, in plane 3's real part, the step's
// sum lam . (q - p) (q - p: code minus value before rounding; q alone where clamped), which the
// caller divides by the step (LSQ's gradient of a learned step); gz' = Re sum_m conj(Bbar') mu.
py::tuple scan_backward(const Floats& re, const Floats& im, const Floats& z, const Codes& codes, const Floats& dy,
                        int levels, int threads) {
  const ScanShape s = scan_shape(re, z);
  expect_shape(im, "imag modes", {3, s.H, s.M});
  expect_shape(codes, "codes", {s.B, s.H, s.L, 2, s.M});
  expect_shape(dy, "dy", {s.B, s.H, s.L});
  if (levels < 1 || levels > 32767) throw UsageError("state scan: levels must be in [1, 32767], got " + std::to_string(levels));
  const Planes p = planes(re, im, s);
  const float* u = z.data();
  const float* g = dy.data();
  const int16_t* x = codes.data();
  Floats grads({int64_t{4}, int64_t{2}, s.H, s.M});  // gA, gB', gC', gStep as [real; imag] planes
  Floats gz({s.B, s.H, s.L});
  float* gp = grads.mutable_data();
  float* gzp = gz.mutable_data();
  const int64_t hm = s.H * s.M;
  const float edge = static_cast<float>(levels) + 0.5f;  // |p| >= edge rounds past the last level
  {
    py::gil_scoped_release release;
    ThreadScope scope(threads);
#pragma omp parallel for num_threads(scope.threads()) schedule(static)
    for (int64_t h = 0; h < s.H; ++h) {
      const int64_t o = h * s.M;
      const size_t M = static_cast<size_t>(s.M);
      std::vector<double> acc(7 * M, 0.0);  // gA re, im, gB re, im, gC re, im, gStep over the batch
      std::vector<float> lr(M), li(M), row_sums(7 * M);  // this batch row's share of acc
      const std::vector<int16_t> no_state(2 * M, 0);  // x_{-1}
      for (int64_t b = 0; b < s.B; ++b) {
        std::fill(lr.begin(), lr.end(), 0.0f);
        std::fill(li.begin(), li.end(), 0.0f);
        std::fill(row_sums.begin(), row_sums.end(), 0.0f);
        const int64_t row = b * s.H + h;
        for (int64_t t = s.L - 1; t >= 0; --t) {
          const float gt = g[row * s.L + t], ut = u[row * s.L + t];
          const int16_t* xt = x + ((row * s.L + t) * 2) * s.M;
          const int16_t* __restrict xp = t > 0 ? xt - 2 * s.M : no_state.data();
          float* __restrict mu_r = lr.data();
          float* __restrict mu_i = li.data();
          float* __restrict sums = row_sums.data();
          float dz = 0.0f;
#pragma omp simd reduction(+ : dz)
          for (int64_t m = 0; m < s.M; ++m) {
            const float nr = p.ar[o + m] * mu_r[m] + p.ai[o + m] * mu_i[m] + p.cr[o + m] * gt;
            const float ni = p.ar[o + m] * mu_i[m] - p.ai[o + m] * mu_r[m] - p.ci[o + m] * gt;
            const float xr = xt[m], xi = xt[s.M + m], pr = xp[m], pim = xp[s.M + m];
            // The value before rounding, recomputed as the forward computed it.
            const float vr = p.ar[o + m] * pr - p.ai[o + m] * pim + p.br[o + m] * ut;
            const float vi = p.ar[o + m] * pim + p.ai[o + m] * pr + p.bi[o + m] * ut;
            const bool in_r = std::fabs(vr) < edge, in_i = std::fabs(vi) < edge;
            const float mr = in_r ? nr : 0.0f, mi = in_i ? ni : 0.0f;
            mu_r[m] = mr;
            mu_i[m] = mi;
            dz += p.br[o + m] * mr + p.bi[o + m] * mi;
            sums[m] += mr * pr + mi * pim;
            sums[M + m] += mi * pr - mr * pim;
            sums[2 * M + m] += mr * ut;
            sums[3 * M + m] += mi * ut;
            sums[4 * M + m] += gt * xr;
            sums[5 * M + m] -= gt * xi;
            sums[6 * M + m] += nr * (in_r ? xr - vr : xr) + ni * (in_i ? xi - vi : xi);
          }
          gzp[row * s.L + t] = dz;
        }
        for (size_t k = 0; k < 7 * M; ++k) acc[k] += row_sums[k];  // batch rows summed in order
      }
      for (int64_t k = 0; k < 7; ++k)
        for (int64_t m = 0; m < s.M; ++m) gp[k * hm + o + m] = static_cast<float>(acc[k * M + m]);
      for (int64_t m = 0; m < s.M; ++m) gp[7 * hm + o + m] = 0.0f;  // plane 3's imaginary part
    }
  }
  return py::make_tuple(grads, gz);
}

}  // namespace

void register_state_scan(py::module_& m) {
  m.def("state_scan_forward", &scan_forward, py::arg("modes_re"), py::arg("modes_im"), py::arg("z"),
        py::arg("levels"), py::arg("codes") = py::none(), py::arg("threads") = 1,
        "The fixed-point state recurrence of qs4d.state_scan (forward): modes (3, H, M) real and "
        "imaginary parts of [Abar; Bbar / step; 2 step C], z (B, H, L). Returns (y, peaks (H, M) in steps); "
        "fills codes (B, H, L, 2, M) int16 when given.");
  m.def("state_scan_backward", &scan_backward, py::arg("modes_re"), py::arg("modes_im"), py::arg("z"),
        py::arg("codes"), py::arg("dy"), py::arg("levels"), py::arg("threads") = 1,
        "Its straight-through adjoint: returns ((4, 2, H, M) sums for Abar, Bbar, C and the step; "
        "dz (B, H, L)).");
}

}  // namespace qs4d::py_bind
