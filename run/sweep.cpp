// Grid sweeps with atomic, resumable CSV output.
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <memory>
#include <mutex>
#include <optional>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <sstream>

#include "run/detail/explore.h"
#include "run/detail/sweep_units.h"
#include "run/detail/reference.h"
#include "run/run.h"

namespace qs4d {
namespace {

using detail::csv_number;  // the number format of every CSV cell (sweep and explore alike)

struct Axis {
  std::string key;
  std::vector<std::string> values;
};

Axis parse_axis(const std::string& grid) {
  const auto eq = grid.find('=');
  if (eq == std::string::npos || eq == 0 || eq + 1 == grid.size()) {
    throw UsageError("grid \"" + grid + "\": expected key=v1,v2,... e.g. periphery.adc_bits=4,6,8");
  }
  Axis a;
  a.key = grid.substr(0, eq);
  std::stringstream ss(grid.substr(eq + 1));
  std::string v;
  while (std::getline(ss, v, ',')) {
    if (v.empty()) throw UsageError("grid \"" + grid + "\" has an empty value");
    a.values.push_back(v);
  }
  return a;
}

std::vector<std::string> split_csv_line(const std::string& line) {
  std::vector<std::string> out;
  std::string cur;
  bool quoted = false;
  for (size_t i = 0; i < line.size(); ++i) {
    const char c = line[i];
    if (quoted) {
      if (c == '"' && i + 1 < line.size() && line[i + 1] == '"') {
        cur += '"';
        ++i;
      } else if (c == '"') {
        quoted = false;
      } else {
        cur += c;
      }
    } else if (c == '"') {
      quoted = true;
    } else if (c == ',') {
      out.push_back(cur);
      cur.clear();
    } else {
      cur += c;
    }
  }
  out.push_back(cur);
  return out;
}

std::string csv_field(const std::string& v) {
  if (v.find_first_of(",\"\n") == std::string::npos) return v;
  std::string out = "\"";
  for (char c : v) out += c == '"' ? std::string("\"\"") : std::string(1, c);
  return out + "\"";
}

// The CSV as found: its header line (checked against the grid), the rows of the points done, and
// their keys. Also checks, or records, the run identity beside it.
struct Table {
  std::string header;
  std::vector<std::string> columns;
  std::map<int64_t, std::vector<std::string>> rows;
  std::map<std::string, bool> done;
};

// Two recorded values of one identity key mean the same run. A chip recorded by an earlier
// version lacks the keys added since (each at its default): it is re-resolved by today's parser
// before the comparison, so adding a key with a default does not orphan earlier results.
bool same_entry(const std::string& key, const nlohmann::json& before, const nlohmann::json& now) {
  if (before == now) return true;
  if (key != "chip" || !before.is_object()) return false;
  try {
    return ChipSpec::from_json(before).resolved == now;
  } catch (const std::exception&) {
    return false;
  }
}

// A resumed CSV is validated like any input (issues #30, #31): each row of a finished point
// has this sweep's columns, a point number inside the grid whose values are the row's grid values,
// this run's seed, trials, sample count and one of its times (in order, each once), accuracies and
// fractions in [0, 1], a finite std >= 0 and min <= mean <= max. A bad row is an error naming its
// line and column; a point with some of its times missing is refused too, never dropped.
class RowCheck {
 public:
  RowCheck(const SweepOptions& o, const std::vector<Axis>& axes, int64_t points, int64_t n_samples,
           const std::vector<std::string>& header,
           const std::function<std::vector<std::string>(int64_t)>& values_of)
      : o_(o), axes_(axes), points_(points), n_samples_(n_samples), header_(header), values_of_(values_of) {}

