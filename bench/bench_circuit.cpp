// The exact IR-drop model's set-up cost (issue #13): the transfer matrix of a 256 x 256 tile
// against a reference in the same process, 100,000 single-vector reads of the same tile by a
// plain Eigen product (the target: the transfer matrix costs at most that). Compare the
// reported times: BM_TransferMatrix / BM_Reads100k.
#include <benchmark/benchmark.h>

#include <random>

#include "core/core.h"
#include "circuit/circuit.h"

namespace {

constexpr int64_t kSide = 256;

Eigen::MatrixXd tile() {
  std::mt19937 gen(0);
  std::uniform_int_distribution<int> code(-7, 7);
  Eigen::MatrixXd g(kSide, kSide);
  for (int64_t i = 0; i < kSide; ++i) {
    for (int64_t j = 0; j < kSide; j += 2) {
      const int c = code(gen);
      g(i, j) = 1 + 99.0 * std::max(c, 0) / 7;
      g(i, j + 1) = 1 + 99.0 * std::max(-c, 0) / 7;
    }
  }
  return g;
}

void BM_TransferMatrix(benchmark::State& state) {
  const qs4d::ThreadScope one(1);  // both sides on one thread (Eigen would split large products)
  const Eigen::MatrixXd g = tile();
  qs4d::CircuitSpec spec;
  spec.row_wire_ohm = spec.col_wire_ohm = 1.0;
  for (auto _ : state) {
    benchmark::DoNotOptimize(qs4d::transfer_matrix(g, spec, qs4d::CircuitSolver::kExact).data());
  }
}
BENCHMARK(BM_TransferMatrix)->Unit(benchmark::kMillisecond)->UseRealTime();

void BM_Reads100k(benchmark::State& state) {
  const qs4d::ThreadScope one(1);
  const Eigen::MatrixXf g = tile().cast<float>();
  Eigen::VectorXf v = Eigen::VectorXf::Random(kSide), out(kSide);
  for (auto _ : state) {
    for (int k = 0; k < 100000; ++k) {
      out.noalias() = g.transpose() * v;
      v[k % kSide] += 1e-3f * out[0];  // each read depends on the last: none is skipped
    }
    benchmark::DoNotOptimize(out.data());
  }
}
BENCHMARK(BM_Reads100k)->Unit(benchmark::kMillisecond)->UseRealTime();

}  // namespace

BENCHMARK_MAIN();
