// Energy: the 22 nm SAR ADC follows NeuroSim's formula; the 130 nm table configured as the
// NeuRRAM macro reproduces its published efficiency trend; tables are strict; the executor's
// action counts match the mapping's shapes and do not depend on the thread count.
#include <gtest/gtest.h>

#include <cmath>
#include <fstream>

#include "core/bounds.h"
#include "run/run.h"
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

// Horowitz (ISSCC 2014, 45 nm): 64-bit accesses of 10, 20 and 100 pJ at 8 kB, 32 kB and 1 MB,
// here x 0.4 for the 22 nm table. Between two points the energy is a power law: at the
// geometric mean of two capacities, the geometric mean of their energies.
TEST(Energy, SramEnergyFollowsThePublishedPointsAndFlagsTheirRange) {
  const TechTable t = load_tech("22nm_lp");
  const auto& m = t.memory;
  std::string note;
  EXPECT_NEAR(m.sram_energy_pJ_per_bit(8192, &note), 0.4 * 10 / 64, 1e-12);
  EXPECT_TRUE(note.empty());
  EXPECT_NEAR(m.sram_energy_pJ_per_bit(32768), 0.4 * 20 / 64, 1e-12);
  EXPECT_NEAR(m.sram_energy_pJ_per_bit(1048576), 0.4 * 100 / 64, 1e-12);
  EXPECT_NEAR(m.sram_energy_pJ_per_bit(16384), 0.4 * std::sqrt(10.0 * 20.0) / 64, 1e-12);
  EXPECT_NEAR(m.sram_energy_pJ_per_bit(std::sqrt(32768.0 * 1048576.0)), 0.4 * std::sqrt(20.0 * 100.0) / 64, 1e-12);
  // The 256 kB global buffer costs more per bit than the 8 kB figure the old table used for it.
  EXPECT_NEAR(m.global_buffer.pJ_per_bit, 0.4 * 20 / 64 * std::pow(8.0, std::log(5.0) / std::log(32.0)), 1e-12);
  // Outside the published range: the smallest point's figure below, flagged; above, flagged.
  EXPECT_NEAR(m.sram_energy_pJ_per_bit(1024, &note), 0.4 * 10 / 64, 1e-12);
  EXPECT_NE(note.find("upper bound"), std::string::npos);
  note.clear();
  m.sram_energy_pJ_per_bit(4e6, &note);
  EXPECT_NE(note.find("extrapolated"), std::string::npos);
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
  bad["memory"]["sram_energy"]["capacity_bytes"] = {32768, 8192, 1048576};
  EXPECT_NE(message(bad).find("t.json.memory.sram_energy.capacity_bytes"), std::string::npos) << message(bad);
  bad = j;
  bad["memory"]["local"].erase("capacity_bytes");
  EXPECT_NE(message(bad).find("t.json.memory.local.capacity_bytes"), std::string::npos) << message(bad);
  bad = j;
  bad.erase("leakage");
  EXPECT_NE(message(bad).find("t.json.leakage"), std::string::npos) << message(bad);
  bad = j;
  bad["adc"]["model"] = "flash";
  EXPECT_NE(message(bad).find("t.json.adc.model"), std::string::npos) << message(bad);
  // The physical bound of every figure (core/bounds.h's one table, issue #31).
  bad = j;
  bad["dac"]["energy_pJ_base"] = 1.5e12;
  EXPECT_NE(message(bad).find("t.json.dac.energy_pJ_base: is 1.5e+12, expected " + range_text(bounds::kTechFigure)),
            std::string::npos)
      << message(bad);
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
  const Dataset calibration = test::calibration_set(data);
  o.calibration = &calibration;
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

  // Each matrix records its own converter and array actions (a stage is priced from them); over
  // the matrices they sum to the chip-wide counts, recurrence passes included.
  for (const ActionCounts* counts : {&k, &kr}) {
    double dac = 0, g_v2 = 0;
    std::map<AdcKey, double> adc_by_key;
    for (const auto& [m, a] : counts->matrices) {
      dac += a.dac_conversions;
      g_v2 += a.g_v2_uS;
      for (const auto& [key, n] : a.adc_conversions) adc_by_key[key] += n;
    }
    double dac_all = 0, g_v2_all = 0;
    for (const auto& [bits, n] : counts->dac_conversions) dac_all += n;
    for (const auto& [bits, v] : counts->g_v2_uS) g_v2_all += v;
    EXPECT_NEAR(dac, dac_all, 1e-9 * dac_all);
    EXPECT_NEAR(g_v2, g_v2_all, 1e-9 * g_v2_all);
    ASSERT_EQ(adc_by_key.size(), counts->adc_conversions.size());
    for (const auto& [key, n] : counts->adc_conversions) EXPECT_NEAR(adc_by_key.at(key), n, 1e-9 * n);
  }
}