  // The row's point after checking it (line: 1-based line number in the file).
  int64_t check(size_t line, const std::vector<std::string>& f, std::map<int64_t, size_t>& times_seen) const {
    const size_t a = axes_.size();
    const int64_t p = whole(line, f, 0, 0, points_ - 1);
    const std::vector<std::string> values = values_of_(p);
    for (size_t k = 0; k < a; ++k) {
      if (f[1 + k] != values[k]) {
        fail(line, 1 + k, f[1 + k], "\"" + values[k] + "\", point " + std::to_string(p) + "'s value on the grid");
      }
    }
    size_t c = 1 + a;
    exact(line, f, c++, std::to_string(o_.eval.seed), "this run's seed");
    exact(line, f, c++, std::to_string(o_.eval.trials), "this run's trials");
    exact(line, f, c++, std::to_string(n_samples_), "this run's sample count");
    size_t& seen = times_seen[p];
    if (seen >= o_.eval.times_s.size()) fail(line, c, f[c], "no more rows for point " + std::to_string(p));
    exact(line, f, c++, csv_number(o_.eval.times_s[seen]), "the point's next time (times in order, each once)");
    ++seen;
    unit(line, f, c++);  // digital accuracy
    const size_t mean_column = c;
    const double mean = unit(line, f, c++);
    unit(line, f, c++);  // std (at most 1 for accuracies)
    const double lo = unit(line, f, c++), hi = unit(line, f, c++);
    // The 95% t-interval over chips: empty for one chip, else around the mean (it may reach
    // beyond [0, 1]: a t-interval is not clipped).
    for (int side = 0; side < 2; ++side, ++c) {
      if (o_.eval.trials == 1) {
        exact(line, f, c, "", "nothing (one chip has no interval)");
        continue;
      }
      const double v = number(line, f, c, -1.0, 2.0);
      if (side == 0 ? v > mean + 1e-6 : v < mean - 1e-6) {
        fail(line, c, f[c], std::string("a bound ") + (side == 0 ? "at or below" : "at or above") + " the mean " +
                                f[mean_column]);
      }
    }
    unit(line, f, c++);  // agreement
    unit(line, f, c++);  // clip fraction
    if (!o_.cost_tech.empty()) {  // explore: the cost columns (non-negative numbers), then pareto
      for (size_t k = 0; k + 1 < detail::cost_columns().size(); ++k) number(line, f, c++, 0.0, 1e300);
      if (f[c] != "true" && f[c] != "false") fail(line, c, f[c], "true or false");
      ++c;
    }
    if (!(lo <= mean + 1e-6 && mean <= hi + 1e-6)) {
      fail(line, mean_column, f[mean_column],
           "a mean between the min " + f[mean_column + 2] + " and max " + f[mean_column + 3]);
    }
    return p;
  }

  // Every point in the file has all its times.
  void complete(const std::map<int64_t, size_t>& times_seen) const {
    for (const auto& [p, n] : times_seen) {
      if (n != o_.eval.times_s.size()) {
        throw UsageError(o_.out_csv + ": point " + std::to_string(p) + " has " + std::to_string(n) + " of its " +
                         std::to_string(o_.eval.times_s.size()) + " rows (one per time): the file was not "
                         "written by this sweep; remove those rows or choose another --out");
      }
    }
  }

 private:
  [[noreturn]] void fail(size_t line, size_t column, const std::string& found, const std::string& expected) const {
    throw UsageError(o_.out_csv + ": line " + std::to_string(line) + ", column " + header_.at(column) +
                     ": found \"" + printable(found.substr(0, 40)) + "\", expected " + expected);
  }
  void exact(size_t line, const std::vector<std::string>& f, size_t c, const std::string& want,
             const std::string& what) const {
    if (f[c] != want) fail(line, c, f[c], "\"" + want + "\" (" + what + ")");
  }
  double number(size_t line, const std::vector<std::string>& f, size_t c, double lo, double hi) const {
    const std::string& t = f[c];
    char* end = nullptr;
    errno = 0;
    const double v = t.empty() ? 0.0 : std::strtod(t.c_str(), &end);
    if (t.empty() || end != t.c_str() + t.size() || errno == ERANGE || !(v >= lo && v <= hi)) {
      fail(line, c, t, "a number in [" + csv_number(lo) + ", " + csv_number(hi) + "]");
    }
    return v;
  }
  double unit(size_t line, const std::vector<std::string>& f, size_t c) const { return number(line, f, c, 0.0, 1.0); }
  int64_t whole(size_t line, const std::vector<std::string>& f, size_t c, int64_t lo, int64_t hi) const {
    const std::string& t = f[c];
    if (t.empty() || t.size() > 12 || t.find_first_not_of("0123456789") != std::string::npos ||
        std::stoll(t) < lo || std::stoll(t) > hi) {
      fail(line, c, t, "a whole number in [" + std::to_string(lo) + ", " + std::to_string(hi) + "] (a point of this grid)");
    }
    return std::stoll(t);
  }

