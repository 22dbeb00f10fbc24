// program/: a checkpoint programmed on one chip answers as eval's chip of the same seed and trial;
// weights as a chip holds them are the hand-computed codes on a noise-free chip.
#include <gtest/gtest.h>

#include <cmath>

#include "program/program.h"
#include "tests/test_util.h"

namespace qs4d {
namespace {

Dataset fixture_dataset(const nlohmann::json& c, const S4DModel& model) {
  Dataset d;
  d.x = read_sequences(c["io"], "/x");
  d.y = argmax_rows(read_matrix(c["io"], "/logits"));
  d.n_classes = model.config().d_output;
  d.name = "fixture";
  return d;
}

// A noisy chip that calibrates its ADC ranges, a day after programming: the programmed model's
// predictions score what eval's first chip scores, and agree with the digital reference as often.
TEST(Program, ProgrammedModelAnswersAsEvalsFirstChip) {
  const auto manifest = test::manifest();
  const auto& c = manifest["models"][0];
  auto model = std::make_shared<const S4DModel>(S4DModel::load(c["checkpoint"]));
  const Dataset data = fixture_dataset(c, *model);
  const Dataset calibration = test::calibration_set(data);
  const ChipSpec spec = load_chip("pcm_512", {"device.programming.scale=6", "periphery.adc_bits=4"});
  AnalogEvalOptions o;
  o.times_s = {86400.0};
  o.calibration = &calibration;
  const AnalogEvalResult eval = evaluate_analog(*model, data, spec, o);

  ProgramRequest request;
  request.model = model;
  request.chip = spec;
  ProgrammedModel chip(request);  // the request's defaults are eval's: seed 1, trial 0
  chip.age(86400.0, 0, &calibration, 64, 0);
  const std::vector<int64_t> predicted = argmax_rows(chip.logits(data.x, 0, 0, false));
  int64_t correct = 0, agree = 0;
  for (int64_t i = 0; i < data.x.n; ++i) {
    correct += predicted[static_cast<size_t>(i)] == data.y[static_cast<size_t>(i)];
    agree += predicted[static_cast<size_t>(i)] == eval.digital.predictions[static_cast<size_t>(i)];
  }
  EXPECT_DOUBLE_EQ(static_cast<double>(correct) / data.x.n, eval.times[0].accuracy[0]);
  EXPECT_DOUBLE_EQ(static_cast<double>(agree) / data.x.n, eval.times[0].agreement[0]);
  EXPECT_LT(eval.times[0].agreement[0], 1.0);  // the chip is noisy enough for the check to bite

  // Sample k read on its own with first_sample k is the same read as in the whole batch.
  const RowMatrixXf all = chip.logits(data.x, 0, 0, false);
  const int64_t per = data.x.length * data.x.width;
  const SequenceBatch third{1, data.x.length, data.x.width,
                            std::vector<float>(data.x.values.begin() + 2 * per, data.x.values.begin() + 3 * per)};
  EXPECT_EQ(test::max_abs_diff(chip.logits(third, 2, 0, false), all.middleRows(2, 1)), 0.0);
}

TEST(Program, CountsOnlyWhatItIsAskedToAndPricesThem) {
  const auto manifest = test::manifest();
  const auto& c = manifest["models"][0];
  ProgramRequest request;
  request.model = std::make_shared<const S4DModel>(S4DModel::load(c["checkpoint"]));
  request.chip = load_chip("ideal", {});
  ProgrammedModel chip(request);
  const Dataset data = fixture_dataset(c, *request.model);
  chip.age(0.0, 0, nullptr, 64, 0);
  EXPECT_THROW(chip.energy(), UsageError);  // nothing counted yet
  chip.logits(data.x, 0, 0, false);
  EXPECT_EQ(chip.counts().samples, 0);
  chip.logits(data.x, 0, 0, true);
  const double pulses = chip.counts().programming_pulses;
  chip.logits(data.x, 0, 0, true);
  EXPECT_EQ(chip.counts().samples, 2 * data.x.n);
  EXPECT_EQ(chip.counts().programming_pulses, pulses);  // programming is once per chip
  EXPECT_GT(chip.energy()["energy_pJ_per_inference"].get<double>(), 0.0);
}

// On a chip without noise, the weights held are the codes round(W / s), clipped to the bits'
// symmetric range, times s: computed here by hand.
TEST(Program, PerturbOnANoiseFreeChipHoldsTheGivenCodes) {
  PerturbRequest request;
  request.chip = load_chip("ideal", {"mapping.weight_bits=4"});
  NamedWeights w{"w", RowMatrixXf(3, 5), {0.1, 0.2, 0.05}};
  for (int r = 0; r < 3; ++r)
    for (int k = 0; k < 5; ++k) w.w(r, k) = static_cast<float>(0.37 * (r + 1) * (k - 2));
  request.weights = {w};
  const std::vector<RowMatrixXf> held = perturb_weights(request);
  ASSERT_EQ(held.size(), 1u);
  for (int r = 0; r < 3; ++r) {
    for (int k = 0; k < 5; ++k) {
      const double s = w.scales[static_cast<size_t>(r)];
      const double code = std::max(-7.0, std::min(7.0, std::nearbyint(w.w(r, k) / s)));
      EXPECT_NEAR(held[0](r, k), code * s, 1e-6) << r << "," << k;
    }
  }
  request.weights[0].scales = {0.1, 0.2};  // neither one nor one per output
  EXPECT_THROW(perturb_weights(request), UsageError);
  request.weights[0].scales = {0.1, -0.2, 0.1};
  EXPECT_THROW(perturb_weights(request), UsageError);
}

}  // namespace
}  // namespace qs4d
