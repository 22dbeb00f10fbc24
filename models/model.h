// models: the S4D checkpoint (format v1), its strict loader, the digital reference inference and
// the dataset files.
//
// This module knows nothing of devices or tiles. It turns an HDF5 checkpoint into a validated
// `S4DModel` and runs it exactly as docs/model.md writes the math, in two execution modes (FFT
// convolution and step-by-step recurrence). Every later stage (mapping, devices, sim) starts from
// the `S4DModel` built here and reuses `DigitalEngine` for whatever it keeps digital.
//
// The checkpoint (format v1) and dataset files are specified in docs/formats.md ("Checkpoint"),
// the authority; the loaders (checkpoint.cpp, dataset.cpp) refuse anything else.
#pragma once

#include <Eigen/Core>
#include <complex>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "core/core.h"
#include "core/matrix.h"

namespace qs4d {

// Upper bounds checked before any allocation: a checkpoint or dataset claiming more is refused.
inline constexpr int64_t kMaxDim = int64_t{1} << 20;            // any single model size
inline constexpr int64_t kMaxTensorElements = int64_t{1} << 28;  // 1 GiB of float32 per tensor
inline constexpr int64_t kMaxDatasetElements = int64_t{1} << 32; // 16 GiB of float32 samples

// ---------------------------------------------------------------------------------------------
// Model
enum class NormKind { kLayer, kBatch };

struct ModelConfig {
  int64_t d_input = 0;
  int64_t d_output = 0;
  int64_t d_model = 0;   // H
  int64_t d_state = 0;   // N (even); M = N / 2 complex modes
  int64_t n_layers = 0;
  bool prenorm = false;
  NormKind norm = NormKind::kLayer;
  float norm_eps = 1e-5f;

  int64_t modes() const { return d_state / 2; }
};

// Row-major float32 tensor with its shape, as read from a checkpoint.
struct Tensor {
  std::vector<int64_t> shape;
  std::vector<float> values;
  int64_t numel() const { return static_cast<int64_t>(values.size()); }
};

struct QuantSpec {
  int bits = 0;
  bool symmetric = true;
  int axis = -1;                     // -1: per tensor
  std::vector<float> scale;          // 1 entry per tensor, or shape[axis]
  std::vector<int32_t> zero_point;   // empty when symmetric
  std::vector<int32_t> codes;        // row-major, the tensor's shape
  std::vector<int64_t> shape;
};

using ComplexVec = std::vector<std::complex<double>>;

// The state x of one layer on a fixed-point grid (docs/model.md, "The state on a grid"): what a
// checkpoint trained with its state quantized (/state_quant) holds and the digital recurrent mode
// runs exactly as trained. bits = 0: the state stays float.
struct StateGrid {
  int bits = 0;
  std::string granularity;  // "layer", "channel" or "mode": how many steps the trainer kept
  std::string calibration;  // "max", "percentile" or "lsq": how it found them (provenance)
  std::vector<float> step;  // one per mode (H * M, index h * M + m), expanded from the granularity
  float levels() const { return bits > 0 ? static_cast<float>((1 << (bits - 1)) - 1) : 0.0f; }
};

// One S4D block, in the discrete form that both execution modes and the mapper use.
struct S4DLayer {
  ComplexVec a_bar;           // (H * M), index h * M + m
  ComplexVec b_bar;           // (H * M)
  ComplexVec c;               // (H * M)
  Eigen::VectorXf d;          // (H)
  RowMatrixXf out_weight;     // (2H, H): the 1x1 conv before the GLU
  Eigen::VectorXf out_bias;   // (2H)
  Eigen::VectorXf norm_weight, norm_bias;          // (H)
  Eigen::VectorXf running_mean, running_var;       // (H), batch norm only
  bool discrete_from_quant = false;                // Abar/Bbar came from /quant
  StateGrid state_grid;                            // from /state_quant; bits 0 when absent
};

class S4DModel {
 public:
  // Loads and validates a checkpoint; throws FormatError on any problem.
  static S4DModel load(const std::string& path);