// Programming energy counts the cells a chip writes (weights and references), not every cell it
// allocated (issue #34): on 512 x 512 tiles most cells of this small model are unused, and at most
// max_iterations pulses go to each written cell.
TEST(Energy, ProgrammingCountsOnlyTheCellsThatHoldWeights) {
  const auto manifest = test::manifest();
  const auto& c = manifest["models"][0];
  const S4DModel model = S4DModel::load(c["checkpoint"]);
  const Dataset data = fixture_dataset(c);
  const ChipSpec spec = load_chip("ideal", {"mapping.tile_rows=512", "mapping.tile_cols=512",
                                            "device.write_verify={\"enabled\":true,\"max_iterations\":20,"
                                            "\"tolerance\":0.02,\"tolerance_kind\":\"relative\"}",
                                            "device.programming={\"kind\":\"proportional\",\"relative\":0.05}"});
  const MappedModel map = map_model(model, spec.mapping, spec.device.window());
  int64_t written = 0;
  for (const Tile& t : map.tiles)
    for (size_t r = 0; r < t.rows.size(); ++r)
      for (size_t col = 0; col < t.cols.size(); ++col)
        written += t.rows[r].matrix >= 0 && (t.cols[col].matrix == t.rows[r].matrix ||
                                             t.cols[col].matrix == kReferenceColumn);
  ASSERT_LT(written * 4, map.devices_allocated());  // mostly unused: the test can tell the two apart
  CountOptions o;
  const Dataset calibration = test::calibration_set(data);
  o.calibration = &calibration;
  o.samples = 2;
  const ActionCounts k = count_inference(model, data, spec, map, o);
  EXPECT_GE(k.programming_pulses, static_cast<double>(written));  // at least one pulse each
  EXPECT_LE(k.programming_pulses, 20.0 * static_cast<double>(written));
}

