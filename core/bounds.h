// Physical bounds of the numeric keys of every spec (issue #31): one table, so each limit is stated
// once with the reason it holds, every reader refuses by it in the same words ("is X, expected
// LO .. HI UNIT (why)", X as given), and docs/formats.md's table is tested against it
// (tests/test_chip.cpp). A bound is wide: it refuses what no device, circuit or converter can be
// (a negative spread, a resistance of 1e-320 ohm, a 60-bit ADC), never a design choice; where a
// source states a narrower range, the model's own range check says so (docs/physics.md).
// Included by the spec readers (chip/, devices/, mapping/, energy/) and the circuit verb.
#pragma once

#include <string>
#include <vector>

namespace qs4d {

struct PhysicalBound {
  const char* keys;   // the keys it bounds, as docs/formats.md names them
  double lo, hi;      // inclusive
  bool zero_allowed;  // 0 is also accepted below lo: an ideal element, or the effect switched off
  const char* unit;
  const char* why;
  bool admits(double x) const { return (zero_allowed && x == 0) || (x >= lo && x <= hi); }
};

namespace bounds {
// Chip periphery and circuit
inline constexpr PhysicalBound kResistance{
    "periphery.row_wire_ohm, col_wire_ohm, wire_resistance_ohm, driver_ohm, sense_ohm, access_ohm; circuit's "
    "resistances",
    1e-6, 1e9, true, "ohm",
    "0 joins the nodes; below a micro-ohm no wire, driver or sense stage exists, above a giga-ohm it is an open "
    "circuit"};
inline constexpr PhysicalBound kConverterBits{
    "periphery.dac_bits, adc_bits, state_dac_bits, state_adc_bits", 2, 24, true, "bits",
    "0 is an ideal converter; one bit holds no signed value, and no converter resolves 2^-24 of its range above "
    "thermal noise"};
inline constexpr PhysicalBound kOutputNoise{
    "periphery.output_noise", 0, 10, false, "of the ADC range",
    "at 10 the noise is ten full scales: no read-out at all"};
inline constexpr PhysicalBound kAdcHeadroom{
    "periphery.adc_headroom", 1, 1000, false, "x the calibrated peak",
    "below 1 the calibration's own peak clips; 1000x leaves no code for the signal at any width"};
inline constexpr PhysicalBound kDataflowBatch{
    "dataflow.batch", 1, 1e6, false, "inferences", "inferences sharing one load of the weights"};
inline constexpr PhysicalBound kSpareLines{
    "spares.rows, spares.cols", 0, 4096, false, "lines per tile", "no more spares than the largest tile's lines"};
// Mapping
inline constexpr PhysicalBound kTileSide{
    "mapping.tile_rows, tile_cols", 2, 4096, false, "lines",
    "published arrays hold 64 to 1024 lines; every tile is held densely (at most 2048 x 2048 cells)"};
inline constexpr PhysicalBound kBitsPerDevice{
    "mapping.bits_per_device", 1, 16, true, "bits", "0 stores each weight in one device; slices of 1..16 bits"};
// Device
inline constexpr PhysicalBound kConductance{
    "device.g_min_uS, g_max_uS", 0, 1e5, false, "uS",
    "0.1 S: a thousand times the largest window of any preset's source"};
inline constexpr PhysicalBound kWindowSpread{
    "device.window_dtod", 0, 0.5, false, "of the window",
    "a device-to-device spread of half the window leaves no window"};
inline constexpr PhysicalBound kSigmaScale{
    "device.programming.scale, read_noise.scale, drift.sigma_at[].scale", 0, 1e3, false, "x the source's fit",
    "a thousand times the source's spread: beyond any device"};
inline constexpr PhysicalBound kSigmaAbsolute{
    "device.programming.sigma_uS, read_noise.sigma_uS (constant)", 0, 1e5, false, "uS",
    "a spread of 0.1 S, as the conductance bound"};
inline constexpr PhysicalBound kSigmaRelative{
    "device.programming.relative, read_noise.relative (proportional)", 0, 10, false, "of G",
    "ten times the conductance itself"};
inline constexpr PhysicalBound kDriftScale{
    "device.drift.scale", 0, 1e3, false, "x the source's drift", "a thousand times the source's drift"};
inline constexpr PhysicalBound kDriftReference{
    "device.drift.t0_s", 1e-9, 1e9, false, "s", "a reference time from a nanosecond pulse to thirty years"};
inline constexpr PhysicalBound kDriftExponent{
    "device.drift.nu_mean, nu_std (a constant, or a, b, min, max of the clip)", -100, 100, false, "",
    "drift exponents and their spreads are fractions (PCM: about 0.05)"};
inline constexpr PhysicalBound kDriftMeanPerLn{
    "device.drift.mean_per_ln_s", -1e5, 1e5, false, "uS per unit of ln t", "the conductance bound per e-fold of time"};
inline constexpr PhysicalBound kDriftSpread{
    "device.drift.std_per_ln_s, std_uS", 0, 1e5, false, "uS (per unit of ln t)", "a spread, at most the conductance bound"};
inline constexpr PhysicalBound kVerifyTolerance{
    "device.write_verify.tolerance", 0, 1e5, false, "of the target, or uS",
    "when enabled also above 0 and at most 1 (relative) or the window's width (absolute)"};
inline constexpr PhysicalBound kVerifyIterations{
    "device.write_verify.max_iterations", 1, 1e4, false, "pulses", "a write-verify loop stops within 10,000 pulses"};
inline constexpr PhysicalBound kAccumulatedScale{
    "device.accumulated_noise.scale", 0, 1e3, false, "x the source's noise", "as the other noise scales"};
inline constexpr PhysicalBound kAccumulatedQ{
    "device.accumulated_noise.q_a, q_floor, q_max", 0, 10, false, "of G",
    "1/f noise amplitudes relative to G (aihwkit's PCM: 0.0088 .. 0.2)"};
inline constexpr PhysicalBound kAccumulatedShape{
    "device.accumulated_noise.q_b, k", -100, 100, false, "",
    "an exponent and a slope per decade (aihwkit's PCM: 0.65, 0.028)"};
inline constexpr PhysicalBound kReadTime{
    "device.accumulated_noise.t_read_s", 1e-12, 1e3, false, "s", "the duration of one read"};
inline constexpr PhysicalBound kStuckFraction{
    "device.stuck.at_min, at_max", 0, 1, false, "of the devices", "fractions (adding up to at most 1)"};
// Technology tables
inline constexpr PhysicalBound kTechFigure{
    "technology: every energy, area, time and count", 0, 1e12, false, "in its key's unit",
    "a figure a trillion times any published one is a unit error"};
}  // namespace bounds

// Every bound above, in the order docs/formats.md lists them.
inline const std::vector<const PhysicalBound*>& physical_bounds() {
  using namespace bounds;
  static const std::vector<const PhysicalBound*> all = {
      &kResistance,     &kConverterBits,   &kOutputNoise,      &kAdcHeadroom,      &kDataflowBatch,
      &kSpareLines,     &kTileSide,        &kBitsPerDevice,    &kConductance,      &kWindowSpread,
      &kSigmaScale,     &kSigmaAbsolute,   &kSigmaRelative,    &kDriftScale,       &kDriftReference,
      &kDriftExponent,  &kDriftMeanPerLn,  &kDriftSpread,      &kVerifyTolerance,  &kVerifyIterations,
      &kAccumulatedScale, &kAccumulatedQ,  &kAccumulatedShape, &kReadTime,         &kStuckFraction,
      &kTechFigure};
  return all;
}

// "0 or 1e-06 .. 1e+09 ohm" (format_number's shortest forms).
std::string range_text(const PhysicalBound& b);
// The table as docs/formats.md shows it (`qs4dsim presets --bounds` prints it; a test compares).
std::string physical_bounds_markdown();

}  // namespace qs4d
