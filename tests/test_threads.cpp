// One thread count governs every parallel level (issue #15): asked for n threads, the process
// runs at most n, whatever OpenMP's default says. Threads are counted (/proc/self/task), never
// timed. Each test runs in its own process (gtest_discover_tests), so none has made threads
// before it starts.
#include <gtest/gtest.h>
#include <omp.h>

#include <filesystem>
#include <random>

#include "models/model.h"
#include "run/run.h"

namespace qs4d {
namespace {

int64_t threads_in_process() {
  int64_t n = 0;
  for ([[maybe_unused]] const auto& e : std::filesystem::directory_iterator("/proc/self/task")) ++n;
  return n;
}

SequenceBatch random_batch(int64_t n, int64_t length) {
  SequenceBatch b{n, length, 1, std::vector<float>(static_cast<size_t>(n * length))};
  std::mt19937 gen(1);
  std::uniform_real_distribution<float> u(0.0f, 1.0f);
  for (float& v : b.values) v = u(gen);
  return b;
}

// H = 64 at L = 196: products large enough that Eigen would open its own team.
S4DModel shipped_model() {
  return S4DModel::load(data_dir() + "/checkpoints/fmnist196_s4d_h64_n64_l4_fp32.h5");
}

TEST(Threads, OneThreadOpensNoTeamWhateverTheDefault) {
  ASSERT_EQ(threads_in_process(), 1);
  omp_set_num_threads(4);  // as if OMP_NUM_THREADS=4
  const S4DModel m = shipped_model();
  const SequenceBatch x = random_batch(3, 196);
  for (ExecMode mode : {ExecMode::kConv, ExecMode::kRecurrent}) {
    DigitalEngine(m, x.length, mode).logits(x, 1);
    EXPECT_EQ(threads_in_process(), 1) << to_string(mode);
  }
  EXPECT_EQ(omp_get_max_threads(), 4);  // the caller's setting is restored
}

TEST(Threads, TwoThreadsMeanTwo) {
  omp_set_num_threads(4);
  const S4DModel m = shipped_model();
  const SequenceBatch x = random_batch(4, 196);
  const RowMatrixXf two = DigitalEngine(m, x.length, ExecMode::kConv).logits(x, 2);
  EXPECT_LE(threads_in_process(), 2);
  const RowMatrixXf one = DigitalEngine(m, x.length, ExecMode::kConv).logits(x, 1);
  EXPECT_EQ(one, two);  // and the same numbers
}

}  // namespace
}  // namespace qs4d
