// Bulk standard-normal draws for the per-product noise of the analog path, where Boost's
// one-at-a-time sampler dominated the run time. The stream is counter-based: the uniforms are
// splitmix64 hashes of (key, index), so a draw depends only on its key and position, never on
// threads or call order; Box-Muller then turns pairs of uniforms into normals with Eigen's
// vectorised log, sqrt, sin and cos.
#pragma once

#include <Eigen/Core>
#include <cmath>
#include <cstdint>

namespace qs4d::detail {

inline uint64_t mix64(uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

// out[0..n) ~ N(0, 1), i.i.d., determined by `key`.
inline void fill_normal(uint64_t key, float* out, Eigen::Index n) {
  const Eigen::Index pairs = (n + 1) / 2;
  Eigen::ArrayXf u1(pairs), u2(pairs);
  for (Eigen::Index i = 0; i < pairs; ++i) {
    const uint64_t h = mix64(key ^ mix64(static_cast<uint64_t>(i)));
    // Two 24-bit uniforms in (0, 1), never 0 (log) nor 1.
    u1[i] = (static_cast<float>(h >> 40) + 0.5f) * (1.0f / 16777216.0f);
    u2[i] = (static_cast<float>((h >> 16) & 0xffffff) + 0.5f) * (1.0f / 16777216.0f);
  }
  const Eigen::ArrayXf r = (-2.0f * u1.log()).sqrt();
  const Eigen::ArrayXf theta = static_cast<float>(2 * M_PI) * u2;
  const Eigen::ArrayXf z1 = r * theta.cos(), z2 = r * theta.sin();
  for (Eigen::Index i = 0; i < pairs; ++i) {
    out[2 * i] = z1[i];
    if (2 * i + 1 < n) out[2 * i + 1] = z2[i];
  }
}

}  // namespace qs4d::detail
