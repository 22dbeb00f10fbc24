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

// A value on the grid of +-lim steps: clamped first (lim is a whole number, so this equals rounding
// first) and then rounded half to even, as torch.round, by the float trick (|v| < 2^22 once
// clamped). NaN goes to -lim rather than to an undefined integer conversion.
inline float to_grid(float v, float lim) {
  constexpr float kMagic = 12582912.0f;  // 1.5 * 2^23: v + kMagic has no fraction bits left
  v = v > -lim ? v : -lim;
  v = v < lim ? v : lim;
  return (v + kMagic) - kMagic;
}

// x_t = clamp(round(Abar x_{t-1} + Bbar u_t)) in grid steps, y_t = sum_m (2 step C x_t) real part.
// Returns y (B, H, L); writes the codes (B, H, L, 2, M) when given and the largest |Re|, |Im|
// before rounding, in steps.
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
  float* out = y.mutable_data();
  std::vector<float> peaks(static_cast<size_t>(s.H), 0.0f);
  const float lim = static_cast<float>(levels);
  {
    py::gil_scoped_release release;
    ThreadScope scope(threads);
#pragma omp parallel for num_threads(scope.threads()) schedule(static)
    for (int64_t h = 0; h < s.H; ++h) {
      const int64_t o = h * s.M;
      std::vector<float> qr(static_cast<size_t>(s.M)), qi(static_cast<size_t>(s.M));
      float peak = 0.0f;
      for (int64_t b = 0; b < s.B; ++b) {
        std::fill(qr.begin(), qr.end(), 0.0f);
        std::fill(qi.begin(), qi.end(), 0.0f);
        const int64_t row = b * s.H + h;
        for (int64_t t = 0; t < s.L; ++t) {
          const float ut = u[row * s.L + t];
          float acc = 0.0f;
          int16_t* code = codes ? codes + ((row * s.L + t) * 2) * s.M : nullptr;
          float* __restrict xr = qr.data();
          float* __restrict xi = qi.data();
#pragma omp simd reduction(max : peak) reduction(+ : acc)
          for (int64_t m = 0; m < s.M; ++m) {
            const float pr = p.ar[o + m] * xr[m] - p.ai[o + m] * xi[m] + p.br[o + m] * ut;
            const float pi = p.ar[o + m] * xi[m] + p.ai[o + m] * xr[m] + p.bi[o + m] * ut;
            peak = std::max(peak, std::max(std::fabs(pr), std::fabs(pi)));
            xr[m] = to_grid(pr, lim);
            xi[m] = to_grid(pi, lim);
            acc += p.cr[o + m] * xr[m] - p.ci[o + m] * xi[m];
          }
          if (code)
            for (int64_t m = 0; m < s.M; ++m) {
              code[m] = static_cast<int16_t>(qr[m]);
              code[s.M + m] = static_cast<int16_t>(qi[m]);
            }
          out[row * s.L + t] = acc;
        }
      }
      peaks[static_cast<size_t>(h)] = peak;
    }
  }
  return py::make_tuple(y, *std::max_element(peaks.begin(), peaks.end()));
}

// The straight-through adjoint (python/qs4d/state_scan.py), in the forward's units:
// lam_t = conj(Abar) lam_{t+1} + conj(2 step C) dy_t. Returns (gA, gB', gC', gz'): gA =
// sum lam conj(x_{t-1}) [x in steps], gB' = sum lam u, gC' = sum dy conj(x) [steps],
// gz' = Re sum_m conj(Bbar') lam, each (2, H, M) [real; imag] or (B, H, L); the caller scales.
py::tuple scan_backward(const Floats& re, const Floats& im, const Floats& z, const Codes& codes, const Floats& dy,
                        int threads) {
  const ScanShape s = scan_shape(re, z);
  expect_shape(im, "imag modes", {3, s.H, s.M});
  expect_shape(codes, "codes", {s.B, s.H, s.L, 2, s.M});
  expect_shape(dy, "dy", {s.B, s.H, s.L});
  const Planes p = planes(re, im, s);
  const float* u = z.data();
  const float* g = dy.data();
  const int16_t* x = codes.data();
  Floats grads({int64_t{3}, int64_t{2}, s.H, s.M});  // gA, gB', gC' as [real; imag] planes
  Floats gz({s.B, s.H, s.L});
  float* gp = grads.mutable_data();
  float* gzp = gz.mutable_data();
  const int64_t hm = s.H * s.M;
  {
    py::gil_scoped_release release;
    ThreadScope scope(threads);
#pragma omp parallel for num_threads(scope.threads()) schedule(static)
    for (int64_t h = 0; h < s.H; ++h) {
      const int64_t o = h * s.M;
      const size_t M = static_cast<size_t>(s.M);
      std::vector<double> acc(6 * M, 0.0);  // gA re, im, gB re, im, gC re, im over the batch
      std::vector<float> lr(M), li(M), row_sums(6 * M);  // this batch row's share of acc
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
          float* __restrict lam_r = lr.data();
          float* __restrict lam_i = li.data();
          float* __restrict sums = row_sums.data();
          float dz = 0.0f;
#pragma omp simd reduction(+ : dz)
          for (int64_t m = 0; m < s.M; ++m) {
            const float nr = p.ar[o + m] * lam_r[m] + p.ai[o + m] * lam_i[m] + p.cr[o + m] * gt;
            const float ni = p.ar[o + m] * lam_i[m] - p.ai[o + m] * lam_r[m] - p.ci[o + m] * gt;
            lam_r[m] = nr;
            lam_i[m] = ni;
            dz += p.br[o + m] * nr + p.bi[o + m] * ni;
            const float xr = xt[m], xi = xt[s.M + m], pr = xp[m], pim = xp[s.M + m];
            sums[m] += nr * pr + ni * pim;
            sums[M + m] += ni * pr - nr * pim;
            sums[2 * M + m] += nr * ut;
            sums[3 * M + m] += ni * ut;
            sums[4 * M + m] += gt * xr;
            sums[5 * M + m] -= gt * xi;
          }
          gzp[row * s.L + t] = dz;
        }
        for (size_t k = 0; k < 6 * M; ++k) acc[k] += row_sums[k];  // batch rows summed in order
      }
      for (int64_t k = 0; k < 6; ++k)
        for (int64_t m = 0; m < s.M; ++m) gp[k * hm + o + m] = static_cast<float>(acc[k * M + m]);
    }
  }
  return py::make_tuple(grads, gz);
}

}  // namespace

void register_state_scan(py::module_& m) {
  m.def("state_scan_forward", &scan_forward, py::arg("modes_re"), py::arg("modes_im"), py::arg("z"),
        py::arg("levels"), py::arg("codes") = py::none(), py::arg("threads") = 1,
        "The fixed-point state recurrence of qs4d.state_scan (forward): modes (3, H, M) real and "
        "imaginary parts of [Abar; Bbar / step; 2 step C], z (B, H, L). Returns (y, peak in steps); "
        "fills codes (B, H, L, 2, M) int16 when given.");
  m.def("state_scan_backward", &scan_backward, py::arg("modes_re"), py::arg("modes_im"), py::arg("z"),
        py::arg("codes"), py::arg("dy"), py::arg("threads") = 1,
        "Its straight-through adjoint: returns ((3, 2, H, M) sums for Abar, Bbar, C; dz (B, H, L)).");
}

}  // namespace qs4d::py_bind
