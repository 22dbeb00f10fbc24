// program(): a checkpoint on one programmed chip, driven from Python; perturb(): any weights as a
// chip would hold them (hardware-aware training). Both convert Python objects into program/'s
// typed requests; what a chip does is program/'s.
#include <algorithm>
#include <mutex>

#include "bindings/bindings.h"
#include "program/program.h"

namespace qs4d::py_bind {
namespace {

// A ProgrammedModel (program/) with the lock that makes one call at a time on it (its chip's
// noise-stream base is its state).
struct ProgrammedChip {
  std::unique_ptr<ProgrammedModel> model;
  std::mutex mutex;
  const MappedModel& map() const { return model->map(); }
  const AnalogChip& analog() const { return model->analog(); }
};

std::vector<std::string> matrix_names(const MappedModel& map) {
  std::vector<std::string> names;
  for (const QuantizedMatrix& q : map.matrices) names.push_back(q.name);
  return names;
}

std::shared_ptr<ProgrammedChip> program(const Checkpoint& checkpoint, const py::object& chip_given, uint64_t seed,
                                        int64_t trial, const std::string& mode, const std::string& tech) {
  ProgramRequest request;
  request.model = checkpoint.model;
  request.chip = chip_from(chip_given)->spec;
  request.seed = seed;
  request.trial = trial;
  request.mode = mode;
  request.tech = tech;
  auto p = std::make_shared<ProgrammedChip>();
  py::gil_scoped_release release;
  p->model = std::make_unique<ProgrammedModel>(request);
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
    p.model->age(t, time_index, given ? &cal : nullptr, batch, threads);
  });
}

void calibrate(ProgrammedChip& p, const py::object& x, int64_t samples, int64_t batch, int threads) {
  Dataset data;
  data.x = sequences_from(x, "x");
  interruptible([&] {
    std::lock_guard<std::mutex> lock(p.mutex);
    p.model->calibrate_outputs(data, samples, batch, threads);
  });
}

py::object forward(ProgrammedChip& p, const py::object& x, int64_t first_sample, int threads, bool count) {
  const SequenceBatch batch = sequences_from(x, "x");
  const RowMatrixXf logits = interruptible([&] {
    std::lock_guard<std::mutex> lock(p.mutex);
    return p.model->logits(batch, first_sample, threads, count);
  });
  return same_kind(to_numpy(logits), x);
}

