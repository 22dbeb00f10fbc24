// sim: one simulated chip running a model: a mapped model programmed onto devices and aged
// (AnalogChip), its products run inside the digital engine (AnalogOps), and one deployed chip as
// an evaluation drives it (DeployedChip). Tile physics lives in circuit/, the chip description
// in chip/; evaluations, sweeps, MPI and the command line in run/, which builds on this.
// May include core/, models/, mapping/, devices/, circuit/ and chip/.
#pragma once

#include <boost/random/mersenne_twister.hpp>
#include <cstdint>
#include <atomic>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "chip/chip.h"
#include "circuit/circuit.h"
#include "devices/devices.h"
#include "mapping/mapping.h"
#include "core/counts.h"
#include "models/model.h"

namespace qs4d {

// One simulated chip: a mapped model programmed onto devices (once, from streams keyed by seed,
// trial and tile), aged to a time after programming, and read through its periphery. It refers
// to `map` and `chip`, which must outlive it.
class AnalogChip {
 public:
  // Programmed and aged to t = 0, unless age_now is false (the caller ages it before any product:
  // a tile's IR-drop network is then solved once, at the caller's first time).
  AnalogChip(const MappedModel& map, const ChipSpec& chip, uint64_t seed, int64_t trial, bool age_now = true);
  // Conductances at t_s after programming (drift, 1/f, IR drop), drift-compensation factors.
  void age(double t_s);
  // Calibrated ADC ranges: between begin and end, products run without ADC quantization and
  // record each tile's largest analog value; the range is that maximum.
  void begin_calibration();
  void end_calibration();
  // Chip-in-the-loop output calibration (what a deployed chip can re-estimate cheaply): between
  // begin and end, every product (the recurrence's excepted) also computes what the ideal chip
  // would read out, u_ideal = W_q x in the units of the ADC's digital output, and gathers, per
  // read-out j, the least-squares fit u_ideal ~ gain_j u + offset_j over all products; from then
  // on each read-out is corrected by its gain and offset (in the ADC's units, so an offset
  // follows the input's DAC scale as a column's offset current would). No labels are needed:
  // the chip knows the weights it was programmed with. age() resets the correction.
  void begin_output_fit();
  void end_output_fit();
  bool output_corrected() const { return !gain_.empty(); }
  // y (batch, outputs) = matrix m applied to x (batch, inputs): DAC (per-vector scale), crossbar
  // with read noise on every product, IR drop, differential subtraction, output noise, ADC,
  // digital slice recombination, offset and rescale. Noise comes from the stream `stream`.
  RowMatrixXf mvm(int64_t m, const RowMatrixXf& x, uint64_t stream) const;
  // The same with the caller's noise stream and converter bits (the recurrence's own).
  RowMatrixXf mvm(int64_t m, const RowMatrixXf& x, boost::random::mt19937_64& gen, int dac_bits,
                  int adc_bits) const;
  // The same into y (reused storage: the analog recurrence's per-step products).
  void mvm_into(int64_t m, const RowMatrixXf& x, boost::random::mt19937_64& gen, int dac_bits,
                int adc_bits, RowMatrixXf& y) const;
  // The same product returned transposed, (outputs, batch), without a transposing copy.
  RowMatrixXf mvm_transposed(int64_t m, const RowMatrixXf& x, uint64_t stream) const;

  // One step of a layer's analog recurrence, every channel at once: row h of `in` is channel h's
  // input vector [x_{t-1}, u_t] for matrix matrices[h], row h of `out` its product. Each row is
  // its own product, exactly as mvm runs it (its own DAC scale, blocks, noise, ADC), written as
  // scalar loops over the small blocks with no allocation. `noise` holds the step's
  // recurrence_draws(matrices) standard normals, used in the order product() draws them.
  // Counts and calibration ranges gather in `pass` until flush_recurrence.
  struct RecurrencePass {
    std::vector<float> v, drive, analog, sd, noise, acc;  // noise: the caller's draws, if it wants
    std::vector<float> seen;  // per tile, during calibration
    std::vector<float> u_seen, y_seen, sum_seen;  // per channel, during calibration: largest |u_t|,
                                                  // |y_t|, |sum of the inputs|
    double g_v2 = 0;          // sum over reads of drive^2 . row conductance (array energy)
    int64_t steps = 0, clips = 0, conversions = 0;
  };
  bool recurrence_batched() const { return !chip_->periphery.per_cell_read_noise; }
  int64_t recurrence_draws(const std::vector<int64_t>& matrices) const;
  void recurrence_step(const std::vector<int64_t>& matrices, const RowMatrixXf& in, const float* noise,
                       int dac_bits, int adc_bits, RecurrencePass& pass, RowMatrixXf& out) const;
  void flush_recurrence(const std::vector<int64_t>& matrices, int dac_bits, int adc_bits,
                        RecurrencePass& pass) const;