  const SweepOptions& o_;
  const std::vector<Axis>& axes_;
  int64_t points_, n_samples_;
  const std::vector<std::string>& header_;
  const std::function<std::vector<std::string>(int64_t)>& values_of_;
};

Table read_table(const SweepOptions& o, const std::vector<Axis>& axes, int64_t points, int64_t n_samples,
                 const std::function<std::vector<std::string>(int64_t)>& values_of) {
  std::vector<std::string> header = {"point"};
  for (const auto& a : axes) header.push_back(a.key);
  for (const char* h : {"seed", "trials", "n_samples", "time_s", "digital_accuracy",
                        "analog_accuracy_mean", "analog_accuracy_std", "analog_accuracy_min",
                        "analog_accuracy_max", "analog_accuracy_ci95_low", "analog_accuracy_ci95_high",
                        "agreement_with_digital", "adc_clip_fraction"}) {
    header.push_back(h);
  }
  if (!o.cost_tech.empty())
    for (const std::string& h : detail::cost_columns()) header.push_back(h);
  std::string header_line;
  for (size_t i = 0; i < header.size(); ++i) header_line += (i ? "," : "") + csv_field(header[i]);

  // The run's identity beside the CSV: a resume must be the same run.
  const std::string sidecar = o.out_csv + ".run.json";
  if (!o.identity.is_null()) {
    if (std::filesystem::exists(o.out_csv) && o.resume) {
      if (!std::filesystem::exists(sidecar) && o.dry_run) {
        std::fprintf(stderr, "warning: %s has no %s; a run without --dry-run would record this run's identity\n",
                     o.out_csv.c_str(), sidecar.c_str());
      } else if (!std::filesystem::exists(sidecar)) {
        // A CSV from before run identities: this run adopts it, and says so.
        std::fprintf(stderr, "warning: %s has no %s (made before run identities were recorded); assuming this "
                     "run made it and recording this run's identity\n", o.out_csv.c_str(), sidecar.c_str());
        write_text_atomic(sidecar, o.identity.dump(2) + "\n");
      }
      const nlohmann::json before = std::filesystem::exists(sidecar) ? spec_json::read_json_file(sidecar, "run identity")
                                                                      : o.identity;
      std::string differs;
      for (const auto& [key, value] : o.identity.items()) {
        if (!before.contains(key) || !same_entry(key, before.at(key), value)) {
          differs += (differs.empty() ? "" : ", ") + key;
        }
      }
      for (const auto& [key, value] : before.items()) {
        if (!o.identity.contains(key)) differs += (differs.empty() ? "" : ", ") + key;
      }
      if (!differs.empty()) {
        throw UsageError(o.out_csv + " was made by another run (differs in: " + differs + "; see " + sidecar +
                         "); resume with the same arguments, or choose another --out");
      }
    } else if (!std::filesystem::exists(o.out_csv) && !o.dry_run) {  // a dry run writes nothing
      write_text_atomic(sidecar, o.identity.dump(2) + "\n");
    }
  }

  // Rows already written, by point (each point's rows in time order), and the points' keys.
  std::map<int64_t, std::vector<std::string>> rows;
  std::map<std::string, bool> done;
  if (std::filesystem::exists(o.out_csv)) {
    if (!o.resume) {
      throw UsageError(o.out_csv + " exists: pass --resume to continue it, or choose another --out");
    }
    std::string text, why;
    if (!read_regular_file(o.out_csv, kMaxCsvFileBytes, text, why)) throw UsageError(o.out_csv + " " + why);
    std::istringstream in(text);
    std::string line;
    std::getline(in, line);
    if (line != header_line) {
      throw UsageError(o.out_csv + ": its header does not match this sweep's grid (found \"" +
                       line + "\")");
    }
    const size_t columns = header.size();
    const RowCheck checker(o, axes, points, n_samples, header, values_of);
    std::map<int64_t, size_t> times_seen;
    for (size_t number = 2; std::getline(in, line); ++number) {
      if (line.empty()) continue;
      if (line.find('\0') != std::string::npos) {
        throw UsageError(o.out_csv + ": line " + std::to_string(number) + " holds a NUL byte");
      }
      const auto f = split_csv_line(line);
      // A row is complete or the file is not this sweep's (rows are written whole, atomically).
      if (f.size() != columns) {
        throw UsageError(o.out_csv + ": line " + std::to_string(number) + " has " + std::to_string(f.size()) +
                         " fields, expected " + std::to_string(columns) + " as the header has (\"" +
                         printable(line.substr(0, 80)) + "\")");
      }
      const int64_t p = checker.check(number, f, times_seen);
      std::string key;
      for (size_t a = 0; a < axes.size(); ++a) key += f.at(1 + a) + "\x1f";
      done[key] = true;
      rows[p].push_back(line);
    }
    checker.complete(times_seen);
  }
  return Table{header_line, header, std::move(rows), std::move(done)};
}

// The CSV: header, then every point's rows in point order (so the file does not depend on the
// order points finish in, nor on how many processes ran them).
void write_table(const std::string& path, const Table& t, const SweepOptions& o) {
  std::string text = t.header + "\n";
  if (o.cost_tech.empty()) {
    for (const auto& [point, lines] : t.rows) {
      for (const auto& l : lines) text += l + "\n";
    }
  } else {  // explore: the front is over every row, so each write marks it afresh
    std::vector<std::vector<std::string>> rows;
    for (const auto& [point, lines] : t.rows)
      for (const auto& l : lines) rows.push_back(split_csv_line(l));
    detail::mark_pareto(rows, t.columns, o.objectives);
    for (const auto& r : rows) {
      std::string line;
      for (size_t c = 0; c < r.size(); ++c) line += (c ? "," : "") + csv_field(r[c]);
      text += line + "\n";
    }
  }
  write_text_atomic(path, text);
}

// One CSV row per time from the point's trials, in trial order.
std::vector<std::string> point_rows(int64_t p, const std::vector<std::string>& values, const SweepOptions& o,
                                    int64_t n_samples, const std::vector<detail::UnitResult>& by_trial) {
  std::vector<std::string> out;
  for (size_t ti = 0; ti < o.eval.times_s.size(); ++ti) {
    AnalogTimeResult t;
    t.time_s = o.eval.times_s[ti];
    for (const detail::UnitResult& r : by_trial) {
      t.accuracy.push_back(r.accuracy.at(ti));
      t.agreement.push_back(r.agreement.at(ti));
      t.adc_clips += r.clips.at(ti);
      t.adc_conversions += r.conversions.at(ti);
    }
    std::string line = std::to_string(p);
    for (const auto& v : values) line += "," + csv_field(v);
    const double clip = t.adc_conversions ? static_cast<double>(t.adc_clips) /
                                                static_cast<double>(t.adc_conversions)
                                          : 0.0;
    for (const std::string& f :
         {std::to_string(o.eval.seed), std::to_string(o.eval.trials), std::to_string(n_samples),
          csv_number(t.time_s), csv_number(by_trial.front().digital_accuracy), csv_number(t.mean()),
          csv_number(t.std()), csv_number(t.min()), csv_number(t.max()),
          t.has_ci95() ? csv_number(t.ci95_low()) : std::string(),
          t.has_ci95() ? csv_number(t.ci95_high()) : std::string(), csv_number(t.mean_agreement()),
          csv_number(clip)}) {
      line += "," + f;
    }
    if (!o.cost_tech.empty()) {  // the point's costs, from its trial-0 chip; pareto set at write time
      for (const std::string& f : detail::cost_fields(by_trial.front().extra.at("costs"))) line += "," + f;
      line += ",false";
    }
    out.push_back(line);
  }
  return out;
}

// The digital passes of each distinct mapping (reference_key) on one dataset, computed once by
// whichever unit needs them first; other units that need the same ones wait for them.
class ReferenceCache {
 public:
  const DigitalReference& get(const S4DModel& model, const Dataset& data, const ChipSpec& chip,
                              const AnalogEvalOptions& o) {
    std::shared_ptr<Entry> entry;
    {
      const std::lock_guard<std::mutex> lock(mutex_);
      char who[32];  // explore: one cache over several checkpoints
      std::snprintf(who, sizeof who, "%p|", static_cast<const void*>(&model));
      std::shared_ptr<Entry>& slot = entries_[who + reference_key(chip)];
      if (!slot) slot = std::make_shared<Entry>();
      entry = slot;
    }
    std::call_once(entry->once, [&] { entry->reference = digital_reference(model, data, chip, o); });
    return entry->reference;
  }

