// mapping: where every weight of an S4D model lives on which crossbar tile, as which conductance.
//
// The mapper is pure: the same model, spec and conductance window always give the same map, and
// it samples no noise (devices/ does that). It works in three steps:
//  1. logical matrices: the encoder (H x d_input), each layer's output projection (2H x H), the
//     decoder (d_output x H) and, for analog recurrence, each channel's real (2M+1) x (2M+1) block
//     mapping (x_{t-1}, u_t) to (x_t, y_t). Each becomes integer codes with one scale per output,
//     taken from the checkpoint's /quant specs (QAT) or quantized here (post-training).
//  2. encoding: a signed code becomes device levels, either a differential pair (G+ and G-) or
//     one device plus an offset, optionally bit-sliced over several devices with significance
//     factors 2^(k j). Level spacing is a whole multiple of the device's level spacing, so every
//     target sits exactly on a programmable level.
//  3. tiling: inputs drive rows and outputs are read on columns. Matrices larger than a tile
//     split over row tiles (partial sums added digitally) and column tiles; the recurrence
//     blocks are packed block-diagonally, never sharing a row or a column. Unused cells sit at
//     g_min, and each column's current is read relative to g_min times the tile's input sum
//     (measured on a reference column or computed digitally), which removes them exactly.
//
// Reading back: for output j of matrix m,
//   y_j = scale_j * ( sum_c sign_c * significance_c * (I_c - g_min * S_tile(c)) / step_m
//                     - offset_m * sum_i x_i )
// where c runs over the physical columns of output j, I_c is the column current with inputs x on
// the matrix's rows, S_tile(c) is the sum of the inputs applied to c's tile, step_m the
// conductance of one code step, offset_m = qmax_m for offset encoding and 0 otherwise.
// `ideal_mvm` evaluates exactly that with ideal devices; sim/ evaluates it with real ones.
//
// Also here: the post-training quantization study of single components (evaluate_ptq), which
// rounds with the mapper's post-training rule and runs the model digitally.
#pragma once

#include <cstdint>
#include <nlohmann/json_fwd.hpp>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "models/model.h"

namespace qs4d {

enum class Encoding { kDifferential, kOffset };
enum class OffsetReference { kColumn, kDigital };
enum class QuantSource { kAuto, kCheckpoint, kPostTraining };
enum class Granularity { kPerTensor, kPerColumn };

struct MappingSpec {
  int64_t tile_rows = 256;
  int64_t tile_cols = 256;
  Encoding encoding = Encoding::kDifferential;
  OffsetReference offset_reference = OffsetReference::kColumn;  // offset encoding only
  int bits_per_device = 0;  // 0: one device (or pair) per weight; k: slices of k bits
  // auto: /quant codes where the checkpoint has them, post-training quantization elsewhere.
  QuantSource quantization = QuantSource::kAuto;
  int weight_bits = 8;                          // post-training quantization bits
  Granularity granularity = Granularity::kPerColumn;  // post-training scale per output or tensor
  bool map_recurrence = false;                  // map the per-channel recurrence blocks
  int recurrence_bits = 8;                      // the blocks are always quantized here