  const MappedModel& map() const { return *map_; }
  // Tile t as programmed, and its conductances at time_s() as the products read them (IR drop
  // folded in when the chip has wire resistance). Throws UsageError for a tile that is not there.
  const ProgrammedArray& programmed(int64_t tile) const;
  const RowMatrixXf& conductances_uS(int64_t tile) const;
  uint64_t seed() const { return seed_; }
  int64_t trial() const { return trial_; }
  double time_s() const { return time_s_; }
  int64_t adc_clips() const { return clips_.load(); }
  // Cells write-verify left outside tolerance, per tile (after any repair), and the cells a
  // repair brought back (their pair's difference within tolerance again).
  const std::vector<int64_t>& unverified_per_tile() const { return unverified_; }
  int64_t unverified_cells() const;
  int64_t repaired_cells() const { return repaired_; }
  int64_t spare_lines_used() const { return spare_lines_used_; }  // spare rows and columns in use
  int64_t rows_moved() const { return rows_moved_; }  // rows fault-aware mapping placed elsewhere
  int64_t adc_conversions() const { return conversions_.load(); }
  // Every product from now on adds its actions to *counts (nullptr stops counting); products
  // made during ADC calibration are not counted. `activation_bits` is the width of the words the
  // products read from and write to the buffer. Also adds the programming pulses of this chip.
  void count_actions(ActionCounts* counts, int activation_bits = 8);

