// Monte-Carlo evaluation over chips (trials) and times after programming.
#include <chrono>
#include <cmath>
#include <functional>

#include "run/detail/counts_json.h"
#include "sim/detail/parallel.h"
#include "sim/detail/predict.h"
#include "run/detail/sweep_units.h"
#include "run/detail/reference.h"
#include "run/run.h"

namespace qs4d {
namespace {

// The quantized weights of the mapped matrices, applied digitally: the accuracy an ideal chip
// must reproduce.
class QuantizedOps : public LinearOverride {
 public:
  QuantizedOps(const MappedModel& map, const ChipSpec& spec, int64_t n_layers)
      : projections_(static_cast<size_t>(n_layers)) {
    for (const QuantizedMatrix& q : map.matrices) {
      if (q.kind == MatrixKind::kEncoder && spec.analog_encoder) encoder_ = q.dequantized();
      if (q.kind == MatrixKind::kDecoder && spec.analog_decoder) decoder_ = q.dequantized();
      if (q.kind == MatrixKind::kOutputProjection && spec.analog_projections) {
        projections_[static_cast<size_t>(q.layer)] = q.dequantized();
      }
      if (q.kind == MatrixKind::kRecurrence && spec.analog_recurrence) {
        if (recurrence_.empty()) recurrence_.resize(static_cast<size_t>(n_layers));
        recurrence_[static_cast<size_t>(q.layer)].push_back(q.dequantized());
      }
    }
  }
  // The quantized recurrence blocks stepped exactly.
  bool ssm(int64_t, int64_t layer, const RowMatrixXf& z, RowMatrixXf& y) const override {
    if (recurrence_.empty()) return false;
    const auto& blocks = recurrence_[static_cast<size_t>(layer)];
    const int64_t H = z.rows(), L = z.cols(), n = blocks.front().cols();
    Eigen::VectorXf in = Eigen::VectorXf::Zero(n), out(n);
    RowMatrixXf state = RowMatrixXf::Zero(H, n - 1);
    y.resize(H, L);
    for (int64_t t = 0; t < L; ++t) {
      for (int64_t h = 0; h < H; ++h) {
        in.head(n - 1) = state.row(h).transpose();
        in[n - 1] = z(h, t);
        out.noalias() = blocks[static_cast<size_t>(h)] * in;
        state.row(h) = out.head(n - 1).transpose();
        y(h, t) = out[n - 1];
      }
    }
    return true;
  }
  bool encoder(int64_t, const Eigen::Ref<const Eigen::MatrixXf>& u, RowMatrixXf& x) const override {
    if (encoder_.size() == 0) return false;
    x.noalias() = encoder_ * u;
    return true;
  }
  bool projection(int64_t, int64_t layer, const RowMatrixXf& y, RowMatrixXf& g) const override {
    const RowMatrixXf& w = projections_[static_cast<size_t>(layer)];
    if (w.size() == 0) return false;
    g.noalias() = w * y;
    return true;
  }
  bool decoder(int64_t, const Eigen::VectorXf& pooled, Eigen::VectorXf& logits) const override {
    if (decoder_.size() == 0) return false;
    logits = decoder_ * pooled;
    return true;
  }

