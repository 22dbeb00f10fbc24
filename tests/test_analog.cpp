// Analog execution: an ideal chip reproduces the quantized digital model; column-level read noise
// has the distribution of the per-cell reference; results replay from the seed for any thread
// count; drift compensation undoes a global drift; the ADC clips and counts.
#include <gtest/gtest.h>
#include <omp.h>

#include <tuple>

#include <boost/random/mersenne_twister.hpp>
#include <boost/random/normal_distribution.hpp>
#include <boost/random/uniform_real_distribution.hpp>

#include "sim/detail/fast_normal.h"
#include "run/run.h"
#include "tests/test_util.h"

namespace qs4d {
namespace {

Dataset fixture_dataset(const nlohmann::json& c, int64_t classes) {
  Dataset d;
  d.x = read_sequences(c["io"], "/x");
  const RowMatrixXf logits = read_matrix(c["io"], "/logits");
  d.y = argmax_rows(logits);
  d.n_classes = classes;
  d.name = "fixture";
  return d;
}

ChipSpec chip(const std::vector<std::string>& overrides, const std::string& preset = "ideal") {
  return load_chip(preset, overrides);
}

TEST(Analog, IdealChipEqualsTheQuantizedDigitalModel) {
  const auto manifest = test::manifest();
  for (const auto& c : manifest["models"]) {
    const S4DModel model = S4DModel::load(c["checkpoint"]);
    const Dataset data = fixture_dataset(c, 5);
    for (const char* enc : {"differential", "offset"}) {
      const ChipSpec spec = chip({std::string("mapping.encoding=") + enc, "mapping.tile_rows=8",
                                  "mapping.tile_cols=12", "mapping.bits_per_device=2",
                                  std::string("periphery.signed_inputs=") +
                                      (enc[0] == 'd' ? "two_phase" : "polarity")});
      AnalogEvalOptions o;
      o.trials = 2;
      o.times_s = {0.0, 86400.0};
      const AnalogEvalResult r = evaluate_analog(model, data, spec, o);
      for (const auto& t : r.times) {
        EXPECT_EQ(t.mean(), r.digital.accuracy);
        EXPECT_EQ(t.mean_agreement(), 1.0) << std::string(c["name"]) << " " << enc;
      }
    }
  }
}

TEST(Analog, AnalogRecurrenceOnAnIdealChip) {
  const auto manifest = test::manifest();
  const auto& c = manifest["models"][3];
  const S4DModel model = S4DModel::load(c["checkpoint"]);
  const Dataset data = fixture_dataset(c, 5);
  // With 16-bit blocks the stepped recurrence is the float model to within rounding.
  const ChipSpec fine = chip({"recurrence=analog", "mapping.recurrence_bits=16",
                              "mapping.weight_bits=16", "mapping.tile_rows=32",
                              "mapping.tile_cols=32"});
  AnalogEvalOptions o;
  o.times_s = {0.0};
  const AnalogEvalResult r = evaluate_analog(model, data, fine, o);
  EXPECT_EQ(r.digital.predictions, r.digital_float.predictions);
  EXPECT_EQ(r.times[0].mean_agreement(), 1.0);
  // Coarse blocks and state converters change the result, and the ideal chip still follows
  // its own quantized digital reference exactly.
  const ChipSpec coarse = chip({"recurrence=analog", "mapping.recurrence_bits=4",
                                "mapping.tile_rows=32", "mapping.tile_cols=32"});
  const AnalogEvalResult q = evaluate_analog(model, data, coarse, o);
  EXPECT_EQ(q.times[0].mean_agreement(), 1.0);
  const MappedModel map = map_model(model, coarse.mapping, coarse.device.window());
  int64_t blocks = 0;
  for (const auto& m : map.matrices) blocks += m.kind == MatrixKind::kRecurrence;
  EXPECT_EQ(blocks, model.config().n_layers * model.config().d_model);
}

// The batched recurrence step (every channel at once, scalar loops) is the same product as one
// mvm per channel: same DAC, blocks, reference, offset and ADC; and its noise has the same
// spread. Checked on the IMSSA chip's offset encoding with its reference column, and with
// differential pairs read in two phases.
TEST(Analog, BatchedRecurrenceStepIsOneProductPerChannel) {
  const auto manifest = test::manifest();
  const S4DModel model = S4DModel::load(manifest["models"][3]["checkpoint"]);
  for (const bool offset : {true, false}) {
    std::vector<std::string> sets = {"recurrence=analog", "mapping.tile_rows=32", "mapping.tile_cols=32",
                                     "periphery.adc_range=0.25", "periphery.state_dac_bits=8",
                                     "periphery.state_adc_bits=0"};
    if (offset) {
      sets.insert(sets.end(), {"mapping.encoding=offset", "mapping.offset_reference=column"});
    } else {
      sets.insert(sets.end(), {"mapping.encoding=differential", "periphery.signed_inputs=two_phase"});
    }
    const ChipSpec spec = chip(sets);
    const MappedModel map = map_model(model, spec.mapping, spec.device.window());
    AnalogChip analog(map, spec, 3, 0);
    std::vector<int64_t> layer0;
    for (size_t m = 0; m < map.matrices.size(); ++m) {
      if (map.matrices[m].kind == MatrixKind::kRecurrence && map.matrices[m].layer == 0) {
        layer0.push_back(static_cast<int64_t>(m));
      }
    }
    const int64_t H = static_cast<int64_t>(layer0.size()), n = map.matrices[static_cast<size_t>(layer0[0])].inputs();
    boost::random::mt19937_64 gen(11);
    boost::random::uniform_real_distribution<float> u(-1.0f, 1.0f);
    RowMatrixXf in(H, n), out;
    for (Eigen::Index i = 0; i < in.size(); ++i) in.data()[i] = u(gen);
    AnalogChip::RecurrencePass pass;
    ASSERT_EQ(analog.recurrence_draws(layer0), 0);  // an ideal device: no draws
    analog.recurrence_step(layer0, in, nullptr, 8, 0, pass, out);
    for (int64_t h = 0; h < H; ++h) {
      const RowMatrixXf x = in.row(h);
      RowMatrixXf y;
      boost::random::mt19937_64 g(1);
      analog.mvm_into(layer0[static_cast<size_t>(h)], x, g, 8, 0, y);
      EXPECT_LT(test::max_abs_diff(out.row(h), y), 1e-5 * (1 + y.cwiseAbs().maxCoeff())) << "channel " << h;
    }
    // With 6-bit ADCs the two paths agree to one step of the ADC.
    RowMatrixXf coarse;
    analog.recurrence_step(layer0, in, nullptr, 8, 6, pass, coarse);
    EXPECT_EQ(pass.steps, 2);
    analog.flush_recurrence(layer0, 8, 6, pass);
    EXPECT_EQ(pass.steps, 0);
    for (int64_t h = 0; h < H; ++h) {
      RowMatrixXf y;
      boost::random::mt19937_64 g(1);
      analog.mvm_into(layer0[static_cast<size_t>(h)], RowMatrixXf(in.row(h)), g, 8, 6, y);
      const float lsb = 0.25f * static_cast<float>(map.tiles[0].target_uS.rows() * (map.window.g_max_uS - map.window.g_min_uS)) / 31.0f;
      EXPECT_LT(test::max_abs_diff(coarse.row(h), y), 1.01 * lsb * y.cwiseAbs().maxCoeff() + 1e-3) << "channel " << h;
    }
  }
  // Read noise: the spread of each output over many keys is the spread of mvm over many seeds.
  const ChipSpec noisy = chip({"recurrence=analog", "mapping.tile_rows=32", "mapping.tile_cols=32",
                               "periphery.adc_range=0.25"}, "imssa_64");
  const MappedModel map = map_model(model, noisy.mapping, noisy.device.window());
  AnalogChip analog(map, noisy, 3, 0);
  std::vector<int64_t> layer0;
  for (size_t m = 0; m < map.matrices.size(); ++m) {
    if (map.matrices[m].kind == MatrixKind::kRecurrence && map.matrices[m].layer == 0) layer0.push_back(static_cast<int64_t>(m));
  }
  const int64_t H = static_cast<int64_t>(layer0.size()), n = map.matrices[static_cast<size_t>(layer0[0])].inputs();
  RowMatrixXf in = RowMatrixXf::Constant(H, n, 0.5f);
  const int draws = 4000;
  Eigen::ArrayXd sum_b = Eigen::ArrayXd::Zero(n), sq_b = sum_b, sum_m = sum_b, sq_m = sum_b;
  AnalogChip::RecurrencePass pass;
  boost::random::mt19937_64 g(2);
  std::vector<float> z(static_cast<size_t>(analog.recurrence_draws(layer0)));
  ASSERT_GT(z.size(), 0u);
  for (int k = 0; k < draws; ++k) {
    RowMatrixXf out, y;
    detail::fill_normal(static_cast<uint64_t>(k) + 100, z.data(), static_cast<Eigen::Index>(z.size()));
    analog.recurrence_step(layer0, in, z.data(), 10, 0, pass, out);
    analog.mvm_into(layer0[0], RowMatrixXf(in.row(0)), g, 10, 0, y);
    const Eigen::ArrayXd a = out.row(0).transpose().cast<double>().array(), b = y.row(0).transpose().cast<double>().array();
    sum_b += a;
    sq_b += a * a;
    sum_m += b;
    sq_m += b * b;
  }
  const Eigen::ArrayXd sd_b = (sq_b / draws - (sum_b / draws).square()).sqrt();
  const Eigen::ArrayXd sd_m = (sq_m / draws - (sum_m / draws).square()).sqrt();
  for (int64_t o = 0; o < n; ++o) {
    ASSERT_GT(sd_m[o], 0) << o;
    EXPECT_NEAR(sd_b[o] / sd_m[o], 1.0, 0.1) << "output " << o;  // 4,000 draws: ~2% error
  }
}

// Issue #14: write-verify reports stuck cells; partner repair re-programs the other device of
// each failed cell's differential pair so that the pair's difference is the target again. With
// every other error source off, a chip with 1% of devices stuck on computes its products
// almost exactly after repair, and far from it without.
TEST(Analog, PartnerRepairUndoesStuckOnDevices) {
  const auto manifest = test::manifest();
  const S4DModel model = S4DModel::load(manifest["models"][0]["checkpoint"]);
  auto run = [&](const char* repair) {
    const ChipSpec spec = chip({"mapping.encoding=differential", "device.stuck.at_max=0.01", "device.stuck.at_min=0",
                                "device.programming.scale=0", "device.read_noise.scale=0", "device.window_dtod=0",
                                "periphery.dac_bits=0", "periphery.adc_bits=0", std::string("repair=") + repair},
                               "imssa_64");
    const MappedModel map = map_model(model, spec.mapping, spec.device.window());
    AnalogChip analog(map, spec, 4, 0);
    double err = 0, ref = 0;
    boost::random::mt19937_64 gen(3);
    boost::random::uniform_real_distribution<float> u(-1.0f, 1.0f);
    for (size_t m = 0; m < map.matrices.size(); ++m) {
      RowMatrixXf x(8, map.matrices[m].inputs());
      for (Eigen::Index i = 0; i < x.size(); ++i) x.data()[i] = u(gen);
      const RowMatrixXf ideal = map.ideal_mvm(static_cast<int64_t>(m), x);
      err += (analog.mvm(static_cast<int64_t>(m), x, 7) - ideal).squaredNorm();
      ref += ideal.squaredNorm();
    }
    return std::make_tuple(std::sqrt(err / ref), analog.unverified_cells(), analog.repaired_cells());
  };
  const auto [err_none, failed_none, repaired_none] = run("none");
  const auto [err_partner, failed_partner, repaired_partner] = run("partner");
  EXPECT_GT(failed_none, 0);
  EXPECT_EQ(failed_partner, failed_none);  // the stuck cells stay failed; their pairs are fixed
  EXPECT_EQ(repaired_none, 0);
  EXPECT_GT(repaired_partner, failed_partner / 3);
  EXPECT_GT(err_none, 0.01);
  // Not all: where the stuck device sits on the side that carries the weight, its partner would
  // have to leave the window (0.248 -> 0.065 at the time of writing).
  EXPECT_LT(err_partner, err_none / 3) << err_none << " -> " << err_partner;
  // Partner repair needs pairs and write-verify.
  EXPECT_THROW(chip({"repair=partner"}, "imssa_64"), SpecError);  // offset encoding
  EXPECT_THROW(chip({"repair=partner", "mapping.encoding=differential", "device.write_verify.enabled=false"},
                    "imssa_64"), SpecError);
}

TEST(Analog, IdealMvmMatchesTheMapToFloatPrecision) {
  const auto manifest = test::manifest();
  const S4DModel model = S4DModel::load(manifest["quantized"]["checkpoint"]);
  const ChipSpec spec = chip({"mapping.tile_rows=6", "mapping.tile_cols=10"});
  const MappedModel map = map_model(model, spec.mapping, spec.device.window());
  const AnalogChip analog(map, spec, 1, 0);
  boost::random::mt19937 gen(3);
  boost::random::uniform_real_distribution<float> u(-2.f, 2.f);
  for (size_t m = 0; m < map.matrices.size(); ++m) {
    RowMatrixXf x(7, map.matrices[m].inputs());
    for (Eigen::Index i = 0; i < x.size(); ++i) x.data()[i] = u(gen);
    const RowMatrixXf expected = x * map.matrices[m].dequantized().transpose();
    const RowMatrixXf got = analog.mvm(static_cast<int64_t>(m), x, 5);
    EXPECT_LT(test::max_abs_diff(got, expected), 1e-4 * (1 + expected.cwiseAbs().maxCoeff()));
  }
}

// Mean and variance of each output of matrix m over many noisy reads of the same input.
std::pair<Eigen::VectorXd, Eigen::VectorXd> output_moments(const AnalogChip& chip, int64_t m,
                                                            const RowMatrixXf& x, int draws) {
  const int64_t n = chip.map().matrices[static_cast<size_t>(m)].outputs();
  Eigen::VectorXd s = Eigen::VectorXd::Zero(n), s2 = Eigen::VectorXd::Zero(n);
  for (int d = 0; d < draws; ++d) {
    const Eigen::VectorXd y = chip.mvm(m, x, stream_seed(9, static_cast<uint64_t>(d))).row(0).transpose().cast<double>();
    s += y;
    s2 += y.cwiseProduct(y);
  }
  const Eigen::VectorXd mean = s / draws;
  return {mean, s2 / draws - mean.cwiseProduct(mean)};
}

TEST(Analog, ColumnLevelReadNoiseMatchesThePerCellReference) {
  const auto manifest = test::manifest();
  const S4DModel model = S4DModel::load(manifest["quantized"]["checkpoint"]);
  const std::vector<std::string> base = {"device.read_noise={\"kind\":\"proportional\",\"relative\":0.05}",
                                         "mapping.tile_rows=16", "mapping.tile_cols=32"};
  const ChipSpec column = chip(base);
  auto cell_overrides = base;
  cell_overrides.push_back("periphery.read_noise_path=\"cell\"");
  const ChipSpec cell = chip(cell_overrides);
  const MappedModel map = map_model(model, column.mapping, column.device.window());
  const AnalogChip a(map, column, 1, 0), b(map, cell, 1, 0);
  const int64_t m = 1;  // s4_layers.0.output_linear: 16 outputs x 8 inputs
  RowMatrixXf x(1, map.matrices[m].inputs());
  for (int64_t i = 0; i < x.cols(); ++i) x(0, i) = 0.3f + 0.1f * static_cast<float>(i % 5) - 0.2f * (i % 2);
  const int draws = 4000;
  const auto [mean_a, var_a] = output_moments(a, m, x, draws);
  const auto [mean_b, var_b] = output_moments(b, m, x, draws);
  const Eigen::VectorXd ideal = (x * map.matrices[m].dequantized().transpose()).row(0).transpose().cast<double>();
  for (Eigen::Index j = 0; j < mean_a.size(); ++j) {
    const double se = std::sqrt(var_b[j] / draws);
    EXPECT_NEAR(mean_a[j], ideal[j], 5 * se + 1e-6);
    EXPECT_NEAR(mean_b[j], ideal[j], 5 * se + 1e-6);
    // Variance estimates from 4000 draws: relative standard error sqrt(2/4000) = 2.2%.
    EXPECT_NEAR(var_a[j], var_b[j], 0.15 * var_b[j]) << j;
    EXPECT_GT(var_b[j], 0);
  }
}

TEST(Analog, SameSeedSameAccuracyForAnyThreadCount) {
  const auto manifest = test::manifest();
  const auto& c = manifest["models"][2];
  const S4DModel model = S4DModel::load(c["checkpoint"]);
  const Dataset data = fixture_dataset(c, 5);
  // With and without IR drop (every tile's network solved, tiles side by side on the threads).
  for (const char* wire : {"0", "2"}) {
    const ChipSpec spec = chip({"mapping.tile_rows=8", "mapping.tile_cols=8", "device.extrapolate=true",
                                std::string("periphery.wire_resistance_ohm=") + wire}, "pcm_512");
    AnalogEvalOptions o;
    const Dataset calibration = test::calibration_set(data);
    o.calibration = &calibration;
    o.trials = 3;
    o.times_s = {1.0, 3.156e7};
    o.seed = 77;
    o.threads = 1;
    const AnalogEvalResult one = evaluate_analog(model, data, spec, o);
    o.threads = 2;
    const AnalogEvalResult two = evaluate_analog(model, data, spec, o);  // chips side by side
    EXPECT_EQ(one.chips_side_by_side, 1);
    EXPECT_EQ(two.chips_side_by_side, 2);
    o.trials = 1;  // one chip: the threads share its samples
    const AnalogEvalResult single = evaluate_analog(model, data, spec, o);
    EXPECT_EQ(single.chips_side_by_side, 1);
    for (size_t t = 0; t < one.times.size(); ++t) {
      EXPECT_EQ(one.times[t].accuracy, two.times[t].accuracy);
      EXPECT_EQ(one.times[t].agreement, two.times[t].agreement);
      EXPECT_EQ(one.times[t].adc_clips, two.times[t].adc_clips);
      EXPECT_EQ(single.times[t].accuracy[0], one.times[t].accuracy[0]);
    }
    EXPECT_EQ(one.unverified_cells, two.unverified_cells);
  }
}

// PCM drift only, every other source off: a drift exponent of 0.06 with spread `nu_std` from
// device to device, no programming or 1/f noise, ideal converters; a year is allowed.
std::vector<std::string> pcm_drift_only(const char* compensation, double nu_std) {
  return {"device.programming.scale=0", "device.accumulated_noise={\"kind\":\"none\"}",
          "device.drift.nu_std={\"a\":0,\"b\":" + std::to_string(nu_std) + ",\"min\":0,\"max\":1}",
          "device.drift.nu_mean={\"a\":0,\"b\":0.06,\"min\":0.06,\"max\":0.06}",
          "periphery.dac_bits=0", "periphery.adc_bits=0", "device.g_min_uS=0", "device.extrapolate=true",
          std::string("drift_compensation=") + compensation};
}

TEST(Analog, GlobalDriftCompensationUndoesAUniformDrift) {
  const auto manifest = test::manifest();
  const S4DModel model = S4DModel::load(manifest["quantized"]["checkpoint"]);
  // The same exponent for every device.
  auto with = [&](const char* comp) { return chip(pcm_drift_only(comp, 0.0), "pcm_512"); };
  const ChipSpec none = with("none"), global = with("global");
  const MappedModel map = map_model(model, none.mapping, none.device.window());
  AnalogChip a(map, none, 1, 0), b(map, global, 1, 0);
  const double t = 3.156e7;
  a.age(t);
  b.age(t);
  RowMatrixXf x = RowMatrixXf::Constant(1, map.matrices[1].inputs(), 0.5f);
  const RowMatrixXf ideal = x * map.matrices[1].dequantized().transpose();
  const double shrink = std::pow((t + 20.0) / 20.0, -0.06);
  EXPECT_LT(test::max_abs_diff(a.mvm(1, x, 1), ideal * static_cast<float>(shrink)),
            1e-4 * ideal.cwiseAbs().maxCoeff());
  EXPECT_LT(test::max_abs_diff(b.mvm(1, x, 1), ideal), 1e-4 * ideal.cwiseAbs().maxCoeff());
  // Every mode undoes a uniform drift.
  for (const char* mode : {"per_column", "global_ones", "per_column_ones"}) {
    const ChipSpec spec = with(mode);
    AnalogChip c(map, spec, 1, 0);
    c.age(t);
    EXPECT_LT(test::max_abs_diff(c.mvm(1, x, 1), ideal), 1e-4 * ideal.cwiseAbs().maxCoeff()) << mode;
  }
}

// Chip-in-the-loop output calibration against a hand-solved case: a uniform drift shrinks every
// read-out by (t + t0)/t0 to the -nu; fitted on random inputs, the correction takes the chip back
// to the ideal product (the mapping's exact read-back), on inputs it was not fitted on. Then an
// offset: one column's reading shifted by a constant in the ADC's units is removed as well.
TEST(Analog, OutputCalibrationUndoesAUniformDriftOnUnseenInputs) {
  const auto manifest = test::manifest();
  const S4DModel model = S4DModel::load(manifest["quantized"]["checkpoint"]);
  const ChipSpec spec = chip(pcm_drift_only("none", 0.0), "pcm_512");
  const MappedModel map = map_model(model, spec.mapping, spec.device.window());
  AnalogChip a(map, spec, 1, 0);
  const double t = 3.156e7;
  a.age(t);
  const int64_t m = 1, n = map.matrices[1].inputs();
  boost::random::mt19937_64 gen(5);
  boost::random::normal_distribution<float> normal;
  auto random_inputs = [&](int64_t rows) {
    RowMatrixXf x(rows, n);
    for (Eigen::Index i = 0; i < x.size(); ++i) x.data()[i] = normal(gen);
    return x;
  };
  const RowMatrixXf seen = random_inputs(32), unseen = random_inputs(8);
  const RowMatrixXf ideal = map.ideal_mvm(m, unseen);
  const double shrink = std::pow((t + 20.0) / 20.0, -0.06), tol = 1e-4 * ideal.cwiseAbs().maxCoeff();
  EXPECT_LT(test::max_abs_diff(a.mvm(m, unseen, 1), ideal * static_cast<float>(shrink)), tol);
  a.begin_output_fit();
  a.mvm(m, seen, 2);
  a.end_output_fit();
  ASSERT_TRUE(a.output_corrected());
  EXPECT_LT(test::max_abs_diff(a.mvm(m, unseen, 3), ideal), tol);
  a.age(t);  // a new time: the correction is gone
  EXPECT_FALSE(a.output_corrected());
  EXPECT_LT(test::max_abs_diff(a.mvm(m, unseen, 1), ideal * static_cast<float>(shrink)), tol);
}

// Weights whose differential read-outs sum to zero over the rows (half the rows +a, half -a):
// an all-ones reference read cancels, aihwkit's one-hot read does not. Under a uniform drift the
// one-hot modes compensate exactly; the all-ones modes fall back to no factor rather than divide
// by a cancelled sum; with exponents that vary from device to device every output stays finite.
TEST(Analog, DriftCompensationNeverDividesByACancelledReadout) {
  const auto manifest = test::manifest();
  const S4DModel model = S4DModel::load(manifest["quantized"]["checkpoint"]);
  auto with = [&](const char* comp, double nu_std = 0.0) {
    auto o = pcm_drift_only(comp, nu_std);
    o.push_back("mapping.encoding=differential");
    return chip(o, "pcm_512");
  };
  const ChipSpec none = with("none");
  MappedModel map = map_model(model, none.mapping, none.device.window());
  for (const int64_t t : map.encodings[1].tiles) {
    Tile& tile = map.tiles[static_cast<size_t>(t)];
    int64_t k = 0;
    for (size_t r = 0; r < tile.rows.size(); ++r) {
      if (tile.rows[r].matrix != 1) continue;
      for (size_t c = 0; c < tile.cols.size(); ++c) {
        if (tile.cols[c].matrix != 1) continue;
        tile.target_uS(static_cast<Eigen::Index>(r), static_cast<Eigen::Index>(c)) = (k % 2 == 0) == (tile.cols[c].sign > 0) ? 20.0f : 0.0f;
      }
      ++k;
    }
  }
  RowMatrixXf x(1, map.matrices[1].inputs());
  for (Eigen::Index i = 0; i < x.cols(); ++i) x(0, i) = i % 3 == 0 ? 1.0f : 0.3f;  // does not cancel
  AnalogChip fresh(map, none, 1, 0);
  const RowMatrixXf then = fresh.mvm(1, x, 1);
  const double scale = then.cwiseAbs().maxCoeff();
  ASSERT_GT(scale, 0);
  const double t = 3.156e7;
  AnalogChip drifted(map, none, 1, 0);
  drifted.age(t);
  const double uncompensated = test::max_abs_diff(drifted.mvm(1, x, 1), then) / scale;
  EXPECT_GT(uncompensated, 0.3);
  for (const char* mode : {"global", "per_column", "global_ones", "per_column_ones"}) {
    const ChipSpec spec = with(mode);
    AnalogChip c(map, spec, 1, 0);
    c.age(t);
    const RowMatrixXf y = c.mvm(1, x, 1);
    ASSERT_TRUE(y.allFinite()) << mode;
    const double err = test::max_abs_diff(y, then) / scale;
    if (std::string(mode).find("ones") == std::string::npos) {
      EXPECT_LT(err, 1e-3) << mode;  // one-hot: compensated
    } else {
      EXPECT_NEAR(err, uncompensated, 1e-3) << mode;  // all-ones: no factor (1), not a wild one
    }
    const ChipSpec varied = with(mode, 0.004);
    AnalogChip v(map, varied, 1, 0);
    v.age(t);
    EXPECT_TRUE(v.mvm(1, x, 1).allFinite()) << mode;
    EXPECT_LT(v.mvm(1, x, 1).cwiseAbs().maxCoeff(), 10 * scale) << mode;
  }
}

TEST(Analog, IrDropAttenuatesMoreWithMoreWireResistance) {
  const auto manifest = test::manifest();
  const S4DModel model = S4DModel::load(manifest["quantized"]["checkpoint"]);
  double previous = -1;
  for (double ohm : {0.0, 1.0, 10.0, 100.0}) {
    const ChipSpec spec = chip({"periphery.wire_resistance_ohm=" + std::to_string(ohm),
                                "device.g_min_uS=0"});
    const MappedModel map = map_model(model, spec.mapping, spec.device.window());
    const AnalogChip analog(map, spec, 1, 0);
    const RowMatrixXf x = RowMatrixXf::Constant(1, map.matrices[1].inputs(), 1.0f);
    const RowMatrixXf ideal = x * map.matrices[1].dequantized().transpose();
    const double err = test::max_abs_diff(analog.mvm(1, x, 1), ideal);
    if (ohm == 0.0) {
      EXPECT_LT(err, 1e-4);
    } else {
      EXPECT_GT(err, previous);  // a longer or more resistive wire loses more signal
    }
    previous = err;
  }
}

TEST(Analog, PerColumnDriftCompensationFollowsEachColumn) {
  const auto manifest = test::manifest();
  const S4DModel model = S4DModel::load(manifest["quantized"]["checkpoint"]);
  // Drift exponents that differ from device to device: one global factor cannot undo them all,
  // a factor per column does better.
  const std::vector<std::string> base = {"device.programming.scale=0",
                                         "device.accumulated_noise={\"kind\":\"none\"}",
                                         "periphery.dac_bits=0", "periphery.adc_bits=0",
                                         "device.g_min_uS=0"};
  auto error_with = [&](const char* comp) {
    auto o = base;
    o.push_back(std::string("drift_compensation=") + comp);
    o.push_back("device.extrapolate=true");
    const ChipSpec spec = chip(o, "pcm_512");
    const MappedModel map = map_model(model, spec.mapping, spec.device.window());
    AnalogChip analog(map, spec, 1, 0);
    analog.age(3.156e7);
    const RowMatrixXf x = RowMatrixXf::Constant(1, map.matrices[1].inputs(), 0.7f);
    const RowMatrixXf ideal = x * map.matrices[1].dequantized().transpose();
    return test::max_abs_diff(analog.mvm(1, x, 1), ideal);
  };
  const double none = error_with("none"), global = error_with("global"),
               column = error_with("per_column");
  EXPECT_LT(global, none);
  EXPECT_LT(column, none);
}

TEST(Analog, AdcClipsAreCountedAndQuantizationCosts) {
  const auto manifest = test::manifest();
  const S4DModel model = S4DModel::load(manifest["quantized"]["checkpoint"]);
  const ChipSpec spec = chip({"periphery.adc_bits=3", "periphery.adc_range=0.001"});
  const MappedModel map = map_model(model, spec.mapping, spec.device.window());
  const AnalogChip analog(map, spec, 1, 0);
  RowMatrixXf x = RowMatrixXf::Constant(4, map.matrices[1].inputs(), 1.0f);
  const RowMatrixXf y = analog.mvm(1, x, 1);
  EXPECT_GT(analog.adc_clips(), 0);
  EXPECT_EQ(analog.adc_conversions(), 4 * map.matrices[1].outputs());
  const RowMatrixXf ideal = x * map.matrices[1].dequantized().transpose();
  EXPECT_GT(test::max_abs_diff(y, ideal), 1e-3);
  EXPECT_THROW(chip({"periphery.adc_range=2"}), SpecError);
  EXPECT_THROW(chip({"periphery.signed_inputs=both"}), SpecError);
  EXPECT_THROW(chip({"periphery.dac_range=-1"}), SpecError);
  // A fixed DAC full scale clips larger inputs.
  const ChipSpec clipped = chip({"periphery.dac_range=0.5"});
  const MappedModel cmap = map_model(model, clipped.mapping, clipped.device.window());
  const AnalogChip fixed(cmap, clipped, 1, 0);
  const RowMatrixXf big = RowMatrixXf::Constant(1, cmap.matrices[1].inputs(), 2.0f);
  const RowMatrixXf half = RowMatrixXf::Constant(1, cmap.matrices[1].inputs(), 0.5f);
  const RowMatrixXf at_half = fixed.mvm(1, half, 1);
  EXPECT_LT(test::max_abs_diff(fixed.mvm(1, big, 1), at_half), 1e-4 * (1 + at_half.cwiseAbs().maxCoeff()));
  EXPECT_THROW(chip({"recurrence=\"crossbar\""}), SpecError);
  EXPECT_THROW(chip({"analog_layers=[\"norm\"]"}), SpecError);
}

}  // namespace
}  // namespace qs4d

