// import qs4dsim: the simulator from Python, over the same library as the command line.
#include <dlfcn.h>

#include <cstdio>
#include <filesystem>
#include <optional>

#include "bindings/bindings.h"
#include "run/run.h"

namespace qs4d::py_bind {

std::function<void()> progress_display(const py::object& progress) {
  if (!progress.is_none() && py::isinstance<py::bool_>(progress)) {
    if (!progress.cast<bool>()) return {};
  }
  publish_progress(0, 0);  // nothing from an earlier run shows
  if (!progress.is_none() && !py::isinstance<py::bool_>(progress)) {
    if (!PyCallable_Check(progress.ptr())) throw UsageError("progress: expected None, True, False or a callable");
    auto last = std::make_shared<int64_t>(-1);
    return [progress, last] {
      int64_t done = 0, total = 0;
      progress_now(done, total);
      if (total > 0 && done != *last) {
        *last = done;
        progress(done, total);
      }
    };
  }
  const py::module_ sys = py::module_::import("sys");
  const bool notebook = sys.attr("modules").contains("ipykernel");
  const bool terminal = py::hasattr(sys.attr("stderr"), "isatty") && sys.attr("stderr").attr("isatty")().cast<bool>();
  if (!notebook && !terminal && progress.is_none()) return {};
  py::object tqdm;
  try {
    tqdm = py::module_::import(notebook ? "tqdm.auto" : "tqdm").attr("tqdm");
  } catch (const py::error_already_set&) {
    return {};  // no tqdm: no bar
  }
  auto bar = std::make_shared<py::object>();
  return [tqdm, bar] {
    int64_t done = 0, total = 0;
    progress_now(done, total);
    if (total <= 0) return;
    if (!*bar) *bar = tqdm(py::arg("total") = total, py::arg("unit") = "chip pass", py::arg("leave") = false);
    (*bar).attr("n") = done;
    (*bar).attr("refresh")();
    if (done >= total) (*bar).attr("close")();
  };
}

void register_evaluate(py::module_& m) {
  m.def(
      "evaluate",
      [](const Checkpoint& checkpoint, const py::object& x, const py::object& y, const py::object& chip_given,
         int64_t trials, const py::object& times, uint64_t seed, int threads, const std::string& mode,
         int64_t batch, int64_t energy_samples, const std::string& tech, bool extrapolate, int64_t calibrate,
         const py::object& calibration, const py::object& progress) {
        if (energy_samples < 0 || trials < 1 || batch < 1 || calibrate < 0 || threads < 0) {
          throw UsageError("evaluate: energy_samples " + std::to_string(energy_samples) + ", trials " +
                           std::to_string(trials) + ", batch " + std::to_string(batch) + ", calibrate " +
                           std::to_string(calibrate) + ", threads " + std::to_string(threads) +
                           ": expected energy_samples, calibrate, threads >= 0 and trials, batch >= 1");
        }
        EvalRequest request;  // the library's defaults, as eval's
        request.checkpoint = checkpoint.path;
        request.trials = trials;
        request.times_s = times_from(times);
        request.seed = seed;
        request.threads = threads;
        request.mode = mode;
        request.batch = batch;
        request.energy_samples = energy_samples;
        request.tech = tech;
        request.extrapolate = extrapolate;
        request.calibrate = calibrate;
        std::shared_ptr<Chip> chip;
        if (!chip_given.is_none()) {
          chip = chip_from(chip_given);
          request.overrides = chip->overrides;
          request.chip = chip->with(with_extrapolation({}, extrapolate, "device."));
        }
        // The data: a Dataset read from a file (reported by its path and limit, as eval reports
        // it), or arrays x and y.
        Dataset data;
        if (py::isinstance<Dataset>(x)) {
          if (!y.is_none()) throw UsageError("evaluate: y is given with a Dataset, which holds its own labels");
          data = x.cast<const Dataset&>();  // the evaluation checks it fits the model
          request.data = data.path;
          request.limit = data.limit;
        } else {
          if (y.is_none()) throw UsageError("evaluate: y (the labels) is needed with arrays x");
          data = dataset_from(x, y, checkpoint.model->config().d_output);
          request.data = "<numpy arrays>";
        }
        // Calibration samples: a dataset file's path, or an array of inputs (no labels needed).
        Dataset calibration_arrays;
        if (!calibration.is_none() && !py::isinstance<py::str>(calibration)) {
          calibration_arrays.x = sequences_from(calibration, "calibration");
          calibration_arrays.y.assign(static_cast<size_t>(calibration_arrays.x.n), 0);
          calibration_arrays.n_classes = data.n_classes;
          calibration_arrays.source = "numpy arrays";
          request.calibration = &calibration_arrays;
        } else if (!calibration.is_none()) {
          request.calibration_path = calibration.cast<std::string>();
        }
        const nlohmann::json report =
            interruptible([&] { return evaluation_report(*checkpoint.model, data, request, false); },
                          chip ? progress_display(progress) : std::function<void()>{});
        return to_python(report);
      },
      py::arg("checkpoint"), py::arg("x"), py::arg("y") = py::none(), py::arg("chip") = py::none(), py::arg("trials") = 1,
      py::arg("times") = 0.0, py::arg("seed") = 1, py::arg("threads") = 0,
      py::arg("mode") = "auto", py::arg("batch") = 64, py::arg("energy_samples") = 16,
      py::arg("tech") = "", py::arg("extrapolate") = false, py::arg("calibrate") = 0,
      py::arg("calibration") = py::none(), py::arg("progress") = py::none(),
      "Accuracy of the checkpoint on (x, y) (numpy arrays or torch tensors; or x a Dataset, y omitted): digital, or on `chip` (a "
      "Chip, a preset name such as \"pcm_512\", or a dict) over `trials` chips at each of `times` after "
      "programming (a number of seconds, \"1d\", \"0,1h,1d\" or a list). Returns what `qs4dsim eval "
      "--json` writes, with the same defaults (seed 1, time 0) and the same keys and numbers for the "
      "same seed. calibration: the samples ADC ranges and output gains are calibrated on, an "
      "array shaped like x or a dataset file's path (eval --calibration); required when the chip "
      "calibrates, and refused when any of its samples is one of x's. calibrate=N: chip-in-the-loop "
      "output calibration on the first N calibration samples at every time (eval --calibrate). "
      "progress: None draws a bar of the chip passes (tqdm) in a terminal or a notebook, False "
      "nothing, a callable is called as progress(done, total). Ctrl-C stops it within a fraction "
      "of a second (KeyboardInterrupt; nothing kept).");
}

}  // namespace qs4d::py_bind