 private:
  RowMatrixXf encoder_, decoder_;
  std::vector<RowMatrixXf> projections_;
  std::vector<std::vector<RowMatrixXf>> recurrence_;  // [layer][channel]
};

}  // namespace

std::unique_ptr<LinearOverride> quantized_ops(const MappedModel& map, const ChipSpec& spec, int64_t n_layers) {
  return std::make_unique<QuantizedOps>(map, spec, n_layers);
}

namespace {

using detail::predict;

// What one chip measured.
struct TrialOutcome {
  int64_t unverified = 0, repaired = 0, spare_lines = 0, rows_moved = 0;
  std::vector<int64_t> per_tile;
  std::vector<double> accuracy, agreement;
  std::vector<int64_t> clips, conversions;
  double seconds = 0;
};

// A chip's outcome as an MPI work unit's result and back; `counts` travels with the chip that
// counted them.
detail::UnitResult to_unit(const detail::SweepUnit& unit, const TrialOutcome& t, const ActionCounts* counts) {
  detail::UnitResult u;
  u.point = unit.point;
  u.trial = unit.trial;
  u.accuracy = t.accuracy;
  u.agreement = t.agreement;
  u.clips = t.clips;
  u.conversions = t.conversions;
  u.extra = {{"unverified", t.unverified}, {"repaired", t.repaired}, {"per_tile", t.per_tile},
             {"seconds", t.seconds}, {"spare_lines", t.spare_lines}, {"rows_moved", t.rows_moved}};
  if (counts != nullptr) u.extra["counts"] = detail::counts_to_json(*counts);
  return u;
}

TrialOutcome from_unit(const detail::UnitResult& u, ActionCounts* counts) {
  TrialOutcome t;
  t.accuracy = u.accuracy;
  t.agreement = u.agreement;
  t.clips = u.clips;
  t.conversions = u.conversions;
  t.unverified = u.extra.at("unverified").get<int64_t>();
  t.repaired = u.extra.at("repaired").get<int64_t>();
  t.per_tile = u.extra.at("per_tile").get<std::vector<int64_t>>();
  t.seconds = u.extra.at("seconds").get<double>();
  t.spare_lines = u.extra.at("spare_lines").get<int64_t>();
  t.rows_moved = u.extra.at("rows_moved").get<int64_t>();
  if (counts != nullptr && u.extra.contains("counts")) *counts = detail::counts_from_json(u.extra.at("counts"));
  return t;
}

double fraction_equal(const std::vector<int64_t>& a, const std::vector<int64_t>& b) {
  int64_t same = 0;
  for (size_t i = 0; i < a.size(); ++i) same += a[i] == b[i];
  return a.empty() ? 0.0 : static_cast<double>(same) / static_cast<double>(a.size());
}

}  // namespace

double AnalogTimeResult::mean() const {
  double s = 0;
  for (double a : accuracy) s += a;
  return accuracy.empty() ? 0 : s / static_cast<double>(accuracy.size());
}

double AnalogTimeResult::std() const {
  if (accuracy.size() < 2) return 0;
  const double m = mean();
  double s = 0;
  for (double a : accuracy) s += (a - m) * (a - m);
  return std::sqrt(s / static_cast<double>(accuracy.size() - 1));
}

double AnalogTimeResult::min() const {
  return accuracy.empty() ? 0 : *std::min_element(accuracy.begin(), accuracy.end());
}

double AnalogTimeResult::max() const {
  return accuracy.empty() ? 0 : *std::max_element(accuracy.begin(), accuracy.end());
}

// The table for df <= 30, above it the Cornish-Fisher expansion around the normal quantile
// (within 1e-4 of the exact value).
double t_quantile_975(int64_t df) {
  static const double table[] = {12.7062, 4.3027, 3.1824, 2.7764, 2.5706, 2.4469, 2.3646, 2.3060, 2.2622,
                                 2.2281,  2.2010, 2.1788, 2.1604, 2.1448, 2.1314, 2.1199, 2.1098, 2.1009,
                                 2.0930,  2.0860, 2.0796, 2.0739, 2.0687, 2.0639, 2.0595, 2.0555, 2.0518,
                                 2.0484,  2.0452, 2.0423};
  if (df < 1) throw UsageError("a t-interval needs at least 2 values (chips, draws)");
  if (df <= 30) return table[df - 1];
  const double z = 1.959963985, n = static_cast<double>(df);
  const double z3 = z * z * z, z5 = z3 * z * z;
  return z + (z3 + z) / (4 * n) + (5 * z5 + 16 * z3 + 3 * z) / (96 * n * n);
}

double AnalogTimeResult::ci95_low() const {
  if (!has_ci95()) return mean();
  const double n = static_cast<double>(accuracy.size());
  return mean() - t_quantile_975(static_cast<int64_t>(accuracy.size()) - 1) * std() / std::sqrt(n);
}

double AnalogTimeResult::ci95_high() const { return 2 * mean() - ci95_low(); }

double AnalogTimeResult::mean_agreement() const {
  double s = 0;
  for (double a : agreement) s += a;
  return agreement.empty() ? 0 : s / static_cast<double>(agreement.size());
}

DigitalReference digital_reference(const S4DModel& model, const Dataset& data, const ChipSpec& chip,
                                   const AnalogEvalOptions& o) {
  DigitalReference r;
  r.float_model = evaluate_digital(model, data, DigitalEvalOptions{o.mode, o.batch, o.threads});
  r.map = std::make_shared<const MappedModel>(map_model(model, chip.mapping, chip.device.window()));
  r.engine = std::make_shared<const DigitalEngine>(model, data.x.length, o.mode);
  const DigitalEngine& engine = *r.engine;
  const QuantizedOps quantized(*r.map, chip, model.config().n_layers);
  const auto t0 = std::chrono::steady_clock::now();
  const int64_t n = data.x.n;
  r.quantized = r.float_model;
  r.quantized.predictions = predict(engine, data, 0, n, o.batch, o.threads, &quantized, {});
  r.quantized_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  int64_t correct = 0;
  for (int64_t i = 0; i < n; ++i) correct += r.quantized.predictions[static_cast<size_t>(i)] == data.y[static_cast<size_t>(i)];
  r.quantized.correct = correct;
  r.quantized.accuracy = n > 0 ? static_cast<double>(correct) / static_cast<double>(n) : 0.0;
  return r;
}

std::string reference_key(const ChipSpec& chip) {
  const ConductanceWindow w = chip.device.window();
  return nlohmann::json{{"mapping", chip.mapping.to_json()},
                        {"window", {w.g_min_uS, w.g_max_uS, w.levels}},
                        {"analog", {chip.analog_encoder, chip.analog_projections, chip.analog_decoder,
                                    chip.analog_recurrence}}}
      .dump();
}

AnalogEvalResult evaluate_analog(const S4DModel& model, const Dataset& data, const ChipSpec& chip,
                                 const AnalogEvalOptions& o) {
  if (o.trials < 1 || o.trials > kMaxTrials) throw UsageError("trials must be 1.." + std::to_string(kMaxTrials));
  if (o.times_s.empty()) throw UsageError("give at least one time after programming");
  for (double t : o.times_s) chip.device.check_time(t);  // before any work
  const int64_t calibration_needed = calibration_samples_needed(chip, o.calibrate_outputs);
  if (calibration_needed > 0) {
    if (o.calibration == nullptr || o.calibration->x.n == 0) {
      throw UsageError("chip '" + chip.name + "' calibrates (" + std::to_string(calibration_needed) +
                       " samples for ADC ranges or output gains): give calibration samples apart from the "
                       "evaluated ones (--calibration FILE)");
    }
    if (o.calibrate_outputs > o.calibration->x.n) {
      throw UsageError("output calibration on " + std::to_string(o.calibrate_outputs) + " samples, but the "
                       "calibration set " + o.calibration->path + " holds " + std::to_string(o.calibration->x.n));
    }
    check_data_fits(model, *o.calibration, o.batch);
    // A sweep checks once for all its units (and passes its reference), a single run here.
    if (o.reference == nullptr) check_disjoint(*o.calibration, data);
  }
  const auto start = std::chrono::steady_clock::now();
  AnalogEvalResult result;
  const DigitalReference own = o.reference ? DigitalReference{} : digital_reference(model, data, chip, o);
  const DigitalReference& reference = o.reference ? *o.reference : own;
  result.digital_float = reference.float_model;
  result.digital = reference.quantized;
  result.digital_seconds = reference.quantized_seconds;
  const std::vector<int64_t>& digital = result.digital.predictions;
  if (static_cast<int64_t>(digital.size()) != data.x.n) {
    throw UsageError("the digital reference holds " + std::to_string(digital.size()) +
                     " predictions for " + std::to_string(data.x.n) + " samples");
  }

  const MappedModel& map = *reference.map;
  const DigitalEngine& engine = *reference.engine;
  const int64_t n = data.x.n;
  auto accuracy_of = [&](const std::vector<int64_t>& pred) {
    int64_t correct = 0;
    for (size_t i = 0; i < pred.size(); ++i) correct += pred[i] == data.y[i];
    return static_cast<double>(correct) / static_cast<double>(n);
  };
  result.times.resize(o.times_s.size());
  for (size_t ti = 0; ti < o.times_s.size(); ++ti) result.times[ti].time_s = o.times_s[ti];
  ProgressBar progress(o.trials * static_cast<int64_t>(o.times_s.size()), "chip passes (chips x times)", o.progress);
  // One chip: programmed, then at every time calibrated and evaluated. `threads` runs inside it.
  auto run_trial = [&](int64_t trial, int threads) {
    TrialOutcome out;
    DeployedChip deployed(model, map, chip, o.seed, trial, /*age_at_zero=*/false);  // aged below
    AnalogChip& analog = deployed.analog();
    out.unverified = analog.unverified_cells();
    out.repaired = analog.repaired_cells();
    out.spare_lines = analog.spare_lines_used();
    out.rows_moved = analog.rows_moved();
    out.per_tile = analog.unverified_per_tile();
    for (size_t ti = 0; ti < o.times_s.size(); ++ti) {
      deployed.age(o.times_s[ti], static_cast<int64_t>(ti), &engine, o.calibration, o.batch, threads);
      if (o.calibrate_outputs > 0) {
        deployed.calibrate_outputs(engine, *o.calibration, o.calibrate_outputs, o.batch, threads);
      }
      const auto t0 = std::chrono::steady_clock::now();
      // The first chip at the first time counts its actions on the first samples (streams are
      // keyed per sample, so splitting the pass changes nothing).
      const int64_t counted = o.counts && trial == o.first_trial && ti == 0 ? std::min(n, o.count_samples) : 0;
      std::vector<int64_t> pred;
      if (counted > 0) {
        analog.count_actions(o.counts, o.activation_bits);
        pred = deployed.predict(engine, data, 0, counted, o.batch, threads);
        analog.count_actions(nullptr);
        o.counts->samples = counted;
      }
      const std::vector<int64_t> rest = deployed.predict(engine, data, counted, n - counted, o.batch, threads);
      pred.insert(pred.end(), rest.begin(), rest.end());
      out.seconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      out.accuracy.push_back(accuracy_of(pred));
      out.agreement.push_back(fraction_equal(pred, digital));
      out.clips.push_back(analog.adc_clips());
      out.conversions.push_back(analog.adc_conversions());
      progress.advance();
    }
    return out;
  };
  // With several chips and threads, the chips run side by side, one thread each (programming,
  // calibration and every product scale that way); else the threads share each chip's samples.
  // Each chip's streams are its own, so the numbers are the same either way.
  const int threads = resolve_threads(o.threads);
  std::vector<TrialOutcome> outcomes(static_cast<size_t>(o.trials));
  if (o.first_trial < 0) throw UsageError("first trial must be >= 0");
  if (o.distribute && MpiSession::size() > 1) {
    // Chips go out one at a time to whichever process asks next; rank 0 collects them all.
    result.processes = MpiSession::size();
    const detail::RunUnit run = [&](const detail::SweepUnit& unit, int unit_threads) {
      return to_unit(unit, run_trial(o.first_trial + unit.trial, unit_threads), unit.trial == 0 ? o.counts : nullptr);
    };
    const detail::PointDone done = [&](int64_t, const std::vector<detail::UnitResult>& by_trial) {
      for (size_t k = 0; k < by_trial.size(); ++k) outcomes[k] = from_unit(by_trial[k], k == 0 ? o.counts : nullptr);
    };
    detail::run_units({0}, o.trials, o.threads, run, done);
    if (MpiSession::rank() != 0) return result;  // no trials here: rank 0 reports
  } else if (o.trials > 1 && threads > 1) {
    const ThreadScope scope(static_cast<int>(std::min<int64_t>(threads, o.trials)));
    result.chips_side_by_side = scope.threads();
    detail::parallel_for_each(o.trials, [&](int64_t trial) {
      outcomes[static_cast<size_t>(trial)] = run_trial(o.first_trial + trial, 1);
    });
  } else {
    for (int64_t trial = 0; trial < o.trials; ++trial) {
      outcomes[static_cast<size_t>(trial)] = run_trial(o.first_trial + trial, o.threads);
    }
  }
  for (size_t trial = 0; trial < outcomes.size(); ++trial) {
    const TrialOutcome& t = outcomes[trial];
    result.unverified_cells.push_back(t.unverified);
    result.repaired_cells.push_back(t.repaired);
    result.spare_lines.push_back(t.spare_lines);
    result.rows_moved.push_back(t.rows_moved);
    if (trial == 0) result.unverified_per_tile = t.per_tile;
    result.analog_seconds += t.seconds;
    for (size_t ti = 0; ti < o.times_s.size(); ++ti) {
      AnalogTimeResult& r = result.times[ti];
      r.accuracy.push_back(t.accuracy[ti]);
      r.agreement.push_back(t.agreement[ti]);
      r.adc_clips += t.clips[ti];
      r.adc_conversions += t.conversions[ti];
    }
  }
  result.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return result;
}

}  // namespace qs4d
