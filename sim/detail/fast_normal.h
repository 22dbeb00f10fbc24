// Bulk standard-normal draws for the per-product noise of the analog path, where Boost's
// one-at-a-time sampler dominated the run time. The stream is counter-based: the uniforms are
// splitmix64 hashes of (key, index), so a draw depends only on its key and position, never on
// threads or call order; Box-Muller then turns pairs of uniforms into normals with Eigen's
// vectorised log, sqrt, sin and cos.
#pragma once

#include <Eigen/Core>
#include <cmath>
#include <cstdint>

#include "core/core.h"

namespace qs4d::detail {


// out[0..n) ~ N(0, 1), i.i.d., determined by `key`. Pair i takes its two uniforms from the
// splitmix64 output mix(splitmix64(key) + (i + 1) * golden), a loop the compiler vectorises (64-bit
// multiplies in SIMD lanes); the scratch arrays are kept per thread. `flatten` inlines Eigen's
// packet log, sin and cos: GCC left their multiply-adds as calls (14% of an analog recurrence).
[[gnu::flatten]] inline void fill_normal(uint64_t key, float* out, Eigen::Index n) {
  const Eigen::Index pairs = (n + 1) / 2;
  thread_local Eigen::ArrayXf u1, u2, r, z1, z2;
  u1.resize(pairs);
  u2.resize(pairs);
  const uint64_t base = splitmix64(key);
  float* a = u1.data();
  float* b = u2.data();
  for (Eigen::Index i = 0; i < pairs; ++i) {
    uint64_t x = base + static_cast<uint64_t>(i + 1) * 0x9e3779b97f4a7c15ULL;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
    x ^= x >> 31;
    // Two 24-bit uniforms in (0, 1), never 0 (log) nor 1.
    a[i] = (static_cast<float>(static_cast<int64_t>(x >> 40)) + 0.5f) * (1.0f / 16777216.0f);
    b[i] = (static_cast<float>(static_cast<int64_t>((x >> 16) & 0xffffff)) + 0.5f) * (1.0f / 16777216.0f);
  }
  r = (-2.0f * u1.log()).sqrt();
  u2 *= static_cast<float>(2 * M_PI);
  z1 = r * u2.cos();  // contiguous, so Eigen's packet cos and sin apply
  z2 = r * u2.sin();
  for (Eigen::Index i = 0; i < n / 2; ++i) {
    out[2 * i] = z1[i];
    out[2 * i + 1] = z2[i];
  }
  if (n % 2) out[n - 1] = z1[pairs - 1];
}

}  // namespace qs4d::detail
