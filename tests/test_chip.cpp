// The chip description (chip/chip.h), on its own: keys, overrides and the declared inert keys
// (linked against chip/ only, the leaf the simulator and the pricing both read).
#include <gtest/gtest.h>

#include <fstream>
#include <iterator>

#include <nlohmann/json.hpp>

#include "chip/chip.h"
#include "core/bounds.h"

#include <set>

namespace qs4d {
namespace {

TEST(ChipSpec, CircuitAndHeadroomKeys) {
  const ChipSpec c = load_chip("imssa_64", {"periphery.wire_resistance_ohm=2",
                                            "periphery.sense_ohm=5", "periphery.adc_headroom=4",
                                            "periphery.ir_drop=\"first-order\""});
  EXPECT_EQ(c.periphery.circuit.row_wire_ohm, 2.0);
  EXPECT_EQ(c.periphery.circuit.col_wire_ohm, 2.0);
  EXPECT_EQ(c.periphery.circuit.sense_ohm, 5.0);
  EXPECT_EQ(c.periphery.adc_headroom, 4.0);
  EXPECT_EQ(c.periphery.ir_drop, CircuitSolver::kFirstOrder);
  EXPECT_THROW(load_chip("imssa_64", {"periphery.adc_headroom=0.5"}), std::exception);
  EXPECT_THROW(load_chip("imssa_64", {"periphery.row_wire_ohm=-1"}), std::exception);
  EXPECT_THROW(load_chip("imssa_64", {"periphery.ir_drop=\"spice\""}), std::exception);
}

// The later wire value wins over the preset's, whichever of the shorthand and the two keys each
// gives (neurram_256 and pcm_512 give the shorthand; an override of row_wire_ohm was read
// before it and lost). Both forms in one file are refused.
TEST(ChipSpec, WireOverridesWinOverThePresetsShorthand) {
  for (const char* preset : {"neurram_256", "pcm_512", "ideal"}) {
    const ChipSpec rows = load_chip(preset, {"periphery.row_wire_ohm=1.5"});
    EXPECT_EQ(rows.periphery.circuit.row_wire_ohm, 1.5) << preset;
    EXPECT_EQ(rows.periphery.circuit.col_wire_ohm, 0.0) << preset;
    const ChipSpec both = load_chip(preset, {"periphery.col_wire_ohm=2", "periphery.row_wire_ohm=1"});
    EXPECT_EQ(both.periphery.circuit.row_wire_ohm, 1.0) << preset;
    EXPECT_EQ(both.periphery.circuit.col_wire_ohm, 2.0) << preset;
    const ChipSpec later = load_chip(preset, {"periphery.row_wire_ohm=1", "periphery.wire_resistance_ohm=3"});
    EXPECT_EQ(later.periphery.circuit.row_wire_ohm, 3.0) << preset;
    EXPECT_EQ(later.periphery.circuit.col_wire_ohm, 3.0) << preset;
  }
  const nlohmann::json clash = {{"wire_resistance_ohm", 1.0}, {"row_wire_ohm", 2.0}};
  EXPECT_THROW(PeripherySpec::from_json(clash, "periphery"), SpecError);
}

// Issue #30: the chip's own inert keys. The calibration of ADC ranges acts only on calibrated,
// finite-resolution ADCs; the state converters only on an analog recurrence; device keys go to
// the device's rules (checked against the device model in test_devices), and a repair that reads
// write-verify's outcomes keeps programming in play.
TEST(ChipSpec, InertKeysAreDeclaredWhereTheyActOnNothing) {
  const ChipSpec pcm = load_chip("pcm_512", {});
  EXPECT_TRUE(pcm.inert_reason("periphery.adc_headroom", 0).empty());
  EXPECT_NE(load_chip("pcm_512", {"periphery.adc_bits=0"}).inert_reason("periphery.adc_headroom", 0).find("ideal ADCs"),
            std::string::npos);
  EXPECT_NE(load_chip("pcm_512", {"periphery.adc_range=0.5"}).inert_reason("periphery.calibration_samples", 0)
                .find("fixed ADC ranges"),
            std::string::npos);
  EXPECT_NE(pcm.inert_reason("periphery.state_adc_bits", 0).find("digitally"), std::string::npos);
  EXPECT_TRUE(load_chip("imssa_64", {}).inert_reason("periphery.state_adc_bits", 0).empty());
  EXPECT_TRUE(pcm.inert_reason("periphery.adc_bits", 86400).empty());  // never inert
  // The state DAC's per-mode full scales act only where the state DAC is ranged by the grid.
  EXPECT_NE(pcm.inert_reason("periphery.state_dac_ranges", 0).find("digitally"), std::string::npos);
  EXPECT_NE(load_chip("imssa_64", {}).inert_reason("periphery.state_dac_ranges", 0).find("state_ranges"),
            std::string::npos);
  EXPECT_NE(load_chip("imssa_64", {"periphery.state_ranges=\"trained\"", "periphery.state_dac_bits=0"})
                .inert_reason("periphery.state_dac_ranges", 0)
                .find("ideal state DAC"),
            std::string::npos);
  EXPECT_TRUE(load_chip("imssa_64", {"periphery.state_ranges=\"trained\"", "periphery.state_adc_bits=8",
                                     "periphery.state_dac_bits=8"})
                  .inert_reason("periphery.state_dac_ranges", 0)
                  .empty());
  EXPECT_THROW(load_chip("imssa_64", {"periphery.state_dac_ranges=\"mode\""}), SpecError);  // needs "trained"
  const ChipSpec neurram = load_chip("neurram_256", {});
  EXPECT_NE(neurram.inert_reason("device.programming.scale", 1.0).find("relaxation_table"), std::string::npos);
  EXPECT_TRUE(neurram.inert_reason("device.programming.scale", 0.0).empty());
  EXPECT_NE(neurram.inert_reason("device.drift.scale", 0.0).find("t > 0"), std::string::npos);
  const ChipSpec repaired = load_chip("neurram_256", {"device.write_verify.enabled=true", "device.write_verify.tolerance=0.05",
                                                         "device.write_verify.max_iterations=4", "repair=\"partner\""});
  EXPECT_TRUE(repaired.inert_reason("device.programming.scale", 1.0).empty());
}

}  // namespace
}  // namespace qs4d

