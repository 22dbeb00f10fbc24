#include "sim/cli/commands.h"

#include <omp.h>

#include <cstdio>
#include <iostream>
#include <nlohmann/json.hpp>

#include "models/model.h"
#include "sim/sim.h"

namespace qs4d::cli {
namespace {

std::string human_bytes(int64_t bytes) {
  char buf[64];
  if (bytes < 1024) {
    std::snprintf(buf, sizeof buf, "%lld B", static_cast<long long>(bytes));
  } else if (bytes < 1024 * 1024) {
    std::snprintf(buf, sizeof buf, "%.1f KiB", bytes / 1024.0);
  } else {
    std::snprintf(buf, sizeof buf, "%.2f MiB", bytes / (1024.0 * 1024.0));
  }
  return buf;
}

}  // namespace

int run_info(const InfoArgs& args) {
  const S4DModel model = S4DModel::load(args.checkpoint);
  const ModelConfig& c = model.config();
  std::printf("checkpoint   %s\n", args.checkpoint.c_str());
  std::printf("architecture S4D: d_input %lld -> encoder -> %lld x [S4D H=%lld N=%lld (%lld "
              "complex modes), GELU, 1x1 conv + GLU, residual, %s %s norm] -> mean pool -> "
              "decoder -> %lld outputs\n",
              static_cast<long long>(c.d_input), static_cast<long long>(c.n_layers),
              static_cast<long long>(c.d_model), static_cast<long long>(c.d_state),
              static_cast<long long>(c.modes()), c.prenorm ? "pre" : "post",
              c.norm == NormKind::kLayer ? "layer" : "batch", static_cast<long long>(c.d_output));
  std::printf("norm_eps     %g\n", static_cast<double>(c.norm_eps));
  std::printf("\nparameters\n");
  int64_t total = 0;
  for (const auto& [group, n] : model.parameter_counts()) {
    std::printf("  %-14s %10lld\n", group.c_str(), static_cast<long long>(n));
    total += n;
  }
  std::printf("  %-14s %10lld\n", "total", static_cast<long long>(total));
  if (!model.quant().empty()) {
    std::printf("\nquantization (/quant)\n");
    for (const auto& [name, q] : model.quant()) {
      std::printf("  %-40s %2d bit %s, %s\n", name.c_str(), q.bits,
                  q.symmetric ? "symmetric" : "asymmetric",
                  q.axis < 0 ? "per tensor" : ("per channel (axis " + std::to_string(q.axis) + ")").c_str());
    }
  } else {
    std::printf("\nquantization none (all weights float32)\n");
  }
  int64_t discrete_layers = 0;
  for (const auto& layer : model.layers()) discrete_layers += layer.discrete_from_quant ? 1 : 0;
  std::printf("ssm form     %lld of %lld layers from quantized discrete Abar/Bbar (/quant), the "
              "rest from continuous log_dt, log_A_real, A_imag (ZOH)\n",
              static_cast<long long>(discrete_layers), static_cast<long long>(c.n_layers));
  std::printf("weight memory %lld bytes (%s)\n", static_cast<long long>(model.weight_bytes()),
              human_bytes(model.weight_bytes()).c_str());
  if (!model.meta().empty()) {
    std::printf("\nmeta\n");
    for (const auto& [k, v] : model.meta()) {
      std::string shown = v.size() > 100 ? v.substr(0, 97) + "..." : v;
      std::printf("  %-18s %s\n", k.c_str(), shown.c_str());
    }
  }
  return 0;
}

int run_eval(const EvalArgs& args) {
  const S4DModel model = S4DModel::load(args.checkpoint);
  const Dataset data = load_dataset(args.data, args.limit);
  DigitalEvalOptions opt;
  opt.mode = parse_exec_mode(args.mode);
  opt.batch = args.batch;
  opt.threads = args.threads;
  const DigitalEvalResult r = evaluate_digital(model, data, opt);
  const int threads = args.threads > 0 ? args.threads : omp_get_max_threads();
  std::printf("checkpoint  %s\n", args.checkpoint.c_str());
  std::printf("data        %s (%s, %lld samples, L = %lld)\n", args.data.c_str(),
              data.name.c_str(), static_cast<long long>(r.n_samples),
              static_cast<long long>(data.x.length));
  std::printf("mode        %s, batch %lld, %d threads\n", to_string(opt.mode),
              static_cast<long long>(opt.batch), threads);
  std::printf("accuracy    %.4f (%lld / %lld)\n", r.accuracy, static_cast<long long>(r.correct),
              static_cast<long long>(r.n_samples));
  std::printf("throughput  %.1f samples/s (%.2f s)\n", r.samples_per_s, r.seconds);
  if (!args.json_out.empty()) {
    nlohmann::json j;
    j["checkpoint"] = args.checkpoint;
    j["data"] = args.data;
    j["dataset_name"] = data.name;
    j["accuracy"] = r.accuracy;
    j["n_samples"] = r.n_samples;
    j["n_correct"] = r.correct;
    j["samples_per_s"] = r.samples_per_s;
    j["seconds"] = r.seconds;
    j["mode"] = to_string(opt.mode);
    j["batch"] = opt.batch;
    j["threads"] = threads;
    j["sequence_length"] = data.x.length;
    write_text_atomic(args.json_out, j.dump(2) + "\n");
  }
  return 0;
}

int run_predict(const PredictArgs& args) {
  const S4DModel model = S4DModel::load(args.checkpoint);
  const SequenceBatch x = read_sequences(args.input, args.input_dataset);
  const DigitalEngine engine(model, x.length, parse_exec_mode(args.mode));
  const RowMatrixXf logits = engine.logits(x, args.threads);
  write_matrix(args.out, "/logits", logits);
  std::printf("wrote %s:/logits (%lld, %lld)\n", args.out.c_str(),
              static_cast<long long>(logits.rows()), static_cast<long long>(logits.cols()));
  return 0;
}

}  // namespace qs4d::cli
