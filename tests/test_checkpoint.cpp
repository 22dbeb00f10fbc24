// Loader validation: every broken fixture fails with the right typed error and a message naming
// the file and the object; good fixtures load with the documented structure.
#include <gtest/gtest.h>

#include <cmath>

#include "models/detail/wire.h"
#include "models/model.h"
#include "tests/test_util.h"

namespace qs4d {
namespace {

TEST(Checkpoint, EveryBrokenFileFailsWithItsOwnMessage) {
  const auto manifest = test::manifest();
  ASSERT_GE(manifest["broken"].size(), 20u);
  for (const auto& c : manifest["broken"]) {
    const std::string file = c["file"], kind = c["kind"], contains = c["contains"];
    SCOPED_TRACE(file);
    try {
      if (c["loader"] == "checkpoint") {
        S4DModel::load(file);
      } else {
        load_dataset(file);
      }
      ADD_FAILURE() << "loading did not fail";
    } catch (const FormatError& e) {
      const std::string what = e.what();
      EXPECT_EQ(to_string(e.kind()), kind) << what;
      EXPECT_EQ(e.file(), file);
      EXPECT_NE(what.find(file), std::string::npos) << what;
      EXPECT_NE(what.find(contains), std::string::npos) << what;
      EXPECT_EQ(what.find('\n'), std::string::npos) << "one line: " << what;
    }
  }
}

TEST(Checkpoint, MissingFileIsUnreadable) {
  try {
    S4DModel::load("/nonexistent/model.h5");
    FAIL();
  } catch (const FormatError& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kUnreadable);
    EXPECT_NE(std::string(e.what()).find("no such file"), std::string::npos);
  }
}

TEST(Checkpoint, GoodFixturesLoadWithTheirStructure) {
  const auto manifest = test::manifest();
  for (const auto& c : manifest["models"]) {
    const std::string name = c["name"];
    SCOPED_TRACE(name);
    const S4DModel m = S4DModel::load(c["checkpoint"]);
    const ModelConfig& cfg = m.config();
    EXPECT_EQ(cfg.d_model, 8);
    EXPECT_EQ(cfg.d_state, 8);
    EXPECT_EQ(cfg.n_layers, 2);
    EXPECT_EQ(cfg.d_output, 5);
    EXPECT_EQ(cfg.prenorm, name.find("_pre_") != std::string::npos);
    EXPECT_EQ(cfg.norm == NormKind::kBatch, name.rfind("batch", 0) == 0);
    EXPECT_EQ(cfg.d_input, name.back() == '3' ? 3 : 1);
    ASSERT_EQ(m.layers().size(), 2u);
    // Parameters as PyTorch counts them (buffers excluded).
    const auto counts = m.parameter_counts();
    EXPECT_EQ(counts.at("encoder"), 8 * cfg.d_input + 8);
    EXPECT_EQ(counts.at("ssm"), 2 * (8 + 8 + 8 * 4 * 2 + 8 * 4 + 8 * 4));  // D, log_dt, C, A
    EXPECT_EQ(counts.at("output_linear"), 2 * (16 * 8 + 16));
    EXPECT_EQ(counts.at("norms"), 2 * 16);
    EXPECT_EQ(counts.at("decoder"), 5 * 8 + 5);
    EXPECT_TRUE(m.quant().empty());
    int64_t total = 0;
    for (const auto& [g, n] : counts) total += n;
    EXPECT_EQ(m.weight_bytes(), total * 4);
    // ZOH discretisation: Abar = exp(dt A) lies strictly inside the unit circle.
    for (const auto& layer : m.layers()) {
      for (const auto& a : layer.a_bar) EXPECT_LT(std::abs(a), 1.0);
    }
  }
}

TEST(Checkpoint, QuantizedTensorsComeFromTheirCodes) {
  const auto manifest = test::manifest();
  const S4DModel m = S4DModel::load(manifest["quantized"]["checkpoint"]);
  ASSERT_EQ(m.quant().size(), 5u);
  const QuantSpec& q = m.quant().at("encoder.weight");
  EXPECT_EQ(q.bits, 4);
  const auto& w = m.tensors().at("encoder.weight").values;
  for (size_t i = 0; i < w.size(); ++i) {
    EXPECT_FLOAT_EQ(w[i], static_cast<float>(q.codes[i]) * q.scale[0]);
    EXPECT_LE(std::abs(q.codes[i]), 7);
  }
  EXPECT_FLOAT_EQ(m.encoder_weight()(3, 0), w[3]);
  // Layer 1's SSM is defined by the quantized discrete tensors, layer 0's by the continuous ones.
  EXPECT_FALSE(m.layers()[0].discrete_from_quant);
  ASSERT_TRUE(m.layers()[1].discrete_from_quant);
  const QuantSpec& qa = m.quant().at("s4_layers.1.kernel.Abar");
  for (size_t k = 0; k < m.layers()[1].a_bar.size(); ++k) {
    EXPECT_FLOAT_EQ(static_cast<float>(m.layers()[1].a_bar[k].real()),
                    static_cast<float>(qa.codes[2 * k]) * qa.scale[0]);
  }
  // Weight memory: 4-bit encoder, decoder and layer-0 projection; layer 1's SSM held as 8-bit
  // Abar, Bbar (H*M*2 each) plus float C and D instead of log_dt, log_A_real, A_imag.
  const int64_t H = 8, M = 4;
  const int64_t bits = 4 * (8 + 40 + 16 * 8) + 32 * (8 + 5 + 16 + 16 * 8 + 16 + 2 * 16) +
                       32 * (H + H + H * M * 2 + 2 * H * M) +  // layer 0 continuous SSM
                       8 * 2 * (H * M * 2) + 32 * (H * M * 2 + H);  // layer 1 Abar, Bbar, C, D
  EXPECT_EQ(m.weight_bytes(), (bits + 7) / 8);
}

}  // namespace
}  // namespace qs4d

