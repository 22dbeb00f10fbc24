// Action counts of one inference: the analog executor's own (run on real inputs) plus the
// model's digital glue, counted from its shapes.
#include <algorithm>

#include "energy/energy.h"

namespace qs4d {
namespace {

bool is_crossbar_weight(const std::string& name) {
  return name == "encoder.weight" || name == "decoder.weight" ||
         name.find("output_linear.0.weight") != std::string::npos;
}

}  // namespace

ModelComplexity complexity(const S4DModel& model, int64_t length, const MappedModel& map) {
  const ModelConfig& c = model.config();
  ModelComplexity out;
  for (const auto& [group, n] : model.parameter_counts()) out.parameters += n;
  out.weight_bytes = model.weight_bytes();
  double bits = 0, count = 0;
  for (const auto& [name, tensor] : model.tensors()) {
    if (!is_crossbar_weight(name)) continue;
    const auto n = static_cast<double>(tensor.values.size());
    const auto q = model.quant().find(name);
    bits += n * (q == model.quant().end() ? 32.0 : static_cast<double>(q->second.bits));
    count += n;
  }
  out.weight_bits_mean = count > 0 ? bits / count : 0;
  const auto L = static_cast<double>(length), H = static_cast<double>(c.d_model);
  const auto M = static_cast<double>(c.modes());
  auto bits_of = [&](const std::string& name) {
    const auto q = model.quant().find(name);
    return q == model.quant().end() ? 32.0 : static_cast<double>(q->second.bits);
  };
  // MACs, and the bits of the weight each one uses (a digital accelerator fetches them).
  double macs = L * c.d_input * H, bit_macs = macs * bits_of("encoder.weight");
  for (int64_t i = 0; i < c.n_layers; ++i) {
    const std::string p = "s4_layers." + std::to_string(i) + ".";
    const double proj = L * H * 2 * H, ssm = L * H * (8 * M + 1);
    macs += proj + ssm;
    bit_macs += proj * bits_of(p + "output_linear.0.weight") + ssm * bits_of(p + "kernel.Abar");
  }
  macs += H * c.d_output;
  bit_macs += H * c.d_output * bits_of("decoder.weight");
  out.matrices.push_back({"encoder.weight", static_cast<double>(c.d_input), H, L, bits_of("encoder.weight")});
  for (int64_t i = 0; i < c.n_layers; ++i) {
    const std::string name = "s4_layers." + std::to_string(i) + ".output_linear.0.weight";
    out.matrices.push_back({name, H, 2 * H, L, bits_of(name)});
  }
  out.matrices.push_back({"decoder.weight", H, static_cast<double>(c.d_output), 1, bits_of("decoder.weight")});
  out.macs_per_inference = macs;
  out.mac_weight_bits = macs > 0 ? bit_macs / macs : 32.0;
  out.length = length;
  out.devices_used = map.devices_used();
  out.devices_allocated = map.devices_allocated();
  out.tiles = static_cast<int64_t>(map.tiles.size());
  return out;
}

void add_digital_glue(const S4DModel& model, int64_t length, const ChipSpec& chip,
                      int activation_bits, ActionCounts& k) {
  const ModelConfig& c = model.config();
  const auto L = static_cast<double>(length), H = static_cast<double>(c.d_model);
  const auto M = static_cast<double>(c.modes()), a = static_cast<double>(activation_bits);
  // A matrix the chip leaves digital: its MACs, each input vector read and each output written.
  auto digital_matrix = [&](double vectors, double inputs, double outputs) {
    k.digital_macs += vectors * inputs * outputs;
    k.buffer_read_bits += vectors * inputs * a;
    k.buffer_write_bits += vectors * outputs * a;
  };
  if (!chip.analog_encoder) digital_matrix(L, static_cast<double>(c.d_input), H);
  k.digital_adds += L * H;  // encoder bias
  for (int64_t i = 0; i < c.n_layers; ++i) {
    if (!chip.analog_recurrence) {
      // x = Abar x + Bbar u (complex), y = 2 Re(C x) + D u: 8 real MACs per mode and step, one
      // for the skip. Every step reads the six words of mode parameters (Abar, Bbar, C) and the
      // two of the state, and writes the state; the dataflow decides where they live.
      k.digital_macs += L * H * (8 * M + 1);
      OperandTraffic& params = k.operands["ssm_parameters"];
      params.footprint_bits = H * 6 * M * a;
      params.units += 1;  // one recurrence unit per layer
      params.read_bits += L * H * 6 * M * a;
      OperandTraffic& state = k.operands["ssm_state"];
      state.footprint_bits = H * 2 * M * a;
      state.units += 1;
      state.read_bits += L * H * 2 * M * a;
      state.write_bits += L * H * 2 * M * a;
    }
    k.nonlinear += H * L;                                      // GELU
    if (!chip.analog_projections) digital_matrix(L, H, 2 * H);
    k.digital_adds += 2 * H * L;                               // projection bias
    k.nonlinear += H * L;                                      // GLU sigmoid
    k.digital_muls += H * L;                                   // GLU gate
    k.digital_adds += H * L;                                   // residual
    if (c.norm == NormKind::kLayer) {
      k.digital_adds += 4 * H * L;  // mean, variance, centring, shift
      k.digital_muls += 3 * H * L;  // square, normalise, scale
      k.nonlinear += L;             // 1 / sqrt
    } else {
      k.digital_adds += H * L;      // batch norm folded into one affine map
      k.digital_muls += H * L;
    }
    // Each digital stage reads its inputs and writes its outputs: SSM, GELU + GLU, residual, norm.
    k.buffer_read_bits += 6 * H * L * a;
    k.buffer_write_bits += 4 * H * L * a;
  }
  k.digital_adds += H * L;  // mean pool
  k.digital_muls += H;
  if (!chip.analog_decoder) digital_matrix(1, H, static_cast<double>(c.d_output));
  k.digital_adds += c.d_output;  // decoder bias
}

ActionCounts per_inference(ActionCounts counted, const S4DModel& model, int64_t length, const ChipSpec& chip,
                           int activation_bits) {
  if (counted.samples < 1) throw UsageError("energy: no samples were counted");
  const double programming = counted.programming_pulses;
  counted.scale(1.0 / static_cast<double>(counted.samples));
  counted.programming_pulses = programming;  // once per chip, not per inference
  counted.samples = 1;
  add_digital_glue(model, length, chip, activation_bits, counted);
  return counted;
}

}  // namespace qs4d

namespace qs4d {

ActionCounts all_digital_counts(const S4DModel& model, int64_t length, int activation_bits) {
  ChipSpec digital;
  digital.analog_encoder = digital.analog_projections = digital.analog_decoder = false;
  digital.analog_recurrence = false;
  ActionCounts c;
  c.samples = 1;
  add_digital_glue(model, length, digital, activation_bits, c);
  return c;
}

EnergyReport estimate_energy(const S4DModel& model, int64_t length, const MappedModel& map, const ChipSpec& chip,
                             const TechTable& tech, const ActionCounts& per_inference_counts) {
  const ActionCounts digital = all_digital_counts(model, length, tech.memory.activation_bits);
  EnergyReport report = price(per_inference_counts, digital, complexity(model, length, map), chip, tech);
  report.sensitivity = energy_sensitivity(report, digital, chip, tech);
  return report;
}

}  // namespace qs4d
