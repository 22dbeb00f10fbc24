// energy: what one inference costs on a chip, in energy, time and area, against a digital
// accelerator running the same model.
//
// The analog executor (sim/) counts its actions while it runs real inputs (ActionCounts; run/
// runs it for that); this module adds the model's digital glue, counted from its shapes, and
// prices everything with a technology table (data/energy/<name>.json). A new technology is a new
// table, not a new simulation: counts never depend on the table. It reads the chip description
// (chip/) and never the simulator: it may include core/, models/, mapping/ and chip/.
//
// Energy of one product on one tile, per read phase (m = input magnitude bits = max(1, DAC
// bits - 1), ideal converters priced as 8 bits):
//   DAC     rows x (dac.energy_pJ_base + dac.energy_pJ_per_bit m)
//   array   sum over cells of G v^2 x V_read^2 x t_read,  t_read = t_read_ns_base + t_read_ns_per_bit m
//   ADC     per conversion: model "neurosim_sar": P (bits + 1) / f_clk with
//             P = (a bits + b) uW + c exp(-k log10(R_col 0.5 V / V_read)) W, x (1 + 1.3e-3 (T - 300))
//           (NeuroSim's SarADC::GetColumnPower); model "linear": base + per_bit bits;
//           both plus energy_pJ_per_input_bit m (integrating neurons that work once per input bit)
//   digital adds, multiplies, MACs, nonlinear functions, shift-adds at the table's per-op energy
//   memory  every operand the digital side moves, at the level the chip's dataflow puts it
//           (memory.cpp): bits x the level's energy per bit, SRAM levels priced by capacity
//           from published points of SRAM energy against size (log-log interpolation)
// Leakage  the table's static power per mm^2 of CMOS area x latency (chip and baseline alike).
// Latency: the model's matrix products run one after another, each vector taking, per phase,
// DAC + read + ADC time with a tile's conversions shared among its ADCs (tiles of one product in
// parallel); the digital glue adds ops / digital.ops_per_ns. Area: cells, one DAC per row, one
// ADC per columns_per_adc columns, a digital unit per tile, plus the shared digital unit.
// Digital baseline: a weight-stationary accelerator running the same model's MACs at INT8 or
// FP32 and once more at the checkpoint's own stored precision (what QAT saves on a digital
// accelerator): each weight fetched once per batch from the global buffer when it fits (DRAM
// for the share that does not) into its processing element's register and reused across the L
// steps of the sequence; inputs re-read once per column pass of its PE array and partial sums
// spilled once per row pass; the same digital glue and the same SSM dataflow as the chip.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "chip/chip.h"
#include "mapping/mapping.h"
#include "core/counts.h"
#include "models/model.h"

namespace qs4d {

// An ideal converter (0 bits in the chip spec: no quantization in the simulation) is priced as
// one of this many bits: it still has to exist on the chip.
inline constexpr int kIdealConverterPricedBits = 8;

struct TechTable {
  std::string name, description;
  double feature_nm = 0;
  struct Dac {
    double energy_pJ_base = 0, energy_pJ_per_bit = 0, latency_ns = 0, area_um2_per_row = 0;
  } dac;
  struct Array {
    double v_read_V = 0, t_read_ns_base = 0, t_read_ns_per_bit = 0, cell_area_um2 = 0;
  } array;
  struct Adc {
    bool neurosim_sar = true;
    double a_uW = 0, b_uW = 0, c_W = 0, k = 0, temperature_K = 300, clock_GHz = 1;  // neurosim_sar
    double energy_pJ_base = 0, energy_pJ_per_bit = 0;                                // linear
    double energy_pJ_per_input_bit = 0;
    double latency_ns_base = 0, latency_ns_per_bit = 0, latency_ns_per_input_bit = 0;
    int64_t columns_per_adc = 1;
    double area_um2_base = 0, area_um2_per_bit = 0;
  } adc;
  struct Digital {
    double add_pJ = 0, mul_pJ = 0, mac_pJ = 0, nonlinear_pJ = 0, shift_add_pJ = 0;
    double ops_per_ns = 1, area_mm2_per_tile = 0, area_mm2_shared = 0;
  } digital;
  struct Programming {
    double pulse_pJ = 0, pulse_ns = 0;
  } programming;
  // Static power of the CMOS area (converters, digital units, SRAMs; not the memristor cells),
  // drawn for the whole latency of an inference, by the chip and by the digital baseline alike.
  struct Leakage {
    double uW_per_mm2 = 0;
  } leakage;
  struct Baseline {
    double mac_int8_pJ = 0, mac_fp32_pJ = 0, macs_per_ns = 1, mac_area_mm2 = 0;
    int64_t pe_rows = 1, pe_cols = 1;  // the weight-stationary PE array
  } baseline;
  // The memory hierarchy: registers and DRAM at a fixed energy per bit, the local storage of a
  // unit and the global buffer as SRAMs priced by their capacity.
  struct Memory {
    int activation_bits = 8;
    std::vector<double> sram_capacity_bytes, sram_pJ_per_bit;  // published points, ascending
    struct Level {
      double capacity_bytes = 0, bits_per_access = 64, pJ_per_bit = 0, area_um2_per_bit = 0;
    } reg, local, global_buffer, dram;
    // Energy per bit of an SRAM of this capacity: log-log interpolation between the published
    // points; below the smallest, the smallest point's figure (an upper bound); above the
    // largest, the last segment's slope. Outside the points *note says so.
    double sram_energy_pJ_per_bit(double capacity_bytes, std::string* note = nullptr) const;
  } memory;
  std::map<std::string, std::string> citations;  // per section