  // Strict: unknown keys and wrong types throw SpecError naming "<path>.<key>".
  static MappingSpec from_json(const nlohmann::json& j, const std::string& path = "mapping");
  nlohmann::json to_json() const;
  static std::vector<std::string> keys();  // its JSON keys, from the one table that reads them
  void validate(const std::string& path = "mapping") const;
};

enum class MatrixKind { kEncoder, kOutputProjection, kDecoder, kRecurrence };
const char* to_string(MatrixKind kind);

using RowMatrixXi = Eigen::Matrix<int32_t, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

// A weight matrix W (outputs x inputs) = diag(scale) * codes.
struct QuantizedMatrix {
  std::string name;    // "encoder", "s4_layers.0.output_linear", "s4_layers.1.recurrence.7", ...
  MatrixKind kind = MatrixKind::kEncoder;
  int64_t layer = -1;    // S4D layer, -1 for encoder and decoder
  int64_t channel = -1;  // recurrence blocks only
  int bits = 8;
  bool from_checkpoint = false;  // codes and scales are the checkpoint's /quant ones
  RowMatrixXi codes;
  Eigen::VectorXd scale;         // per output row
  int64_t outputs() const { return codes.rows(); }
  int64_t inputs() const { return codes.cols(); }
  int32_t qmax() const { return (int32_t{1} << (bits - 1)) - 1; }
  RowMatrixXf dequantized() const;
  // Recurrence blocks of a checkpoint trained with its state on a grid (/state_quant): for each
  // state output (2M, re/im interleaved), the largest |value| the trained grid allows, in the
  // block's own state units (recurrence_state_ranges). Empty otherwise.
  Eigen::VectorXd state_range;
};

// Max-based symmetric quantization of w, one scale per output row (per column of the crossbar)
// or one for the whole matrix; a zero row or matrix gets scale 1 and zero codes.
QuantizedMatrix post_training(const Eigen::MatrixXd& w, int bits, Granularity granularity);
// The logical matrices of `model` as the spec asks for them (quantized; no devices involved).
std::vector<QuantizedMatrix> logical_matrices(const S4DModel& model, const MappingSpec& spec);
// The real (2M+1) x (2M+1) recurrence block of one channel, unquantized: rows are outputs
// (x_t re/im interleaved per mode, then y_t), columns inputs (x_{t-1} likewise, then u_t).
// state_unit = 0: the state as the model defines it; beta > 0: each mode's state scaled to
// beta x / Bbar, so its rows hold Abar and beta (what the mapper uses: quantized per output,
// those rows keep Abar's resolution whatever the size of Bbar). y is the same either way.
Eigen::MatrixXd recurrence_block(const S4DLayer& layer, int64_t channel, int64_t modes,
                                 double state_unit = 0.0);
// The trained grid's bounds in the block's state units: mode m's grid clamps Re x and Im x to
// R_m = step_m x (2^(bits-1) - 1); the block holds x~ = k_m x (k_m = beta / Bbar_m, or 1 when
// the state is not rescaled), whose parts are bounded by (|Re k_m| + |Im k_m|) R_m. One entry
// per state output (2M). Empty when the layer has no state grid.
Eigen::VectorXd recurrence_state_ranges(const S4DLayer& layer, int64_t channel, int64_t modes,
                                        double state_unit);
// The mapper's state unit for layer i: the checkpoint's Abar quantization scale x qmax when the
// layer's Abar is quantized (/quant), so the trained codes map back exactly, else the layer's
// largest |Re Abar| or |Im Abar|.
double recurrence_state_unit(const S4DModel& model, int64_t layer);

struct RowRole {
  int32_t matrix = -1;  // -1: unused row
  int32_t input = 0;
};
struct ColumnRole {
  int32_t matrix = -1;  // -1: unused, kReferenceColumn: the tile's g_min reference
  int32_t output = 0;
  int8_t sign = 1;           // differential: +1 for G+, -1 for G-
  int32_t significance = 1;  // bit slice weight 2^(k j)
};
inline constexpr int32_t kReferenceColumn = -2;

struct Tile {
  RowMatrixXf target_uS;        // (tile_rows, tile_cols); unused cells at g_min
  std::vector<RowRole> rows;    // tile_rows entries
  std::vector<ColumnRole> cols; // tile_cols entries
  int64_t devices_used = 0;     // cells holding part of a weight (not unused, not reference)
};

struct MatrixEncoding {
  double step_uS = 0;       // conductance of one code (or slice) step
  int32_t offset = 0;       // code offset removed digitally (offset encoding: qmax)
  int slices = 1;
  int slice_bits = 0;       // 0: unsliced
  int64_t levels = 0;       // distinct device levels this matrix uses
  int64_t devices_used = 0;
  std::vector<int64_t> tiles;  // indices into MappedModel::tiles
};

struct MappedModel {
  MappingSpec spec;
  ConductanceWindow window;
  std::vector<QuantizedMatrix> matrices;
  std::vector<MatrixEncoding> encodings;  // parallel to matrices
  std::vector<Tile> tiles;

