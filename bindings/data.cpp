// Checkpoint, Chip and Dataset: what the module's runs read.
#include <filesystem>

#include "bindings/bindings.h"
#include "program/program.h"

namespace qs4d::py_bind {
namespace {

// /meta as a file gave it, but printable and valid UTF-8 (a Python str cannot hold other bytes).
std::map<std::string, std::string> printable_meta(const std::map<std::string, std::string>& meta) {
  std::map<std::string, std::string> out;
  for (const auto& [k, v] : meta) out[printable(k)] = printable(v);
  return out;
}


nlohmann::json checkpoint_info(const Checkpoint& c) {
  const S4DModel& model = *c.model;
  const ModelConfig& k = model.config();
  nlohmann::json j{{"path", c.path},
                   {"d_input", k.d_input},
                   {"d_output", k.d_output},
                   {"d_model", k.d_model},
                   {"d_state", k.d_state},
                   {"n_layers", k.n_layers},
                   {"prenorm", k.prenorm},
                   {"norm", k.norm == NormKind::kLayer ? "layer" : "batch"},
                   {"norm_eps", k.norm_eps},
                   {"parameters", model.parameter_counts()},
                   {"weight_bytes", model.weight_bytes()},
                   {"meta", printable_meta(model.meta())}};
  j["quant"] = nlohmann::json::object();
  for (const auto& [name, q] : model.quant()) {
    j["quant"][name] = {{"bits", q.bits}, {"symmetric", q.symmetric}, {"axis", q.axis}};
  }
  return j;
}

}  // namespace

ChipSpec Chip::with(const std::vector<std::string>& more) const {
  std::vector<std::string> all = overrides;
  all.insert(all.end(), more.begin(), more.end());
  return load_chip_json(source, name_or_path.empty() ? "chip (a dict)" : name_or_path, base_dir, all);
}

std::shared_ptr<Chip> chip_from(const py::handle& chip, const py::dict& overrides) {
  if (py::isinstance<Chip>(chip)) {
    if (!overrides.empty()) throw UsageError("overrides: give them to Chip.load, or pass the chip by name");
    return chip.cast<std::shared_ptr<Chip>>();
  }
  auto c = std::make_shared<Chip>();
  if (py::isinstance<py::str>(chip)) {
    c->name_or_path = path_from(chip.cast<std::string>());
    const std::string path = spec_json::preset_path(c->name_or_path, data_dir() + "/chips");
    c->source = spec_json::read_json_file(path, "chip \"" + c->name_or_path + "\"");
    c->base_dir = std::filesystem::path(path).parent_path().string();
  } else if (py::isinstance<py::dict>(chip)) {
    c->source = json_from(chip.cast<py::dict>(), "chip");
    c->base_dir = std::filesystem::current_path().string();
  } else {
    throw UsageError("chip: expected a qs4dsim.Chip, a preset name or file such as \"pcm_512\", or a dict holding "
                     "a chip spec; found " + py::str(py::type::handle_of(chip).attr("__name__")).cast<std::string>());
  }
  c->overrides = overrides_from(overrides);
  c->spec = c->with({});
  return c;
}

void register_data(py::module_& m) {
  py::class_<Checkpoint, std::shared_ptr<Checkpoint>>(m, "Checkpoint", "A trained S4D checkpoint (HDF5, format v1)")
      .def_static(
          "load",
          [](const std::string& given) {
            const std::string path = path_from(given);
            auto c = std::make_shared<Checkpoint>();
            c->path = path;
            py::gil_scoped_release release;
            c->model = std::make_shared<const S4DModel>(S4DModel::load(path));
            return c;
          },
          py::arg("path"), "Loads and validates a checkpoint (errors as `qs4dsim info` prints them)")
      .def_readonly("path", &Checkpoint::path)
      .def_property_readonly("info", [](const Checkpoint& c) { return to_python(checkpoint_info(c)); },
                             "architecture, parameter counts, quantization and /meta as a dict")
      .def(
          "state_codes",
          [](const Checkpoint& c, int64_t layer, const py::array_t<float, py::array::c_style | py::array::forcecast>& z) {
            const ModelConfig& cfg = c.model->config();
            if (layer < 0 || layer >= cfg.n_layers)
              throw UsageError("state_codes: layer " + std::to_string(layer) + " is not in 0.." +
                               std::to_string(cfg.n_layers - 1));
            const S4DLayer& l = c.model->layers()[static_cast<size_t>(layer)];
            if (l.state_grid.bits == 0)
              throw UsageError("state_codes: layer " + std::to_string(layer) + " of " + c.path +
                               " has no state grid (/state_quant)");
            const int64_t H = cfg.d_model, M = cfg.modes();
            if (z.ndim() != 3 || z.shape(1) != H || z.shape(0) < 1 || z.shape(2) < 1)
              throw UsageError("state_codes: z must be (B, " + std::to_string(H) + ", L)");
            const int64_t B = z.shape(0), L = z.shape(2);
            py::array_t<int16_t> codes({B, H, L, int64_t{2}, M});
            int16_t* out = codes.mutable_data();
            const float* u = z.data();
            std::vector<float> y(static_cast<size_t>(L));
            const GridPlanes planes = grid_planes(l);  // as the recurrent mode builds them
            for (int64_t b = 0; b < B; ++b)
              for (int64_t h = 0; h < H; ++h)
                grid_scan_channel(planes.channel(h, M), M, u + (b * H + h) * L, L, l.state_grid.levels(), y.data(),
                                  out + (b * H + h) * L * 2 * M, nullptr);
            return codes;
          },
          py::arg("layer"), py::arg("z"),
          "The codes (B, H, L, 2, M) of layer `layer`'s state on its trained grid for SSM inputs z (B, H, L), "
          "as the simulator's recurrent mode computes them")
      .def(
          "predict",
          [](const Checkpoint& c, const py::object& x, const std::string& mode, int threads) {
            const SequenceBatch batch = sequences_from(x, "x");
            const ExecMode exec = resolve_exec_mode(mode, *c.model);
            const RowMatrixXf logits = interruptible([&] {
              const DigitalEngine engine(*c.model, batch.length, exec);
              return logits_in_pieces(batch, c.model->config().d_output,
                                      [&](const SequenceBatch& part, int64_t) { return engine.logits(part, threads); });
            });
            return same_kind(to_numpy(logits), x);
          },
          py::arg("x"), py::arg("mode") = "auto", py::arg("threads") = 0,
          "Digital logits (n, outputs) of x (n, L, d), as `qs4dsim predict` writes them; numpy, or a "
          "torch tensor when x is one")
      .def("__repr__", [](const Checkpoint& c) { return "<qs4dsim.Checkpoint " + c.path + ">"; });

  py::class_<Chip, std::shared_ptr<Chip>>(m, "Chip", "A chip: devices, mapping, periphery, dataflow")
      .def_static(
          "load",
          [](const py::object& chip, const py::dict& overrides) {
            if (py::isinstance<Chip>(chip)) throw UsageError("Chip.load: give a name, a file or a dict, not a Chip");
            return chip_from(chip, overrides);
          },
          py::arg("name_or_path"), py::arg("overrides") = py::dict(),
          "A preset name (data/chips), a JSON file, or a dict holding a chip spec (docs/formats.md; its "
          "\"device\" a preset name, a path or a dict), with overrides such as {'periphery.adc_bits': 6}. "
          "Every function that takes a chip also takes a name or a dict.")
      .def_property_readonly("name", [](const Chip& c) { return c.spec.name; })
      .def_property_readonly("spec", [](const Chip& c) { return to_python(c.spec.resolved); },
                             "the resolved spec (presets and overrides applied) as a dict")
      .def_property_readonly("overrides", [](const Chip& c) { return c.overrides; })
      .def("__repr__", [](const Chip& c) { return "<qs4dsim.Chip " + c.spec.name + ">"; });

  py::class_<Dataset, std::shared_ptr<Dataset>>(m, "Dataset", "A dataset file: inputs (n, L, d), labels (n,)")
      .def_static(
          "load",
          [](const std::string& path, int64_t limit) {
            const std::string checked = path_from(path);
            py::gil_scoped_release release;
            return std::make_shared<Dataset>(load_dataset(checked, limit));
          },
          py::arg("path"), py::arg("limit") = 0, "limit > 0 reads only the first `limit` samples")
      .def_property_readonly("x",
                             [](const Dataset& d) {
                               py::array_t<float> out({d.x.n, d.x.length, d.x.width});
                               std::copy(d.x.values.begin(), d.x.values.end(), out.mutable_data());
                               return out;
                             })
      .def_property_readonly("y",
                             [](const Dataset& d) {
                               py::array_t<int64_t> out(static_cast<py::ssize_t>(d.y.size()));
                               std::copy(d.y.begin(), d.y.end(), out.mutable_data());
                               return out;
                             })
      .def_readonly("name", &Dataset::name)
      .def_readonly("n_classes", &Dataset::n_classes)
      .def("__len__", [](const Dataset& d) { return d.x.n; });
}

}  // namespace qs4d::py_bind