namespace qs4d {
namespace {

// Issue #29: a key is declared once (the spec's table), and docs/formats.md names every one: a
// key added to a table without its documentation fails here.
TEST(ChipSpec, EveryKeyOfTheTablesIsDocumented) {
  std::ifstream in(data_dir() + "/../docs/formats.md");
  ASSERT_TRUE(in) << "docs/formats.md beside data/";
  const std::string docs((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const std::pair<const char*, std::vector<std::string>> specs[] = {
      {"chip", ChipSpec::keys()},
      {"periphery", PeripherySpec::keys()},
      {"dataflow", DataflowSpec::keys()},
      {"device", DeviceSpec::keys()},
      {"mapping", MappingSpec::keys()}};
  for (const auto& [spec, keys] : specs) {
    EXPECT_GE(keys.size(), 3u) << spec;
    for (const std::string& key : keys) {
      EXPECT_NE(docs.find("`" + key + "`"), std::string::npos) << spec << "." << key << " is not in docs/formats.md";
    }
  }
  // Written back as read: to_json of a parsed spec parses to the same spec.
  const ChipSpec chip = load_chip("imssa_64", {"periphery.adc_range=0.5", "periphery.dac_range=2",
                                              "dataflow.batch=4", "periphery.signed_inputs=\"two_phase\""});
  EXPECT_EQ(PeripherySpec::from_json(chip.periphery.to_json(), "periphery").to_json(), chip.periphery.to_json());
  EXPECT_EQ(chip.periphery.to_json()["adc_range"], 0.5);
  EXPECT_EQ(DataflowSpec::from_json(chip.dataflow.to_json(), "dataflow").batch, 4);
  for (const char* device : {"pcm_aihwkit", "rram_wan2022", "rram_multilevel", "ideal"}) {
    const DeviceSpec d = load_device(device, {}, data_dir());
    EXPECT_EQ(DeviceSpec::from_json(d.to_json()).to_json(), d.to_json()) << device;
  }
}

}  // namespace
}  // namespace qs4d

namespace qs4d {
namespace {

// Issue #31: the physical bounds are one table (core/bounds.h); docs/formats.md shows it as
// `qs4dsim presets --bounds` prints it, and every bound refuses a value just outside it through
// the key it names, with the table's range in the message. A bound added without a probe here
// fails (the technology tables' bound is probed in test_energy.cpp: chip/ does not read them).
TEST(ChipSpec, EveryPhysicalBoundIsDocumentedAndRefusesOutside) {
  std::ifstream in(data_dir() + "/../docs/formats.md");
  ASSERT_TRUE(in);
  const std::string docs((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  EXPECT_NE(docs.find(physical_bounds_markdown()), std::string::npos)
      << "docs/formats.md must hold `qs4dsim presets --bounds` verbatim:\n" << physical_bounds_markdown();
  using namespace bounds;
  struct Probe {
    const PhysicalBound* bound;
    const char* chip;
    std::string outside, inside, named;  // --set items, and the key the refusal names
  };
  const std::string drift = R"(device.drift={"kind":"log_relaxation","mean_per_ln_s":)";
  const std::vector<Probe> probes = {
      {&kResistance, "pcm_512", "periphery.driver_ohm=1e-320", "periphery.driver_ohm=1e-6", "periphery.driver_ohm"},
      {&kConverterBits, "neurram_256", "periphery.adc_bits=25", "periphery.adc_bits=24", "periphery.adc_bits"},
      {&kOutputNoise, "neurram_256", "periphery.output_noise=10.5", "periphery.output_noise=10", "periphery.output_noise"},
      {&kAdcHeadroom, "neurram_256", "periphery.adc_headroom=0.99", "periphery.adc_headroom=1", "periphery.adc_headroom"},
      {&kDataflowBatch, "neurram_256", "dataflow.batch=0", "dataflow.batch=1", "dataflow.batch"},
      {&kSpareLines, "neurram_256", R"(spares={"rows":4097})", R"(spares={"rows":4096})", "spares.rows"},
      {&kTileSide, "neurram_256", "mapping.tile_rows=1", "mapping.tile_rows=2", "mapping.tile_rows"},
      {&kBitsPerDevice, "ideal", "mapping.bits_per_device=17", "mapping.bits_per_device=0", "mapping.bits_per_device"},
      {&kConductance, "neurram_256", "device.g_max_uS=100001", "device.g_max_uS=100000", "device.g_max_uS"},
      {&kWindowSpread, "neurram_256", "device.window_dtod=0.51", "device.window_dtod=0.5", "device.window_dtod"},
      {&kSigmaScale, "pcm_512", "device.programming.scale=1001", "device.programming.scale=1000",
       "device.programming.scale"},
      {&kSigmaAbsolute, "ideal", R"(device.read_noise={"kind":"constant","sigma_uS":-1})",
       R"(device.read_noise={"kind":"constant","sigma_uS":0})", "device.read_noise.sigma_uS"},
      {&kSigmaRelative, "ideal", R"(device.read_noise={"kind":"proportional","relative":10.5})",
       R"(device.read_noise={"kind":"proportional","relative":10})", "device.read_noise.relative"},
      {&kDriftScale, "pcm_512", "device.drift.scale=-1", "device.drift.scale=0", "device.drift.scale"},
      {&kDriftReference, "pcm_512", "device.drift.t0_s=1e10", "device.drift.t0_s=1e9", "device.drift.t0_s"},
      {&kDriftExponent, "pcm_512", "device.drift.nu_mean=-1e308", "device.drift.nu_mean=0.05",
       "device.drift.nu_mean"},
      {&kDriftMeanPerLn, "ideal", drift + R"(2e5,"std_per_ln_s":0,"std_uS":0})",
       drift + R"(-1e5,"std_per_ln_s":0,"std_uS":0})", "device.drift.mean_per_ln_s"},
      {&kDriftSpread, "ideal", drift + R"(0,"std_per_ln_s":0,"std_uS":-1})", drift + R"(0,"std_per_ln_s":0,"std_uS":0})",
       "device.drift.std_uS"},
      {&kVerifyTolerance, "neurram_256", "device.write_verify.tolerance=1e308", "device.write_verify.tolerance=0.05",
       "device.write_verify.tolerance"},
      {&kVerifyIterations, "neurram_256", "device.write_verify.max_iterations=10001",
       "device.write_verify.max_iterations=10000", "device.write_verify.max_iterations"},
      {&kAccumulatedScale, "pcm_512", "device.accumulated_noise.scale=1e4", "device.accumulated_noise.scale=1e3",
       "device.accumulated_noise.scale"},
      {&kAccumulatedQ, "pcm_512", "device.accumulated_noise.q_a=-0.1", "device.accumulated_noise.q_a=10",
       "device.accumulated_noise.q_a"},
      {&kAccumulatedShape, "pcm_512", "device.accumulated_noise.q_b=101", "device.accumulated_noise.q_b=-100",
       "device.accumulated_noise.q_b"},
      {&kReadTime, "pcm_512", "device.accumulated_noise.t_read_s=0", "device.accumulated_noise.t_read_s=1e-12",
       "device.accumulated_noise.t_read_s"},
      {&kStuckFraction, "neurram_256", "device.stuck.at_min=1.01", "device.stuck.at_min=0.001", "device.stuck.at_min"},
  };
  std::set<const PhysicalBound*> probed;
  for (const Probe& p : probes) {
    probed.insert(p.bound);
    try {
      load_chip(p.chip, {p.outside});
      ADD_FAILURE() << p.outside << " was accepted";
    } catch (const std::exception& e) {
      const std::string what = e.what();
      EXPECT_NE(what.find(p.named), std::string::npos) << what;
      EXPECT_NE(what.find("expected " + range_text(*p.bound)), std::string::npos) << what;
    }
    EXPECT_NO_THROW(load_chip(p.chip, {p.inside})) << p.inside;
  }
  for (const PhysicalBound* b : physical_bounds()) {
    if (b != &kTechFigure) EXPECT_EQ(probed.count(b), 1u) << b->keys << " has no probe";
  }
}

}  // namespace
}  // namespace qs4d
