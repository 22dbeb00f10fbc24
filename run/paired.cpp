// Paired comparison of two configurations on the same chips (run/run.h, evaluate_paired).
#include "run/run.h"

namespace qs4d {

PairedResult evaluate_paired(const S4DModel& model_a, const ChipSpec& chip_a, const S4DModel& model_b,
                             const ChipSpec& chip_b, const Dataset& data, const AnalogEvalOptions& o) {
  if (o.trials < 2) throw UsageError("a paired comparison needs at least 2 chips (--trials), got " + std::to_string(o.trials));
  AnalogEvalOptions one = o;
  one.distribute = false;  // both sides run here, whole
  one.counts = nullptr;
  PairedResult r;
  r.a = evaluate_analog(model_a, data, chip_a, one);
  r.b = evaluate_analog(model_b, data, chip_b, one);
  for (size_t ti = 0; ti < o.times_s.size(); ++ti) {
    PairedTimeResult t;
    t.time_s = o.times_s[ti];
    const std::vector<double>& a = r.a.times[ti].accuracy;
    const std::vector<double>& b = r.b.times[ti].accuracy;
    t.difference.time_s = t.time_s;
    for (size_t k = 0; k < a.size(); ++k) t.difference.accuracy.push_back(b[k] - a[k]);
    const double lo = t.difference.ci95_low(), hi = t.difference.ci95_high();
    t.verdict = lo > 0 ? "b better" : hi < 0 ? "b worse" : "within the spread";
    r.times.push_back(std::move(t));
  }
  return r;
}

}  // namespace qs4d
