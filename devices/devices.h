// devices: memristor arrays as physics. Knows nothing of S4D, tiles or weights.
//
// A device is described by a strict `DeviceSpec` (JSON; presets with their citations live in
// data/devices/) and simulated at three moments (docs/model.md):
//   program(targets, seed)  once: snapping to levels, device-to-device window spread, programming
//                           noise with optional write-verify, stuck devices, drift exponents;
//   at_time(state, t, seed) deterministically for a time t after programming: drift or
//                           relaxation and accumulated 1/f noise;
//   read_sigma(g) / read    white Gaussian noise on every read.
// Randomness comes from independent Boost.Random streams keyed by (seed, row block, purpose), so
// results never depend on the number of threads.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "models/model.h"

namespace qs4d {

// A standard deviation (uS) as a function of conductance.
struct SigmaModel {
  enum class Kind { kNone, kConstant, kProportional, kPolynomial, kTable };
  Kind kind = Kind::kNone;
  double sigma_uS = 0;                 // constant
  double relative = 0;                 // proportional: sigma = relative * g
  std::vector<double> coefficients;    // polynomial: sigma = sum_i c_i x^i (uS)
  bool normalized = true;              // polynomial variable x = g / g_max (else x = g in uS)
  std::vector<double> table_g_uS, table_sigma_uS;  // table: linear interpolation, flat outside
  double scale = 1.0;                  // multiplies the result (for sweeps)

  // Never negative (a fitted polynomial below zero means no noise there).
  double operator()(double g_uS, double g_max_uS) const;
  // The same for a row of conductances (a polynomial evaluated as vectors, in the same order).
  void on_row(const Eigen::ArrayXd& g_uS, double g_max_uS, Eigen::ArrayXd& sigma) const;
  static SigmaModel from_json(const nlohmann::json& j, const std::string& path);
  nlohmann::json to_json() const;
};

// clip(a ln(g / g_max) + b, lo, hi): the aihwkit PCM drift-exponent statistics.
struct LogClip {
  double a = 0, b = 0, lo = 0, hi = 1e9;
  double operator()(double g_norm) const { return at_log(std::log(std::max(g_norm, 1e-7))); }
  double at_log(double ln_g_norm) const { return std::clamp(a * ln_g_norm + b, lo, hi); }
  static LogClip from_json(const nlohmann::json& j, const std::string& path);
  nlohmann::json to_json() const;
};

struct WriteVerifySpec {
  bool enabled = false;
  int max_iterations = 1;
  double tolerance = 0.0;
  bool relative = true;  // tolerance relative to the target (else absolute, uS)
};

struct DriftSpec {
  enum class Kind { kNone, kPowerLaw, kRelaxationTable, kLogRelaxation };
  Kind kind = Kind::kNone;
  // power_law: g(t) = g_prog ((t + t0) / t0)^(-nu), nu = |mean(g) + std(g) N(0,1)| per device.
  double t0_s = 20.0;
  LogClip nu_mean, nu_std;
  // relaxation_table: the spread around the target at each time, sigma_k(g) (polynomials);
  // interpolated linearly in log t between the times and held outside them.
  std::vector<double> times_s;
  std::vector<SigmaModel> sigma_at;
  // log_relaxation: g(t) = g_prog + mean_per_ln_s ln(t) + (std_per_ln_s ln(t) + std_uS) N(0,1)
  // for t >= 1 s (ln t taken as 0 below 1 s).
  double mean_per_ln_s = 0, std_per_ln_s = 0, std_uS = 0;
  double scale = 1.0;
};

struct AccumulatedNoiseSpec {
  enum class Kind { kNone, kPcm1f, kLog10 };
  Kind kind = Kind::kNone;
  double t_read_s = 250e-9;
  bool add_t0 = true;  // pcm_1f: use t + t0 in the 1/f factor (aihwkit)
  // pcm_1f: Q_s = min(q_a / max((g_prog/g_max)^q_b, q_floor), q_max), multiplicative on g(t)
  double q_a = 0.0088, q_b = 0.65, q_floor = 1e-3, q_max = 0.2;
  // log10: sigma = k log10(g(t)) sqrt(ln((t + t_read) / (2 t_read))), additive
  double k = 0.0;
  double scale = 1.0;
};

struct StuckSpec {
  double at_min = 0.0;  // fraction of devices stuck at g_min
  double at_max = 0.0;  // fraction stuck at g_max
};

struct DeviceSpec {
  std::string name;
  std::string citation;
  std::string description;
  double g_min_uS = 0.0;
  double g_max_uS = 25.0;
  int64_t levels = 0;         // programmable levels across the window, 0 = continuous
  double window_dtod = 0.0;   // relative device-to-device spread of g_min and g_max
  bool clip_to_window = false;  // clamp every state to the device's window (else only to >= 0)
  SigmaModel programming;
  WriteVerifySpec write_verify;
  DriftSpec drift;
  AccumulatedNoiseSpec accumulated;
  SigmaModel read;
  StuckSpec stuck;
  // The times after programming its source covers (s); any other time is an extrapolation,
  // refused unless `extrapolate` is set (and then marked in reports). Without a stated range,
  // every time is allowed.
  double time_min_s = 0.0, time_max_s = std::numeric_limits<double>::infinity();
  bool extrapolate = false;