py::dict conductances(const ProgrammedChip& p, const std::string& matrix) {
  for (size_t m = 0; m < p.map().matrices.size(); ++m) {
    if (p.map().matrices[m].name != matrix) continue;
    const std::vector<int64_t>& tiles = p.map().encodings[m].tiles;
    const int64_t rows = p.map().spec.tile_rows, cols = p.map().spec.tile_cols;
    py::array_t<float> g({static_cast<int64_t>(tiles.size()), rows, cols});
    py::array_t<float> target({static_cast<int64_t>(tiles.size()), rows, cols});
    for (size_t k = 0; k < tiles.size(); ++k) {
      const RowMatrixXf& now = p.analog().conductances_uS(tiles[k]);
      const RowMatrixXf& aim = p.analog().programmed(tiles[k]).target_uS;
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
      const Tile& tile = p.map().tiles[static_cast<size_t>(tiles[k])];
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
    out["time_s"] = p.analog().time_s();
    out["row_input"] = row_input;
    out["col_output"] = col_output;
    out["col_sign"] = col_sign;
    out["col_significance"] = col_significance;
    out["col_reference"] = col_reference;
    out["step_uS"] = p.map().encodings[m].step_uS;
    out["offset"] = p.map().encodings[m].offset;
    out["g_min_uS"] = p.map().window.g_min_uS;
    out["scale"] = std::vector<double>(p.map().matrices[m].scale.data(),
                                       p.map().matrices[m].scale.data() + p.map().matrices[m].scale.size());
    return out;
  }
  std::string names;
  for (const std::string& n : matrix_names(p.map())) names += (names.empty() ? "" : ", ") + n;
  throw UsageError("matrix '" + matrix + "' is not on the chip; it holds: " + names);
}

// The weight matrix (outputs, inputs) the chip's conductances realise now, decoded as the mapping
// encodes (MappedModel::mvm_through), beside the quantized weights the checkpoint asked for.
py::dict weights(ProgrammedChip& p, const std::string& matrix) {
  const std::vector<std::string> names = matrix_names(p.map());
  const auto it = std::find(names.begin(), names.end(), matrix);
  if (it == names.end()) return conductances(p, matrix);  // refuses, naming the chip's matrices
  const int64_t m = it - names.begin();
  RowMatrixXf realised, asked;
  {
    py::gil_scoped_release release;
    std::lock_guard<std::mutex> lock(p.mutex);
    realised = p.model->realised_weights(m);
    asked = p.map().matrices[static_cast<size_t>(m)].dequantized();
  }
  py::dict out;
  out["realised"] = to_numpy(realised);
  out["quantized"] = to_numpy(asked);
  out["time_s"] = p.analog().time_s();
  return out;
}

py::object energy(ProgrammedChip& p) {
  std::lock_guard<std::mutex> lock(p.mutex);
  return to_python(p.model->energy());
}

// {name: W} and {name: scales} as a PerturbRequest: W (outputs, inputs) floats, scales one or
// one per output (their count checked by perturb_weights).
PerturbRequest perturb_request(const py::object& chip, const py::dict& weights, const py::dict& scales) {
  PerturbRequest request;
  request.chip = chip_from(chip)->spec;
  for (const auto& [key, value] : weights) {
    NamedWeights named;
    named.name = py::str(key).cast<std::string>();
    named.w = matrix_from(value, named.name.c_str());
    if (scales.contains(key)) {
      const auto s = py::array_t<double, py::array::c_style | py::array::forcecast>::ensure(scales[key]);
      if (!s) throw UsageError("scales['" + named.name + "']: expected a number or an array of numbers");
      named.scales.assign(s.data(), s.data() + s.size());
      if (named.scales.empty()) throw UsageError("scales['" + named.name + "']: empty, expected one scale or one per output");
    }
    request.weights.push_back(std::move(named));
  }
  return request;
}

py::dict perturb(const py::object& chip, const py::dict& weights, uint64_t seed, const py::handle& time,
                 int64_t trial, int bits, bool read_noise, const py::dict& scales) {
  PerturbRequest request = perturb_request(chip, weights, scales);
  request.seed = seed;
  request.time_s = time_from(time);
  request.trial = trial;
  request.bits = bits;
  request.read_noise = read_noise;
  std::vector<RowMatrixXf> held;
  {
    py::gil_scoped_release release;
    held = perturb_weights(request);
  }
  py::dict result;
  for (size_t m = 0; m < held.size(); ++m) result[py::str(request.weights[m].name)] = to_numpy(held[m]);
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
      .def_property_readonly("matrices", [](const ProgrammedChip& p) { return matrix_names(p.map()); })
      .def("counts",
           [](ProgrammedChip& p) {
             std::lock_guard<std::mutex> lock(p.mutex);
             const ActionCounts& counts = p.model->counts();
             nlohmann::json j = counts.summary();
             j["samples"] = counts.samples;
             j["programming_pulses"] = counts.programming_pulses;
             return to_python(j);
           },
           "the actions counted by forward(count=True) so far, summed over samples")
      .def("energy", &energy, "what `qs4dsim energy --json` reports, from the counted actions")
      .def_property_readonly("unverified_cells", [](const ProgrammedChip& p) { return p.analog().unverified_cells(); })
      .def_property_readonly("repaired_cells", [](const ProgrammedChip& p) { return p.analog().repaired_cells(); })
      .def_property_readonly("time_s", [](const ProgrammedChip& p) { return p.analog().time_s(); });

  const ProgramRequest program_defaults;  // eval's defaults (EvalRequest's)
  m.def("program", &program, py::arg("checkpoint"), py::arg("chip"), py::arg("seed") = program_defaults.seed,
        py::arg("trial") = program_defaults.trial, py::arg("mode") = program_defaults.mode,
        py::arg("tech") = program_defaults.tech,
        "Maps the checkpoint onto the chip (a Chip, a preset name or a dict) and programs it from "
        "(seed, trial), as eval does");
  const PerturbRequest perturb_defaults;
  m.def("perturb", &perturb, py::arg("chip"), py::arg("weights"), py::arg("seed") = perturb_defaults.seed,
        py::arg("time") = perturb_defaults.time_s, py::arg("trial") = perturb_defaults.trial,
        py::arg("bits") = perturb_defaults.bits, py::arg("read_noise") = perturb_defaults.read_noise,
        py::arg("scales") = py::dict(),
        "{name: W (outputs, inputs)} -> {name: the weights the chip's devices hold}: each W quantized "
        "as the chip's mapping does (bits, else mapping.weight_bits; with scales={name: s}, one scale "
        "or one per output, W's codes are round(W / s), as a QAT checkpoint's), programmed on its "
        "tiles, aged to `time`, read back through ideal converters (one read-noise draw when read_noise)");
}

}  // namespace qs4d::py_bind