TEST(Energy, SameFiguresForAnyThreadCount) {
  const auto manifest = test::manifest();
  const auto& c = manifest["models"][1];
  const S4DModel model = S4DModel::load(c["checkpoint"]);
  const Dataset data = fixture_dataset(c);
  const ChipSpec spec = load_chip("pcm_512", {});
  const TechTable tech = load_tech("22nm_lp");
  CountOptions o;
  const Dataset calibration = test::calibration_set(data);
  o.calibration = &calibration;
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

// Uniform random inputs of the checkpoint's shape (the energy counts depend on shapes and on
// the input statistics only through the array energy).
Dataset random_dataset(int64_t n, int64_t length, int64_t width) {
  Dataset d;
  d.x = SequenceBatch{n, length, width, std::vector<float>(static_cast<size_t>(n * length * width))};
  uint64_t s = 7;
  for (float& v : d.x.values) {
    s = s * 6364136223846793005ULL + 1442695040888963407ULL;
    v = static_cast<float>(s >> 40) / static_cast<float>(1 << 24);
  }
  d.y.assign(static_cast<size_t>(n), 0);
  d.n_classes = 10;
  d.name = "random";
  return d;
}

double bits_at(const std::vector<MemoryLine>& lines, const std::string& operand, const std::string& level) {
  double bits = 0;
  for (const MemoryLine& l : lines) {
    if (l.operand == operand && l.level == level) bits += l.bits;
  }
  return bits;
}

// Issue #12's proof: the 4-bit H = 64 checkpoint on neurram_256 reads its SSM parameters from
// the global buffer once per inference (its footprint, not once per step), shows the per-step
// cost of streaming them as its own line, and its INT8 baseline fetches each weight once.
TEST(Energy, SsmParametersAndBaselineWeightsAreFetchedOncePerInference) {
  const S4DModel model = S4DModel::load(data_dir() + "/checkpoints/fmnist196_s4d_h64_n64_l4_qat4.h5");
  const ModelConfig& cfg = model.config();
  const Dataset data = random_dataset(2, 196, cfg.d_input);
  CountOptions o;
  const Dataset calibration = test::calibration_set(data);
  o.calibration = &calibration;
  o.samples = 2;
  const EnergyReport r = estimate_energy(model, data, load_chip("neurram_256", {}), load_tech("22nm_lp"), o);
  const double L = 196, H = static_cast<double>(cfg.d_model), M = static_cast<double>(cfg.modes());
  const double footprint = cfg.n_layers * H * 6 * M * 8;  // every layer's Abar, Bbar, C at 8 bits
  EXPECT_DOUBLE_EQ(bits_at(r.memory, "ssm_parameters", "global_buffer"), footprint);
  EXPECT_DOUBLE_EQ(bits_at(r.memory, "ssm_parameters", "local"), footprint + L * footprint);
  EXPECT_DOUBLE_EQ(bits_at(r.memory_if_streamed, "ssm_parameters", "global_buffer"), L * footprint);
  EXPECT_GT(r.memory_if_streamed.at(0).pJ, 10 * bits_at(r.memory, "ssm_parameters", "global_buffer") *
                                              load_tech("22nm_lp").memory.global_buffer.pJ_per_bit);
  double memory_pJ = 0;
  for (const MemoryLine& l : r.memory) memory_pJ += l.pJ;
  EXPECT_NEAR(r.breakdown_pJ.at("buffer"), memory_pJ, 1e-9 * memory_pJ);

  // INT8 baseline: the matrices' weights (not the SSM parameters) cross from the global buffer
  // once, nothing from DRAM, and every MAC reads its weight from its PE's register.
  double weights = 0, weight_macs = 0;
  for (const auto& w : r.model.matrices) {
    weights += w.inputs * w.outputs * 8;
    weight_macs += w.vectors * w.inputs * w.outputs * 8;
  }
  EXPECT_DOUBLE_EQ(bits_at(r.int8.memory, "weights", "global_buffer"), weights);
  EXPECT_DOUBLE_EQ(bits_at(r.int8.memory, "weights", "dram"), 0.0);
  EXPECT_DOUBLE_EQ(bits_at(r.int8.memory, "weights", "register"), weights + weight_macs);
  EXPECT_EQ(r.int8.weight_fetches_per_inference, 1.0);
  EXPECT_TRUE(r.int8.weights_in_sram);
  EXPECT_NE(r.int8.dataflow.find("once per inference"), std::string::npos);

  const nlohmann::json j = r.to_json();
  for (const char* key : {"memory", "assumptions", "sensitivity", "memory_if_ssm_parameters_streamed"}) {
    EXPECT_TRUE(j.contains(key)) << key;
  }
  EXPECT_TRUE(j["digital_baseline"].contains("dataflow"));
  EXPECT_TRUE(j["digital_baseline"].contains("memory"));
}

// A batch shares one fetch of what is stationary; the rest of the traffic does not change.
TEST(Energy, BatchAmortisesOnlyTheStationaryFetches) {
  const auto manifest = test::manifest();
  const auto& c = manifest["models"][0];
  const S4DModel model = S4DModel::load(c["checkpoint"]);
  const Dataset data = fixture_dataset(c);
  const TechTable tech = load_tech("22nm_lp");
  CountOptions o;
  const Dataset calibration = test::calibration_set(data);
  o.calibration = &calibration;
  o.samples = 2;
  const EnergyReport one = estimate_energy(model, data, load_chip("pcm_512", {}), tech, o);
  const EnergyReport eight = estimate_energy(model, data, load_chip("pcm_512", {"dataflow.batch=8"}), tech, o);
  EXPECT_DOUBLE_EQ(bits_at(eight.int8.memory, "weights", "global_buffer") * 8,
                   bits_at(one.int8.memory, "weights", "global_buffer"));
  EXPECT_DOUBLE_EQ(bits_at(eight.memory, "ssm_parameters", "global_buffer") * 8,
                   bits_at(one.memory, "ssm_parameters", "global_buffer"));
  EXPECT_DOUBLE_EQ(bits_at(eight.memory, "activations", "local"), bits_at(one.memory, "activations", "local"));
  EXPECT_THROW(load_chip("pcm_512", {"dataflow.batch=0"}), SpecError);
  EXPECT_THROW(load_chip("pcm_512", {"dataflow.ssm_parameters=cache"}), SpecError);
}

// ADC energy of the conversions made at `bits`, as the table prices them.
double adc_pJ_at(const ActionCounts& c, const TechTable& t, int bits) {
  double pJ = 0;
  for (const auto& [key, n] : c.adc_conversions) {
    if (key.bits == bits) pJ += n * t.adc_energy_pJ(key.bits, key.input_bits, std::pow(10.0, key.r_col_log10_x20 / 20.0));
  }
  return pJ;
}

// Issue #12's proof: on imssa_64, the recurrence's state ADC and the matrices' output ADC are
// two converters, each priced and sized by its own bits.
TEST(Energy, EachConverterIsPricedAndSizedByItsOwnBits) {
  const S4DModel model = S4DModel::load(data_dir() + "/checkpoints/fmnist196_s4d_h8_n6_l4_imssa_qat2.h5");
  const Dataset data = random_dataset(2, 196, model.config().d_input);
  const TechTable t = load_tech("22nm_lp");
  CountOptions o;
  const Dataset calibration = test::calibration_set(data);
  o.calibration = &calibration;
  o.samples = 2;
  auto run = [&](const std::vector<std::string>& sets) {
    return estimate_energy(model, data, load_chip("imssa_64", sets), t, o);
  };
  const EnergyReport base = run({});  // state converters 10 bits, matrix converters 8 bits
  const EnergyReport state4 = run({"periphery.state_adc_bits=4"});
  const EnergyReport matrix4 = run({"periphery.adc_bits=4"});
  auto matrix_adc_area = [](const EnergyReport& r) {
    return r.area_breakdown_mm2.at("adc") - r.area_breakdown_mm2.at("adc_recurrence");
  };
  ASSERT_GT(base.area_breakdown_mm2.at("adc_recurrence"), 0);
  // The state ADC at 4 bits: the recurrence tiles' ADC area and energy fall, nothing else moves.
  EXPECT_LT(state4.area_breakdown_mm2.at("adc_recurrence"), base.area_breakdown_mm2.at("adc_recurrence"));
  EXPECT_DOUBLE_EQ(matrix_adc_area(state4), matrix_adc_area(base));
  EXPECT_DOUBLE_EQ(adc_pJ_at(state4.counts, t, 10), 0.0);
  EXPECT_GT(adc_pJ_at(state4.counts, t, 4), 0.0);
  EXPECT_LT(adc_pJ_at(state4.counts, t, 4), adc_pJ_at(base.counts, t, 10));
  EXPECT_DOUBLE_EQ(adc_pJ_at(state4.counts, t, 8), adc_pJ_at(base.counts, t, 8));
  for (const char* k : {"cells", "dac", "digital", "memory"}) {
    EXPECT_DOUBLE_EQ(state4.area_breakdown_mm2.at(k), base.area_breakdown_mm2.at(k)) << k;
  }
  EXPECT_DOUBLE_EQ(state4.breakdown_pJ.at("dac"), base.breakdown_pJ.at("dac"));
  // The matrices' ADC at 4 bits leaves the recurrence tiles' converters alone.
  EXPECT_DOUBLE_EQ(matrix4.area_breakdown_mm2.at("adc_recurrence"), base.area_breakdown_mm2.at("adc_recurrence"));
  EXPECT_LT(matrix_adc_area(matrix4), matrix_adc_area(base));
  EXPECT_DOUBLE_EQ(adc_pJ_at(matrix4.counts, t, 10), adc_pJ_at(base.counts, t, 10));
  EXPECT_DOUBLE_EQ(adc_pJ_at(matrix4.counts, t, 8), 0.0);
  for (const TileConverters& k : matrix4.counts.converters) {
    EXPECT_EQ(k.adc_bits, k.role == "recurrence" ? 10 : 4) << "tile " << k.tile;
  }
}

}  // namespace
}  // namespace qs4d
