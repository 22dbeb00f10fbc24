// The memory hierarchy: where the dataflow puts each digital operand, and what moving it costs.
//
// Levels (technology table, "memory"): registers, a unit's local storage, the global buffer,
// DRAM. An operand's bits at a level cost bits x the level's energy per bit (SRAM levels: the
// published energy per bit at their capacity); accesses are bits / the level's access width.
// Capacities are per unit: each layer's recurrence unit has its own local storage, sized to
// what it holds up to the table's capacity, and priced at that size.
#include <algorithm>
#include <cmath>

#include "energy/energy.h"

namespace qs4d {
namespace {

using Level = TechTable::Memory::Level;

MemoryLine line(const std::string& operand, const std::string& level_name, const Level& level,
                double bits, const std::string& note) {
  return MemoryLine{operand, level_name, bits / level.bits_per_access, bits, bits * level.pJ_per_bit, note};
}

void push(std::vector<MemoryLine>& out, MemoryLine l) {
  if (l.bits > 0) out.push_back(std::move(l));
}

std::string activation_level(const DataflowSpec& d) { return d.activations_local ? "local" : "global_buffer"; }
const Level& activation_storage(const DataflowSpec& d, const TechTable& t) {
  return d.activations_local ? t.memory.local : t.memory.global_buffer;
}

// The SSM state and parameters of a digital recurrence. The state is the unit's accumulator and
// comes first in its local storage; the parameters take what room is left (all, a share, or
// none when the dataflow streams them), are filled once per batch from the global buffer, and
// the rest is read from the global buffer at every step.
void recurrence_lines(const ActionCounts& c, const DataflowSpec& d, const TechTable& t, double scale,
                      std::vector<MemoryLine>& out) {
  Level local = t.memory.local;
  local.capacity_bytes = local_storage_bytes(c, d, t, scale);
  local.pJ_per_bit = t.memory.sram_energy_pJ_per_bit(local.capacity_bytes);
  const Level& global = t.memory.global_buffer;
  const double capacity = local.capacity_bytes * 8;
  double state_bits = 0;
  if (const auto it = c.operands.find("ssm_state"); it != c.operands.end()) {
    const OperandTraffic& s = it->second;
    state_bits = s.footprint_bits * scale;
    const double held = state_bits > 0 ? std::min(1.0, capacity / state_bits) : 1.0;
    const double bits = (s.read_bits + s.write_bits) * scale;
    push(out, line("ssm_state", "local", local, bits * held, "read and written at every step"));
    push(out, line("ssm_state", "global_buffer", global, bits * (1 - held),
                   "the share beyond the local storage, at every step"));
  }
  if (const auto it = c.operands.find("ssm_parameters"); it != c.operands.end()) {
    const OperandTraffic& p = it->second;
    const double footprint = p.footprint_bits * scale;
    const double room = std::max(0.0, capacity - state_bits);
    const double held = !d.ssm_parameters_local || footprint <= 0 ? 0.0 : std::min(1.0, room / footprint);
    const double fill = footprint * p.units * held / static_cast<double>(d.batch);
    const std::string per_batch = d.batch == 1 ? "once per inference" : "once per batch of " + std::to_string(d.batch);
    push(out, line("ssm_parameters", "global_buffer", global, fill, "fill of the local storage, " + per_batch));
    push(out, line("ssm_parameters", "local", local, fill, "written by the fill"));
    push(out, line("ssm_parameters", "local", local, p.read_bits * scale * held,
                   "held for the sequence, read at every step"));
    push(out, line("ssm_parameters", "global_buffer", global, p.read_bits * scale * (1 - held),
                   d.ssm_parameters_local ? "the share that does not fit, streamed at every step"
                                          : "streamed at every step (dataflow)"));
  }
}

}  // namespace

double local_storage_bytes(const ActionCounts& c, const DataflowSpec& d, const TechTable& t, double scale) {
  double need = 0;
  for (const auto& [name, o] : c.operands) {
    if (name == "ssm_state" || d.ssm_parameters_local) need += o.footprint_bits * scale / 8;
  }
  return std::min(need, t.memory.local.capacity_bytes);
}

double memory_area_mm2(const ActionCounts& c, const DataflowSpec& d, const TechTable& t, double scale) {
  const auto it = c.operands.find("ssm_parameters");
  const double units = it == c.operands.end() ? 0.0 : it->second.units;
  return (t.memory.global_buffer.capacity_bytes * t.memory.global_buffer.area_um2_per_bit +
          units * local_storage_bytes(c, d, t, scale) * t.memory.local.area_um2_per_bit) * 8e-6;
}

std::vector<MemoryLine> memory_lines(const ActionCounts& c, const DataflowSpec& d, const TechTable& t,
                                     double activation_bits) {
  const double scale = activation_bits / t.memory.activation_bits;
  std::vector<MemoryLine> out;
  const std::string level = activation_level(d);
  push(out, line("activations", level, activation_storage(d, t), c.buffer_read_bits * scale, "read between stages"));
  push(out, line("activations", level, activation_storage(d, t), c.buffer_write_bits * scale, "written between stages"));
  recurrence_lines(c, d, t, scale, out);
  return out;
}

DigitalBaseline digital_baseline(const ActionCounts& all_digital, const ModelComplexity& model,
                                 const DataflowSpec& d, const TechTable& t, const std::string& precision,
                                 double weight_bits) {
  DigitalBaseline b;
  b.precision = precision;
  const bool checkpoint = precision == "checkpoint";
  // FP32 runs (and a float checkpoint at its own precision) move 32-bit activations.
  const double a = precision == "fp32" || weight_bits > 8 ? 32.0 : t.memory.activation_bits;
  const auto batch = static_cast<double>(d.batch);
  const auto& m = t.memory;
  b.memory = memory_lines(all_digital, d, t, a);

  // Weights: fetched once per batch from their home into the PE registers, then reused by every
  // MAC of every step; the PE array tiles each matrix, so inputs are re-read once per column
  // pass and partial sums spilled and read back once per extra row pass.
  double weights = 0, register_reads = 0, input_rereads = 0, partial_sums = 0;
  const auto rows = static_cast<double>(t.baseline.pe_rows), cols = static_cast<double>(t.baseline.pe_cols);
  for (const ModelComplexity::Matrix& w : model.matrices) {
    const double bits = checkpoint ? w.weight_bits : weight_bits;
    weights += w.inputs * w.outputs * bits;
    register_reads += w.vectors * w.inputs * w.outputs * bits;
    input_rereads += w.vectors * w.inputs * (std::ceil(w.outputs / cols) - 1) * a;
    partial_sums += w.vectors * w.outputs * (std::ceil(w.inputs / rows) - 1) * 2 * a;
  }
  const double sram_bits = m.global_buffer.capacity_bytes * 8;
  const double in_sram = weights > 0 ? std::min(1.0, sram_bits / weights) : 1.0;
  b.weights_in_sram = in_sram >= 1.0;
  b.dram_fraction = 1.0 - in_sram;
  b.weight_fetches_per_inference = 1.0 / batch;
  const std::string per_batch = d.batch == 1 ? "once per inference" : "once per batch of " + std::to_string(d.batch);
  std::vector<MemoryLine> weight_lines;
  push(weight_lines, line("weights", "global_buffer", m.global_buffer, weights * in_sram / batch,
                          "each weight fetched " + per_batch));
  push(weight_lines, line("weights", "dram", m.dram, weights * (1 - in_sram) / batch,
                          "the share beyond the global buffer, fetched " + per_batch));
  push(weight_lines, line("weights", "register", m.reg, weights / batch, "written into the PE array"));
  push(weight_lines, line("weights", "register", m.reg, register_reads, "read by every MAC"));
  const std::string level = activation_level(d);
  push(b.memory, line("activations", level, activation_storage(d, t), input_rereads,
                      "inputs re-read once per extra column pass of the PE array"));
  push(b.memory, line("partial_sums", level, activation_storage(d, t), partial_sums,
                      "spilled and read back once per extra row pass"));
  double fetch_pJ = 0, buffer_pJ = 0;
  for (const MemoryLine& l : weight_lines) fetch_pJ += l.pJ;
  for (const MemoryLine& l : b.memory) buffer_pJ += l.pJ;
  b.memory.insert(b.memory.begin(), weight_lines.begin(), weight_lines.end());

  const double macs = all_digital.digital_macs;
  const double mac_pJ = macs * (weight_bits > 8 ? t.baseline.mac_fp32_pJ : t.baseline.mac_int8_pJ);
  const double glue_pJ = glue_energy_pJ(all_digital, t);
  b.energy_pJ = mac_pJ + fetch_pJ + glue_pJ + buffer_pJ;
  b.breakdown_pJ = nlohmann::json{{"mac", mac_pJ}, {"weight_fetch", fetch_pJ}, {"digital", glue_pJ}, {"buffer", buffer_pJ}};
  b.dataflow = "weight-stationary " + std::to_string(t.baseline.pe_rows) + " x " +
               std::to_string(t.baseline.pe_cols) + " PE array: each weight fetched " + per_batch + " from " +
               (b.weights_in_sram ? "the global buffer" : "the global buffer and DRAM") +
               " and reused across the " + std::to_string(model.length) + " steps; " +
               std::to_string(static_cast<int>(a)) + "-bit activations in " +
               (d.activations_local ? "local buffers" : "the global buffer") + "; SSM parameters " +
               (d.ssm_parameters_local ? "held in each recurrence unit's local storage as far as they fit"
                                       : "streamed from the global buffer");
  const double ops = all_digital.digital_adds + all_digital.digital_muls + macs + all_digital.nonlinear +
                     all_digital.shift_adds;
  b.latency_ns = macs / t.baseline.macs_per_ns + (ops - macs) / t.digital.ops_per_ns;
  b.area_mm2 = t.baseline.mac_area_mm2 + t.digital.area_mm2_shared +
               memory_area_mm2(all_digital, d, t, a / m.activation_bits);
  // All of the baseline's area is CMOS: it leaks for its whole latency, as the chip's does.
  const double leakage_pJ = t.leakage.uW_per_mm2 * b.area_mm2 * b.latency_ns * 1e-3;  // uW x ns = 1e-3 pJ
  b.energy_pJ += leakage_pJ;
  b.breakdown_pJ["leakage"] = leakage_pJ;
  return b;
}

}  // namespace qs4d
