// The Python module qs4dsim: each file registers its part (module.cpp ties them together).
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "bindings/convert.h"
#include "sim/sim.h"

namespace qs4d::py_bind {

// A loaded checkpoint, shared by every object made from it.
struct Checkpoint {
  std::string path;
  std::shared_ptr<const S4DModel> model;
};

// A chip preset or file with its overrides, resolved (loaded again by name wherever the CLI would
// load it, so the module's runs are the CLI's).
struct Chip {
  std::string name_or_path;
  std::vector<std::string> overrides;
  ChipSpec spec;
};

void register_data(py::module_& m);     // Checkpoint, Chip, Dataset (data.cpp)
void register_evaluate(py::module_& m); // evaluate (module.cpp)
void register_program(py::module_& m);  // program, ProgrammedChip, perturb (program.cpp)
void register_device(py::module_& m);   // Device, ProgrammedDevices (device.cpp)
void register_state_scan(py::module_& m);  // state_scan_forward, _backward (state_scan.cpp)

}  // namespace qs4d::py_bind