  // Whether t lies outside the source's range.
  bool extrapolated(double t_s) const { return t_s < time_min_s || t_s > time_max_s; }
  // Throws a UsageError naming the device and its range when t is outside it and extrapolation
  // was not asked for.
  void check_time(double t_s) const;

  // Why setting `key` (a dotted key inside the device, "programming.scale") changes no
  // conductance at t_s seconds after programming; empty when it may. `programmed_state_counts`:
  // the chip uses the programmed state beyond the conductances (write-verify outcomes steering a
  // repair), so programming is never inert. The rules, each from the model's own formula:
  //   relaxation_table drift at t > 0 replaces the programmed state by the target spread by the
  //     source's sigma at t: programming.* and write_verify.* act only at t = 0 (unless the
  //     PCM 1/f noise, whose amplitude reads the programmed state, is on);
  //   at t = 0 the state is the programmed one: drift.* and accumulated_noise.* act only at
  //     t > 0 (except PCM 1/f noise from t0 under power-law drift, aihwkit's convention);
  //   a model switched off (kind none, write_verify disabled) ignores its other keys.
  std::string inert_reason(const std::string& key, double t_s, bool programmed_state_counts) const;
  static DeviceSpec from_json(const nlohmann::json& j, const std::string& path = "device");
  nlohmann::json to_json() const;
  static std::vector<std::string> keys();  // its JSON keys, from the one table that reads them
  ConductanceWindow window() const { return {g_min_uS, g_max_uS, levels}; }
};

// Loads data/devices/NAME.json (or a path) and applies "a.b=value" overrides, strictly.
DeviceSpec load_device(const std::string& name_or_path, const std::vector<std::string>& overrides,
                       const std::string& data_dir);


enum class StuckState : uint8_t { kNone = 0, kAtMin = 1, kAtMax = 2 };

using RowMatrixXu8 = Eigen::Matrix<uint8_t, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
using RowMatrixXi16 = Eigen::Matrix<int16_t, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

struct ProgrammedArray {
  RowMatrixXf target_uS;    // after snapping to levels and mapping into the device's window
  RowMatrixXf g_uS;         // conductance at the end of programming
  RowMatrixXf g_raw_uS;     // the same before the window clamps (log relaxation starts here, as
                            // its source clamps only once, at the time of use)
  RowMatrixXf nu;           // drift exponent (power-law drift only, else empty)
  RowMatrixXu8 stuck;       // StuckState per device
  RowMatrixXi16 pulses;     // programming pulses used (write-verify iterations)
  RowMatrixXu8 unverified;  // 1 where write-verify ended outside its tolerance of the target
                            // (stuck, out of the device's window, or out of pulses); all 0
                            // without write-verify, which cannot tell
  RowMatrixXf g_min_uS, g_max_uS;  // per-device window (only when window_dtod > 0, else empty)
};

class DeviceModel {
 public:
  explicit DeviceModel(DeviceSpec spec);
  const DeviceSpec& spec() const { return spec_; }

  // Nearest programmable level (identity when continuous).
  double snap(double g_uS) const;
  ProgrammedArray program(const RowMatrixXf& targets_uS, uint64_t seed) const;
  // The array t_s seconds after programming; deterministic for (state, t_s, seed).
  RowMatrixXf at_time(const ProgrammedArray& state, double t_s, uint64_t seed) const;
  // Per-read white noise std (uS) of each device at conductance g.
  RowMatrixXf read_sigma(const RowMatrixXf& g_uS) const;
  // One noisy read of every device (the per-cell reference path).
  RowMatrixXf read(const RowMatrixXf& g_uS, uint64_t seed) const;

 private:
  DeviceSpec spec_;
};

// Statistics of an array of identical devices per target level and time (for `qs4dsim device`).
struct LevelStats {
  double target_uS = 0, time_s = 0, mean_uS = 0, std_uS = 0;
  double stuck_fraction = 0, mean_pulses = 0;
};
struct Characterization {
  std::vector<LevelStats> rows;                // level-major, then time
  std::vector<int64_t> distinguishable;        // per time: levels told apart at `sigmas`
  double sigmas = 3.0;
};
// Programs `devices` devices at each of `levels` targets evenly spaced across the window and
// ages them to each time. Stuck devices are counted apart and left out of mean and std.
// Neighbouring levels count as distinguishable when their means are more
// than `sigmas` times the larger of their two standard deviations apart (counted greedily from
// the lowest level).
Characterization characterize(const DeviceModel& model, int64_t levels,
                              const std::vector<double>& times_s, int64_t devices, uint64_t seed,
                              double sigmas = 3.0);

}  // namespace qs4d
