#include "bindings/convert.h"

#include <algorithm>
#include <cmath>

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
std::string shape_of(const py::array& a) {
  std::string s = "(";
  for (py::ssize_t i = 0; i < a.ndim(); ++i) s += (i ? ", " : "") + std::to_string(a.shape(i));
  return s + (a.ndim() == 1 ? ",)" : ")");
}

// A C-contiguous float32 copy of a, or a UsageError when a does not hold floats, is larger than
// any model's input, or cannot be converted (numpy's conversion result is always checked).
py::array_t<float, py::array::c_style | py::array::forcecast> floats(const py::array& a, const char* name) {
  if (a.dtype().kind() != 'f' && a.dtype().kind() != 'i' && a.dtype().kind() != 'u') {
    throw UsageError(std::string(name) + ": expected a float array, found dtype " +
                     py::str(a.dtype()).cast<std::string>());
  }
  if (static_cast<int64_t>(a.size()) > kMaxDatasetElements) {
    throw UsageError(std::string(name) + ": shape " + shape_of(a) + " holds " + std::to_string(a.size()) +
                     " values, expected at most " + std::to_string(kMaxDatasetElements));
  }
  auto out = py::array_t<float, py::array::c_style | py::array::forcecast>::ensure(a);
  if (!out) {
    throw UsageError(std::string(name) + ": numpy could not convert the array of shape " + shape_of(a) +
                     " to a contiguous float32 array (out of memory?)");
  }
  return out;
}

// Inputs and weights are finite and of a sane magnitude: far beyond any normalised input or
// weight, float32 products overflow and the logits become NaN.
constexpr float kMaxMagnitude = 1e6f;
void require_finite(const float* v, size_t n, const char* name) {
  for (size_t i = 0; i < n; ++i) {
    if (!(std::abs(v[i]) <= kMaxMagnitude)) {
      throw UsageError(std::string(name) + ": element " + std::to_string(i) + " is " + format_number(v[i]) +
                       ", expected a finite value within +-1e6");
    }
  }
}
}  // namespace

std::string path_from(const std::string& path) {
  if (path.find('\0') != std::string::npos) {
    throw UsageError("path \"" + printable(path) + "\" holds a NUL byte, which no file name can");
  }
  return path;
}

RowMatrixXf logits_in_pieces(const SequenceBatch& batch, int64_t outputs,
                             const std::function<RowMatrixXf(const SequenceBatch& part, int64_t first)>& logits) {
  RowMatrixXf out(batch.n, outputs);
  const int64_t per = batch.length * batch.width;
  for (int64_t s = 0; s < batch.n; s += 256) {
    const int64_t n = std::min<int64_t>(256, batch.n - s);
    const SequenceBatch part{n, batch.length, batch.width,
                             std::vector<float>(batch.values.begin() + s * per, batch.values.begin() + (s + n) * per)};
    out.middleRows(s, n) = logits(part, s);
  }
  return out;
}

SequenceBatch sequences_from(const py::handle& given, const char* name) {
  const py::array x = array_from(given, name);
  if (x.ndim() != 3) {
    throw UsageError(std::string(name) + ": expected inputs shaped (samples, length, features), found shape " +
                     shape_of(x));
  }
  const auto f = floats(x, name);
  SequenceBatch b{f.shape(0), f.shape(1), f.shape(2), {}};
  if (b.n == 0 || b.length == 0 || b.width == 0) throw UsageError(std::string(name) + ": empty shape " + shape_of(x));
  b.values.assign(f.data(), f.data() + f.size());
  require_finite(b.values.data(), b.values.size(), name);
  return b;
}

Dataset dataset_from(const py::handle& x, const py::handle& given_y, int64_t n_classes) {
  Dataset d;
  d.x = sequences_from(x, "x");
  const py::array y = array_from(given_y, "y");
  if (y.ndim() != 1 || y.shape(0) != d.x.n) {
    throw UsageError("y: expected labels shaped (" + std::to_string(d.x.n) + ",) to match x, found shape " +
                     shape_of(y));
  }
  if (y.dtype().kind() != 'i' && y.dtype().kind() != 'u') {
    throw UsageError("y: expected integer labels, found dtype " + py::str(y.dtype()).cast<std::string>());
  }
  const auto labels = py::array_t<int64_t, py::array::c_style | py::array::forcecast>::ensure(y);
  if (!labels) throw UsageError("y: numpy could not convert the labels to int64");
  d.y.assign(labels.data(), labels.data() + labels.size());
  for (size_t i = 0; i < d.y.size(); ++i) {
    if (d.y[i] < 0 || d.y[i] >= n_classes) {
      throw UsageError("y: label " + std::to_string(d.y[i]) + " at index " + std::to_string(i) +
                       " is outside [0, " + std::to_string(n_classes) + ") (the checkpoint's outputs)");
    }
  }
  d.n_classes = n_classes;
  d.name = "numpy";
  d.source = "numpy arrays";
  return d;
}

RowMatrixXf matrix_from(const py::handle& given, const char* name) {
  const py::array a = array_from(given, name);
  if (a.ndim() != 2) throw UsageError(std::string(name) + ": expected a 2-D array, found shape " + shape_of(a));
  if (a.shape(0) < 1 || a.shape(1) < 1) throw UsageError(std::string(name) + ": empty shape " + shape_of(a));
  const auto f = floats(a, name);
  RowMatrixXf m(f.shape(0), f.shape(1));
  std::copy(f.data(), f.data() + f.size(), m.data());
  require_finite(m.data(), static_cast<size_t>(m.size()), name);
  return m;
}

py::array_t<float> to_numpy(const RowMatrixXf& m) { return to_numpy<float>(m); }

}  // namespace qs4d::py_bind