  // Strict: every section, key and citation required; unknown keys are errors naming their path.
  static TechTable from_json(const nlohmann::json& j, const std::string& source);
  // NeuroSim-style SAR ADC energy of one conversion (pJ), or the linear model's.
  double adc_energy_pJ(int bits, int input_bits, double r_col_ohm) const;
  double adc_latency_ns(int bits, int input_bits) const;
};

// A table by name (data/energy/NAME.json) or path.
TechTable load_tech(const std::string& name_or_path);

// Input magnitude bits as priced: max(1, bits - 1) for a signed converter, 8 for an ideal one.
int magnitude_bits(int dac_bits);

// The model's shape-derived figures, so checkpoints can be compared side by side.
struct ModelComplexity {
  int64_t parameters = 0;
  int64_t weight_bytes = 0;       // as stored for inference (/quant bits, else 32-bit floats)
  double weight_bits_mean = 0;    // over crossbar weights (encoder, projections, decoder)
  double macs_per_inference = 0;  // matrices plus the SSM recurrence, at length L
  double mac_weight_bits = 32;    // bits of the weight a MAC uses, averaged over the MACs
  int64_t length = 0;
  int64_t devices_used = 0, devices_allocated = 0, tiles = 0;
  // Each weight matrix (encoder, projections, decoder): inputs, outputs, vectors per inference.
  struct Matrix {
    std::string name;
    double inputs = 0, outputs = 0, vectors = 0, weight_bits = 32;
  };
  std::vector<Matrix> matrices;
};
ModelComplexity complexity(const S4DModel& model, int64_t length, const MappedModel& map);

// Counts summed over `counted.samples` inferences (as eval --chip gathers them) made per
// inference, with the model's digital glue added; programming pulses stay per chip.
ActionCounts per_inference(ActionCounts counted, const S4DModel& model, int64_t length, const ChipSpec& chip,
                           int activation_bits);
// The digital glue of one inference (norms, activations, GLU, residuals, pooling, biases, the
// SSM when it is digital, matrices the chip leaves digital), added to `counts`.
void add_digital_glue(const S4DModel& model, int64_t length, const ChipSpec& chip,
                      int activation_bits, ActionCounts& counts);

// Bits one operand moves at one level of the hierarchy per inference, and their energy.
struct MemoryLine {
  std::string operand, level;
  double accesses = 0, bits = 0, pJ = 0;
  std::string note;
};

struct DigitalBaseline {
  std::string precision;  // "int8", "fp32" or "checkpoint"
  std::string dataflow;   // in words, for the report
  bool weights_in_sram = true;
  double dram_fraction = 0;  // share of the weights beyond the global buffer (fetched from DRAM)
  double weight_fetches_per_inference = 0;  // from their home level, per weight: 1 / batch
  double energy_pJ = 0, latency_ns = 0, area_mm2 = 0;
  nlohmann::json breakdown_pJ;
  std::vector<MemoryLine> memory;
};

// How the headline ratio moves with one assumption.
struct SensitivityRow {
  std::string assumption, value;
  double analog_pJ = 0, int8_pJ = 0, fp32_pJ = 0;
};

struct EnergyReport {
  std::string tech;
  double energy_pJ = 0;                 // per inference
  std::map<std::string, double> breakdown_pJ;  // dac, array, adc, digital, buffer (= memory)
  double latency_ns = 0;
  double area_mm2 = 0;
  std::map<std::string, double> area_breakdown_mm2;
  double tops_per_w = 0;                // system: 2 x model MACs per inference / all the energy
  // Macro: the MACs the crossbars do (the model's less those left digital) over the crossbars'
  // own energy with their converters (dac, array, adc): what a macro paper quotes.
  double analog_macs = 0, macro_tops_per_w = 0;
  // Latency per stage (each matrix group, and the digital work), in ns; the stages run one after
  // another, so the largest is the critical one.
  std::map<std::string, double> latency_breakdown_ns;
  std::string critical_stage;
  double edp_pJ_ns = 0;                 // energy x latency
  // Inferences per second one after another (1 / latency), and pipelined: each stage on its own
  // tiles (the digital glue on the shared digital unit) working on the next input as soon as it
  // is free, so the slowest stage sets the rate.
  double throughput_per_s = 0, pipelined_throughput_per_s = 0;
  // Each analog stage's own converter and array energy per inference, pJ: {dac, array, adc}
  // (their sums are breakdown_pJ's); the digital glue and the memory are the shared unit's.
  std::map<std::string, std::map<std::string, double>> stage_energy_pJ;
  double static_power_uW = 0;           // leakage x CMOS area; its energy is breakdown_pJ["leakage"]
  double programming_energy_pJ = 0, programming_time_ns = 0;  // once per chip
  DigitalBaseline int8, fp32;
  DigitalBaseline native;               // weights at their stored bits (FP32 MACs above 8 bits)
  ModelComplexity model;
  ActionCounts counts;                  // per inference, as priced
  std::vector<MemoryLine> memory;       // every joule of the memory share, by operand and level
  std::vector<MemoryLine> memory_if_streamed;  // the SSM parameters fetched at every step instead
  nlohmann::json assumptions;           // what the figures assume, and any range flags
  std::vector<SensitivityRow> sensitivity;  // filled by energy_sensitivity()
  nlohmann::json to_json() const;       // the keys of `qs4dsim energy --json`
};

// The same model entirely digital (every matrix and the SSM recurrence as MACs, plus the glue):
// what the digital baseline is priced from.
ActionCounts all_digital_counts(const S4DModel& model, int64_t length, int activation_bits);

// Energy of the digital glue of counts (adds, multiplies, nonlinear functions, shift-adds).
double glue_energy_pJ(const ActionCounts& counts, const TechTable& tech);
// Energy of the converters, array and digital work of counts: dac, array, adc, digital (pJ).
std::map<std::string, double> energy_breakdown_pJ(const ActionCounts& counts, const TechTable& tech);

// The memory traffic of counts, placed by the dataflow and priced by the hierarchy (memory.cpp).
// `activation_bits` scales the activation and SSM words (the table's width is what counts hold).
std::vector<MemoryLine> memory_lines(const ActionCounts& counts, const DataflowSpec& dataflow,
                                     const TechTable& tech, double activation_bits);
// The local storage of one recurrence unit: what it holds (the SSM state, and the parameters
// when the dataflow keeps them), up to the table's capacity. `scale`: word width / table's.
double local_storage_bytes(const ActionCounts& counts, const DataflowSpec& dataflow, const TechTable& tech,
                           double scale);
// Area of the global buffer and of every recurrence unit's local storage (mm^2).
double memory_area_mm2(const ActionCounts& counts, const DataflowSpec& dataflow, const TechTable& tech, double scale);
// The digital baseline at one precision (weights and MACs of `weight_bits`).
DigitalBaseline digital_baseline(const ActionCounts& all_digital, const ModelComplexity& model,
                                 const DataflowSpec& dataflow, const TechTable& tech,
                                 const std::string& precision, double weight_bits);

// Prices per-inference counts of the chip and of the all-digital run.
// Converter bits and tile geometry come from the counts (the periphery's own record), the
// dataflow from the chip: pricing never reads converter bits from the chip spec.
EnergyReport price(const ActionCounts& per_inference, const ActionCounts& all_digital,
                   const ModelComplexity& model, const ChipSpec& chip, const TechTable& tech);

// A report from per-inference counts (eval --chip's own run, or run/'s count_inference).
EnergyReport estimate_energy(const S4DModel& model, int64_t length, const MappedModel& map, const ChipSpec& chip,
                             const TechTable& tech, const ActionCounts& per_inference_counts);

// The report priced again with one assumption changed at a time: local storage and global
// buffer capacity, batch, where activations and SSM parameters live. Counts are reused.
std::vector<SensitivityRow> energy_sensitivity(const EnergyReport& report, const ActionCounts& all_digital,
                                               const ChipSpec& chip, const TechTable& tech);

}  // namespace qs4d
