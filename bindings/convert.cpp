#include "bindings/convert.h"

#include <algorithm>
#include <cmath>

#include "bindings/arrays.h"
#include "core/core.h"

namespace qs4d::py_bind {

py::object to_python(const nlohmann::json& j) {
  const py::object loads = py::module_::import("json").attr("loads");
  return loads(j.dump());
}

std::vector<std::string> overrides_from(const py::dict& overrides) {
  const py::object dumps = py::module_::import("json").attr("dumps");
  std::vector<std::string> out;
  for (const auto& [key, value] : overrides) {
    const std::string text = py::isinstance<py::str>(value) ? value.cast<std::string>()
                                                            : dumps(value).cast<std::string>();
    out.push_back(py::str(key).cast<std::string>() + "=" + text);
  }
  return out;
}

double time_from(const py::handle& t) {
  if (py::isinstance<py::str>(t)) {
    const std::string text = t.cast<std::string>();
    const std::vector<double> parsed = parse_times(text);
    if (parsed.size() != 1) throw UsageError("time '" + text + "': expected one time such as '1h', found " +
                                             std::to_string(parsed.size()));
    return parsed.front();
  }
  const double s = t.cast<double>();
  if (!std::isfinite(s) || s < 0) throw UsageError("time " + std::to_string(s) + " s: expected a finite time >= 0");
  return s;
}

std::vector<double> times_from(const py::handle& times) {
  if (py::isinstance<py::str>(times)) return parse_times(times.cast<std::string>());  // "1d" or "0,1h"
  std::vector<double> out;
  if (py::isinstance<py::iterable>(times)) {
    for (const auto& t : times) out.push_back(time_from(t));
  } else {
    out.push_back(time_from(times));
  }
  if (out.empty()) throw UsageError("times: give at least one time after programming");
  return out;
}

bool is_torch(const py::handle& obj) {
  const py::object module = py::type::handle_of(obj).attr("__module__");
  return py::isinstance<py::str>(module) && module.cast<std::string>().rfind("torch", 0) == 0 &&
         py::hasattr(obj, "detach") && py::hasattr(obj, "numpy");
}

py::array array_from(const py::handle& obj, const char* name) {
  if (py::isinstance<py::array>(obj)) return py::reinterpret_borrow<py::array>(obj);
  try {
    if (is_torch(obj)) return obj.attr("detach")().attr("cpu")().attr("numpy")().cast<py::array>();
    return py::module_::import("numpy").attr("asarray")(obj).cast<py::array>();
  } catch (const py::error_already_set& e) {
    throw UsageError(std::string(name) + ": expected a numpy array or a torch tensor, found " +
                     py::str(py::type::handle_of(obj).attr("__name__")).cast<std::string>() + " (" + e.what() + ")");
  }
}

py::object same_kind(const py::array& result, const py::handle& like) {
  if (is_torch(like)) return py::module_::import("torch").attr("from_numpy")(result);
  return result;
}

nlohmann::json json_from(const py::dict& d, const char* name) {
  const py::object dumps = py::module_::import("json").attr("dumps");
  std::string text;
  try {
    text = dumps(d).cast<std::string>();
  } catch (const py::error_already_set& e) {
    throw UsageError(std::string(name) + ": the dict is not JSON (" + e.what() + ")");
  }
  return nlohmann::json::parse(text);
}

namespace {
ArrayInfo info_of(const py::array& a) {
  ArrayInfo i;
  for (py::ssize_t d = 0; d < a.ndim(); ++d) i.shape.push_back(static_cast<int64_t>(a.shape(d)));
  i.kind = a.dtype().kind();
  i.dtype = py::str(a.dtype()).cast<std::string>();
  return i;
}

// A C-contiguous float32 copy of a, checked first (bindings/arrays.h) and after: numpy's
// conversion result is always checked.
py::array_t<float, py::array::c_style | py::array::forcecast> floats(const py::array& a, const char* name) {
  check_numeric(info_of(a), name);
  auto out = py::array_t<float, py::array::c_style | py::array::forcecast>::ensure(a);
  if (!out) {
    throw UsageError(std::string(name) + ": numpy could not convert the array of shape " + shape_text(info_of(a).shape) +
                     " to a contiguous float32 array (out of memory?)");
  }
  return out;
}
}  // namespace

SequenceBatch sequences_from(const py::handle& given, const char* name) {
  const py::array x = array_from(given, name);
  if (x.ndim() != 3) return sequences_of(info_of(x), nullptr, name);  // refuses, naming the shape
  check_numeric(info_of(x), name);
  const auto f = floats(x, name);
  return sequences_of(info_of(f), f.data(), name);
}

Dataset dataset_from(const py::handle& x, const py::handle& given_y, int64_t n_classes) {
  Dataset d;
  d.x = sequences_from(x, "x");
  const py::array y = array_from(given_y, "y");
  check_labels_shape(info_of(y), d.x.n);
  const auto labels = py::array_t<int64_t, py::array::c_style | py::array::forcecast>::ensure(y);
  if (!labels) throw UsageError("y: numpy could not convert the labels to int64");
  d.y = labels_of(labels.data(), static_cast<int64_t>(labels.size()), n_classes);
  d.n_classes = n_classes;
  d.name = "numpy";
  d.source = "numpy arrays";
  return d;
}

RowMatrixXf matrix_from(const py::handle& given, const char* name) {
  const py::array a = array_from(given, name);
  const ArrayInfo before = info_of(a);
  if (before.shape.size() != 2 || before.shape[0] < 1 || before.shape[1] < 1) return matrix_of(before, nullptr, name);
  const auto f = floats(a, name);
  return matrix_of(info_of(f), f.data(), name);
}

py::array_t<float> to_numpy(const RowMatrixXf& m) { return to_numpy<float>(m); }

}  // namespace qs4d::py_bind
