// Energy: the 22 nm SAR ADC follows NeuroSim's formula; the 130 nm table configured as the
// NeuRRAM macro reproduces its published efficiency trend; tables are strict; the executor's
// action counts match the mapping's shapes and do not depend on the thread count.
#include <gtest/gtest.h>

#include <cmath>
#include <fstream>

#include "energy/energy.h"
#include "tests/test_util.h"

namespace qs4d {
namespace {

TEST(Energy, SarAdcOfThe22nmTableIsNeuroSimsFormula) {
  const TechTable t = load_tech("22nm_lp");
  // NeuroSim SarADC::GetColumnPower, 22 nm LP, written out here with its own constants.
  for (int bits : {3, 5, 8}) {
    for (double r_col : {2e3, 1e4, 1e5, 1e6}) {
      const double r = r_col * 0.5 / 0.5;  // V_read of the table is 0.5 V
      const double power = (0.538 * bits + 4.3753) * 1e-6 + 0.072341 * std::exp(-2.303 * std::log10(r));
      const double expected_pJ = power * (bits + 1) * 1e-9 * 1e12;
      EXPECT_NEAR(t.adc_energy_pJ(bits, 8, r_col), expected_pJ, 1e-9 * expected_pJ)
          << bits << " bits, R " << r_col;
      EXPECT_DOUBLE_EQ(t.adc_latency_ns(bits, 8), bits + 1.0);
    }
  }
  // One value by hand: 5 bits, 100 kOhm: (2.69 + 4.3753) uW + 0.072341 * 10^-5.0002 W ... x 6 ns.
  EXPECT_NEAR(t.adc_energy_pJ(5, 8, 1e5), 0.04673, 5e-5);
}

// One read of a full NeuRRAM core: 256 rows x 256 columns (128 signed 4-bit weights on
// differential pairs), inputs and conductances at the table's calibration activity.
double neurram_tops_per_w(const TechTable& t, int in_bits, int out_bits) {
  ActionCounts c;
  const int dac_bits = std::max(2, in_bits);  // 1-bit inputs use the signed DAC's lowest code
  c.dac_conversions[dac_bits] = 256;
  c.row_activations = 256;
  c.cell_reads = 256.0 * 256;
  c.g_v2_uS[dac_bits] = 256.0 * 256 * 20.0 / 3.0;  // G = 20 uS, E[v^2] = 1/3
  c.adc_conversions[AdcKey{out_bits, dac_bits, 0}] = 128;
  double energy = 0;
  for (const auto& [k, v] : energy_breakdown_pJ(c, t)) energy += v;
  return 2.0 * 256 * 128 / energy;  // ops per pJ = TOPS/W
}

TEST(Energy, NeurramTableReproducesThePublishedEfficiencyTrend) {
  const TechTable t = load_tech("130nm_neurram");
  // Wan et al., Nature 2022, as reproduced by CiMLoop: TOPS/W at input/output bits.
  const std::vector<std::tuple<int, int, double>> published = {
      {1, 3, 43.1}, {4, 6, 15.95}, {6, 8, 9.12}, {8, 10, 6.44}};
  double previous = 1e9;
  for (const auto& [in, out, tops_w] : published) {
    const double ours = neurram_tops_per_w(t, in, out);
    EXPECT_NEAR(ours / tops_w, 1.0, 0.25) << in << "/" << out << " bits: " << ours << " TOPS/W";
    EXPECT_LT(ours, previous);  // more bits, less efficient
    previous = ours;
  }
}

TEST(Energy, TablesAreStrict) {
  nlohmann::json j;
  {
    std::ifstream in(data_dir() + "/energy/22nm_lp.json");
    j = nlohmann::json::parse(in);
  }
  auto message = [](const nlohmann::json& bad) {
    try {
      TechTable::from_json(bad, "t.json");
    } catch (const SpecError& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  EXPECT_EQ(message(j), "no error");
  auto bad = j;
  bad["adc"]["bitz"] = 3;
  EXPECT_NE(message(bad).find("t.json.adc.bitz"), std::string::npos) << message(bad);
  bad = j;
  bad["dac"].erase("citation");
  EXPECT_NE(message(bad).find("t.json.dac.citation"), std::string::npos) << message(bad);
  bad = j;
  bad["array"]["v_read_V"] = -1;
  EXPECT_NE(message(bad).find("t.json.array.v_read_V"), std::string::npos) << message(bad);
  bad = j;
  bad["adc"]["model"] = "flash";
  EXPECT_NE(message(bad).find("t.json.adc.model"), std::string::npos) << message(bad);
  EXPECT_THROW(load_tech("no_such_table"), UsageError);
}

Dataset fixture_dataset(const nlohmann::json& c) {
  Dataset d;
  d.x = read_sequences(c["io"], "/x");
  d.y.assign(static_cast<size_t>(d.x.n), 0);
  d.n_classes = 5;
  d.name = "fixture";
  return d;
}

TEST(Energy, ActionCountsFollowTheShapes) {
  const auto manifest = test::manifest();
  const auto& c = manifest["models"][0];
  const S4DModel model = S4DModel::load(c["checkpoint"]);
  const Dataset data = fixture_dataset(c);
  const ModelConfig& cfg = model.config();
  const double L = static_cast<double>(data.x.length), H = static_cast<double>(cfg.d_model);
  // Tiles large enough that every matrix sits on one tile: one DAC conversion per input and
  // vector, one ADC conversion per output and vector (differential pairs subtracted in analog).
  const ChipSpec spec = load_chip("ideal", {"mapping.tile_rows=256", "mapping.tile_cols=256",
                                            "periphery.dac_bits=6", "periphery.adc_bits=8"});
  const MappedModel map = map_model(model, spec.mapping, spec.device.window());
  CountOptions o;
  o.samples = 4;
  const ActionCounts k = count_inference(model, data, spec, map, o);
  const double rows = L * cfg.d_input + cfg.n_layers * L * H + H;
  const double outputs = L * H + cfg.n_layers * L * 2 * H + cfg.d_output;
  EXPECT_DOUBLE_EQ(k.dac_conversions.at(6), rows);
  EXPECT_DOUBLE_EQ(k.row_activations, rows);
  double adc = 0;
  for (const auto& [key, n] : k.adc_conversions) {
    EXPECT_EQ(key.bits, 8);
    EXPECT_EQ(key.input_bits, 6);
    adc += n;
  }
  EXPECT_DOUBLE_EQ(adc, outputs);
  EXPECT_GT(k.g_v2_uS.at(6), 0);
  // The digital SSM: 8 real MACs per mode and step plus the skip, in every layer.
  EXPECT_DOUBLE_EQ(k.digital_macs, cfg.n_layers * L * H * (8.0 * cfg.modes() + 1));
  EXPECT_GT(k.programming_pulses, 0);

  // With the recurrence on the crossbar the SSM MACs leave the digital side.
  const ChipSpec rec = load_chip("ideal", {"mapping.tile_rows=256", "mapping.tile_cols=256",
                                           "recurrence=analog"});
  const MappedModel rec_map = map_model(model, rec.mapping, rec.device.window());
  const ActionCounts kr = count_inference(model, data, rec, rec_map, o);
  EXPECT_DOUBLE_EQ(kr.digital_macs, 0.0);
  EXPECT_GT(kr.row_activations, rows + cfg.n_layers * L * H * (2.0 * cfg.modes()));
}

TEST(Energy, SameFiguresForAnyThreadCount) {
  const auto manifest = test::manifest();
  const auto& c = manifest["models"][1];
  const S4DModel model = S4DModel::load(c["checkpoint"]);
  const Dataset data = fixture_dataset(c);
  const ChipSpec spec = load_chip("pcm_512", {});
  const TechTable tech = load_tech("22nm_lp");
  CountOptions o;
  o.samples = 8;
  o.threads = 1;
  const EnergyReport one = estimate_energy(model, data, spec, tech, o);
  o.threads = 2;
  const EnergyReport two = estimate_energy(model, data, spec, tech, o);
  EXPECT_NEAR(one.energy_pJ, two.energy_pJ, 1e-9 * one.energy_pJ);
  EXPECT_EQ(one.latency_ns, two.latency_ns);
  EXPECT_GT(one.energy_pJ, 0);
  EXPECT_GT(one.int8.energy_pJ, 0);
  EXPECT_GT(one.fp32.energy_pJ, one.int8.energy_pJ);
  const nlohmann::json j = one.to_json();
  for (const char* key : {"energy_pJ_per_inference", "breakdown_pJ", "tops_per_w",
                          "latency_ns_per_inference", "area_mm2", "digital_baseline",
                          "analog_vs_digital_energy_ratio"}) {
    EXPECT_TRUE(j.contains(key)) << key;
  }
  for (const char* key : {"dac", "array", "adc", "digital", "buffer"}) {
    EXPECT_TRUE(j["breakdown_pJ"].contains(key)) << key;
  }
  EXPECT_TRUE(j["digital_baseline"].contains("energy_pJ_per_inference"));
}

}  // namespace
}  // namespace qs4d
