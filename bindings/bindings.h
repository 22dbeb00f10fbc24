// The Python module qs4dsim: each file registers its part (module.cpp ties them together).
#pragma once

#include <chrono>
#include <functional>
#include <future>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "bindings/convert.h"
#include "core/cancel.h"
#include "sim/sim.h"

namespace qs4d::py_bind {

// A loaded checkpoint, shared by every object made from it.
struct Checkpoint {
  std::string path;
  std::shared_ptr<const S4DModel> model;
};

// A chip: a preset name, a file or a dict, with its overrides, resolved as the CLI resolves
// --chip and --set (so the module's runs are the CLI's).
struct Chip {
  std::string name_or_path;  // "" for a dict
  nlohmann::json source;     // the chip object as read (a dict's contents)
  std::string base_dir;      // where a relative device path is read from
  std::vector<std::string> overrides;
  ChipSpec spec;
  // The spec with more overrides on top of this chip's (evaluate's extrapolate).
  ChipSpec with(const std::vector<std::string>& more) const;
};
// A Chip object as it is, a preset name or file ("pcm_512"), or a dict holding a chip spec.
std::shared_ptr<Chip> chip_from(const py::handle& chip, const py::dict& overrides = py::dict());

// Runs `work` (pure C++: it must not touch Python objects) on a thread of its own while this one
// waits with the GIL released, checking for signals every 0.1 s: Ctrl-C asks the work to stop
// (request_cancel; it stops at its next batch) and raises KeyboardInterrupt here within a batch's
// time, nothing kept. The work's own exceptions come out as they would have.
// `tick`, when set, is called with the GIL held at every check (the progress display).
template <class F>
auto interruptible(F&& work, const std::function<void()>& tick = {}) -> decltype(work()) {
  using Result = decltype(work());
  std::packaged_task<Result()> task(std::forward<F>(work));
  std::future<Result> done = task.get_future();
  std::thread worker(std::move(task));
  for (;;) {
    bool ready = false;
    {
      py::gil_scoped_release release;
      ready = done.wait_for(std::chrono::milliseconds(100)) == std::future_status::ready;
    }
    if (ready) break;
    if (tick) tick();
    if (PyErr_CheckSignals() != 0) {
      request_cancel(true);
      {
        py::gil_scoped_release release;
        worker.join();
      }
      request_cancel(false);
      throw py::error_already_set();
    }
  }
  worker.join();
  if (tick) tick();
  return done.get();
}

// What evaluate's `progress` argument asks for, as a tick for interruptible(): None draws a tqdm
// bar when stderr is a terminal or the caller is a notebook (and tqdm is installed), False nothing,
// a callable is called as progress(done, total) with the chip passes done so far.
std::function<void()> progress_display(const py::object& progress);

void register_data(py::module_& m);     // Checkpoint, Chip, Dataset (data.cpp)
void register_evaluate(py::module_& m); // evaluate (module.cpp)
void register_program(py::module_& m);  // program, ProgrammedChip, perturb (program.cpp)
void register_device(py::module_& m);   // Device, ProgrammedDevices (device.cpp)
void register_state_scan(py::module_& m);  // state_scan_forward, _backward (state_scan.cpp)

}  // namespace qs4d::py_bind
