// qs4dsim quantize: post-training quantization of single components (Zhao et al.'s sensitivity
// study) on any checkpoint, in recurrent mode.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <numeric>
#include <sstream>

#include <boost/random/mersenne_twister.hpp>
#include <boost/random/uniform_int_distribution.hpp>

#include "run/cli/commands.h"

namespace qs4d::cli {
namespace {

std::string describe(const std::map<std::string, int>& bits) {
  if (bits.empty()) return "none (float32)";
  std::string out;
  for (const auto& [name, b] : bits) out += (out.empty() ? "" : ",") + name + "=" + std::to_string(b);
  return out;
}

std::vector<int> parse_bit_list(const std::string& text) {
  std::vector<int> out;
  std::stringstream in(text);
  std::string item;
  while (std::getline(in, item, ',')) {
    const auto parsed = parse_component_bits("all=" + item);  // validates 2..16
    out.push_back(parsed.begin()->second);
  }
  if (out.empty()) throw UsageError("--study: expected bit widths such as 8,6,4");
  return out;
}

// The configurations to run: the float model, a user's assignment, or the study's grid (each
// component alone at each width, then all of them together).
std::vector<std::pair<std::string, std::map<std::string, int>>> configurations(
    const QuantizeArgs& args) {
  std::vector<std::pair<std::string, std::map<std::string, int>>> out = {{"float32", {}}};
  if (!args.components.empty()) {
    const auto bits = parse_component_bits(args.components);
    out.emplace_back(describe(bits), bits);
  }
  if (!args.study.empty()) {
    for (int b : parse_bit_list(args.study)) {
      for (const auto& name : ptq_components()) {
        out.emplace_back(name + "=" + std::to_string(b), std::map<std::string, int>{{name, b}});
      }
      out.emplace_back("all=" + std::to_string(b), parse_component_bits("all=" + std::to_string(b)));
    }
  }
  return out;
}

// The samples of `all` at `index`, in that order.
Dataset subset(const Dataset& all, const std::vector<int64_t>& index) {
  Dataset out = all;
  const int64_t per = all.x.length * all.x.width, count = static_cast<int64_t>(index.size());
  out.x.n = count;
  out.x.values.resize(static_cast<size_t>(count * per));
  out.y.resize(static_cast<size_t>(count));
  for (int64_t i = 0; i < count; ++i) {
    const int64_t src = index[static_cast<size_t>(i)];
    std::copy(all.x.sample(src), all.x.sample(src) + per, out.x.values.begin() + i * per);
    out.y[static_cast<size_t>(i)] = all.y[static_cast<size_t>(src)];
  }
  return out;
}

// `count` samples spread evenly over the file (dataset files are often sorted by class, so the
// first samples would calibrate on one class only).
Dataset evenly_spaced(const Dataset& all, int64_t count) {
  if (count >= all.x.n) return all;
  std::vector<int64_t> index(static_cast<size_t>(count));
  for (int64_t i = 0; i < count; ++i) index[static_cast<size_t>(i)] = i * all.x.n / count;
  return subset(all, index);
}

// Calibration set `draw` of `count` samples: draw 0 spread evenly over the file (what a single run
// uses), draw d >= 1 a random subset without replacement from the stream keyed on (seed, d), in
// file order. The spread of a PTQ result over the draws is what its calibration set alone moves it.
Dataset calibration_draw(const Dataset& all, int64_t count, uint64_t seed, int64_t draw) {
  if (draw == 0 || count >= all.x.n) return evenly_spaced(all, count);
  constexpr uint64_t kCalibrationDraw = 0x6361'6c64;  // "cald": only this verb draws it
  boost::random::mt19937_64 gen(stream_seed(seed, kCalibrationDraw, static_cast<uint64_t>(draw)));
  std::vector<int64_t> index(static_cast<size_t>(all.x.n));
  std::iota(index.begin(), index.end(), int64_t{0});
  for (int64_t i = 0; i < count; ++i) {  // partial Fisher-Yates: the first `count` are the draw
    boost::random::uniform_int_distribution<int64_t> pick(i, all.x.n - 1);
    std::swap(index[static_cast<size_t>(i)], index[static_cast<size_t>(pick(gen))]);
  }
  index.resize(static_cast<size_t>(count));
  std::sort(index.begin(), index.end());
  return subset(all, index);
}

// Mean, sample std, min, max and the 95% t-interval of the mean over the draws' accuracies.
nlohmann::json draw_spread(const std::vector<double>& a) {
  const double n = static_cast<double>(a.size());
  double mean = 0, var = 0;
  for (double x : a) mean += x / n;
  for (double x : a) var += (x - mean) * (x - mean) / (n - 1);
  const double half = t_quantile_975(static_cast<int64_t>(a.size()) - 1) * std::sqrt(var / n);
  return {{"accuracy", a}, {"mean", mean}, {"std", std::sqrt(var)},
          {"min", *std::min_element(a.begin(), a.end())}, {"max", *std::max_element(a.begin(), a.end())},
          {"ci95", {mean - half, mean + half}}, {"interval", "95% t-interval of the mean over the draws"}};
}

}  // namespace

int run_quantize(const QuantizeArgs& args) {
  const S4DModel model = S4DModel::load(args.checkpoint);
  const auto configs = configurations(args);  // a bad component fails before any file is read
  const Dataset data = load_dataset(args.data, args.limit);
  // The static scales come from samples apart from the evaluated ones: the training split beside
  // --data unless --calibration names another file.
  std::string calib_path = args.calibration;
  if (calib_path.empty()) {
    calib_path = training_split_beside(args.data);
    if (calib_path.empty() || !std::filesystem::exists(calib_path)) {
      throw UsageError("no calibration samples for " + args.data + ": give --calibration FILE (samples apart from "
                       "the evaluated ones)" + (calib_path.empty() ? "" : ", or write " + calib_path +
                       " (/usr/bin/python3 -m qs4d.data --splits train)"));
    }
  }
  const Dataset calibration_file = load_dataset(calib_path);
  if (args.draws > 1 && args.calibrate >= calibration_file.x.n) {
    throw UsageError("--draws " + std::to_string(args.draws) + ": --calibrate " + std::to_string(args.calibrate) +
                     " takes every sample of " + calib_path + ", so every draw is the same set");
  }
  std::vector<Dataset> draws;
  for (int64_t d = 0; d < args.draws; ++d) {
    draws.push_back(calibration_draw(calibration_file, args.calibrate, args.seed, d));
    check_disjoint(draws.back(), data);
  }
  const Dataset& calibration = draws.front();
  std::printf("checkpoint  %s\n", args.checkpoint.c_str());
  std::printf("data        %s (%s, %lld samples, L = %lld), recurrent mode\n", args.data.c_str(),
              data.name.c_str(), static_cast<long long>(data.x.n),
              static_cast<long long>(data.x.length));
  const bool grid_x = state_bits(model) > 0, trained_x = grid_x || model.meta().count("x_ranges") > 0;
  std::printf("calibration %s (%lld samples spread evenly: static scales of %s)\n\n",
              calib_path.c_str(), static_cast<long long>(calibration.x.n),
              !trained_x ? "x and act"
              : grid_x   ? "act; x's steps as trained, from /state_quant (x at its trained bits)"
                         : "act; x's ranges as trained, from /meta x_ranges");
  if (args.draws > 1) {
    std::printf("draws       %lld calibration sets: the evenly spaced one, then random subsets (seed %llu); "
                "accuracy is the first, then the spread over all\n\n",
                static_cast<long long>(args.draws), static_cast<unsigned long long>(args.seed));
  }
  std::printf("%-24s %9s %9s %14s %8s%s\n", "quantized", "accuracy", "change", "|Abar| >= 1", "seconds",
              args.draws > 1 ? "   over the draws: mean [95% CI]  min .. max" : "");
  nlohmann::json rows = nlohmann::json::array();
  double reference = 0;
  for (size_t i = 0; i < configs.size(); ++i) {
    const auto& [label, bits] = configs[i];
    PtqOptions o;
    o.bits = bits;
    o.batch = args.batch;
    o.threads = args.threads;
    o.keep_logits = !args.logits_out.empty() && !args.components.empty() && i == 1;
    o.x_granularity = args.x_granularity;
    const PtqResult r = evaluate_ptq(model, data, calibration, o);
    if (bits.empty()) reference = r.accuracy;
    // The float model uses no calibration; every quantized one runs once per draw.
    nlohmann::json spread;
    if (!bits.empty() && args.draws > 1) {
      std::vector<double> accuracy = {r.accuracy};
      PtqOptions again = o;
      again.keep_logits = false;
      for (size_t d = 1; d < draws.size(); ++d) accuracy.push_back(evaluate_ptq(model, data, draws[d], again).accuracy);
      spread = draw_spread(accuracy);
    }
    char unstable[32], over[96] = "";
    std::snprintf(unstable, sizeof unstable, "%lld / %lld", static_cast<long long>(r.unstable_modes),
                  static_cast<long long>(r.modes));
    if (!spread.is_null()) {
      std::snprintf(over, sizeof over, "   %.4f [%.4f, %.4f]  %.4f .. %.4f", spread["mean"].get<double>(),
                    spread["ci95"][0].get<double>(), spread["ci95"][1].get<double>(), spread["min"].get<double>(),
                    spread["max"].get<double>());
    }
    std::printf("%-24s %9.4f %+9.4f %14s %8.1f%s\n", label.c_str(), r.accuracy, r.accuracy - reference, unstable,
                r.seconds, over);
    std::fflush(stdout);
    if (o.keep_logits) write_matrix(args.logits_out, "logits", r.logits);
    rows.push_back({{"label", label}, {"bits", bits}, {"accuracy", r.accuracy},
                    {"n_correct", r.correct}, {"n_samples", r.n_samples},
                    {"unstable_modes", r.unstable_modes}, {"modes", r.modes},
                    {"state_scales", r.state_scales}, {"state_scale_source", r.state_scale_source},
                    {"activation_scales", r.activation_scales}, {"seconds", r.seconds}});
    if (!spread.is_null()) rows.back()["over_draws"] = spread;
  }
  if (!args.json_out.empty()) {
    nlohmann::json j = {{"checkpoint", args.checkpoint}, {"data", args.data},
                        {"dataset_name", data.name}, {"limit", args.limit},
                        {"calibration", {{"source", calib_path}, {"fingerprint", file_fingerprint(calib_path)},
                                         {"samples", calibration.x.n}, {"spread", "evenly over the file"},
                                         {"draws", args.draws}, {"seed", args.seed},
                                         {"disjoint_from_evaluated", true}}},
                        {"calibration_samples", calibration.x.n},
                        {"mode", "recurrent"}, {"x_granularity", args.x_granularity}, {"results", rows}};
    write_text_atomic(args.json_out, j.dump(2) + "\n");
  }
  return 0;
}

}  // namespace qs4d::cli