 private:
  struct TileState {
    ProgrammedArray programmed;  // in the mapping's row order, whatever row holds it physically
    std::vector<int64_t> physical_row;  // mapped row -> the tile row that holds it (empty: the same)
    RowMatrixXf g_uS;       // at time_s_, after IR drop
    RowMatrixXf read_var;   // per-read variance of each cell
    bool has_read_noise = false;
  };
  // The part of one tile that one matrix uses: only its rows are driven and only its columns
  // (and the tile's reference column) are read, so products skip the rest of the tile.
  struct Block {
    int64_t tile = 0;
    std::vector<int64_t> rows, inputs, cols;  // tile rows, their matrix inputs, tile columns
    int64_t reference = -1;                    // index into cols of the reference column
    RowMatrixXf g_uS, read_var;                // (rows, cols) slices at time_s_
    // One ADC conversion per run of adjacent columns of one (output, slice): the columns
    // [begin, end) of `cols`, their signs (differential subtraction), the sum of those signs
    // (how often the reference is subtracted), the output and the slice significance over the
    // conductance step.
    struct Conversion {
      int64_t begin = 0, end = 0, output = 0;
      float sign_sum = 0, weight = 0;
      float factor = 1;  // drift compensation of this read-out
    };
    std::vector<Conversion> conversions;
    // Trained state ranges (recurrence blocks, periphery.state_ranges "trained"): each
    // conversion's ADC range in analog units; empty: the tile's range.
    Eigen::VectorXf conversion_range;
    std::vector<float> signs;  // per entry of cols
    // The conversions as one product: column k of a conversion enters with sign_k, so its mean
    // is drive * g_eff and, the columns' read noise being independent, its variance
    // drive^2 * var_eff (var_eff = sum_k read_var_k); drift compensation scales a conversion's
    // columns by its factor f (f^2 for var_eff). Without a reference column the digital g_min
    // reference is folded into g_eff; with one, the reference column is read on its own (its
    // noise is shared by every conversion of the block).
    Eigen::MatrixXf g_eff, var_eff;  // (rows, conversions)
    // The recurrence's one-vector reads: g_eff and var_eff row by row with the reference
    // column after the conversions, zero-padded to a multiple of 8 columns, so each row adds
    // to every read-out at once (a vector loop) in the same order as g_eff; and each
    // conversion's reference coefficient (factor x sign_sum).
    RowMatrixXf g_rows, var_rows;
    Eigen::VectorXf ref_coef;
    Eigen::VectorXf ref_g, ref_var;  // (rows): the reference column, when there is one
    Eigen::VectorXf row_g_sum;  // sum of g_uS over each row (array energy: sum_i v_i^2 G_i.)
    int r_col_log10_x20 = 0;    // mean column resistance of the block, for ADC pricing
  };
  void fill_blocks();
  void compensate_drift();
  static void read_conversions(const Block& blk, const float* d, int64_t rows, bool with_var,
                               float* a, float* sd);
  // Fault handling (sim/faults.cpp).
  ProgrammedArray program_tile(size_t tile, const RowMatrixXf& targets, uint64_t seed) const;
  std::vector<int64_t> rows_around_faults(size_t tile, const ProgrammedArray& known);
  void repair_partners(size_t tile, uint64_t seed);
  void use_spares(size_t tile, uint64_t seed);
  bool failed_in_use(size_t tile, int64_t row, int64_t col) const;
  int64_t unverified_in_use(size_t tile) const;
  static void apply_ir_drop(TileState& s, const CircuitSpec& circuit, CircuitSolver solver);
  // Everything one product writes; each calling thread owns one (scratch()).
  struct ProductScratch {
    Eigen::VectorXf x_scale, inv, reference, ref_sd;  // x_scale: each input vector's DAC scale
    RowMatrixXf v, signed_drive, drive;               // DAC outputs; one block's rows
    Eigen::MatrixXf acc;                              // (batch, outputs) before output scales
    Eigen::MatrixXf current, var, noise, analog;      // one read of one block
    Eigen::ArrayXXf adc_codes;
    int64_t clips = 0, conversions = 0;
  };
  static ProductScratch& scratch();
  // The stages of a product, in order (analog.cpp).
  void product(int64_t m, const RowMatrixXf& x, boost::random::mt19937_64& gen, int dac_bits,
               int adc_bits, ProductScratch& s) const;
  void dac(const RowMatrixXf& x, int dac_bits, ProductScratch& s) const;
  void gather_inputs(const Block& blk, ProductScratch& s) const;
  float adc_range(const Block& blk) const;
  void read_block(const Block& blk, boost::random::mt19937_64& gen, ProductScratch& s) const;
  void read_block_per_cell(const Block& blk, boost::random::mt19937_64& gen, ProductScratch& s) const;
  float convert(const Block& blk, int adc_bits, ProductScratch& s) const;
  void accumulate(const Block& blk, float sign, ProductScratch& s) const;
  const MappedModel* map_;
  const ChipSpec* chip_;
  DeviceModel device_;
  uint64_t seed_;
  int64_t trial_;
  double time_s_ = 0;
  std::vector<TileState> tiles_;
  std::vector<std::vector<Block>> blocks_;         // per matrix
  std::vector<Eigen::VectorXf> scale_f_;           // per matrix: its row scales in float
  mutable std::vector<float> adc_range_;
  // Trained state ranges (state_ranges.cpp): per recurrence matrix, its DAC's fixed full scale
  // (0: dynamic), and the largest |u_t|, |y_t| and |input sum| the calibration saw.
  std::vector<float> state_dac_scale_;
  // With periphery.state_dac_ranges "mode": per recurrence matrix and input row, the row DAC's
  // full scale over the channel's (S_i / S, at most 1) and its inverse; empty otherwise.
  std::vector<Eigen::VectorXf> state_dac_row_ratio_, state_dac_row_inverse_;
  mutable std::vector<float> u_peak_, y_peak_, sum_peak_;
  bool trained_state_ranges() const;
  void check_trained_state_ranges() const;
  void fill_state_ranges();
  void fill_row_dac_scales(size_t m, float channel_scale, float u_range);
  std::vector<int64_t> unverified_;
  int64_t repaired_ = 0, spare_lines_used_ = 0, rows_moved_ = 0;
  double repair_pulses_ = 0;
  bool calibrating_ = false;
  mutable std::atomic<int64_t> clips_{0}, conversions_{0};
  // Output calibration (output_fit.cpp): per matrix, per read-out, the sums of the fit while
  // fitting, then gain and offset.
  struct FitSums {
    Eigen::ArrayXd n, u, v, uu, uv;  // v: the ideal read-out
  };
  mutable std::vector<FitSums> fit_;
  std::vector<Eigen::ArrayXf> gain_, offset_;
  bool fitting_ = false;
  void fit_product(int64_t m, const RowMatrixXf& x, const ProductScratch& s) const;
  void correct_outputs(int64_t m, ProductScratch& s) const;
  ActionCounts* counts_ = nullptr;
  int activation_bits_ = 8;
  void record(int64_t m, const Block& blk, int64_t batch, const RowMatrixXf& drive, int dac_bits,
              int adc_bits, int phase) const;
  void count_product(ActionCounts& c, int64_t m, int64_t batch, int dac_bits, int adc_bits) const;
  mutable std::mutex mutex_;
};

// Runs the chip's analog matrices inside the digital engine (models/), everything else digital.
class AnalogOps : public LinearOverride {
 public:
  AnalogOps(const AnalogChip& chip, const S4DModel& model, const ChipSpec& spec);
  // Noise streams are keyed by (seed, base, sample_offset + sample index, matrix slot).
  void set_stream(uint64_t base, int64_t sample_offset);
  bool encoder(int64_t sample, const Eigen::Ref<const Eigen::MatrixXf>& u,
               RowMatrixXf& x) const override;
  bool projection(int64_t sample, int64_t layer, const RowMatrixXf& y,
                  RowMatrixXf& g) const override;
  bool decoder(int64_t sample, const Eigen::VectorXf& pooled,
               Eigen::VectorXf& logits) const override;
  // Analog recurrence: every step, each channel's block maps (x_{t-1}, u_t) to (x_t, y_t) on the
  // crossbar; the state goes out through the ADC and back in through the DAC.
  bool ssm(int64_t sample, int64_t layer, const RowMatrixXf& z, RowMatrixXf& y) const override;

