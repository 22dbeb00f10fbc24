// program(): a checkpoint on one programmed chip, driven from Python; perturb(): any weights as a
// chip would hold them (hardware-aware training).
#include <algorithm>
#include <cmath>
#include <map>
#include <mutex>

#include "bindings/bindings.h"
#include "run/run.h"

namespace qs4d::py_bind {
namespace {

// One chip with everything it refers to, at a fixed address (DeployedChip keeps pointers).
struct ProgrammedChip {
  std::shared_ptr<const S4DModel> model;
  ChipSpec spec;
  MappedModel map;
  ExecMode mode = ExecMode::kConv;
  std::string tech;
  int activation_bits = 8;
  std::unique_ptr<DeployedChip> chip;
  std::map<int64_t, std::unique_ptr<DigitalEngine>> engines;  // by sequence length
  ActionCounts counts;
  int64_t counted_length = 0;
  std::mutex mutex;  // one call at a time per chip (the chip's noise-stream base is its state)

  const DigitalEngine& engine(int64_t length) {
    auto& e = engines[length];
    if (!e) e = std::make_unique<DigitalEngine>(*model, length, mode);
    return *e;
  }
};

std::vector<std::string> matrix_names(const MappedModel& map) {
  std::vector<std::string> names;
  for (const QuantizedMatrix& q : map.matrices) names.push_back(q.name);
  return names;
}

std::shared_ptr<ProgrammedChip> program(const Checkpoint& checkpoint, const py::object& chip_given, uint64_t seed,
                                        int64_t trial, const std::string& mode, const std::string& tech) {
  const std::shared_ptr<Chip> given = chip_from(chip_given);  // held: `chip` refers into it
  const Chip& chip = *given;
  auto p = std::make_shared<ProgrammedChip>();
  p->model = checkpoint.model;
  p->spec = chip.spec;
  p->mode = resolve_exec_mode(mode, *checkpoint.model);
  p->tech = tech_for(chip.spec, tech);  // "": the chip's own table
  p->activation_bits = load_tech(p->tech).memory.activation_bits;
  py::gil_scoped_release release;
  p->map = map_model(*p->model, p->spec.mapping, p->spec.device.window());
  p->chip = std::make_unique<DeployedChip>(*p->model, p->map, p->spec, seed, trial);
  return p;
}

void age(ProgrammedChip& p, const py::handle& time, const py::object& calibration, int64_t time_index,
         int64_t batch, int threads) {
  const double t = time_from(time);
  Dataset cal;
  if (!calibration.is_none()) cal.x = sequences_from(calibration, "calibration");
  const bool given = !calibration.is_none();
  interruptible([&] {
    std::lock_guard<std::mutex> lock(p.mutex);
    p.chip->age(t, time_index, given ? &p.engine(cal.x.length) : nullptr, given ? &cal : nullptr, batch, threads);
  });
}

void calibrate(ProgrammedChip& p, const py::object& x, int64_t samples, int64_t batch, int threads) {
  Dataset data;
  data.x = sequences_from(x, "x");
  interruptible([&] {
    std::lock_guard<std::mutex> lock(p.mutex);
    p.chip->calibrate_outputs(p.engine(data.x.length), data, samples > 0 ? samples : data.x.n, batch, threads);
  });
}

py::object forward(ProgrammedChip& p, const py::object& x, int64_t first_sample, int threads, bool count) {
  const SequenceBatch batch = sequences_from(x, "x");
  const RowMatrixXf logits = interruptible([&] {
    std::lock_guard<std::mutex> lock(p.mutex);
    const DigitalEngine& engine = p.engine(batch.length);
    ActionCounts run;
    if (count) p.chip->analog().count_actions(&run, p.activation_bits);
    RowMatrixXf out;
    try {
      out = logits_in_pieces(batch, p.model->config().d_output, [&](const SequenceBatch& part, int64_t first) {
        return p.chip->logits(engine, part, first_sample + first, threads);
      });
    } catch (...) {
      p.chip->analog().count_actions(nullptr);  // a stopped run counts nothing
      throw;
    }
    if (count) {
      p.chip->analog().count_actions(nullptr);
      run.samples = batch.n;
      if (p.counts.samples > 0) run.programming_pulses = 0;  // once per chip
      p.counts.add(run);
      p.counted_length = batch.length;
    }
    return out;
  });
  return same_kind(to_numpy(logits), x);
}

py::dict conductances(const ProgrammedChip& p, const std::string& matrix) {
  for (size_t m = 0; m < p.map.matrices.size(); ++m) {
    if (p.map.matrices[m].name != matrix) continue;
    const std::vector<int64_t>& tiles = p.map.encodings[m].tiles;
    const int64_t rows = p.map.spec.tile_rows, cols = p.map.spec.tile_cols;
    py::array_t<float> g({static_cast<int64_t>(tiles.size()), rows, cols});
    py::array_t<float> target({static_cast<int64_t>(tiles.size()), rows, cols});
    for (size_t k = 0; k < tiles.size(); ++k) {
      const RowMatrixXf& now = p.chip->analog().conductances_uS(tiles[k]);
      const RowMatrixXf& aim = p.chip->analog().programmed(tiles[k]).target_uS;
      std::copy(now.data(), now.data() + now.size(), g.mutable_data() + k * rows * cols);
      std::copy(aim.data(), aim.data() + aim.size(), target.mutable_data() + k * rows * cols);
    }
    // The map from cells to the matrix: per tile row the input it carries (-1: not this matrix's),
    // per tile column the output, the pair side (+1 G+, -1 G-), the slice's significance, and
    // whether it is the tile's g_min reference column.
    py::array_t<int32_t> row_input({static_cast<int64_t>(tiles.size()), rows});
    py::array_t<int32_t> col_output({static_cast<int64_t>(tiles.size()), cols});
    py::array_t<int8_t> col_sign({static_cast<int64_t>(tiles.size()), cols});
    py::array_t<int32_t> col_significance({static_cast<int64_t>(tiles.size()), cols});
    py::array_t<bool> col_reference({static_cast<int64_t>(tiles.size()), cols});
    for (size_t k = 0; k < tiles.size(); ++k) {
      const Tile& tile = p.map.tiles[static_cast<size_t>(tiles[k])];
      for (int64_t r = 0; r < rows; ++r) {
        const RowRole& role = tile.rows[static_cast<size_t>(r)];
        row_input.mutable_data()[k * rows + r] = role.matrix == static_cast<int32_t>(m) ? role.input : -1;
      }
      for (int64_t c = 0; c < cols; ++c) {
        const ColumnRole& role = tile.cols[static_cast<size_t>(c)];
        const bool mine = role.matrix == static_cast<int32_t>(m);
        col_output.mutable_data()[k * cols + c] = mine ? role.output : -1;
        col_sign.mutable_data()[k * cols + c] = mine ? role.sign : 0;
        col_significance.mutable_data()[k * cols + c] = mine ? role.significance : 0;
        col_reference.mutable_data()[k * cols + c] = role.matrix == kReferenceColumn;
      }
    }
    py::dict out;
    out["tiles"] = tiles;
    out["g_uS"] = g;
    out["target_uS"] = target;
    out["time_s"] = p.chip->analog().time_s();
    out["row_input"] = row_input;
    out["col_output"] = col_output;
    out["col_sign"] = col_sign;
    out["col_significance"] = col_significance;
    out["col_reference"] = col_reference;
    out["step_uS"] = p.map.encodings[m].step_uS;
    out["offset"] = p.map.encodings[m].offset;
    out["g_min_uS"] = p.map.window.g_min_uS;
    out["scale"] = std::vector<double>(p.map.matrices[m].scale.data(),
                                       p.map.matrices[m].scale.data() + p.map.matrices[m].scale.size());
    return out;
  }
  std::string names;
  for (const std::string& n : matrix_names(p.map)) names += (names.empty() ? "" : ", ") + n;
  throw UsageError("matrix '" + matrix + "' is not on the chip; it holds: " + names);
}

// The weight matrix (outputs, inputs) the chip's conductances realise now, decoded as the mapping
// encodes (MappedModel::mvm_through), beside the quantized weights the checkpoint asked for.
py::dict weights(ProgrammedChip& p, const std::string& matrix) {
  const std::vector<std::string> names = matrix_names(p.map);
  const auto it = std::find(names.begin(), names.end(), matrix);
  if (it == names.end()) return conductances(p, matrix);  // refuses, naming the chip's matrices
  const int64_t m = it - names.begin();
  RowMatrixXf realised, asked;
  {
    py::gil_scoped_release release;
    std::lock_guard<std::mutex> lock(p.mutex);
    const QuantizedMatrix& q = p.map.matrices[static_cast<size_t>(m)];
    const RowMatrixXf eye = RowMatrixXf::Identity(q.inputs(), q.inputs());
    const AnalogChip& analog = p.chip->analog();
    realised = p.map.mvm_through(m, eye, [&](int64_t t) -> const RowMatrixXf& { return analog.conductances_uS(t); })
                   .transpose();
    asked = q.dequantized();
  }
  py::dict out;
  out["realised"] = to_numpy(realised);
  out["quantized"] = to_numpy(asked);
  out["time_s"] = p.chip->analog().time_s();
  return out;
}

py::object energy(ProgrammedChip& p) {
  std::lock_guard<std::mutex> lock(p.mutex);
  if (p.counts.samples == 0) {
    throw UsageError("no actions counted yet: run forward(x, count=True) on some inputs first");
  }
  return to_python(energy_for_eval(*p.model, p.counted_length, p.spec, p.tech, p.counts, false));
}

// The weights as `chip` holds them after programming and ageing to `time`: each matrix quantized
// as the chip's mapping quantizes post-training (`bits`, else mapping.weight_bits), encoded,
// tiled and programmed on a chip of its own, aged, then read back row by row (one-hot inputs)
// through ideal converters, with one draw of read noise when `read_noise`.
// Codes of w with the caller's scales (one, or one per output), as the mapper takes a checkpoint's
// /quant codes: round(w / scale), clipped to the symmetric range of `bits`.
QuantizedMatrix with_scales(const RowMatrixXf& w, const py::handle& given, int bits, const std::string& name) {
  const auto scale = py::array_t<double, py::array::c_style | py::array::forcecast>::ensure(given);
  if (!scale || (scale.size() != 1 && scale.size() != w.rows())) {
    throw UsageError("scales['" + name + "']: expected one scale or one per output (" + std::to_string(w.rows()) +
                     ")");
  }
  QuantizedMatrix q;
  q.bits = bits;
  q.from_checkpoint = true;
  q.codes.resize(w.rows(), w.cols());
  q.scale.resize(w.rows());
  const int32_t qmax = q.qmax();
  for (Eigen::Index r = 0; r < w.rows(); ++r) {
    const double s = scale.data()[scale.size() == 1 ? 0 : r];
    if (!(s > 0) || !std::isfinite(s)) throw UsageError("scales['" + name + "']: a scale is not positive (" + std::to_string(s) + ")");
    q.scale[r] = s;
    for (Eigen::Index c = 0; c < w.cols(); ++c) {
      const double code = std::nearbyint(static_cast<double>(w(r, c)) / s);
      q.codes(r, c) = static_cast<int32_t>(std::clamp<double>(code, -qmax, qmax));
    }
  }
  return q;
}

py::dict perturb(const py::object& chip_given, const py::dict& weights, uint64_t seed, const py::handle& time,
                 int64_t trial, int bits, bool read_noise, const py::dict& scales) {
  ChipSpec spec = chip_from(chip_given)->spec;
  spec.periphery.dac_bits = spec.periphery.adc_bits = 0;
  spec.periphery.state_dac_bits = spec.periphery.state_adc_bits = 0;
  spec.periphery.output_noise = 0;
  if (!read_noise) spec.device.read = SigmaModel{};
  const double t = time_from(time);
  std::vector<std::string> names;
  std::vector<QuantizedMatrix> matrices;
  const int b = bits > 0 ? bits : spec.mapping.weight_bits;
  for (const auto& [key, value] : weights) {
    names.push_back(py::str(key).cast<std::string>());
    const RowMatrixXf w = matrix_from(value, names.back().c_str());
    if (b < kMinQuantBits || b > kMaxQuantBits) {
      throw UsageError("bits: " + std::to_string(b) + ", expected " + std::to_string(kMinQuantBits) + ".." +
                       std::to_string(kMaxQuantBits));
    }
    QuantizedMatrix q = scales.contains(key) ? with_scales(w, scales[key], b, names.back())
                                             : post_training(w.cast<double>(), b, spec.mapping.granularity);
    q.name = names.back();
    q.kind = MatrixKind::kOutputProjection;
    matrices.push_back(std::move(q));
  }
  std::vector<RowMatrixXf> out(matrices.size());
  {
    py::gil_scoped_release release;
    const MappedModel map = map_matrices(std::move(matrices), spec.mapping, spec.device.window());
    AnalogChip analog(map, spec, seed, trial);
    analog.age(t);
    for (size_t m = 0; m < out.size(); ++m) {
      const int64_t inputs = map.matrices[m].inputs();
      const RowMatrixXf eye = RowMatrixXf::Identity(inputs, inputs);
      const uint64_t stream = stream_seed(seed, static_cast<uint64_t>(trial), m, stream_key::kWeightRead);
      out[m] = analog.mvm(static_cast<int64_t>(m), eye, stream).transpose();
    }
  }
  py::dict result;
  for (size_t m = 0; m < out.size(); ++m) result[py::str(names[m])] = to_numpy(out[m]);
  return result;
}

}  // namespace

void register_program(py::module_& m) {
  py::class_<ProgrammedChip, std::shared_ptr<ProgrammedChip>>(
      m, "ProgrammedChip", "A checkpoint programmed on one chip (as trial `trial` of `qs4dsim eval --chip`)")
      .def("age", &age, py::arg("time"), py::arg("calibration") = py::none(), py::arg("time_index") = 0,
           py::arg("batch") = 64, py::arg("threads") = 0,
           "Conductances at `time` after programming ('1h' or seconds). `time_index` keys the noise "
           "streams as the index of the time in eval's --times; chips with calibrated ADCs calibrate on "
           "the first samples of `calibration` (as eval does on its --calibration set: give samples apart "
           "from the ones you score).")
      .def("calibrate", &calibrate, py::arg("x"), py::arg("samples") = 0, py::arg("batch") = 64,
           py::arg("threads") = 0,
           "Chip-in-the-loop output calibration (eval --calibrate) on the first `samples` of x (0: all; "
           "calibration samples, not the ones you score); call after age(), which resets it")
      .def("forward", &forward, py::arg("x"), py::arg("first_sample") = 0, py::arg("threads") = 0,
           py::arg("count") = false,
           "Logits (n, outputs) of x (n, L, d; numpy or torch, and the logits then the same kind); sample "
           "i reads with the noise streams of sample first_sample + i. count=True adds this run's "
           "actions to counts() and energy().")
      .def("conductances", &conductances, py::arg("matrix"),
           "{'tiles', 'g_uS' (tiles, rows, cols) at the chip's time, 'target_uS', 'time_s'} of the "
           "tiles that hold `matrix`, with the map from cells to it: 'row_input' (tiles, rows: the "
           "input a row carries, -1 for none of this matrix's), 'col_output', 'col_sign' (+1 G+, -1 "
           "G-), 'col_significance' (a slice's weight), 'col_reference' (the g_min reference column), "
           "and the decoding's 'step_uS', 'offset', 'g_min_uS' and per-output 'scale'")
      .def("weights", &weights, py::arg("matrix"),
           "{'realised': the weight matrix (outputs, inputs) the chip's conductances hold now, decoded "
           "as the mapping encodes (reference subtracted, pairs and slices combined, offset removed, "
           "scales applied; no converters, read noise or drift compensation), 'quantized': the "
           "checkpoint's quantized weights, 'time_s'}")
      .def_property_readonly("matrices", [](const ProgrammedChip& p) { return matrix_names(p.map); })
      .def("counts",
           [](ProgrammedChip& p) {
             std::lock_guard<std::mutex> lock(p.mutex);
             nlohmann::json j = p.counts.summary();
             j["samples"] = p.counts.samples;
             j["programming_pulses"] = p.counts.programming_pulses;
             return to_python(j);
           },
           "the actions counted by forward(count=True) so far, summed over samples")
      .def("energy", &energy, "what `qs4dsim energy --json` reports, from the counted actions")
      .def_property_readonly("unverified_cells", [](const ProgrammedChip& p) { return p.chip->analog().unverified_cells(); })
      .def_property_readonly("repaired_cells", [](const ProgrammedChip& p) { return p.chip->analog().repaired_cells(); })
      .def_property_readonly("time_s", [](const ProgrammedChip& p) { return p.chip->analog().time_s(); });

  m.def("program", &program, py::arg("checkpoint"), py::arg("chip"), py::arg("seed") = 1, py::arg("trial") = 0,
        py::arg("mode") = "auto", py::arg("tech") = "",
        "Maps the checkpoint onto the chip (a Chip, a preset name or a dict) and programs it from "
        "(seed, trial), as eval does");
  m.def("perturb", &perturb, py::arg("chip"), py::arg("weights"), py::arg("seed") = 0, py::arg("time") = 0.0,
        py::arg("trial") = 0, py::arg("bits") = 0, py::arg("read_noise") = true, py::arg("scales") = py::dict(),
        "{name: W (outputs, inputs)} -> {name: the weights the chip's devices hold}: each W quantized "
        "as the chip's mapping does (bits, else mapping.weight_bits; with scales={name: s}, one scale "
        "or one per output, W's codes are round(W / s), as a QAT checkpoint's), programmed on its "
        "tiles, aged to `time`, read back through ideal converters (one read-noise draw when read_noise)");
}

}  // namespace qs4d::py_bind
