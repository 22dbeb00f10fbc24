// qs4dsim quantize: post-training quantization of single components (Zhao et al.'s sensitivity
// study) on any checkpoint, in recurrent mode.
#include <cstdio>
#include <filesystem>
#include <sstream>

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

// `count` samples spread evenly over the file (dataset files are often sorted by class, so the
// first samples would calibrate on one class only).
Dataset evenly_spaced(const Dataset& all, int64_t count) {
  if (count >= all.x.n) return all;
  Dataset out = all;
  const int64_t per = all.x.length * all.x.width;
  out.x.n = count;
  out.x.values.resize(static_cast<size_t>(count * per));
  out.y.resize(static_cast<size_t>(count));
  for (int64_t i = 0; i < count; ++i) {
    const int64_t src = i * all.x.n / count;
    std::copy(all.x.sample(src), all.x.sample(src) + per, out.x.values.begin() + i * per);
    out.y[static_cast<size_t>(i)] = all.y[static_cast<size_t>(src)];
  }
  return out;
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
  const Dataset calibration = evenly_spaced(load_dataset(calib_path), args.calibrate);
  check_disjoint(calibration, data);
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
  std::printf("%-24s %9s %9s %14s %8s\n", "quantized", "accuracy", "change", "|Abar| >= 1", "seconds");
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
    char unstable[32];
    std::snprintf(unstable, sizeof unstable, "%lld / %lld", static_cast<long long>(r.unstable_modes),
                  static_cast<long long>(r.modes));
    std::printf("%-24s %9.4f %+9.4f %14s %8.1f\n", label.c_str(), r.accuracy,
                r.accuracy - reference, unstable, r.seconds);
    std::fflush(stdout);
    if (o.keep_logits) write_matrix(args.logits_out, "logits", r.logits);
    rows.push_back({{"label", label}, {"bits", bits}, {"accuracy", r.accuracy},
                    {"n_correct", r.correct}, {"n_samples", r.n_samples},
                    {"unstable_modes", r.unstable_modes}, {"modes", r.modes},
                    {"state_scales", r.state_scales}, {"state_scale_source", r.state_scale_source},
                    {"activation_scales", r.activation_scales}, {"seconds", r.seconds}});
  }
  if (!args.json_out.empty()) {
    nlohmann::json j = {{"checkpoint", args.checkpoint}, {"data", args.data},
                        {"dataset_name", data.name}, {"limit", args.limit},
                        {"calibration", {{"source", calib_path}, {"fingerprint", file_fingerprint(calib_path)},
                                         {"samples", calibration.x.n}, {"spread", "evenly over the file"},
                                         {"disjoint_from_evaluated", true}}},
                        {"calibration_samples", calibration.x.n},
                        {"mode", "recurrent"}, {"x_granularity", args.x_granularity}, {"results", rows}};
    write_text_atomic(args.json_out, j.dump(2) + "\n");
  }
  return 0;
}

}  // namespace qs4d::cli
