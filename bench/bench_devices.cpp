// Device simulation throughput: programming plus ageing of a 1024 x 1024 array (devices/s),
// against a reference in the same process: filling the same array with Boost normal draws,
// the least any Monte-Carlo device model must do.
#include <benchmark/benchmark.h>

#include <boost/random/mersenne_twister.hpp>
#include <boost/random/normal_distribution.hpp>

#include "devices/devices.h"
#include <omp.h>

#include "run/run.h"

namespace {

constexpr int64_t kSide = 1024;

void BM_ProgramAndAge(benchmark::State& state, const char* preset) {
  omp_set_num_threads(static_cast<int>(state.range(0)));
  const qs4d::DeviceModel model(qs4d::load_device(preset, {}, qs4d::data_dir()));
  qs4d::RowMatrixXf targets(kSide, kSide);
  for (Eigen::Index i = 0; i < targets.size(); ++i) {
    targets.data()[i] = static_cast<float>(model.spec().g_max_uS * (i % 97) / 96.0);
  }
  uint64_t seed = 1;
  for (auto _ : state) {
    const qs4d::ProgrammedArray p = model.program(targets, seed++);
    benchmark::DoNotOptimize(model.at_time(p, 86400.0, seed++).data());
  }
  state.SetItemsProcessed(state.iterations() * kSide * kSide);
  state.SetLabel("devices/s");
}

void BM_ReferenceNormalFill(benchmark::State& state) {
  qs4d::RowMatrixXf a(kSide, kSide);
  boost::random::mt19937_64 gen(1);
  boost::random::normal_distribution<float> normal;
  for (auto _ : state) {
    for (Eigen::Index i = 0; i < a.size(); ++i) a.data()[i] = normal(gen);
    benchmark::DoNotOptimize(a.data());
  }
  state.SetItemsProcessed(state.iterations() * kSide * kSide);
  state.SetLabel("draws/s, 1 thread");
}

BENCHMARK_CAPTURE(BM_ProgramAndAge, pcm_aihwkit, "pcm_aihwkit")
    ->Arg(1)->Arg(2)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK_CAPTURE(BM_ProgramAndAge, rram_generic, "rram_generic")
    ->Arg(1)->Arg(2)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_ReferenceNormalFill)->Unit(benchmark::kMillisecond)->UseRealTime();

}  // namespace

BENCHMARK_MAIN();
