// Digital inference throughput (samples/s) for both execution modes, and a reference: a plain
// Eigen matrix product with the multiply-accumulates of the model's 1x1 convolutions, i.e. what
// this machine does at best on the dense part. Compare items_per_second across the three.
//
//   QS4D_BENCH_CHECKPOINT=model.h5 build/bench/bench_digital   (bench/run.sh writes the model)
#include <benchmark/benchmark.h>

#include <boost/random/mersenne_twister.hpp>
#include <boost/random/uniform_real_distribution.hpp>
#include <cstdlib>
#include <optional>

#include "models/model.h"

namespace {

constexpr int64_t kLength = 784;
constexpr int64_t kBatch = 64;

const qs4d::S4DModel* bench_model() {
  static std::optional<qs4d::S4DModel> model;
  if (!model) {
    const char* path = std::getenv("QS4D_BENCH_CHECKPOINT");
    if (!path) return nullptr;
    model = qs4d::S4DModel::load(path);
  }
  return &*model;
}

qs4d::SequenceBatch inputs(int64_t width) {
  boost::random::mt19937 gen(42);
  boost::random::uniform_real_distribution<float> u(0.f, 1.f);
  qs4d::SequenceBatch b{kBatch, kLength, width, {}};
  b.values.resize(static_cast<size_t>(kBatch * kLength * width));
  for (auto& v : b.values) v = u(gen);
  return b;
}

void BM_Digital(benchmark::State& state, qs4d::ExecMode mode) {
  const qs4d::S4DModel* model = bench_model();
  if (!model) {
    state.SkipWithError("set QS4D_BENCH_CHECKPOINT (bench/run.sh does)");
    return;
  }
  const qs4d::DigitalEngine engine(*model, kLength, mode);
  const qs4d::SequenceBatch x = inputs(model->config().d_input);
  const int threads = static_cast<int>(state.range(0));
  for (auto _ : state) benchmark::DoNotOptimize(engine.logits(x, threads));
  state.SetItemsProcessed(state.iterations() * kBatch);
  state.SetLabel("samples/s");
}

void BM_ReferenceGemm(benchmark::State& state) {
  const qs4d::S4DModel* model = bench_model();
  if (!model) {
    state.SkipWithError("set QS4D_BENCH_CHECKPOINT (bench/run.sh does)");
    return;
  }
  const int64_t H = model->config().d_model;
  // Same MACs per sample as the model's output projections: layers x (2H x H) x (H x L).
  const Eigen::MatrixXf w = Eigen::MatrixXf::Constant(2 * H, H, 0.01f);
  const Eigen::MatrixXf x = Eigen::MatrixXf::Constant(H, kLength * kBatch, 0.5f);
  Eigen::MatrixXf y(2 * H, kLength * kBatch);
  const int64_t layers = model->config().n_layers;
  for (auto _ : state) {
    for (int64_t l = 0; l < layers; ++l) y.noalias() = w * x;
    benchmark::DoNotOptimize(y.data());
  }
  state.SetItemsProcessed(state.iterations() * kBatch);
  state.SetLabel("samples/s (GEMM part only)");
}

BENCHMARK_CAPTURE(BM_Digital, conv, qs4d::ExecMode::kConv)
    ->Arg(1)->Arg(2)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK_CAPTURE(BM_Digital, recurrent, qs4d::ExecMode::kRecurrent)
    ->Arg(1)->Arg(2)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_ReferenceGemm)->Unit(benchmark::kMillisecond)->UseRealTime();

}  // namespace

BENCHMARK_MAIN();