namespace qs4d {
namespace {

// Issue #30: calibration never sees the evaluated samples. With a calibration set, permuting the
// evaluated samples permutes the predictions and changes nothing else; calibrated on the
// evaluated data's own first samples (what the ADC calibration did before), the same permutation
// changes predictions: the control that shows this test can fail. Noise that is drawn per sample
// (the PCM's 1/f read noise) is off, so a sample's prediction depends only on the chip.
TEST(Analog, CalibrationSetMakesPredictionsIndependentOfTheEvaluatedOrder) {
  const S4DModel model = S4DModel::load(data_dir() + "/checkpoints/fmnist196_s4d_h32_n32_l3.h5");
  const std::string dir = test::fixtures_dir() + "/datasets/";
  const Dataset data = load_dataset(dir + "fashion_mnist_196_test.h5", 96);
  const CalibrationSet calibration = load_calibration("", data, 16);  // the training split beside it
  ASSERT_TRUE(calibration.found_beside);
  const ChipSpec spec = load_chip("pcm_512", {"device.accumulated_noise.kind=none", "periphery.adc_bits=5"});
  const MappedModel map = map_model(model, spec.mapping, spec.device.window());
  const DigitalEngine engine(model, data.x.length, ExecMode::kConv);
  // The evaluated samples in another order: the last 16 first.
  std::vector<int64_t> order(static_cast<size_t>(data.x.n));
  for (int64_t i = 0; i < data.x.n; ++i) order[static_cast<size_t>(i)] = (i + 80) % data.x.n;
  Dataset permuted = data;
  const int64_t per = data.x.length * data.x.width;
  for (int64_t i = 0; i < data.x.n; ++i) {
    std::copy(data.x.sample(order[static_cast<size_t>(i)]), data.x.sample(order[static_cast<size_t>(i)]) + per,
              permuted.x.values.begin() + i * per);
    permuted.y[static_cast<size_t>(i)] = data.y[static_cast<size_t>(order[static_cast<size_t>(i)])];
  }
  auto predictions = [&](const Dataset& evaluated, const Dataset& calibrated_on) {
    DeployedChip chip(model, map, spec, /*seed=*/3, /*trial=*/0, /*age_at_zero=*/false);
    chip.age(3600.0, 0, &engine, &calibrated_on, 32, 1);
    return chip.predict(engine, evaluated, 0, evaluated.x.n, 32, 1);
  };
  const std::vector<int64_t> straight = predictions(data, calibration.data);
  const std::vector<int64_t> reordered = predictions(permuted, calibration.data);
  int64_t moved = 0;
  for (int64_t i = 0; i < data.x.n; ++i) {
    EXPECT_EQ(reordered[static_cast<size_t>(i)], straight[static_cast<size_t>(order[static_cast<size_t>(i)])]) << i;
  }
  // The control: calibrated on the first 16 evaluated samples, the order matters.
  const std::vector<int64_t> own = predictions(data, data);
  const std::vector<int64_t> own_reordered = predictions(permuted, permuted);
  for (int64_t i = 0; i < data.x.n; ++i) {
    moved += own_reordered[static_cast<size_t>(i)] != own[static_cast<size_t>(order[static_cast<size_t>(i)])];
  }
  EXPECT_GT(moved, 0) << "the control did not move: the test could not fail";
}

}  // namespace
}  // namespace qs4d