  int64_t devices_allocated() const;  // tiles x rows x cols
  int64_t devices_used() const;
  // y (batch, outputs) = matrix m applied to x (batch, inputs) through the tiles' ideal
  // conductances (no noise, no periphery): the reference that the sim's analog path extends.
  RowMatrixXf ideal_mvm(int64_t m, const RowMatrixXf& x) const;
  // The same through any conductances of the tiles (`g_uS(tile)`: an aged chip's), decoded as
  // the mapping encodes: rows driven by x, the reference column (or g_min) subtracted, pairs and
  // slices combined with their signs and significances, the offset removed, the scales applied.
  // With x the identity it gives the weight matrix (transposed) those conductances realise.
  RowMatrixXf mvm_through(int64_t m, const RowMatrixXf& x,
                          const std::function<const RowMatrixXf&(int64_t)>& g_uS) const;
};

MappedModel map_model(const S4DModel& model, const MappingSpec& spec,
                      const ConductanceWindow& window);
// Steps 2 and 3 alone, for matrices quantized elsewhere (the Python module maps a training
// model's weights this way): recurrence blocks of one layer packed, every other matrix tiled.
MappedModel map_matrices(std::vector<QuantizedMatrix> matrices, const MappingSpec& spec,
                         const ConductanceWindow& window);

// Per-layer summary rows (encoder, layer i, decoder) for reports.
struct LayerMapSummary {
  std::string layer;
  int64_t matrices = 0, tiles = 0, devices_used = 0, devices_allocated = 0;
  double utilisation() const {
    return devices_allocated ? static_cast<double>(devices_used) / devices_allocated : 0.0;
  }
};
std::vector<LayerMapSummary> summarize(const MappedModel& mapped);

// ---------------------------------------------------------------------------------------------
// Post-training quantization of single model components, evaluated in recurrent mode.
//
// Zhao et al., "Quantizing Small-Scale State-Space Models for Edge AI" (arXiv 2506.12480),
// quantize one part of an S4D model at a time to find which parts are sensitive. The same study
// here, on any checkpoint: each named component is rounded to `bits` (symmetric, uniform, codes
// in [-(2^(b-1) - 1), 2^(b-1) - 1]) and the model runs step by step:
//   encoder, projections, decoder: the weight matrices, one scale per tensor (max |w| / qmax);
//   abar, bbar, c: each layer's complex tensor, one scale over real and imaginary parts; Abar is
//     rounded to nearest with no stability fix, so a mode may land on or outside the unit circle
//     (counted in the result: that is how post-training quantization breaks a recurrence);
//   d: each layer's skip vector;
//   x: the complex state after every step, one static scale per layer (the largest |Re x|,
//     |Im x| seen on the calibration samples), as a fixed-point state register holds it;
//   act: the inputs of encoder, projections and decoder, one static scale per product from the
//     calibration samples.
// Components not named stay float32; the recurrence then runs in float32 as well.
// The component names, in the order reports list them.
const std::vector<std::string>& ptq_components();

// "abar=8,x=6" or "all=4" -> {component: bits}; throws UsageError naming the bad item.
std::map<std::string, int> parse_component_bits(const std::string& text);

struct PtqOptions {
  std::map<std::string, int> bits;     // component -> bits (2..16)
  int64_t batch = 64;
  int threads = 0;
  bool keep_logits = false;            // return every sample's logits
  // x's static steps: one per layer, or each channel's or mode's own calibrated peak / qmax (a
  // checkpoint's trained grid is used as trained whatever this says).
  std::string x_granularity = "layer";
};

struct PtqResult {
  int64_t n_samples = 0;
  int64_t correct = 0;
  double accuracy = 0;
  int64_t unstable_modes = 0;   // quantized |Abar| >= 1
  int64_t modes = 0;
  std::vector<float> state_scales;       // per layer, when x is quantized
  std::string state_scale_source;        // "trained" (/state_quant, or /meta x_ranges) or "calibrated"
  std::vector<float> activation_scales;  // encoder, projections..., decoder, when act is
  RowMatrixXf logits;                    // (n, d_output), with keep_logits
  double seconds = 0;
};

// Quantizes the named components of `model`, calibrates the static scales of x and act on
// `calibration` (its samples, all of them; x's from the checkpoint's /meta x_ranges instead
// where a QAT run of x wrote them), and evaluates on `data` in recurrent mode.
PtqResult evaluate_ptq(const S4DModel& model, const Dataset& data, const Dataset& calibration,
                       const PtqOptions& options);

}  // namespace qs4d
