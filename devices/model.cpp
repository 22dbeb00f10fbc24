// DeviceModel: programming, ageing and reading, in blocks of rows with one random stream per
// (seed, block, purpose) so that results do not depend on the thread count.
#include <omp.h>

#include <boost/random/mersenne_twister.hpp>
#include <boost/random/normal_distribution.hpp>
#include <boost/random/uniform_01.hpp>
#include <cmath>
#include <cstring>

#include "devices/devices.h"

namespace qs4d {
namespace {

constexpr int64_t kBlockRows = 16;

// Stream purposes: each kind of randomness has its own stream, so enabling one effect (stuck
// devices, say) leaves the draws of every other effect unchanged.

using Engine = boost::random::mt19937_64;

int64_t blocks_of(int64_t rows) { return (rows + kBlockRows - 1) / kBlockRows; }

}  // namespace


DeviceModel::DeviceModel(DeviceSpec spec) : spec_(std::move(spec)) {}

double DeviceModel::snap(double g) const {
  const double lo = spec_.g_min_uS, hi = spec_.g_max_uS;
  g = std::clamp(g, lo, hi);
  if (spec_.levels == 0) return g;
  const double step = (hi - lo) / static_cast<double>(spec_.levels - 1);
  return lo + std::round((g - lo) / step) * step;
}

ProgrammedArray DeviceModel::program(const RowMatrixXf& targets, uint64_t seed) const {
  const DeviceSpec& s = spec_;
  const int64_t R = targets.rows(), C = targets.cols();
  ProgrammedArray out;
  out.target_uS.resize(R, C);
  out.g_uS.resize(R, C);
  out.stuck.resize(R, C);  // every entry is written below
  out.unverified.resize(R, C);
  out.g_raw_uS.resize(R, C);
  out.pulses.resize(R, C);
  const bool dtod = s.window_dtod > 0;
  const bool power_law = s.drift.kind == DriftSpec::Kind::kPowerLaw;
  if (dtod) {
    out.g_min_uS.resize(R, C);
    out.g_max_uS.resize(R, C);
  }
  if (power_law) out.nu.resize(R, C);
  const bool has_stuck = s.stuck.at_min > 0 || s.stuck.at_max > 0;
  // Copies, not references: the one-byte stores below may alias anything, so a field read
  // through a reference would be loaded again for every device.
  const WriteVerifySpec wv = s.write_verify;
  const bool clip = s.clip_to_window;
  const double at_min = s.stuck.at_min, at_min_or_max = s.stuck.at_min + s.stuck.at_max;
  const double window = s.g_max_uS - s.g_min_uS;

#pragma omp parallel for schedule(static)
  for (int64_t b = 0; b < blocks_of(R); ++b) {
    Engine prog(stream_seed(seed, static_cast<uint64_t>(b), stream_key::kProgram));
    Engine win(stream_seed(seed, static_cast<uint64_t>(b), stream_key::kWindow));
    Engine stk(stream_seed(seed, static_cast<uint64_t>(b), stream_key::kStuck));
    Engine nug(stream_seed(seed, static_cast<uint64_t>(b), stream_key::kDriftExponent));
    boost::random::normal_distribution<double> normal;
    boost::random::uniform_01<double> uniform;
    // A row at a time: targets (and each device's window), the programming sigmas of the row
    // at once, then the draws device by device; each stream is read in column order.
    Eigen::ArrayXd row_absolute(C), row_target(C), row_lo(C), row_hi(C), row_sigma(C);
    for (int64_t r = b * kBlockRows; r < std::min(R, (b + 1) * kBlockRows); ++r) {
      for (int64_t c = 0; c < C; ++c) {
        double lo = s.g_min_uS, hi = s.g_max_uS;
        const double absolute = s.levels == 0 ? std::clamp<double>(targets(r, c), s.g_min_uS, s.g_max_uS) : snap(targets(r, c));
        double target = absolute;
        if (dtod) {
          lo *= std::max(0.0, 1.0 + s.window_dtod * normal(win));
          hi = std::max(lo * 1.0001 + 1e-9, hi * (1.0 + s.window_dtod * normal(win)));
          // Closed-loop programming verifies against the absolute target, which this device can
          // reach only inside its own window; open-loop pulses land at the same place in the
          // device's own window instead.
          target = wv.enabled ? std::clamp(target, lo, hi) : lo + (target - s.g_min_uS) / window * (hi - lo);
          out.g_min_uS(r, c) = static_cast<float>(lo);
          out.g_max_uS(r, c) = static_cast<float>(hi);
        }
        out.target_uS(r, c) = static_cast<float>(target);
        row_absolute[c] = absolute;
        row_target[c] = target;
        row_lo[c] = lo;
        row_hi[c] = hi;
      }
      s.programming.on_row(row_target, s.g_max_uS, row_sigma);
      float* g_raw = &out.g_raw_uS(r, 0);
      float* g_out = &out.g_uS(r, 0);
      uint8_t* unverified = &out.unverified(r, 0);
      uint8_t* stuck = &out.stuck(r, 0);
      int16_t* pulses = &out.pulses(r, 0);
      for (int64_t c = 0; c < C; ++c) {
        const double absolute = row_absolute[c], target = row_target[c], lo = row_lo[c], hi = row_hi[c];
        StuckState st = StuckState::kNone;
        if (has_stuck) {
          const double u = uniform(stk);
          st = u < at_min ? StuckState::kAtMin : u < at_min_or_max ? StuckState::kAtMax : StuckState::kNone;
        }
        const double sigma = row_sigma[c];
        double g = target + sigma * normal(prog);
        int iterations = 1;
        if (wv.enabled) {
          const double tol = wv.relative ? wv.tolerance * std::abs(target) : wv.tolerance;
          while (iterations < wv.max_iterations && std::abs(g - target) > tol) {
            g = target + sigma * normal(prog);  // each iteration redraws the programming error
            ++iterations;
          }
        }
        if (st != StuckState::kNone) {
          g = st == StuckState::kAtMin ? lo : hi;
          iterations = wv.enabled ? wv.max_iterations : 1;  // verify never converges
        }
        g_raw[c] = static_cast<float>(g);
        g = std::max(g, 0.0);
        if (clip) g = std::clamp(g, lo, hi);
        const auto g_stored = static_cast<float>(g);
        g_out[c] = g_stored;
        // Write-verify knows which cells it could not bring within tolerance of the absolute
        // target (stuck devices, a window that cannot reach it, the pulse budget spent), judged
        // on the state it leaves; the chip can act on them.
        const double tol = wv.relative ? wv.tolerance * std::abs(absolute) : wv.tolerance;
        unverified[c] = static_cast<uint8_t>(wv.enabled && !(std::abs(g_stored - absolute) <= tol));
        stuck[c] = static_cast<uint8_t>(st);
        pulses[c] = static_cast<int16_t>(std::min(iterations, 32767));
      }
      if (power_law) {
        // Each device's exponent from its target: the logs of a row at once (Eigen's vector
        // log), the draws in column order from their own stream.
        const Eigen::ArrayXd ln_gn = (row_target.abs() / s.g_max_uS).max(1e-7).log();
        for (int64_t c = 0; c < C; ++c) {
          const double nu = std::abs(s.drift.nu_mean.at_log(ln_gn[c]) +
                                     s.drift.nu_std.at_log(ln_gn[c]) * normal(nug));
          out.nu(r, c) = out.stuck(r, c) == static_cast<uint8_t>(StuckState::kNone)
                             ? static_cast<float>(nu * s.drift.scale)
                             : 0.0f;
        }
      }
    }
  }
  return out;
}

RowMatrixXf DeviceModel::at_time(const ProgrammedArray& state, double t, uint64_t seed) const {
  const DeviceSpec& s = spec_;
  if (!(t >= 0) || !std::isfinite(t)) {
    throw UsageError("time after programming must be finite and >= 0, got " + std::to_string(t));
  }
  s.check_time(t);
  const int64_t R = state.g_uS.rows(), C = state.g_uS.cols();
  RowMatrixXf out(R, C);
  const DriftSpec& d = s.drift;
  const AccumulatedNoiseSpec& a = s.accumulated;
  const double ln_tau = d.kind == DriftSpec::Kind::kPowerLaw ? std::log((t + d.t0_s) / d.t0_s) : 0;
  const double ln_t = std::log(std::max(t, 1.0));
  // Relaxation table: where t falls between the fitted times (log-linear weights).
  size_t k0 = 0, k1 = 0;
  double w1 = 0;
  if (d.kind == DriftSpec::Kind::kRelaxationTable) {
    const auto& ts = d.times_s;
    if (t >= ts.back()) {
      k0 = k1 = ts.size() - 1;
    } else if (t > ts.front()) {
      k1 = static_cast<size_t>(std::upper_bound(ts.begin(), ts.end(), t) - ts.begin());
      k0 = k1 - 1;
      w1 = std::log(t / ts[k0]) / std::log(ts[k1] / ts[k0]);
    }
  }
  double one_over_f = 0;  // sqrt(ln((t' + t_read) / (2 t_read))), clipped at 0
  if (a.kind != AccumulatedNoiseSpec::Kind::kNone) {
    const double tt = t + (a.kind == AccumulatedNoiseSpec::Kind::kPcm1f && a.add_t0 &&
                                   d.kind == DriftSpec::Kind::kPowerLaw
                               ? d.t0_s
                               : 0.0);
    one_over_f = std::sqrt(std::max(0.0, std::log((tt + a.t_read_s) / (2 * a.t_read_s))));
  }
  const bool dtod = state.g_min_uS.size() > 0;
  const bool one_over_f_at_zero = a.kind == AccumulatedNoiseSpec::Kind::kPcm1f && a.add_t0 &&
                                  d.kind == DriftSpec::Kind::kPowerLaw;

  // Drift without draws of its own (none, power law) and the PCM 1/f term or none: the rows go
  // through vector arithmetic, one draw per device; the other models step device by device.
  const bool vector_path = (d.kind == DriftSpec::Kind::kNone || d.kind == DriftSpec::Kind::kPowerLaw) &&
                           (a.kind == AccumulatedNoiseSpec::Kind::kNone || a.kind == AccumulatedNoiseSpec::Kind::kPcm1f);

#pragma omp parallel for schedule(static)
  for (int64_t b = 0; b < blocks_of(R); ++b) {
    Engine gen(stream_seed(seed, static_cast<uint64_t>(b), stream_key::kAgeing, double_bits(t)));
    boost::random::normal_distribution<double> normal;
    Eigen::ArrayXd g1, amp, nu;
    for (int64_t r = b * kBlockRows; r < std::min(R, (b + 1) * kBlockRows); ++r) {
      if (vector_path) {
        // The row's deterministic part at once, with Eigen's vector exp and log: the drift
        // g (t/t0)^-nu in double (the exponents widened first: a float-to-double cast inside
        // the expression makes Eigen fall back to scalar libm calls), then the 1/f amplitude
        // |g| scale q one_over_f, q = min(q_a / max(gn^q_b, floor), max) of the programmed
        // state, in single precision (within 2e-7 of the double formula; a noise amplitude).
        // The draws stay one per device, in column order, as in the loop below.
        const auto g0 = state.g_uS.row(r).array();
        g1 = g0.cast<double>().transpose();
        if (d.kind == DriftSpec::Kind::kPowerLaw) {
          nu = state.nu.row(r).cast<double>().transpose();
          g1 *= (-ln_tau * nu).exp();
        }
        if (a.kind == AccumulatedNoiseSpec::Kind::kPcm1f) {
          const Eigen::ArrayXf ln_gn = (g0.abs() * static_cast<float>(1 / s.g_max_uS)).log().transpose();
          const Eigen::ArrayXf q = (static_cast<float>(a.q_a) /
                                    (static_cast<float>(a.q_b) * ln_gn).exp().max(static_cast<float>(a.q_floor)))
                                       .min(static_cast<float>(a.q_max));
          amp = g1.abs() * a.scale * q.cast<double>() * one_over_f;
        }
        for (int64_t c = 0; c < C; ++c) {
          double g = g0[c];
          if (state.stuck(r, c) == static_cast<uint8_t>(StuckState::kNone) && (t > 0 || one_over_f_at_zero)) {
            g = g1[c];
            if (a.kind == AccumulatedNoiseSpec::Kind::kPcm1f) g += amp[c] * normal(gen);
            g = std::max(g, 0.0);
            if (s.clip_to_window) g = std::clamp(g, dtod ? state.g_min_uS(r, c) : s.g_min_uS, dtod ? state.g_max_uS(r, c) : s.g_max_uS);
          }
          out(r, c) = static_cast<float>(g);
        }
        continue;
      }
      for (int64_t c = 0; c < C; ++c) {
        double g = state.g_uS(r, c);
        const double lo = dtod ? state.g_min_uS(r, c) : s.g_min_uS;
        const double hi = dtod ? state.g_max_uS(r, c) : s.g_max_uS;
        // Right after programming the state is the programmed one, except for PCM's 1/f term,
        // which aihwkit applies from t0 on (its t is t_inference + t0) and so do we.
        if (state.stuck(r, c) != static_cast<uint8_t>(StuckState::kNone) || (t == 0 && !one_over_f_at_zero)) {
          out(r, c) = static_cast<float>(g);
          continue;
        }
        const double target = state.target_uS(r, c);
        switch (d.kind) {
          case DriftSpec::Kind::kNone: break;
          case DriftSpec::Kind::kPowerLaw: g *= std::exp(-state.nu(r, c) * ln_tau); break;
          case DriftSpec::Kind::kRelaxationTable: {
            // The source's state at t: the target spread by the fitted sigma at t (aihwkit's
            // ReRamWan2022NoiseModel ignores the programmed state), clamped once, below.
            const double s0 = d.sigma_at[k0](target, s.g_max_uS);
            const double s1 = d.sigma_at[k1](target, s.g_max_uS);
            const double sigma_t = s0 + w1 * (s1 - s0);
            g = target + d.scale * sigma_t * normal(gen);
            break;
          }
          case DriftSpec::Kind::kLogRelaxation:
            // From the programmed state before its clamps: the source clamps once, at use.
            g = state.g_raw_uS.size() ? state.g_raw_uS(r, c) : g;
            g += d.scale * (d.mean_per_ln_s * ln_t +
                            (d.std_per_ln_s * ln_t + d.std_uS) * normal(gen));
            break;
        }
        if (a.kind == AccumulatedNoiseSpec::Kind::kPcm1f) {
          const double gn = std::abs(state.g_uS(r, c)) / s.g_max_uS;
          const double q = std::min(a.q_a / std::max(std::pow(gn, a.q_b), a.q_floor), a.q_max);
          g += std::abs(g) * a.scale * q * one_over_f * normal(gen);
        } else if (a.kind == AccumulatedNoiseSpec::Kind::kLog10) {
          g += a.scale * a.k * std::log10(std::max(g, 1e-12)) * one_over_f * normal(gen);
        }
        g = std::max(g, 0.0);
        if (s.clip_to_window) g = std::clamp(g, lo, hi);
        out(r, c) = static_cast<float>(g);
      }
    }
  }
  return out;
}

RowMatrixXf DeviceModel::read_sigma(const RowMatrixXf& g) const {
  RowMatrixXf out(g.rows(), g.cols());
  for (Eigen::Index i = 0; i < g.size(); ++i) {
    out.data()[i] = static_cast<float>(spec_.read(g.data()[i], spec_.g_max_uS));
  }
  return out;
}

RowMatrixXf DeviceModel::read(const RowMatrixXf& g, uint64_t seed) const {
  const RowMatrixXf sigma = read_sigma(g);
  RowMatrixXf out(g.rows(), g.cols());
  const int64_t R = g.rows(), C = g.cols();
#pragma omp parallel for schedule(static)
  for (int64_t b = 0; b < blocks_of(R); ++b) {
    Engine gen(stream_seed(seed, static_cast<uint64_t>(b), stream_key::kRead));
    boost::random::normal_distribution<float> normal;
    for (int64_t r = b * kBlockRows; r < std::min(R, (b + 1) * kBlockRows); ++r) {
      for (int64_t c = 0; c < C; ++c) out(r, c) = g(r, c) + sigma(r, c) * normal(gen);
    }
  }
  return out;
}

}  // namespace qs4d
