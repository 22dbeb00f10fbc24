// The chip description (chip/chip.h), on its own: keys, overrides and the declared inert keys
// (linked against chip/ only, the leaf the simulator and the pricing both read).
#include <gtest/gtest.h>

#include <fstream>
#include <iterator>

#include <nlohmann/json.hpp>

#include "chip/chip.h"

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