  const ModelConfig& config() const { return config_; }
  const std::string& path() const { return path_; }
  const std::vector<S4DLayer>& layers() const { return layers_; }
  const RowMatrixXf& encoder_weight() const { return enc_w_; }
  const Eigen::VectorXf& encoder_bias() const { return enc_b_; }
  const RowMatrixXf& decoder_weight() const { return dec_w_; }
  const Eigen::VectorXf& decoder_bias() const { return dec_b_; }
  // Raw /state_dict tensors (after dequantization where /quant has them), by name.
  const std::map<std::string, Tensor>& tensors() const { return tensors_; }
  const std::map<std::string, QuantSpec>& quant() const { return quant_; }
  // /meta attributes rendered as strings.
  const std::map<std::string, std::string>& meta() const { return meta_; }

  // Parameter counts by group: encoder, ssm, output_linear, norms, decoder.
  std::map<std::string, int64_t> parameter_counts() const;
  // Bytes to hold all weights: quantized tensors at their bit width, the others at 32 bits;
  // weight_bytes_at(32) is the same tensors in float32 (the FP32 model's memory).
  int64_t weight_bytes() const;
  int64_t weight_bytes_at(int fixed_bits) const;
  // Bytes of one sample's state (Re and Im of every mode of every layer): at each layer's grid
  // bits (32 where float), or all at fixed_bits.
  int64_t state_bytes(int fixed_bits = 0) const;

 private:
  friend class CheckpointReader;
  friend struct ModelWire;  // the reading child's answer (models/contain.cpp)
  ModelConfig config_;
  std::string path_;
  std::vector<S4DLayer> layers_;
  RowMatrixXf enc_w_, dec_w_;
  Eigen::VectorXf enc_b_, dec_b_;
  std::map<std::string, Tensor> tensors_;
  std::map<std::string, QuantSpec> quant_;
  std::map<std::string, std::string> meta_;
};

// ---------------------------------------------------------------------------------------------
// Sequences and datasets

// A batch of sequences, row-major (n, length, width).
struct SequenceBatch {
  int64_t n = 0, length = 0, width = 0;
  std::vector<float> values;
  const float* sample(int64_t i) const { return values.data() + i * length * width; }
};

struct Dataset {
  SequenceBatch x;
  std::vector<int64_t> y;
  std::string name;
  std::string source;
  int64_t n_classes = 0;
  std::string path;  // the file it was read from (for messages)
  int64_t limit = 0;  // read with limit > 0: only its first `limit` samples (for the record)
};

// Reads a dataset file (strict: shapes, types, finite values, labels in [0, n_classes)).
// limit > 0 reads only the first `limit` samples.
Dataset load_dataset(const std::string& path, int64_t limit = 0);
// Refuses a dataset the model cannot run, naming both files: no samples, more classes than the
// model has outputs, or a width other than its d_input; and a batch below 1.
void check_data_fits(const S4DModel& model, const Dataset& data, int64_t batch);
// Reads any float (n, L, d) dataset from any HDF5 file.
SequenceBatch read_sequences(const std::string& path, const std::string& dataset);
// Reads a float (rows, cols) dataset (e.g. the /logits that predict writes).
RowMatrixXf read_matrix(const std::string& path, const std::string& dataset);
// The same in float64 (any float dtype in the file), and several float64 matrices written into
// one new file atomically (qs4dsim circuit).
RowMatrixXd read_matrix_f64(const std::string& path, const std::string& dataset);
void write_matrices_f64(const std::string& path,
                        const std::vector<std::pair<std::string, RowMatrixXd>>& matrices);
// Writes a float32 (rows, cols) matrix as `dataset` into a new file at `path`, atomically.
void write_matrix(const std::string& path, const std::string& dataset, const RowMatrixXf& m);

// ---------------------------------------------------------------------------------------------
// Digital reference inference

enum class ExecMode { kConv, kRecurrent };
const char* to_string(ExecMode mode);
ExecMode parse_exec_mode(const std::string& text);  // "conv" | "recurrent"; throws UsageError
// The largest bits of any layer's state grid (0: the state is float everywhere).
int state_bits(const S4DModel& model);
// "auto": recurrent where the checkpoint holds a state grid (run as trained), else conv.
ExecMode resolve_exec_mode(const std::string& text, const S4DModel& model);

// Matrix products a caller may take over (sim/ runs them on simulated crossbars). Each returns
// false to leave the product digital. Called concurrently from OpenMP threads; `sample` is the
// sample's index in the batch, so implementations can draw noise from per-sample streams.
// Biases are added by the engine after the product.
class LinearOverride {
 public:
  virtual ~LinearOverride() = default;
  // x (H, L) = W_enc u, u given as (d_input, L).
  virtual bool encoder(int64_t sample, const Eigen::Ref<const Eigen::MatrixXf>& u,
                       RowMatrixXf& x) const {
    return false;
  }
  // g (2H, L) = W_out[layer] y, y (H, L).
  virtual bool projection(int64_t sample, int64_t layer, const RowMatrixXf& y,
                          RowMatrixXf& g) const {
    return false;
  }
  // y (H, L) = the whole SSM of `layer` (convolution with K plus the D skip) applied to z (H, L).
  virtual bool ssm(int64_t sample, int64_t layer, const RowMatrixXf& z, RowMatrixXf& y) const {
    return false;
  }
  // logits (d_output) = W_dec pooled.
  virtual bool decoder(int64_t sample, const Eigen::VectorXf& pooled,
                       Eigen::VectorXf& logits) const {
    return false;
  }
};

// Prepared inference for one model and one sequence length. Conv mode precomputes each layer's
// kernel spectrum once; recurrent mode keeps only O(H * M) state per sample. Logits for a sample
// do not depend on the batch it came in or on the thread count.
class DigitalEngine {
 public:
  DigitalEngine(const S4DModel& model, int64_t length, ExecMode mode);
  ~DigitalEngine();
  DigitalEngine(DigitalEngine&&) noexcept;
  DigitalEngine& operator=(DigitalEngine&&) = delete;
  DigitalEngine(const DigitalEngine&) = delete;
  DigitalEngine& operator=(const DigitalEngine&) = delete;

