// Digital inference against the PyTorch reference (float64 logits written by the fixture script),
// FFT convolution against the recurrence, and invariance to threads and batching.
#include <gtest/gtest.h>

#include <complex>

#include "models/model.h"
#include "tests/test_util.h"

namespace qs4d {
namespace {

constexpr double kPyTorchTolerance = 1e-5;   // issue #2: logits within 1e-5 absolute
constexpr double kModesTolerance = 1e-4;     // FFT vs recurrent at L = 1024

SequenceBatch slice(const SequenceBatch& b, int64_t first, int64_t count) {
  SequenceBatch out{count, b.length, b.width, {}};
  const int64_t per = b.length * b.width;
  out.values.assign(b.values.begin() + first * per, b.values.begin() + (first + count) * per);
  return out;
}

TEST(Inference, MatchesPyTorchInBothModes) {
  const auto manifest = test::manifest();
  ASSERT_EQ(manifest["models"].size(), 8u);
  for (const auto& c : manifest["models"]) {
    SCOPED_TRACE(std::string(c["name"]));
    const S4DModel m = S4DModel::load(c["checkpoint"]);
    const SequenceBatch x = read_sequences(c["io"], "/x");
    const RowMatrixXf expected = read_matrix(c["io"], "/logits");
    for (ExecMode mode : {ExecMode::kConv, ExecMode::kRecurrent}) {
      const RowMatrixXf got = DigitalEngine(m, x.length, mode).logits(x, 1);
      EXPECT_LT(test::max_abs_diff(got, expected), kPyTorchTolerance) << to_string(mode);
    }
  }
}

TEST(Inference, ConvAndRecurrentAgreeAtLength1024) {
  const auto manifest = test::manifest();
  const S4DModel m = S4DModel::load(manifest["long"]["checkpoint"]);
  const SequenceBatch x = read_sequences(manifest["long"]["io"], "/x");
  ASSERT_EQ(x.length, 1024);
  const RowMatrixXf conv = DigitalEngine(m, x.length, ExecMode::kConv).logits(x);
  const RowMatrixXf rec = DigitalEngine(m, x.length, ExecMode::kRecurrent).logits(x);
  EXPECT_LT(test::max_abs_diff(conv, rec), kModesTolerance);
  const RowMatrixXf expected = read_matrix(manifest["long"]["io"], "/logits");
  EXPECT_LT(test::max_abs_diff(conv, expected), kModesTolerance);
}

TEST(Inference, KernelMatchesClosedForm) {
  // K[h, l] = 2 Re(sum_m C_m Bbar_m Abar_m^l), evaluated with exp(l * log Abar) directly.
  const auto manifest = test::manifest();
  const S4DModel m = S4DModel::load(manifest["long"]["checkpoint"]);
  const DigitalEngine engine(m, 1024, ExecMode::kConv);
  const Eigen::MatrixXd k = engine.kernel(1);
  const S4DLayer& layer = m.layers()[1];
  const int64_t M = m.config().modes();
  for (int64_t h : {0, 7, 15}) {
    for (int64_t l : {0, 1, 100, 1023}) {
      double expected = 0;
      for (int64_t mm = 0; mm < M; ++mm) {
        const size_t i = static_cast<size_t>(h * M + mm);
        expected += 2 * (layer.c[i] * layer.b_bar[i] *
                         std::exp(static_cast<double>(l) * std::log(layer.a_bar[i])))
                            .real();
      }
      EXPECT_NEAR(k(h, l), expected, 1e-9 * (1 + std::abs(expected)));
    }
  }
}

TEST(Inference, SameLogitsForAnyThreadCountAndBatching) {
  const auto manifest = test::manifest();
  const auto& c = manifest["models"][5];
  const S4DModel m = S4DModel::load(c["checkpoint"]);
  const SequenceBatch x = read_sequences(c["io"], "/x");
  for (ExecMode mode : {ExecMode::kConv, ExecMode::kRecurrent}) {
    const DigitalEngine engine(m, x.length, mode);
    const RowMatrixXf one = engine.logits(x, 1);
    const RowMatrixXf two = engine.logits(x, 2);
    EXPECT_EQ(test::max_abs_diff(one, two), 0.0);
    const RowMatrixXf single = engine.logits(slice(x, 2, 1), 1);
    EXPECT_EQ(test::max_abs_diff(single, one.middleRows(2, 1)), 0.0);
  }
}

TEST(Inference, RejectsInputOfTheWrongWidthOrLength) {
  const auto manifest = test::manifest();
  const S4DModel m = S4DModel::load(manifest["models"][0]["checkpoint"]);  // d_input 1
  const DigitalEngine engine(m, 10, ExecMode::kConv);
  SequenceBatch wide{2, 10, 3, std::vector<float>(60, 0.f)};
  EXPECT_THROW(engine.logits(wide), UsageError);
  SequenceBatch longer{2, 11, 1, std::vector<float>(22, 0.f)};
  EXPECT_THROW(engine.logits(longer), UsageError);
  EXPECT_THROW(parse_exec_mode("fft"), UsageError);
  EXPECT_THROW(DigitalEngine(m, 0, ExecMode::kConv), UsageError);
}

}  // namespace
}  // namespace qs4d

namespace qs4d {
namespace {

// The state on a grid (docs/model.md), hand-solved: x_t = round(0.5 x_{t-1} + u_t) in steps of 1,
// u = 1.4, 0, 0.6, 2.5 gives x = 1, round(0.5) = 0 (a tie to even), 1, round(3.0) = 3; with C = 1
// (plane 2 s C = 2) y = 2, 0, 2, 6; the largest value before rounding is 3. On +-2 levels the last
// state clamps to 2 (y = 4).
TEST(StateGrid, HandSolvedSequence) {
  const float ar = 0.5f, ai = 0, br = 1, bi = 0, cr = 2, ci = 0;
  const GridChannel p{&ar, &ai, &br, &bi, &cr, &ci};
  const float u[4] = {1.4f, 0.0f, 0.6f, 2.5f};
  float y[4], peak = 0;
  int16_t codes[8];
  grid_scan_channel(p, 1, u, 4, 100.0f, y, codes, &peak);
  EXPECT_EQ(std::vector<float>(y, y + 4), (std::vector<float>{2, 0, 2, 6}));
  EXPECT_EQ(codes[6], 3);
  EXPECT_EQ(codes[7], 0);
  EXPECT_FLOAT_EQ(peak, 3.0f);
  grid_scan_channel(p, 1, u, 4, 2.0f, y, nullptr, nullptr);
  EXPECT_EQ(y[3], 4.0f);
}

}  // namespace
}  // namespace qs4d