PYBIND11_MODULE(qs4dsim, m) {
  namespace py = pybind11;
  using namespace qs4d::py_bind;
  m.doc() = "QS4D-Sim: quantized S4D models on simulated memristor crossbars";
  m.attr("__version__") = qs4d::kProgramVersion;
  // A wheel (setup.py) installs the presets beside the module as qs4dsim_data/; a build tree has
  // none there and keeps reading the source tree's data/. QS4D_DATA_DIR overrides both.
  // (__file__ is set only after this function returns: the shared object's own path instead.)
  {
    Dl_info self{};
    if (dladdr(reinterpret_cast<void*>(&register_data), &self) != 0 && self.dli_fname != nullptr) {
      const std::filesystem::path installed = std::filesystem::path(self.dli_fname).parent_path() / "qs4dsim_data";
      std::error_code ec;
      if (std::filesystem::is_directory(installed, ec)) qs4d::set_installed_data_dir(installed.string());
    }
  }
  m.def("seconds", [](const py::handle& t) { return time_from(t); }, py::arg("time"),
        "A time after programming in seconds, read as eval's --times reads it ('1d', '1mo', or a number)");
  m.def("data_dir", [] { return qs4d::data_dir(); }, "The folder the presets are read from (QS4D_DATA_DIR "
        "overrides it)");
  // The library's errors, with the command line's messages; all are ValueErrors.
  static py::exception<qs4d::UsageError> error(m, "Error", PyExc_ValueError);
  py::register_exception_translator([](std::exception_ptr p) {
    try {
      if (p) std::rethrow_exception(p);
    } catch (const qs4d::UsageError& e) {
      error(e.what());
    } catch (const qs4d::SpecError& e) {
      error(e.what());
    } catch (const qs4d::FormatError& e) {
      error(e.what());
    } catch (const qs4d::Cancelled& e) {
      PyErr_SetString(PyExc_KeyboardInterrupt, e.what());  // another call's Ctrl-C stopped this one too
    } catch (const py::builtin_exception&) {
      throw;  // pybind11's own (TypeError, IndexError, ...): its translator maps them
    } catch (const py::error_already_set&) {
      throw;  // a Python exception (KeyboardInterrupt included) passes through as it is
    } catch (const std::bad_alloc&) {
      throw;  // MemoryError
    } catch (const std::exception& e) {
      error(qs4d::printable(e.what()).c_str());  // anything else of the library's: still qs4dsim.Error
    }
  });
  register_data(m);
  register_evaluate(m);
  register_program(m);
  register_device(m);
  register_state_scan(m);
}
