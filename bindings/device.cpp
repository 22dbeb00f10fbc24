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
  bool one_d = false;  // programmed from 1-D targets: arrays come back 1-D
  // An array of the devices' shape as given (1-D targets give 1-D arrays).
  template <class M>
  py::object shaped(const M& m) const {
    py::array out = to_numpy(m);
    return one_d ? py::object(out.attr("reshape")(-1)) : py::object(out);
  }
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
      .def_property_readonly("target_uS", [](const ProgrammedDevices& p) { return p.shaped(p.state.target_uS); })
      .def_property_readonly("g_uS", [](const ProgrammedDevices& p) { return p.shaped(p.state.g_uS); })
      .def_property_readonly("stuck", [](const ProgrammedDevices& p) { return p.shaped(p.state.stuck); },
                             "0 free, 1 stuck at g_min, 2 stuck at g_max")
      .def_property_readonly("pulses", [](const ProgrammedDevices& p) { return p.shaped(p.state.pulses); },
                             "write-verify iterations per device (empty without write-verify)")
      .def_property_readonly("unverified",
                             [](const ProgrammedDevices& p) { return p.shaped(p.state.unverified); },
                             "1 where write-verify ended outside its tolerance");

  py::class_<Device>(m, "Device", "A device model (data/devices) on numpy arrays")
      .def_static(
          "load",
          [](const py::object& device, const py::dict& overrides) {
            if (py::isinstance<py::dict>(device)) {
              nlohmann::json j = json_from(device.cast<py::dict>(), "device");
              for (const std::string& o : overrides_from(overrides)) spec_json::set_dotted(j, o);
              return Device{std::make_shared<const DeviceModel>(DeviceSpec::from_json(j, "device"))};
            }
            return Device{std::make_shared<const DeviceModel>(
                load_device(path_from(device.cast<std::string>()), overrides_from(overrides), data_dir()))};
          },
          py::arg("name_or_path"), py::arg("overrides") = py::dict(),
          "A preset name (data/devices), a JSON file, or a dict holding a device spec (docs/formats.md), "
          "with overrides such as {'programming.scale': 2}")
      .def_property_readonly("name", [](const Device& d) { return d.model->spec().name; })
      .def_property_readonly("spec", [](const Device& d) { return to_python(d.model->spec().to_json()); })
      .def(
          "program",
          [](const Device& d, const py::object& targets_uS, uint64_t seed) {
            py::array targets_array = array_from(targets_uS, "targets_uS");
            const bool one_d = targets_array.ndim() == 1;
            if (one_d) targets_array = targets_array.attr("reshape")(1, -1).cast<py::array>();
            const RowMatrixXf targets = matrix_from(targets_array, "targets_uS");
            auto p = std::make_shared<ProgrammedDevices>();
            p->model = d.model;
            p->one_d = one_d;
            py::gil_scoped_release release;
            p->state = d.model->program(targets, seed);
            return p;
          },
          py::arg("targets_uS"), py::arg("seed") = 0, "Programs one device per target (uS; a 1-D or 2-D "
                                                       "array, numpy or torch; arrays about them come back "
                                                       "in the same shape), with write-verify when the "
                                                       "device has it")
      .def(
          "at_time",
          [](const Device& d, const ProgrammedDevices& p, const py::handle& time, uint64_t seed) {
            return p.shaped(at_time(p, time, seed));
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
            return p.shaped(read);
          },
          py::arg("programmed"), py::arg("time"), py::arg("seed") = 0,
          "One noisy read of every device `time` after programming")
      .def(
          "read",
          [](const Device& d, const py::object& g_uS, uint64_t seed) {
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
