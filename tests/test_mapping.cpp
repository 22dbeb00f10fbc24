// Mapping properties: with ideal devices every encoding, slicing and tiling reproduces the
// quantized matrix-vector product; QAT codes are used as they are; ternary weights use two
// levels per device; packed blocks never share a row or a column; maps are deterministic.
#include <gtest/gtest.h>

#include <boost/random/mersenne_twister.hpp>
#include <boost/random/uniform_real_distribution.hpp>
#include <cmath>
#include <nlohmann/json.hpp>
#include <set>

#include "mapping/mapping.h"
#include "tests/test_util.h"

namespace qs4d {
namespace {

RowMatrixXf random_inputs(int64_t batch, int64_t n, uint32_t seed) {
  boost::random::mt19937 gen(seed);
  boost::random::uniform_real_distribution<float> u(-1.f, 1.f);
  RowMatrixXf x(batch, n);
  for (Eigen::Index i = 0; i < x.size(); ++i) x.data()[i] = u(gen);
  return x;
}

// Checks every matrix of the map against its dequantized product, to float precision.
void expect_exact_mvm(const MappedModel& map) {
  for (size_t m = 0; m < map.matrices.size(); ++m) {
    const QuantizedMatrix& q = map.matrices[m];
    const RowMatrixXf x = random_inputs(5, q.inputs(), static_cast<uint32_t>(m + 1));
    const RowMatrixXf expected = x * q.dequantized().transpose();
    const RowMatrixXf got = map.ideal_mvm(static_cast<int64_t>(m), x);
    const double scale = 1.0 + expected.cwiseAbs().maxCoeff();
    EXPECT_LT(test::max_abs_diff(got, expected), 2e-5 * scale) << q.name;
  }
}

struct Case {
  Encoding encoding;
  OffsetReference reference;
  int bits_per_device;
  int64_t tile;
};

TEST(Mapping, EveryEncodingSlicingAndTilingReproducesTheQuantizedProduct) {
  const auto manifest = test::manifest();
  const S4DModel model = S4DModel::load(manifest["quantized"]["checkpoint"]);
  const std::vector<Case> cases = {
      {Encoding::kDifferential, OffsetReference::kColumn, 0, 256},
      {Encoding::kDifferential, OffsetReference::kColumn, 0, 8},
      {Encoding::kDifferential, OffsetReference::kColumn, 1, 16},
      {Encoding::kDifferential, OffsetReference::kColumn, 2, 64},
      {Encoding::kOffset, OffsetReference::kColumn, 0, 64},
      {Encoding::kOffset, OffsetReference::kDigital, 0, 6},
      {Encoding::kOffset, OffsetReference::kColumn, 2, 16},
      {Encoding::kOffset, OffsetReference::kDigital, 3, 32},
  };
  for (const Case& c : cases) {
    for (bool recurrence : {false, true}) {
      MappingSpec spec;
      spec.encoding = c.encoding;
      spec.offset_reference = c.reference;
      spec.bits_per_device = c.bits_per_device;
      spec.tile_rows = spec.tile_cols = c.tile;
      spec.map_recurrence = recurrence;
      SCOPED_TRACE(spec.to_json().dump());
      const ConductanceWindow window{1.0, 25.0, 0};
      const MappedModel map = map_model(model, spec, window);
      expect_exact_mvm(map);
      // Every used cell lies inside the window.
      for (const Tile& t : map.tiles) {
        EXPECT_GE(t.target_uS.minCoeff(), 1.0f - 1e-5f);
        EXPECT_LE(t.target_uS.maxCoeff(), 25.0f + 1e-4f);
      }
    }
  }
}

TEST(Mapping, CheckpointCodesAreUsedAsTheyAre) {
  const auto manifest = test::manifest();
  const S4DModel model = S4DModel::load(manifest["quantized"]["checkpoint"]);
  const auto mats = logical_matrices(model, MappingSpec{});
  ASSERT_EQ(mats.front().name, "encoder");
  EXPECT_TRUE(mats.front().from_checkpoint);
  EXPECT_EQ(mats.front().bits, 4);
  const QuantSpec& q = model.quant().at("encoder.weight");
  for (int64_t r = 0; r < mats.front().outputs(); ++r) {
    EXPECT_EQ(mats.front().codes(r, 0), q.codes[static_cast<size_t>(r)]);
    EXPECT_DOUBLE_EQ(mats.front().scale[r], q.scale[0]);
  }
  // Layer 1's projection has no /quant spec: post-training at the requested bits.
  EXPECT_FALSE(mats[2].from_checkpoint);
  EXPECT_EQ(mats[2].name, "s4_layers.1.output_linear");
  MappingSpec ptq;
  ptq.quantization = QuantSource::kPostTraining;
  ptq.weight_bits = 6;
  const auto p = logical_matrices(model, ptq);
  EXPECT_FALSE(p.front().from_checkpoint);
  EXPECT_EQ(p.front().bits, 6);
  EXPECT_EQ(p.front().codes.cwiseAbs().maxCoeff(), 31);  // max-based: the largest is on top
  MappingSpec strict;
  strict.quantization = QuantSource::kCheckpoint;
  EXPECT_THROW(logical_matrices(model, strict), UsageError);  // layer 1 has no /quant
}

TEST(Mapping, TernaryWeightsUseTwoLevelsPerDevice) {
  const auto manifest = test::manifest();
  const S4DModel model = S4DModel::load(manifest["ternary"]["checkpoint"]);
  MappingSpec spec;
  spec.tile_rows = spec.tile_cols = 64;
  const MappedModel map = map_model(model, spec, ConductanceWindow{0.5, 20.0, 16});
  for (size_t m = 0; m < map.matrices.size(); ++m) {
    EXPECT_EQ(map.matrices[m].bits, 2);
    EXPECT_EQ(map.encodings[m].levels, 2);
  }
  std::set<float> levels;
  for (const Tile& t : map.tiles) {
    for (int64_t r = 0; r < t.target_uS.rows(); ++r) {
      for (int64_t c = 0; c < t.target_uS.cols(); ++c) levels.insert(t.target_uS(r, c));
    }
  }
  EXPECT_EQ(levels, (std::set<float>{0.5f, 20.0f}));
  expect_exact_mvm(map);
}

TEST(Mapping, TargetsSitOnDeviceLevels) {
  const auto manifest = test::manifest();
  const S4DModel model = S4DModel::load(manifest["quantized"]["checkpoint"]);
  MappingSpec spec;  // 4-bit codes: 8 levels per device in a pair; 8-bit post-training elsewhere
  spec.weight_bits = 4;
  const ConductanceWindow window{2.0, 30.0, 29};  // device step 1 uS
  const MappedModel map = map_model(model, spec, window);
  for (const Tile& t : map.tiles) {
    for (int64_t i = 0; i < t.target_uS.size(); ++i) {
      const double g = t.target_uS.data()[i];
      EXPECT_NEAR(g - 2.0, std::round(g - 2.0), 1e-4) << g;
    }
  }
  // 8 levels on a 29-level device: 4 device steps per code step.
  EXPECT_DOUBLE_EQ(map.encodings[0].step_uS, 4.0);
  spec.weight_bits = 8;  // 128 levels per device do not fit 29
  EXPECT_THROW(map_model(model, spec, window), UsageError);
  spec.bits_per_device = 2;  // ...but 2-bit slices do
  expect_exact_mvm(map_model(model, spec, window));
}

TEST(Mapping, PackedBlocksNeverShareRowsOrColumns) {
  const auto manifest = test::manifest();
  const S4DModel model = S4DModel::load(manifest["long"]["checkpoint"]);  // H 16, M 8: 17x17
  MappingSpec spec;
  spec.map_recurrence = true;
  spec.tile_rows = spec.tile_cols = 128;
  const MappedModel map = map_model(model, spec, ConductanceWindow{});
  int64_t blocks = 0;
  for (const Tile& t : map.tiles) {
    std::map<int32_t, std::set<int64_t>> rows, cols;
    for (size_t r = 0; r < t.rows.size(); ++r) {
      if (t.rows[r].matrix >= 0) rows[t.rows[r].matrix].insert(static_cast<int64_t>(r));
    }
    for (size_t c = 0; c < t.cols.size(); ++c) {
      if (t.cols[c].matrix >= 0) cols[t.cols[c].matrix].insert(static_cast<int64_t>(c));
    }
    // Each row and column belongs to at most one matrix by construction of the roles; check the
    // blocks are contiguous, diagonal and that a block's cells outside its own rows stay unused.
    int64_t last_row = -1, last_col = -1;
    for (const auto& [m, rs] : rows) {
      const auto& cs = cols.at(m);
      EXPECT_GT(*rs.begin(), last_row);
      EXPECT_GT(*cs.begin(), last_col);
      last_row = *rs.rbegin();
      last_col = *cs.rbegin();
      if (map.matrices[static_cast<size_t>(m)].kind == MatrixKind::kRecurrence) ++blocks;
      for (size_t r = 0; r < t.rows.size(); ++r) {
        if (t.rows[r].matrix == m) continue;
        for (int64_t c : cs) EXPECT_EQ(t.target_uS(static_cast<int64_t>(r), c), 0.0f);
      }
    }
  }
  EXPECT_EQ(blocks, 2 * 16);
  // 17 rows x 34 columns per block: 3 blocks per 128 x 128 tile, 6 tiles per layer.
  int64_t recurrence_tiles = 0;
  std::set<int64_t> seen;
  for (size_t m = 0; m < map.matrices.size(); ++m) {
    if (map.matrices[m].kind != MatrixKind::kRecurrence) continue;
    for (int64_t t : map.encodings[m].tiles) seen.insert(t);
  }
  recurrence_tiles = static_cast<int64_t>(seen.size());
  EXPECT_EQ(recurrence_tiles, 2 * 6);
  expect_exact_mvm(map);
}

TEST(Mapping, StateUnitChangesTheStateNotTheOutput) {
  const auto manifest = test::manifest();
  const S4DModel model = S4DModel::load(manifest["long"]["checkpoint"]);
  const S4DLayer& layer = model.layers()[0];
  const int64_t M = model.config().modes(), h = 2;
  const double beta = recurrence_state_unit(model, 0);
  EXPECT_GT(beta, 0.0);
  const Eigen::MatrixXd plain = recurrence_block(layer, h, M);
  const Eigen::MatrixXd scaled = recurrence_block(layer, h, M, beta);
  // The state rows of the scaled block hold Abar and beta, never a tiny Bbar.
  for (int64_t m = 0; m < M; ++m) EXPECT_DOUBLE_EQ(scaled(2 * m, 2 * M), beta);
  // Stepping both from a zero state over a sequence gives the same outputs.
  Eigen::VectorXd s1 = Eigen::VectorXd::Zero(2 * M), s2 = s1, in(2 * M + 1);
  for (int t = 0; t < 50; ++t) {
    const double u = std::sin(0.3 * t) + 0.1 * t;
    in << s1, u;
    const Eigen::VectorXd o1 = plain * in;
    in << s2, u;
    const Eigen::VectorXd o2 = scaled * in;
    EXPECT_NEAR(o1[2 * M], o2[2 * M], 1e-9 * (1 + std::abs(o1[2 * M])));
    s1 = o1.head(2 * M);
    s2 = o2.head(2 * M);
  }
}

TEST(Mapping, RecurrenceBlockStepsTheState) {
  const auto manifest = test::manifest();
  const S4DModel model = S4DModel::load(manifest["long"]["checkpoint"]);
  const S4DLayer& layer = model.layers()[0];
  const int64_t M = model.config().modes(), h = 3;
  const Eigen::MatrixXd b = recurrence_block(layer, h, M);
  // One step from a known state against the complex recurrence.
  std::vector<std::complex<double>> x(static_cast<size_t>(M));
  Eigen::VectorXd in(2 * M + 1);
  for (int64_t m = 0; m < M; ++m) {
    x[static_cast<size_t>(m)] = {0.1 * m, -0.05 * m + 0.3};
    in[2 * m] = x[static_cast<size_t>(m)].real();
    in[2 * m + 1] = x[static_cast<size_t>(m)].imag();
  }
  const double u = 0.7;
  in[2 * M] = u;
  const Eigen::VectorXd out = b * in;
  double y = static_cast<double>(layer.d[h]) * u;
  for (int64_t m = 0; m < M; ++m) {
    const size_t k = static_cast<size_t>(h * M + m);
    const std::complex<double> next = layer.a_bar[k] * x[static_cast<size_t>(m)] + layer.b_bar[k] * u;
    EXPECT_NEAR(out[2 * m], next.real(), 1e-12);
    EXPECT_NEAR(out[2 * m + 1], next.imag(), 1e-12);
    y += 2 * (layer.c[k] * next).real();
  }
  EXPECT_NEAR(out[2 * M], y, 1e-12);
}

TEST(Mapping, SameInputsSameMap) {
  const auto manifest = test::manifest();
  const S4DModel model = S4DModel::load(manifest["quantized"]["checkpoint"]);
  MappingSpec spec;
  spec.map_recurrence = true;
  spec.encoding = Encoding::kOffset;
  spec.tile_rows = spec.tile_cols = 32;
  const MappedModel a = map_model(model, spec, ConductanceWindow{});
  const MappedModel b = map_model(model, spec, ConductanceWindow{});
  ASSERT_EQ(a.tiles.size(), b.tiles.size());
  for (size_t t = 0; t < a.tiles.size(); ++t) EXPECT_EQ(a.tiles[t].target_uS, b.tiles[t].target_uS);
  EXPECT_EQ(a.devices_used(), b.devices_used());
}

TEST(Mapping, SpecIsStrict) {
  using nlohmann::json;
  EXPECT_EQ(MappingSpec::from_json(json{{"tile_rows", 64}, {"encoding", "offset"}}).tile_rows, 64);
  try {
    MappingSpec::from_json(json{{"tile_row", 64}});
    FAIL();
  } catch (const SpecError& e) {
    EXPECT_EQ(e.key_path(), "mapping.tile_row");
    EXPECT_NE(std::string(e.what()).find("unknown key"), std::string::npos);
  }
  EXPECT_THROW(MappingSpec::from_json(json{{"encoding", "balanced"}}), SpecError);
  EXPECT_THROW(MappingSpec::from_json(json{{"tile_cols", 1}}), SpecError);
  EXPECT_THROW(MappingSpec::from_json(json{{"weight_bits", "4"}}), SpecError);
  EXPECT_THROW(MappingSpec::from_json(json{{"map_recurrence", 1}}), SpecError);
  EXPECT_THROW(ConductanceWindow({5.0, 1.0, 0}).validate(), SpecError);
}

}  // namespace
}  // namespace qs4d