 private:
  uint64_t stream(int64_t sample, int64_t slot) const;
  const AnalogChip* chip_;
  const ChipSpec* spec_;
  std::vector<std::vector<int64_t>> recurrence_;  // [layer][channel] -> matrix index
  int64_t encoder_ = -1, decoder_ = -1;
  std::vector<int64_t> projections_;
  uint64_t stream_base_ = 0;
  int64_t sample_offset_ = 0;
};

// The chip's quantized weights applied digitally, with no noise and no converters: the digital
// pass an ideal chip must reproduce, and the reference the analog pass's speed is measured by.
std::unique_ptr<LinearOverride> quantized_ops(const MappedModel& map, const ChipSpec& spec, int64_t n_layers);

// One chip as evaluate_analog runs each trial, for callers that drive it themselves (the Python
// module): programmed from (seed, trial), aged to a time whose index among the run's times keys
// its noise streams, its ADC ranges calibrated on the first samples of a calibration set when
// the chip calibrates, then run on any inputs through an engine of their length, with streams
// keyed by sample index. It refers to model, map and chip, which must outlive it.
class DeployedChip {
 public:
  DeployedChip(const S4DModel& model, const MappedModel& map, const ChipSpec& chip, uint64_t seed,
               int64_t trial, bool age_at_zero = true);
  // Whether age() needs calibration samples (calibrated ADCs with finite bits).
  bool calibrates() const;
  // Conductances at t_s (the range check is the device's), noise streams of time `time_index`;
  // ADC calibration on the first calibration_samples of `calibration` when the chip calibrates
  // (run through `engine`, of the calibration data's length; either may be null without one).
  void age(double t_s, int64_t time_index, const DigitalEngine* engine, const Dataset* calibration,
           int64_t batch, int threads);
  // Logits of x, its sample i read with the streams of sample first_sample + i. Not for two
  // callers at once (the stream base is the chip's state).
  RowMatrixXf logits(const DigitalEngine& engine, const SequenceBatch& x, int64_t first_sample, int threads);
  // Predicted classes of data's samples [first, first + count), in batches.
  std::vector<int64_t> predict(const DigitalEngine& engine, const Dataset& data, int64_t first, int64_t count,
                               int64_t batch, int threads);
  // Output calibration (AnalogChip::begin_output_fit) on the first `samples` samples of `data`,
  // with noise streams of its own; after age(), which resets it.
  void calibrate_outputs(const DigitalEngine& engine, const Dataset& data, int64_t samples, int64_t batch,
                         int threads);
  AnalogChip& analog() { return analog_; }
  const AnalogChip& analog() const { return analog_; }
  bool aged() const { return time_index_ >= 0; }

 private:
  uint64_t stream_base() const;
  const ChipSpec* chip_;
  AnalogChip analog_;
  AnalogOps ops_;
  uint64_t seed_;
  int64_t trial_, time_index_ = -1;
};

}  // namespace qs4d
