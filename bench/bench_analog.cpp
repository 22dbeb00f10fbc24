// Analog inference speed against the machine's limit for the same work: simulated logical
// multiply-accumulates per second of one output projection (2H x H over L time steps) on a PCM
// chip with full noise and periphery, against a plain Eigen product of the same shapes; and
// whole-model samples/s, analog (recurrence digital) against digital, in the same process.
//
//   QS4D_BENCH_CHECKPOINT=model.h5 QS4D_BENCH_WIDE_CHECKPOINT=wide.h5 build/bench/bench_analog
//   (bench/run.sh writes both models)
#include <filesystem>
#include <benchmark/benchmark.h>

#include <boost/random/mersenne_twister.hpp>
#include <boost/random/uniform_real_distribution.hpp>
#include <cstdlib>
#include <optional>

#include "run/run.h"

namespace {

constexpr int64_t kLength = 784;
constexpr int64_t kBatch = 16;

struct Setup {
  qs4d::S4DModel model;
  qs4d::ChipSpec chip;
  qs4d::ChipSpec chip_no_read_noise;  // the same chip without per-read noise
  qs4d::MappedModel map;
  int64_t projection = -1;
};

// which = 0: QS4D_BENCH_CHECKPOINT (H = 64); 1: QS4D_BENCH_WIDE_CHECKPOINT (H = 256, where a
// projection fills half a 512 x 512 tile's rows).
const Setup* setup(int which = 0) {
  static std::optional<Setup> setups[2];
  std::optional<Setup>& s = setups[which];
  if (!s) {
    const char* path = std::getenv(which ? "QS4D_BENCH_WIDE_CHECKPOINT" : "QS4D_BENCH_CHECKPOINT");
    if (!path) return nullptr;
    qs4d::S4DModel model = qs4d::S4DModel::load(path);
    qs4d::ChipSpec chip = qs4d::load_chip("pcm_512", {"device.read_noise={\"kind\":\"proportional\",\"relative\":0.01}"});
    qs4d::ChipSpec quiet = qs4d::load_chip("pcm_512", {});
    qs4d::MappedModel map = qs4d::map_model(model, chip.mapping, chip.device.window());
    s.emplace(Setup{std::move(model), std::move(chip), std::move(quiet), std::move(map)});
    for (size_t m = 0; m < s->map.matrices.size(); ++m) {
      if (s->map.matrices[m].kind == qs4d::MatrixKind::kOutputProjection) {
        s->projection = static_cast<int64_t>(m);
        break;
      }
    }
  }
  return &*s;
}

qs4d::RowMatrixXf random(int64_t rows, int64_t cols) {
  boost::random::mt19937 gen(7);
  boost::random::uniform_real_distribution<float> u(-1.f, 1.f);
  qs4d::RowMatrixXf x(rows, cols);
  for (Eigen::Index i = 0; i < x.size(); ++i) x.data()[i] = u(gen);
  return x;
}

// Both products on one thread: Eigen would otherwise spread small products over threads that
// mostly wait, and the comparison is per core.
void BM_AnalogProjection(benchmark::State& state) {
  Eigen::setNbThreads(1);
  const Setup* s = setup(static_cast<int>(state.range(0)));
  if (!s) return state.SkipWithError("set QS4D_BENCH_CHECKPOINT (bench/run.sh does)");
  qs4d::AnalogChip chip(s->map, state.range(1) ? s->chip : s->chip_no_read_noise, 1, 0);
  chip.age(86400.0);
  const auto& q = s->map.matrices[static_cast<size_t>(s->projection)];
  const qs4d::RowMatrixXf x = random(kLength, q.inputs());
  uint64_t stream = 1;
  for (auto _ : state) benchmark::DoNotOptimize(chip.mvm(s->projection, x, stream++).data());
  state.counters["MAC/s"] = benchmark::Counter(
      static_cast<double>(state.iterations() * kLength * q.inputs() * q.outputs()),
      benchmark::Counter::kIsRate);
}

void BM_EigenProjection(benchmark::State& state) {
  Eigen::setNbThreads(1);
  const Setup* s = setup(static_cast<int>(state.range(0)));
  if (!s) return state.SkipWithError("set QS4D_BENCH_CHECKPOINT (bench/run.sh does)");
  const auto& q = s->map.matrices[static_cast<size_t>(s->projection)];
  const qs4d::RowMatrixXf w = q.dequantized();
  const qs4d::RowMatrixXf x = random(q.inputs(), kLength);
  qs4d::RowMatrixXf y(q.outputs(), kLength);
  for (auto _ : state) {
    y.noalias() = w * x;
    benchmark::DoNotOptimize(y.data());
  }
  state.counters["MAC/s"] = benchmark::Counter(
      static_cast<double>(state.iterations() * kLength * q.inputs() * q.outputs()),
      benchmark::Counter::kIsRate);
}

// The exact read-noise method's floor: the mean and the variance of every conversion are two
// products of the projection's shape (drive * G and drive^2 * var), so a noisy projection
// cannot cost less than two plain Eigen products; the ratio against this says what is left.
void BM_EigenTwoProjections(benchmark::State& state) {
  Eigen::setNbThreads(1);
  const Setup* s = setup(static_cast<int>(state.range(0)));
  if (!s) return state.SkipWithError("set QS4D_BENCH_CHECKPOINT (bench/run.sh does)");
  const auto& q = s->map.matrices[static_cast<size_t>(s->projection)];
  const qs4d::RowMatrixXf w = q.dequantized();
  const qs4d::RowMatrixXf w2 = w.cwiseProduct(w);
  const qs4d::RowMatrixXf x = random(q.inputs(), kLength);
  const qs4d::RowMatrixXf x2 = x.cwiseProduct(x);
  qs4d::RowMatrixXf y(q.outputs(), kLength), v(q.outputs(), kLength);
  for (auto _ : state) {
    y.noalias() = w * x;
    v.noalias() = w2 * x2;
    benchmark::DoNotOptimize(y.data());
    benchmark::DoNotOptimize(v.data());
  }
}

void BM_Inference(benchmark::State& state, bool analog) {
  const Setup* s = setup();
  if (!s) return state.SkipWithError("set QS4D_BENCH_CHECKPOINT (bench/run.sh does)");
  qs4d::AnalogChip chip(s->map, s->chip, 1, 0);
  chip.age(86400.0);
  qs4d::AnalogOps ops(chip, s->model, s->chip);
  const qs4d::DigitalEngine engine(s->model, kLength, qs4d::ExecMode::kConv);
  const qs4d::RowMatrixXf x = random(kBatch, kLength * s->model.config().d_input);
  const qs4d::SequenceBatch batch{kBatch, kLength, s->model.config().d_input,
                                  std::vector<float>(x.data(), x.data() + x.size())};
  for (auto _ : state) {
    benchmark::DoNotOptimize(engine.logits(batch, 0, analog ? &ops : nullptr).data());
  }
  state.SetItemsProcessed(state.iterations() * kBatch);
  state.SetLabel("samples/s");
}

// The shipped IMSSA-sized checkpoint on imssa_64 (its recurrence on the crossbar, one product
// per channel and step) against its digital pass (the same quantized blocks stepped digitally,
// what eval --chip compares with), 64 images at L = 196, one thread: issue #15's ratio.
void BM_ImssaPass(benchmark::State& state, bool analog) {
  static const std::optional<qs4d::S4DModel> model = [] {
    const std::string path = qs4d::data_dir() + "/checkpoints/fmnist196_s4d_h8_n6_l4_imssa_qat2.h5";
    return std::optional<qs4d::S4DModel>(qs4d::S4DModel::load(path));
  }();
  static const qs4d::ChipSpec spec = qs4d::load_chip("imssa_64", {});
  static const qs4d::MappedModel map = qs4d::map_model(*model, spec.mapping, spec.device.window());
  qs4d::AnalogChip chip(map, spec, 1, 0);
  chip.age(1.0);
  qs4d::AnalogOps ops(chip, *model, spec);
  const auto digital = qs4d::quantized_ops(map, spec, model->config().n_layers);
  const qs4d::DigitalEngine engine(*model, 196, qs4d::ExecMode::kConv);
  const qs4d::RowMatrixXf x = random(64, 196 * model->config().d_input);
  const qs4d::SequenceBatch batch{64, 196, model->config().d_input,
                                  std::vector<float>(x.data(), x.data() + x.size())};
  for (auto _ : state) benchmark::DoNotOptimize(engine.logits(batch, 1, analog ? static_cast<const qs4d::LinearOverride*>(&ops) : digital.get()).data());
  state.SetItemsProcessed(state.iterations() * 64);
}

std::optional<qs4d::S4DModel> shipped(const char* checkpoint) {
  return qs4d::S4DModel::load(qs4d::data_dir() + "/checkpoints/" + checkpoint);
}

// The first n Fashion-MNIST test images (data/datasets; bench/run.sh makes the file).
qs4d::Dataset test_images(int64_t n) {
  return qs4d::load_dataset(qs4d::data_dir() + "/datasets/fashion_mnist_196_test.h5", n);
}

// Calibration images: test images 4096..4351, apart from the first 512 the benchmarks evaluate
// (the set's path is cleared: the file check assumes both sets start at sample 0).
const qs4d::Dataset& calibration_images() {
  static const qs4d::Dataset images = [] {
    qs4d::Dataset d = test_images(4096 + 256);
    const int64_t per = d.x.length * d.x.width;
    d.x.values.erase(d.x.values.begin(), d.x.values.begin() + 4096 * per);
    d.y.erase(d.y.begin(), d.y.begin() + 4096);
    d.x.n = 256;
    d.path.clear();
    return d;
  }();
  return images;
}

// The whole trial as eval --chip runs it (issue #15): a chip programmed, aged to 1 s, its ADCs
// calibrated on 16 images, then 512 test images (real data, data/datasets) through it, against
// the same 512 images through the same quantized blocks stepped digitally, one thread.
void BM_ImssaTrial(benchmark::State& state, bool analog) {
  static const std::optional<qs4d::S4DModel> model = shipped("fmnist196_s4d_h8_n6_l4_imssa_qat2.h5");
  static const qs4d::Dataset data = test_images(512);
  static const qs4d::ChipSpec spec = qs4d::load_chip("imssa_64", {});
  static const qs4d::MappedModel map = qs4d::map_model(*model, spec.mapping, spec.device.window());
  const qs4d::DigitalEngine engine(*model, 196, qs4d::ExecMode::kConv);
  const auto digital = qs4d::quantized_ops(map, spec, model->config().n_layers);
  int64_t trial = 0;
  for (auto _ : state) {
    if (analog) {
      qs4d::DeployedChip chip(*model, map, spec, 1, trial++);
      chip.age(1.0, 0, &engine, &calibration_images(), 64, 1);
      benchmark::DoNotOptimize(chip.predict(engine, data, 0, 512, 64, 1).data());
    } else {
      benchmark::DoNotOptimize(engine.logits(data.x, 1, digital.get()).data());
    }
  }
  state.SetItemsProcessed(state.iterations() * 512);
}

// Monte-Carlo over chips on two cores (issue #15): eval --chip pcm_512 --trials 4 of the shipped
// 4-bit H = 64 checkpoint, 512 test images one day after programming, on 1 and 2 threads.
void BM_EvalTrials(benchmark::State& state) {
  static const std::optional<qs4d::S4DModel> model = shipped("fmnist196_s4d_h64_n64_l4_qat4.h5");
  static const qs4d::Dataset data = test_images(512);
  static const qs4d::ChipSpec spec = qs4d::load_chip("pcm_512", {});
  qs4d::AnalogEvalOptions options;
  options.trials = 4;
  options.calibration = &calibration_images();
  options.times_s = {86400.0};
  options.threads = static_cast<int>(state.range(0));
  for (auto _ : state) {
    benchmark::DoNotOptimize(qs4d::evaluate_analog(*model, data, spec, options).times[0].mean());
  }
  state.SetItemsProcessed(state.iterations() * 4 * 512);
}

// A sweep of 4 points x 2 chips against eval of the same chip with 8 chips (issue #29: the
// digital reference once per mapping, not per unit; target at most 1.15x), the 4-bit H = 64
// checkpoint on pcm_512, 256 test images at 1 day, one thread. The grid's axis (the calibrated
// ADC range's headroom) leaves the mapping alone, as most device and periphery axes do, and costs
// the same at every value, so the ratio is the sweep's own overhead (an axis such as output noise
// adds its physics' cost: 4 x 2 chips with output noise take 1.2x).
void BM_SweepAgainstEval(benchmark::State& state, bool sweep) {
  static const std::optional<qs4d::S4DModel> model = shipped("fmnist196_s4d_h64_n64_l4_qat4.h5");
  static const qs4d::Dataset data = test_images(256);
  qs4d::AnalogEvalOptions eval;
  eval.times_s = {86400.0};
  eval.threads = 1;
  eval.calibration = &calibration_images();
  // First-use costs (FFT plans, pages, thread-local scratch) paid once, outside both timings.
  static const bool warm = [&] {
    return qs4d::evaluate_analog(*model, data, qs4d::load_chip("pcm_512", {}), eval).times[0].mean() >= 0;
  }();
  benchmark::DoNotOptimize(warm);
  const std::string csv = std::filesystem::temp_directory_path() / "qs4d_bench_sweep.csv";
  for (auto _ : state) {
    if (sweep) {
      std::filesystem::remove(csv);
      qs4d::SweepOptions o;
      o.grids = {"periphery.adc_headroom=1,1.1,1.2,1.3"};
      o.eval = eval;
      o.eval.trials = 2;
      o.out_csv = csv;
      o.progress = false;
      benchmark::DoNotOptimize(qs4d::run_sweep(*model, data, "pcm_512", o).evaluated);
    } else {
      eval.trials = 8;
      benchmark::DoNotOptimize(qs4d::evaluate_analog(*model, data, qs4d::load_chip("pcm_512", {}), eval).times[0].mean());
    }
  }
  std::filesystem::remove(csv);
  std::filesystem::remove(csv + ".run.json");
}

// explore against sweep (issue #34: pricing adds at most 5% to a point): the same 4 points x 2
// chips as above, once as a sweep and once as an explore of the one checkpoint, whose trial-0 chip
// of each point counts its actions on 16 images and prices them with the chip's table.
void BM_ExploreAgainstSweep(benchmark::State& state, bool explore) {
  static const std::optional<qs4d::S4DModel> model = shipped("fmnist196_s4d_h64_n64_l4_qat4.h5");
  static const qs4d::Dataset data = test_images(256);
  qs4d::AnalogEvalOptions eval;
  eval.times_s = {86400.0};
  eval.threads = 1;
  eval.trials = 2;
  eval.calibration = &calibration_images();
  static const bool warm = [&] {
    return qs4d::evaluate_analog(*model, data, qs4d::load_chip("pcm_512", {}), eval).times[0].mean() >= 0;
  }();
  benchmark::DoNotOptimize(warm);
  const std::string csv = std::filesystem::temp_directory_path() / "qs4d_bench_explore.csv";
  for (auto _ : state) {
    std::filesystem::remove(csv);
    qs4d::SweepOptions o;
    o.grids = {"periphery.adc_headroom=1,1.1,1.2,1.3"};
    o.eval = eval;
    o.out_csv = csv;
    o.progress = false;
    if (explore) {
      o.checkpoints = {{"qat4", &*model}};
      o.cost_tech = "22nm_lp";
      o.objectives = {"accuracy", "energy", "area"};
    }
    benchmark::DoNotOptimize(qs4d::run_sweep(*model, data, "pcm_512", o).evaluated);
  }
  std::filesystem::remove(csv);
  std::filesystem::remove(csv + ".run.json");
}

// First argument 0: the H = 64 model's 128 x 64 projection; 1: the H = 256 model's 512 x 256
// one. Second: 1 with 1% per-read noise (exact at the conversion: a second product for the
// variance and one normal draw per output), 0 with programming noise, drift and converters only.
BENCHMARK(BM_AnalogProjection)->Args({0, 1})->Args({1, 1})->Args({0, 0})->Args({1, 0})
    ->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_EigenProjection)->Arg(0)->Arg(1)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_EigenTwoProjections)->Arg(0)->Arg(1)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK_CAPTURE(BM_Inference, digital, false)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK_CAPTURE(BM_Inference, analog_pcm_512, true)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK_CAPTURE(BM_ImssaPass, digital_blocks, false)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK_CAPTURE(BM_ImssaPass, analog_imssa_64, true)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK_CAPTURE(BM_ImssaTrial, digital_blocks, false)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK_CAPTURE(BM_ImssaTrial, analog_imssa_64, true)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_EvalTrials)->Arg(1)->Arg(2)->MinTime(3.0)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK_CAPTURE(BM_SweepAgainstEval, sweep_4_points_x_2_chips, true)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK_CAPTURE(BM_SweepAgainstEval, eval_8_chips, false)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK_CAPTURE(BM_ExploreAgainstSweep, explore_4_points_x_2_chips, true)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK_CAPTURE(BM_ExploreAgainstSweep, sweep_4_points_x_2_chips, false)->Unit(benchmark::kMillisecond)->UseRealTime();

}  // namespace

BENCHMARK_MAIN();
