// Grid sweeps with atomic, resumable CSV output.
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

#include "sim/sim.h"

namespace qs4d {
namespace {

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

std::string fmt(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.6g", v);
  return buf;
}

}  // namespace

SweepSummary run_sweep(const S4DModel& model, const Dataset& data, const std::string& chip_name,
                       const SweepOptions& o) {
  if (o.grids.empty()) throw UsageError("give at least one --grid key=v1,v2,...");
  std::vector<Axis> axes;
  int64_t points = 1;
  for (const auto& g : o.grids) {
    axes.push_back(parse_axis(g));
    points *= static_cast<int64_t>(axes.back().values.size());
    if (points > 1000000) throw UsageError("the grid has more than 1,000,000 points");
  }
  std::vector<std::string> header = {"point"};
  for (const auto& a : axes) header.push_back(a.key);
  for (const char* h : {"seed", "trials", "n_samples", "time_s", "digital_accuracy",
                        "analog_accuracy_mean", "analog_accuracy_std", "analog_accuracy_min",
                        "analog_accuracy_max", "agreement_with_digital", "adc_clip_fraction"}) {
    header.push_back(h);
  }
  std::string header_line;
  for (size_t i = 0; i < header.size(); ++i) header_line += (i ? "," : "") + csv_field(header[i]);

  // The run's identity beside the CSV: a resume must be the same run.
  const std::string sidecar = o.out_csv + ".run.json";
  if (!o.identity.is_null()) {
    if (std::filesystem::exists(o.out_csv) && o.resume) {
      if (!std::filesystem::exists(sidecar)) {
        // A CSV from before run identities: this run adopts it, and says so.
        std::fprintf(stderr, "warning: %s has no %s (made before run identities were recorded); assuming this "
                     "run made it and recording this run's identity\n", o.out_csv.c_str(), sidecar.c_str());
        write_text_atomic(sidecar, o.identity.dump(2) + "\n");
      }
      const nlohmann::json before = spec_json::read_json_file(sidecar, "run identity");
      std::string differs;
      for (const auto& [key, value] : o.identity.items()) {
        if (!before.contains(key) || before.at(key) != value) differs += (differs.empty() ? "" : ", ") + key;
      }
      for (const auto& [key, value] : before.items()) {
        if (!o.identity.contains(key)) differs += (differs.empty() ? "" : ", ") + key;
      }
      if (!differs.empty()) {
        throw UsageError(o.out_csv + " was made by another run (differs in: " + differs + "; see " + sidecar +
                         "); resume with the same arguments, or choose another --out");
      }
    } else if (!std::filesystem::exists(o.out_csv)) {
      write_text_atomic(sidecar, o.identity.dump(2) + "\n");
    }
  }

  // Rows already written, by point key (the grid values joined), kept in file order.
  std::vector<std::string> lines;
  std::map<std::string, bool> done;
  if (std::filesystem::exists(o.out_csv)) {
    if (!o.resume) {
      throw UsageError(o.out_csv + " exists: pass --resume to continue it, or choose another --out");
    }
    std::ifstream in(o.out_csv);
    std::string line;
    std::getline(in, line);
    if (line != header_line) {
      throw UsageError(o.out_csv + ": its header does not match this sweep's grid (found \"" +
                       line + "\")");
    }
    while (std::getline(in, line)) {
      if (line.empty()) continue;
      const auto f = split_csv_line(line);
      std::string key;
      for (size_t a = 0; a < axes.size(); ++a) key += f.at(1 + a) + "\x1f";
      done[key] = true;
      lines.push_back(line);
    }
  }

  SweepSummary summary;
  summary.points = points;
  ProgressBar progress(points, "points", o.progress && points > static_cast<int64_t>(done.size()));
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
      overrides.push_back(axes[a].key + "=" + values[a]);
    }
  };
  // Every point's chip is built and its times checked before any work: a bad grid value fails
  // at once, not after hours.
  for (int64_t p = 0; p < points; ++p) {
    std::vector<std::string> values, overrides;
    std::string key;
    point(p, values, key, overrides);
    const ChipSpec chip = load_chip(chip_name, overrides);
    for (double t : o.eval.times_s) chip.device.check_time(t);
  }
  for (int64_t p = 0; p < points; ++p) {
    std::vector<std::string> values, overrides;
    std::string key;
    point(p, values, key, overrides);
    if (done.count(key)) {
      ++summary.skipped;
      progress.skip(1);
      continue;
    }
    const ChipSpec chip = load_chip(chip_name, overrides);
    const AnalogEvalResult r = evaluate_analog(model, data, chip, o.eval);
    for (const AnalogTimeResult& t : r.times) {
      std::string line = std::to_string(p);
      for (const auto& v : values) line += "," + csv_field(v);
      const double clip = t.adc_conversions ? static_cast<double>(t.adc_clips) /
                                                  static_cast<double>(t.adc_conversions)
                                            : 0.0;
      for (const std::string& f :
           {std::to_string(o.eval.seed), std::to_string(o.eval.trials), std::to_string(data.x.n),
            fmt(t.time_s), fmt(r.digital.accuracy), fmt(t.mean()), fmt(t.std()), fmt(t.min()),
            fmt(t.max()), fmt(t.mean_agreement()), fmt(clip)}) {
        line += "," + f;
      }
      lines.push_back(line);
    }
    std::string text = header_line + "\n";
    for (const auto& l : lines) text += l + "\n";
    write_text_atomic(o.out_csv, text);
    ++summary.evaluated;
    progress.advance();
  }
  if (summary.evaluated == 0 && o.progress) {
    std::fprintf(stderr, "all %lld points already in %s\n", static_cast<long long>(points),
                 o.out_csv.c_str());
  }
  return summary;
}

}  // namespace qs4d
