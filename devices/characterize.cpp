// Level-by-level characterisation of a device model: the numbers behind `qs4dsim device`.
#include <cmath>

#include "devices/devices.h"

namespace qs4d {

Characterization characterize(const DeviceModel& model, int64_t levels,
                              const std::vector<double>& times_s, int64_t devices, uint64_t seed,
                              double sigmas) {
  if (levels < 2 || levels > 4096) throw UsageError("levels must be 2..4096");
  if (devices < 2 || devices > (int64_t{1} << 26)) throw UsageError("devices must be 2..2^26");
  if (times_s.empty()) throw UsageError("give at least one time");
  for (double t : times_s) model.spec().check_time(t);  // before any work
  const DeviceSpec& s = model.spec();
  const int64_t cols = std::min<int64_t>(devices, 1024);
  const int64_t rows = (devices + cols - 1) / cols;
  Characterization out;
  out.sigmas = sigmas;
  for (int64_t k = 0; k < levels; ++k) {
    const double target = model.snap(s.g_min_uS + (s.g_max_uS - s.g_min_uS) *
                                                      static_cast<double>(k) /
                                                      static_cast<double>(levels - 1));
    const RowMatrixXf targets = RowMatrixXf::Constant(rows, cols, static_cast<float>(target));
    const ProgrammedArray p = model.program(targets, stream_seed(seed, stream_key::kCharacterizeProgram, static_cast<uint64_t>(k)));
    const double n = static_cast<double>(p.g_uS.size());
    const double stuck = static_cast<double>((p.stuck.array() != 0).count()) / n;
    const double pulses = p.pulses.cast<double>().sum() / n;
    for (size_t ti = 0; ti < times_s.size(); ++ti) {
      const RowMatrixXf g = model.at_time(p, times_s[ti], stream_seed(seed, stream_key::kCharacterizeRead, static_cast<uint64_t>(k), ti));
      // Stuck devices are reported as a fraction and left out of the level's mean and spread.
      double sum = 0, sum2 = 0, m = 0;
      for (Eigen::Index i = 0; i < g.size(); ++i) {
        if (p.stuck.data()[i] != 0) continue;
        sum += g.data()[i];
        sum2 += static_cast<double>(g.data()[i]) * g.data()[i];
        m += 1;
      }
      const double mean = m > 0 ? sum / m : 0.0;
      const double std = m > 1 ? std::sqrt(std::max(0.0, (sum2 - m * mean * mean) / (m - 1))) : 0.0;
      out.rows.push_back({target, times_s[ti], mean, std, stuck, pulses});
    }
  }
  const size_t nt = times_s.size();
  for (size_t ti = 0; ti < nt; ++ti) {
    int64_t count = 1;
    size_t last = ti;  // row of the last level counted
    for (int64_t k = 1; k < levels; ++k) {
      const LevelStats& cur = out.rows[static_cast<size_t>(k) * nt + ti];
      const LevelStats& prev = out.rows[last];
      if (cur.mean_uS - prev.mean_uS > sigmas * std::max(cur.std_uS, prev.std_uS)) {
        ++count;
        last = static_cast<size_t>(k) * nt + ti;
      }
    }
    out.distinguishable.push_back(count);
  }
  return out;
}

}  // namespace qs4d