  // (n, d_output) logits for every sample of the batch; OpenMP over samples with `threads`
  // threads (0 = OpenMP's default).
  RowMatrixXf logits(const SequenceBatch& batch, int threads = 0,
                     const LinearOverride* ops = nullptr) const;

  // The convolution kernel K (H, L) that conv mode uses, in double precision.
  Eigen::MatrixXd kernel(int64_t layer) const;

  int64_t length() const { return length_; }
  ExecMode mode() const { return mode_; }
  // The state bits this engine runs (0 in conv mode: the convolution keeps the state float).
  int state_bits() const;

 private:
  struct Impl;
  const S4DModel* model_;
  int64_t length_;
  ExecMode mode_;
  std::unique_ptr<Impl> impl_;
};

// Index of the largest logit in each row (first one on ties).
std::vector<int64_t> argmax_rows(const RowMatrixXf& logits);

// ---------------------------------------------------------------------------------------------
// The state on a grid: one kernel for the trainer's scan (bindings/state_scan.cpp) and the
// simulator's recurrence, so the two give the same codes on the same inputs and steps.

// One channel's recurrence coefficients in grid steps, float32, M modes each:
// Abar, Bbar / step and 2 step C (real and imaginary parts).
struct GridChannel {
  const float *ar, *ai, *br, *bi, *cr, *ci;
};

// Runs x_t = clamp(round_half_even(Abar x_{t-1} + (Bbar / step) u_t), +-levels) over t < L from
// x_{-1} = 0, in steps, and writes y[t] = sum_m Re((2 step C) x_t) (the D skip not included).
// codes (L, 2, M) int16, when not null, receives every x_t; peaks (M), when not null, is raised
// to the largest |Re|, |Im| of each mode before rounding, in steps.
void grid_scan_channel(const GridChannel& p, int64_t M, const float* u, int64_t L, float levels, float* y,
                       int16_t* codes, float* peaks);

// The float32 planes of one layer (H * M each) that grid_scan_channel reads, built as the trainer
// builds them: float(Abar), float(Bbar) / step, float(C) * (2 step).
struct GridPlanes {
  std::vector<float> ar, ai, br, bi, cr, ci;
  GridChannel channel(int64_t h, int64_t M) const;
};
GridPlanes grid_planes(const S4DLayer& layer);

}  // namespace qs4d