namespace qs4d {
namespace {

// The reading child's answer format (models/detail/wire.h): a loaded model survives the trip
// whole, and a byte that is no flag, a count past the end or bytes left over are refused.
TEST(Wire, ModelRoundTripsAndMalformedAnswersAreRefused) {
  const auto manifest = test::manifest();
  const S4DModel m = S4DModel::load(manifest["models"][0]["checkpoint"]);
  h5::wire::Writer w;
  h5::wire::put(w, m);
  const std::string bytes = w.data();
  h5::wire::Reader r(bytes, "answer");
  S4DModel back;
  h5::wire::get(r, back);
  r.finish();
  EXPECT_EQ(back.config().d_model, m.config().d_model);
  EXPECT_EQ(back.config().prenorm, m.config().prenorm);
  ASSERT_EQ(back.tensors().size(), m.tensors().size());
  for (const auto& [name, t] : m.tensors()) EXPECT_EQ(back.tensors().at(name).values, t.values) << name;
  EXPECT_EQ(back.meta(), m.meta());
  ASSERT_EQ(back.layers().size(), m.layers().size());
  EXPECT_EQ(back.layers()[0].a_bar, m.layers()[0].a_bar);

  const std::string flag(1, static_cast<char>(52));  // fuzz_wire's first finding
  h5::wire::Reader bad_flag(flag, "answer");
  bool b = false;
  EXPECT_THROW(h5::wire::get(bad_flag, b), FormatError);
  const std::string truncated = bytes.substr(0, bytes.size() / 2);
  h5::wire::Reader short_answer(truncated, "answer");
  S4DModel half;
  EXPECT_THROW(h5::wire::get(short_answer, half), FormatError);
  const std::string longer = bytes + "x";
  h5::wire::Reader long_answer(longer, "answer");
  S4DModel whole;
  h5::wire::get(long_answer, whole);
  EXPECT_THROW(long_answer.finish(), FormatError);
}

}  // namespace
}  // namespace qs4d