 private:
  struct Entry {
    std::once_flag once;
    DigitalReference reference;
  };
  std::mutex mutex_;
  std::map<std::string, std::shared_ptr<Entry>> entries_;
};

// --dry-run: the plan, and what it will cost, from one unit timed on the first samples.
// run_first_unit returns the seconds of the unit's chip work (its digital reference, computed
// once per mapping, is timed apart and not counted per unit).
void dry_run(const SweepOptions& o, const Dataset& data, int64_t points, const std::vector<int64_t>& todo,
             const std::function<double(const Dataset&)>& run_first_unit) {
  const int64_t units = static_cast<int64_t>(todo.size()) * o.eval.trials;
  std::printf("sweep plan: %lld points (%lld done, %lld to run) x %lld trials = %lld work units of (point, "
              "trial); %zu times each; %lld samples\n",
              static_cast<long long>(points), static_cast<long long>(points - static_cast<int64_t>(todo.size())),
              static_cast<long long>(todo.size()), static_cast<long long>(o.eval.trials), static_cast<long long>(units),
              o.eval.times_s.size(), static_cast<long long>(data.x.n));
  if (units == 0) return;
  // One unit timed on n/4 and on n samples: a fixed cost (programming, calibration, the digital
  // passes) plus a cost per sample, extrapolated to the sweep's samples.
  const int64_t n = std::min<int64_t>(data.x.n, std::max<int64_t>(2, o.timing_samples));
  auto timed = [&](int64_t count) {
    Dataset sample;  // the first `count` samples only (not a copy of the whole set)
    sample.x = {count, data.x.length, data.x.width,
                std::vector<float>(data.x.values.begin(), data.x.values.begin() + count * data.x.length * data.x.width)};
    sample.y.assign(data.y.begin(), data.y.begin() + count);
    sample.n_classes = data.n_classes;
    return run_first_unit(sample);  // on one thread: the estimate is in core-seconds
  };
  timed(std::min<int64_t>(n, 8));  // warm-up: first-use costs (FFT plans, pages) are not per unit
  const double half = timed(n / 4), full = timed(n);
  const double per_sample = std::max(0.0, (full - half) / static_cast<double>(n - n / 4));
  const double fixed = std::max(0.0, full - per_sample * static_cast<double>(n));
  const double per_unit = fixed + per_sample * static_cast<double>(data.x.n);
  std::printf("timing: point %lld, trial 0 on one core: %.2f s on %lld samples, %.2f s on %lld: about %.2f s "
              "fixed + %.2f ms per sample, %.1f core-s per unit on %lld samples\n",
              static_cast<long long>(todo.front()), half, static_cast<long long>(n / 4), full,
              static_cast<long long>(n), fixed, 1e3 * per_sample, per_unit, static_cast<long long>(data.x.n));
  std::printf("estimate: %.3g core-hours for the %lld units (grid points can differ in cost; add one "
              "digital reference pass per distinct mapping and rank 0's bookkeeping, see docs/cluster.md)\n",
              per_unit * static_cast<double>(units) / 3600.0, static_cast<long long>(units));
}

// The axes of the grid: each key once, at most a million points.
std::vector<Axis> parse_axes(const std::vector<std::string>& grids) {
  if (grids.empty()) throw UsageError("give at least one --grid key=v1,v2,...");
  std::vector<Axis> axes;
  int64_t points = 1;
  for (const auto& g : grids) {
    axes.push_back(parse_axis(g));
    for (size_t a = 0; a + 1 < axes.size(); ++a) {
      if (axes[a].key == axes.back().key) {  // the later values would win, under the first's labels
        throw UsageError("--grid " + axes.back().key + " is given twice: give all its values in one --grid");
      }
    }
    points *= static_cast<int64_t>(axes.back().values.size());
    if (points > 1000000) throw UsageError("the grid has more than 1,000,000 points");
  }
  return axes;
}

}  // namespace

// Every grid value is checked before any work, on every process (a chip built with it alone on
// top of the base overrides, its times checked): a bad value fails at once, not after hours, at a
// cost of the axes' lengths, not of the grid's size. Each point's chip is built when the point
// runs, so memory does not grow with the grid. The calibration samples needed: each axis changes
// one key, so the largest need over every axis value covers every point.
int64_t check_sweep(const std::string& chip_name, const SweepOptions& o) {
  const std::vector<Axis> axes = parse_axes(o.grids);
  const ChipSpec base = load_chip(chip_name, o.overrides);
  for (double t : o.eval.times_s) base.device.check_time(t);
  int64_t needed = calibration_samples_needed(base, o.eval.calibrate_outputs);
  for (const Axis& axis : axes) {
    std::string inert;  // why the axis changes nothing, while no value says otherwise
    bool acts = false;
    for (const std::string& value : axis.values) {
      std::vector<std::string> overrides = o.overrides;
      overrides.push_back(axis.key + "=" + value);
      const ChipSpec chip = load_chip(chip_name, overrides);
      for (double t : o.eval.times_s) chip.device.check_time(t);
      const std::string why = chip.inert_at_every(axis.key, o.eval.times_s);
      if (why.empty()) acts = true;
      if (inert.empty()) inert = why;
      needed = std::max(needed, calibration_samples_needed(chip, o.eval.calibrate_outputs));
    }
    // Rows identical to the last digit, labelled as if the axis mattered: refused, not swept.
    if (!acts) {
      std::string times;
      for (double t : o.eval.times_s) times += (times.empty() ? "" : ",") + format_time(t);
      throw UsageError("--grid " + axis.key + " changes nothing at --times " + times + ": " + inert);
    }
  }
  return needed;
}

SweepSummary run_sweep(const S4DModel& single_model, const Dataset& data, const std::string& chip_name,
                       const SweepOptions& o) {
  std::vector<Axis> axes = parse_axes(o.grids);
  // explore's checkpoints: the first axis (slowest), not a chip override.
  const bool checkpoint_axis = !o.checkpoints.empty();
  if (checkpoint_axis) {
    Axis names{"checkpoint", {}};
    for (const auto& [name, m] : o.checkpoints) names.values.push_back(name);
    axes.insert(axes.begin(), names);
  }
  std::optional<TechTable> tech;  // read once; a bad table fails before any work
  if (!o.cost_tech.empty()) {
    tech = load_tech(o.cost_tech);
    if (o.objectives.size() < 2) throw UsageError("explore: give at least two objectives");
  }
  int64_t points = 1;
  for (const Axis& axis : axes) points *= static_cast<int64_t>(axis.values.size());
  const int64_t per_checkpoint = checkpoint_axis ? points / static_cast<int64_t>(o.checkpoints.size()) : points;
  auto model_of = [&](int64_t p) -> const S4DModel& {
    return checkpoint_axis ? *o.checkpoints[static_cast<size_t>(p / per_checkpoint)].second : single_model;
  };
  check_sweep(chip_name, o);
  // A point's grid values (last axis fastest), its resume key and its overrides.
  auto point = [&](int64_t p, std::vector<std::string>& values, std::string& key, std::vector<std::string>& overrides) {
    values.clear();
    key.clear();
    overrides = o.overrides;
    int64_t rest = p;
    for (auto a = axes.rbegin(); a != axes.rend(); ++a) {
      values.insert(values.begin(), a->values[static_cast<size_t>(rest % static_cast<int64_t>(a->values.size()))]);
      rest /= static_cast<int64_t>(a->values.size());
    }
    for (size_t a = 0; a < axes.size(); ++a) {
      key += values[a] + "\x1f";
      if (!(checkpoint_axis && a == 0)) overrides.push_back(axes[a].key + "=" + values[a]);
    }
  };
  if (o.eval.calibration != nullptr) check_disjoint(*o.eval.calibration, data);  // once, not per unit
  auto chip_of = [&](int64_t p) {
    std::vector<std::string> values, overrides;
    std::string key;
    point(p, values, key, overrides);
    ChipSpec chip = load_chip(chip_name, overrides);
    for (double t : o.eval.times_s) chip.device.check_time(t);
    return chip;
  };
  const bool writer = MpiSession::rank() == 0;
  SweepSummary summary;
  summary.points = points;
  Table table;
  std::vector<int64_t> todo;
  if (writer) {
    table = read_table(o, axes, points, data.x.n, [&](int64_t p) {
      std::vector<std::string> values, overrides;
      std::string key;
      point(p, values, key, overrides);
      return values;
    });
    for (int64_t p = 0; p < points; ++p) {
      std::vector<std::string> values, overrides;
      std::string key;
      point(p, values, key, overrides);
      if (table.done.count(key)) {
        ++summary.skipped;
      } else {
        todo.push_back(p);
      }
    }
  }
  // One chip of one point, as evaluate_analog runs trial `trial` of it, against the digital
  // reference of the point's mapping (computed once per mapping, not per unit).
  ReferenceCache references;
  auto evaluate_unit = [&](const detail::SweepUnit& unit, int threads, const Dataset& d,
                           ReferenceCache& cache) {
    AnalogEvalOptions e = o.eval;
    e.trials = 1;
    e.first_trial = unit.trial;
    e.threads = threads;
    e.progress = false;
    const ChipSpec chip = chip_of(unit.point);
    const S4DModel& model = model_of(unit.point);
    e.reference = &cache.get(model, d, chip, e);
    ActionCounts counts;
    const bool priced = !o.cost_tech.empty() && unit.trial == 0;  // the point's first chip, first time
    if (priced) {
      e.counts = &counts;
      e.count_samples = o.cost_samples;
      e.activation_bits = tech->memory.activation_bits;
    }
    const AnalogEvalResult r = evaluate_analog(model, d, chip, e);
    detail::UnitResult u;
    u.point = unit.point;
    u.trial = unit.trial;
    u.digital_accuracy = r.digital.accuracy;
    for (const AnalogTimeResult& t : r.times) {
      u.accuracy.push_back(t.accuracy.at(0));
      u.agreement.push_back(t.agreement.at(0));
      u.clips.push_back(t.adc_clips);
      u.conversions.push_back(t.adc_conversions);
    }
    if (priced) u.extra["costs"] = detail::price_counts(model, d.x.length, chip, *e.reference->map, *tech, counts);
    return u;
  };
  if (o.dry_run) {
    if (writer) {
      dry_run(o, data, points, todo, [&](const Dataset& d) {
        ReferenceCache cache;  // of this slice of the data
        AnalogEvalOptions e = o.eval;
        e.threads = 1;
        cache.get(model_of(todo.front()), d, chip_of(todo.front()), e);
        const auto t0 = std::chrono::steady_clock::now();
        evaluate_unit({todo.front(), 0}, 1, d, cache);
        return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      });
    }
    return summary;
  }
  const detail::RunUnit run = [&](const detail::SweepUnit& unit, int threads) {
    return evaluate_unit(unit, threads, data, references);
  };
  ProgressBar progress(static_cast<int64_t>(todo.size()), "points", writer && o.progress && !todo.empty());
  const detail::PointDone finished = [&](int64_t p, const std::vector<detail::UnitResult>& by_trial) {
    std::vector<std::string> values, overrides;
    std::string key;
    point(p, values, key, overrides);
    table.rows[p] = point_rows(p, values, o, data.x.n, by_trial);
    write_table(o.out_csv, table, o);
    ++summary.evaluated;
    progress.advance();
  };
  detail::run_units(todo, o.eval.trials, o.eval.threads, run, finished);
  if (writer && summary.evaluated == 0 && o.progress) {
    std::fprintf(stderr, "all %lld points already in %s\n", static_cast<long long>(points),
                 o.out_csv.c_str());
  }
  return summary;
}

}  // namespace qs4d
