// Conversions between Python objects and the library's types, shared by the binding files.
#pragma once

#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <functional>
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "bindings/arrays.h"
#include "models/model.h"

namespace qs4d::py_bind {

namespace py = pybind11;

// A JSON value as the Python object json.loads would give (dicts, lists, numbers, strings).
py::object to_python(const nlohmann::json& j);
// {"periphery.adc_bits": 6, "mapping.encoding": "differential"} as the CLI's --set items
// ("key=value", value as JSON unless it is a string).
std::vector<std::string> overrides_from(const py::dict& overrides);
// A time after programming: seconds as a number, or text with a unit ("1s", "1h", "1d", "1y").
double time_from(const py::handle& t);
// One time or several: a number, a string ("1d", or "0,1h,1d" as eval's --times), or an iterable
// of numbers and strings.
std::vector<double> times_from(const py::handle& times);
// Whether obj is a torch tensor (told by its type's module: torch is never imported here).
bool is_torch(const py::handle& obj);
// An array argument: numpy arrays as they are, torch tensors detached and on the CPU (numpy then
// shares their memory where the layout allows), anything else through numpy.asarray. `name`
// names the argument in errors.
py::array array_from(const py::handle& obj, const char* name);
// `result` as a torch tensor when `like` was one (sharing its memory), else the numpy array.
py::object same_kind(const py::array& result, const py::handle& like);
// A JSON object from a Python dict (through json.dumps: what JSON cannot hold is refused).
nlohmann::json json_from(const py::dict& d, const char* name);
// Inputs (n, L, d) float32 (copied; any float dtype converted), labels (n,) integers, numpy or
// torch (array_from). Errors name the argument, what it was and what was expected.
SequenceBatch sequences_from(const py::handle& x, const char* name = "x");
Dataset dataset_from(const py::handle& x, const py::handle& y, int64_t n_classes);
// A 2-D float array (both sizes >= 1) as a row-major float32 matrix.
RowMatrixXf matrix_from(const py::handle& a, const char* name);
py::array_t<float> to_numpy(const RowMatrixXf& m);
template <class T>
py::array_t<T> to_numpy(const Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>& m) {
  py::array_t<T> out({m.rows(), m.cols()});
  std::copy(m.data(), m.data() + m.size(), out.mutable_data());
  return out;
}

}  // namespace qs4d::py_bind
