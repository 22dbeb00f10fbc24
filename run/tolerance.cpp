// The inverse question (issue #34): bisection for the tolerated (or needed) value of one chip
// parameter, with the monotonicity it assumes checked at every probe. See run/run.h.
#include <cmath>
#include <cstdio>

#include "run/run.h"

namespace qs4d {
namespace {

// The next probe between a and b: whole numbers for bits, geometric where the bracket spans more
// than a factor 8 above zero (noise scales, resistances), else the midpoint.
double between(double a, double b, bool integer) {
  const double lo = std::min(a, b), hi = std::max(a, b);
  if (integer) return std::floor((lo + hi) / 2);
  if (lo > 0 && hi / lo > 8) return std::sqrt(lo * hi);
  return (lo + hi) / 2;
}

// Refuses a probe whose accuracy is not between its neighbours' (each allowed its own interval).
void check_between(const ToleranceOptions& o, const ToleranceProbe& left, const ToleranceProbe& mid,
                   const ToleranceProbe& right) {
  const double tol = std::max({left.half_width, mid.half_width, right.half_width});
  const double low = std::min(left.worst_mean, right.worst_mean) - tol;
  const double high = std::max(left.worst_mean, right.worst_mean) + tol;
  if (mid.worst_mean < low || mid.worst_mean > high) {
    throw UsageError("tolerance: " + o.key + " does not act monotonically on [" +
                     format_number(o.lo) + ", " + format_number(o.hi) + "]: accuracy " +
                     format_number(mid.worst_mean) + " at " + format_number(mid.value) +
                     " is outside [" + format_number(low) + ", " + format_number(high) +
                     "], the range of its neighbours " + format_number(left.value) + " (" +
                     format_number(left.worst_mean) + ") and " + format_number(right.value) + " (" +
                     format_number(right.worst_mean) +
                     ") with their 95% intervals; bisection needs a monotone effect: choose a "
                     "bracket where it is");
  }
}

}  // namespace

ToleranceResult find_tolerance(const ToleranceOptions& o,
                               const std::function<ToleranceProbe(double)>& measure) {
  if (!(o.lo < o.hi) || !std::isfinite(o.lo) || !std::isfinite(o.hi))
    throw UsageError("tolerance: --range " + format_number(o.lo) + "," + format_number(o.hi) +
                     ": expected LO,HI with LO < HI");
  if (!(o.max_drop >= 0 && o.max_drop < 1))
    throw UsageError("tolerance: --max-drop " + format_number(o.max_drop) + ": expected [0, 1)");
  if (o.integer && (o.lo != std::floor(o.lo) || o.hi != std::floor(o.hi)))
    throw UsageError("tolerance: " + o.key + " takes whole numbers: --range " +
                     format_number(o.lo) + "," + format_number(o.hi));
  ToleranceResult r;
  r.key = o.key;
  auto probe = [&](double v) {
    ToleranceProbe p = measure(v);
    p.value = v;
    p.half_width = std::max(0.0, p.worst_mean - p.worst_low);
    p.passes = p.worst_low >= p.digital - o.max_drop;
    r.probes.push_back(p);
    return p;
  };
  ToleranceProbe lo = probe(o.lo), hi = probe(o.hi);
  ToleranceProbe mid = probe(between(o.lo, o.hi, o.integer));
  check_between(o, lo, mid, hi);
  r.bracket_lo = o.lo;
  r.bracket_hi = o.hi;
  if (lo.passes == hi.passes) {
    // Both ends alike: the whole bracket passes (or fails); the direction follows the accuracies.
    r.direction = lo.worst_mean >= hi.worst_mean ? "largest" : "smallest";
    r.found = lo.passes;
    r.value = r.direction == "largest" ? o.hi : o.lo;
    r.note = lo.passes ? "every value of the bracket passes: widen --range to find the boundary"
                       : "no value of the bracket passes: the chip loses more than --max-drop even "
                         "at its best end";
    return r;
  }
  r.direction = lo.passes ? "largest" : "smallest";
  ToleranceProbe pass = lo.passes ? lo : hi, fail = lo.passes ? hi : lo;
  // The first midpoint is already measured; then bisect.
  for (int step = 0;; ++step) {
    (mid.passes ? pass : fail) = mid;
    const double next = between(pass.value, fail.value, o.integer);
    const bool done = o.integer ? std::abs(pass.value - fail.value) <= 1 : step >= o.max_steps;
    if (done || next == pass.value || next == fail.value) break;
    mid = probe(next);
    const bool pass_left = pass.value < fail.value;
    check_between(o, pass_left ? pass : fail, mid, pass_left ? fail : pass);
  }
  r.found = true;
  r.value = pass.value;
  r.bracket_lo = std::min(pass.value, fail.value);
  r.bracket_hi = std::max(pass.value, fail.value);
  return r;
}

}  // namespace qs4d
