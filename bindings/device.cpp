// Device: one device model on numpy arrays, for device studies.
#include "bindings/bindings.h"

namespace qs4d::py_bind {
namespace {

struct Device {
  std::shared_ptr<const DeviceModel> model;
};

// Devices programmed to targets, with the state ageing needs.
struct ProgrammedDevices {
  std::shared_ptr<const DeviceModel> model;
  ProgrammedArray state;
};

RowMatrixXf at_time(const ProgrammedDevices& p, const py::handle& time, uint64_t seed) {
  const double t = time_from(time);
  py::gil_scoped_release release;
  p.model->spec().check_time(t);
  return p.model->at_time(p.state, t, seed);
}

}  // namespace

void register_device(py::module_& m) {
  py::class_<ProgrammedDevices, std::shared_ptr<ProgrammedDevices>>(m, "ProgrammedDevices",
                                                                   "Devices right after programming")
      .def_property_readonly("target_uS", [](const ProgrammedDevices& p) { return to_numpy(p.state.target_uS); })
      .def_property_readonly("g_uS", [](const ProgrammedDevices& p) { return to_numpy(p.state.g_uS); })
      .def_property_readonly("stuck", [](const ProgrammedDevices& p) { return to_numpy<uint8_t>(p.state.stuck); },
                             "0 free, 1 stuck at g_min, 2 stuck at g_max")
      .def_property_readonly("pulses", [](const ProgrammedDevices& p) { return to_numpy<int16_t>(p.state.pulses); },
                             "write-verify iterations per device (empty without write-verify)")
      .def_property_readonly("unverified",
                             [](const ProgrammedDevices& p) { return to_numpy<uint8_t>(p.state.unverified); },
                             "1 where write-verify ended outside its tolerance");

  py::class_<Device>(m, "Device", "A device model (data/devices) on numpy arrays")
      .def_static(
          "load",
          [](const std::string& name_or_path, const py::dict& overrides) {
            return Device{std::make_shared<const DeviceModel>(
                load_device(path_from(name_or_path), overrides_from(overrides), data_dir()))};
          },
          py::arg("name_or_path"), py::arg("overrides") = py::dict())
      .def_property_readonly("name", [](const Device& d) { return d.model->spec().name; })
      .def_property_readonly("spec", [](const Device& d) { return to_python(d.model->spec().to_json()); })
      .def(
          "program",
          [](const Device& d, const py::array& targets_uS, uint64_t seed) {
            const RowMatrixXf targets = matrix_from(targets_uS, "targets_uS");
            auto p = std::make_shared<ProgrammedDevices>();
            p->model = d.model;
            py::gil_scoped_release release;
            p->state = d.model->program(targets, seed);
            return p;
          },
          py::arg("targets_uS"), py::arg("seed") = 0, "Programs one device per target (uS), with write-verify "
                                                       "when the device has it")
      .def(
          "at_time",
          [](const Device& d, const ProgrammedDevices& p, const py::handle& time, uint64_t seed) {
            return to_numpy(at_time(p, time, seed));
          },
          py::arg("programmed"), py::arg("time"), py::arg("seed") = 0,
          "Conductances `time` after programming (drift, relaxation, 1/f), without read noise")
      .def(
          "read",
          [](const Device& d, const ProgrammedDevices& p, const py::handle& time, uint64_t seed) {
            const RowMatrixXf g = at_time(p, time, seed);
            RowMatrixXf read;
            {
              py::gil_scoped_release release;
              read = d.model->read(g, seed ^ stream_key::kRead);
            }
            return to_numpy(read);
          },
          py::arg("programmed"), py::arg("time"), py::arg("seed") = 0,
          "One noisy read of every device `time` after programming")
      .def(
          "read",
          [](const Device& d, const py::array& g_uS, uint64_t seed) {
            const RowMatrixXf g = matrix_from(g_uS, "g_uS");
            RowMatrixXf read;
            {
              py::gil_scoped_release release;
              read = d.model->read(g, seed);
            }
            return to_numpy(read);
          },
          py::arg("g_uS"), py::arg("seed") = 0, "One noisy read of devices at conductances g_uS");
}

}  // namespace qs4d::py_bind
