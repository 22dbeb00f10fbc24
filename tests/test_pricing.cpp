// Pricing on its own (issue #29): hand-built action counts on a hand-built chip description,
// priced by a table whose numbers are set here, against figures worked out by hand from the
// formulas in energy/energy.h. This binary links energy/ and chip/ only, never the simulator:
// pricing is testable without running a chip.
#include <gtest/gtest.h>

#include "chip/chip.h"
#include "energy/energy.h"

namespace qs4d {
namespace {

TechTable round_numbers() {
  TechTable t = load_tech("22nm_lp");  // for its citations and SRAM points; every figure used is set
  t.dac = {1.0, 0.5, 1.0, 2.0};        // pJ base, pJ per bit, ns, um2 per row
  t.array.v_read_V = 0.2;
  t.array.t_read_ns_base = 10;
  t.array.t_read_ns_per_bit = 2;
  t.array.cell_area_um2 = 0.01;
  t.adc.neurosim_sar = false;  // the linear model: base + per bit x bits + per input bit x m
  t.adc.energy_pJ_base = 3;
  t.adc.energy_pJ_per_bit = 0.25;
  t.adc.energy_pJ_per_input_bit = 0.1;
  t.adc.latency_ns_base = 5;
  t.adc.latency_ns_per_bit = 1;
  t.adc.latency_ns_per_input_bit = 0;
  t.adc.columns_per_adc = 4;
  t.adc.area_um2_base = 100;
  t.adc.area_um2_per_bit = 10;
  t.digital = {0.01, 0.1, 0.2, 0.5, 0.03, 10.0, 0.001, 0.01};
  t.programming = {2.0, 100.0};
  t.memory.activation_bits = 8;
  t.memory.global_buffer.pJ_per_bit = 0.05;
  t.memory.global_buffer.capacity_bytes = 1000;
  t.memory.global_buffer.area_um2_per_bit = 0.1;
  t.leakage.uW_per_mm2 = 0;
  return t;
}

TEST(Pricing, HandBuiltCountsOnAHandBuiltChip) {
  ChipSpec chip;  // built here, no preset: activations in the global buffer
  chip.name = "hand";
  chip.dataflow.activations_local = false;
  ActionCounts c;
  c.samples = 1;
  c.converters.push_back(TileConverters{0, 8, 8, 5, 6, "matrix"});
  c.dac_conversions[5] = 100;            // 5-bit DAC: m = 4 magnitude bits
  c.g_v2_uS[5] = 2000;
  c.adc_conversions[AdcKey{6, 5, 0}] = 50;
  c.digital_adds = 10, c.digital_muls = 5, c.digital_macs = 7, c.nonlinear = 3, c.shift_adds = 2;
  c.buffer_read_bits = 800;
  c.programming_pulses = 1000;
  MatrixActivity m;
  m.name = m.group = "encoder";
  m.vectors = 4, m.dac_bits = 5, m.adc_bits = 6;
  m.conversions_per_tile[0] = 10;
  c.matrices[0] = m;
  ModelComplexity model;
  model.macs_per_inference = 1180;
  ActionCounts all_digital;
  all_digital.samples = 1;
  all_digital.digital_macs = 1180;

  const EnergyReport r = price(c, all_digital, model, chip, round_numbers());
  // By hand: DAC 100 x (1 + 0.5 x 4) = 300; array 2000 uS V^2 x 0.2^2 x (10 + 2 x 4) ns = 1.44 pJ;
  // ADC 50 x (3 + 0.25 x 6 + 0.1 x 4) = 245; digital 10 x 0.01 + 5 x 0.1 + 3 x 0.5 + 2 x 0.03 +
  // 7 x 0.2 = 3.56; buffer 800 bits x 0.05 = 40.
  EXPECT_NEAR(r.breakdown_pJ.at("dac"), 300.0, 1e-9);
  EXPECT_NEAR(r.breakdown_pJ.at("array"), 1.44, 1e-12);
  EXPECT_NEAR(r.breakdown_pJ.at("adc"), 245.0, 1e-9);
  EXPECT_NEAR(r.breakdown_pJ.at("digital"), 3.56, 1e-12);
  EXPECT_NEAR(r.breakdown_pJ.at("buffer"), 40.0, 1e-12);
  EXPECT_NEAR(r.energy_pJ, 590.0, 1e-9);
  EXPECT_NEAR(r.tops_per_w, 2.0 * 1180 / 590.0, 1e-12);
  // Latency: 4 vectors x (DAC 1 + read 18 + ceil(10 conversions / 2 ADCs) x ADC (5 + 6)) = 296
  // ns, plus 27 digital ops at 10 per ns.
  EXPECT_NEAR(r.latency_ns, 296.0 + 2.7, 1e-9);
  // Area: 64 cells x 0.01 um2, 8 DACs x 2 um2, 2 ADCs x (100 + 60) um2, digital 0.001 + 0.01 mm2,
  // global buffer 1000 B x 8 x 0.1 um2.
  EXPECT_NEAR(r.area_breakdown_mm2.at("cells"), 6.4e-7, 1e-18);
  EXPECT_NEAR(r.area_breakdown_mm2.at("dac"), 1.6e-5, 1e-18);
  EXPECT_NEAR(r.area_breakdown_mm2.at("adc"), 3.2e-4, 1e-15);
  EXPECT_NEAR(r.area_breakdown_mm2.at("digital"), 0.011, 1e-15);
  EXPECT_NEAR(r.area_breakdown_mm2.at("memory"), 8e-4, 1e-15);
  EXPECT_NEAR(r.area_mm2, 6.4e-7 + 1.6e-5 + 3.2e-4 + 0.011 + 8e-4, 1e-15);
  EXPECT_NEAR(r.programming_energy_pJ, 2000.0, 1e-9);
  EXPECT_NEAR(r.programming_time_ns, 1e5, 1e-6);
}

// Two stages on their own tiles, each with its own converter actions: their stage energies are
// the chip-wide figures split by stage, the slower stage sets the pipelined rate, and leakage is
// the table's static power of the CMOS area (cells excluded) over the latency, hand-solved.
TEST(Pricing, StagesThroughputAndLeakageByHand) {
  ChipSpec chip;
  chip.name = "hand";
  chip.dataflow.activations_local = false;
  ActionCounts c;
  c.samples = 1;
  c.converters.push_back(TileConverters{0, 8, 8, 5, 6, "matrix"});
  c.converters.push_back(TileConverters{1, 8, 8, 5, 6, "matrix"});
  MatrixActivity enc, dec;
  enc.name = enc.group = "encoder";
  dec.name = dec.group = "decoder";
  enc.vectors = 4, dec.vectors = 1;
  enc.dac_bits = dec.dac_bits = 5;
  enc.adc_bits = dec.adc_bits = 6;
  enc.conversions_per_tile[0] = 10;
  dec.conversions_per_tile[1] = 2;
  enc.dac_conversions = 80, dec.dac_conversions = 20;  // 5-bit DAC: m = 4
  enc.g_v2_uS = 1500, dec.g_v2_uS = 500;
  enc.adc_conversions[AdcKey{6, 5, 0}] = 40, dec.adc_conversions[AdcKey{6, 5, 0}] = 10;
  c.matrices[0] = enc, c.matrices[1] = dec;
  c.dac_conversions[5] = 100, c.g_v2_uS[5] = 2000, c.adc_conversions[AdcKey{6, 5, 0}] = 50;
  ModelComplexity model;
  model.macs_per_inference = 100;
  ActionCounts all_digital;
  all_digital.samples = 1;
  all_digital.digital_macs = 100;
  TechTable t = round_numbers();
  t.leakage.uW_per_mm2 = 1000;

  const EnergyReport r = price(c, all_digital, model, chip, t);
  // Encoder: DAC 80 x 3 = 240, array 1500 x 0.04 x 18 x 1e-3 = 1.08, ADC 40 x 4.9 = 196.
  // Decoder: DAC 20 x 3 = 60, array 500 x 0.04 x 18 x 1e-3 = 0.36, ADC 10 x 4.9 = 49.
  EXPECT_NEAR(r.stage_energy_pJ.at("encoder").at("dac"), 240.0, 1e-9);
  EXPECT_NEAR(r.stage_energy_pJ.at("encoder").at("array"), 1.08, 1e-12);
  EXPECT_NEAR(r.stage_energy_pJ.at("encoder").at("adc"), 196.0, 1e-9);
  EXPECT_NEAR(r.stage_energy_pJ.at("decoder").at("dac"), 60.0, 1e-9);
  EXPECT_NEAR(r.stage_energy_pJ.at("decoder").at("array"), 0.36, 1e-12);
  EXPECT_NEAR(r.stage_energy_pJ.at("decoder").at("adc"), 49.0, 1e-9);
  for (const char* k : {"dac", "array", "adc"}) {
    EXPECT_NEAR(r.stage_energy_pJ.at("encoder").at(k) + r.stage_energy_pJ.at("decoder").at(k), r.breakdown_pJ.at(k),
                1e-9) << k;
  }
  // Latency: encoder 4 x (1 + 18 + 5 x 11) = 296 ns, decoder 1 x (1 + 18 + 1 x 11) = 30 ns, no
  // digital work: one after another 326 ns; pipelined, the encoder's 296 ns sets the rate.
  EXPECT_NEAR(r.latency_ns, 326.0, 1e-9);
  EXPECT_NEAR(r.throughput_per_s, 1e9 / 326.0, 1e-3);
  EXPECT_NEAR(r.pipelined_throughput_per_s, 1e9 / 296.0, 1e-3);
  EXPECT_EQ(r.critical_stage, "encoder");
  // Leakage: CMOS area = 16 DACs x 2 um2 + 4 ADCs x 160 um2 + digital 2 x 0.001 + 0.01 mm2 +
  // buffer 8e-4 mm2 = 0.0134992 mm2; x 1000 uW/mm2 x 326 ns x 1e-3 = 4.4007392 pJ.
  const double cmos_mm2 = 16 * 2e-6 + 4 * 160e-6 + 0.012 + 8e-4;
  EXPECT_NEAR(r.area_mm2 - r.area_breakdown_mm2.at("cells"), cmos_mm2, 1e-15);
  EXPECT_NEAR(r.static_power_uW, 1000 * cmos_mm2, 1e-9);
  EXPECT_NEAR(r.breakdown_pJ.at("leakage"), 1000 * cmos_mm2 * 326.0 * 1e-3, 1e-9);
  double sum = 0;
  for (const auto& [k, v] : r.breakdown_pJ) sum += v;
  EXPECT_NEAR(r.energy_pJ, sum, 1e-9);
  // The baseline leaks over its own area and latency, at the same rate.
  EXPECT_NEAR(r.int8.breakdown_pJ.at("leakage").get<double>(), 1000 * r.int8.area_mm2 * r.int8.latency_ns * 1e-3,
              1e-9);
}

}  // namespace
}  // namespace qs4d
