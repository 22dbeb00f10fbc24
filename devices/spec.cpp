// DeviceSpec: strict JSON parsing (unknown or misplaced keys are errors naming their path),
// validation, and presets.
#include <cmath>
#include <fstream>

#include "devices/devices.h"
#include "core/fields.h"
#include "core/core.h"

namespace qs4d {

using nlohmann::json;
using namespace spec_json;

namespace {

const std::vector<std::pair<std::string, SigmaModel::Kind>> kSigmaKinds = {
    {"none", SigmaModel::Kind::kNone},
    {"constant", SigmaModel::Kind::kConstant},
    {"proportional", SigmaModel::Kind::kProportional},
    {"polynomial", SigmaModel::Kind::kPolynomial},
    {"table", SigmaModel::Kind::kTable}};
const std::vector<std::pair<std::string, DriftSpec::Kind>> kDriftKinds = {
    {"none", DriftSpec::Kind::kNone},
    {"power_law", DriftSpec::Kind::kPowerLaw},
    {"relaxation_table", DriftSpec::Kind::kRelaxationTable},
    {"log_relaxation", DriftSpec::Kind::kLogRelaxation}};
const std::vector<std::pair<std::string, AccumulatedNoiseSpec::Kind>> kAccKinds = {
    {"none", AccumulatedNoiseSpec::Kind::kNone},
    {"pcm_1f", AccumulatedNoiseSpec::Kind::kPcm1f},
    {"log10", AccumulatedNoiseSpec::Kind::kLog10}};

std::string kind_of(const json& j, const std::string& path) {
  if (!j.is_object()) {
    throw SpecError(path, "expected an object {\"kind\": ..., its parameters} (docs/formats.md), got " + describe(j) +
                              " (kind \"none\" switches it off)");
  }
  if (!j.contains("kind")) throw SpecError(path + ".kind", "missing");
  return get_string(j["kind"], path + ".kind");
}

}  // namespace

// ---------------------------------------------------------------------------------------------
double SigmaModel::operator()(double g, double g_max) const {
  double s = 0;
  switch (kind) {
    case Kind::kNone: return 0;
    case Kind::kConstant: s = sigma_uS; break;
    case Kind::kProportional: s = relative * std::abs(g); break;
    case Kind::kPolynomial: {
      const double x = normalized ? g / g_max : g;
      double p = 1;
      for (double c : coefficients) {
        s += c * p;
        p *= x;
      }
      break;
    }
    case Kind::kTable: {
      const auto& gs = table_g_uS;
      if (g <= gs.front()) {
        s = table_sigma_uS.front();
      } else if (g >= gs.back()) {
        s = table_sigma_uS.back();
      } else {
        const size_t i = static_cast<size_t>(std::upper_bound(gs.begin(), gs.end(), g) - gs.begin());
        const double f = (g - gs[i - 1]) / (gs[i] - gs[i - 1]);
        s = table_sigma_uS[i - 1] + f * (table_sigma_uS[i] - table_sigma_uS[i - 1]);
      }
      break;
    }
  }
  return std::max(0.0, s * scale);
}

void SigmaModel::on_row(const Eigen::ArrayXd& g, double g_max, Eigen::ArrayXd& sigma) const {
  sigma.resize(g.size());
  if (kind != Kind::kPolynomial) {
    for (Eigen::Index i = 0; i < g.size(); ++i) sigma[i] = (*this)(g[i], g_max);
    return;
  }
  const Eigen::ArrayXd x = normalized ? Eigen::ArrayXd(g / g_max) : g;
  Eigen::ArrayXd p = Eigen::ArrayXd::Ones(g.size());
  sigma.setZero();
  for (double c : coefficients) {
    sigma += c * p;
    p *= x;
  }
  sigma = (sigma * scale).max(0.0);
}

SigmaModel SigmaModel::from_json(const json& j, const std::string& path) {
  SigmaModel s;
  s.kind = get_enum(json(kind_of(j, path)), path + ".kind", kSigmaKinds);
  std::set<std::string> allowed = {"kind", "scale"};
  switch (s.kind) {
    case Kind::kNone: break;
    case Kind::kConstant: allowed.insert("sigma_uS"); break;
    case Kind::kProportional: allowed.insert("relative"); break;
    case Kind::kPolynomial: allowed.insert({"coefficients_uS", "variable"}); break;
    case Kind::kTable: allowed.insert({"g_uS", "sigma_uS"}); break;
  }
  reject_unknown(j, path, allowed);
  auto need = [&](const char* key) -> const json& {
    if (!j.contains(key)) throw SpecError(path + "." + key, "missing (required for this kind)");
    return j[key];
  };
  if (j.contains("scale")) s.scale = bounded(j["scale"], path + ".scale", bounds::kSigmaScale);
  if (s.kind == Kind::kConstant) s.sigma_uS = bounded(need("sigma_uS"), path + ".sigma_uS", bounds::kSigmaAbsolute);
  if (s.kind == Kind::kProportional) s.relative = bounded(need("relative"), path + ".relative", bounds::kSigmaRelative);
  if (s.kind == Kind::kPolynomial) {
    s.coefficients = get_numbers(need("coefficients_uS"), path + ".coefficients_uS");
    if (s.coefficients.empty()) throw SpecError(path + ".coefficients_uS", "must not be empty");
    if (j.contains("variable")) {
      const std::string v = get_string(j["variable"], path + ".variable");
      if (v != "normalized" && v != "uS") {
        throw SpecError(path + ".variable", "is \"" + v + "\", expected \"normalized\" or \"uS\"");
      }
      s.normalized = v == "normalized";
    }
  }
  if (s.kind == Kind::kTable) {
    s.table_g_uS = get_numbers(need("g_uS"), path + ".g_uS");
    s.table_sigma_uS = get_numbers(need("sigma_uS"), path + ".sigma_uS");
    if (s.table_g_uS.size() != s.table_sigma_uS.size() || s.table_g_uS.empty()) {
      throw SpecError(path, "g_uS and sigma_uS must be non-empty and of equal length");
    }
    for (size_t i = 1; i < s.table_g_uS.size(); ++i) {
      if (!(s.table_g_uS[i] > s.table_g_uS[i - 1])) {
        throw SpecError(path + ".g_uS", "must be strictly increasing");
      }
    }
  }
  return s;
}

json SigmaModel::to_json() const {
  json j{{"kind", name_of(kind, kSigmaKinds)}};
  if (kind == Kind::kNone) return j;
  j["scale"] = scale;
  if (kind == Kind::kConstant) j["sigma_uS"] = sigma_uS;
  if (kind == Kind::kProportional) j["relative"] = relative;
  if (kind == Kind::kPolynomial) {
    j["coefficients_uS"] = coefficients;
    j["variable"] = normalized ? "normalized" : "uS";
  }
  if (kind == Kind::kTable) {
    j["g_uS"] = table_g_uS;
    j["sigma_uS"] = table_sigma_uS;
  }
  return j;
}

LogClip LogClip::from_json(const json& j, const std::string& path) {
  LogClip c;
  if (j.is_number()) {  // a constant: the same value at every conductance
    c.a = 0;
    c.b = c.lo = c.hi = bounded(j, path, bounds::kDriftExponent);
    return c;
  }
  if (!j.is_object()) {
    throw SpecError(path, "expected a number (a constant) or {\"a\", \"b\", \"min\", \"max\"} for "
                          "clip(a ln(G/g_max) + b, min, max), got " + describe(j));
  }
  reject_unknown(j, path, {"a", "b", "min", "max"});
  for (const auto& [k, v] : j.items()) {
    (k == "a" ? c.a : k == "b" ? c.b : k == "min" ? c.lo : c.hi) = bounded(v, path + "." + k, bounds::kDriftExponent);
  }
  if (c.lo > c.hi) throw SpecError(path, "min must not exceed max");
  return c;
}

json LogClip::to_json() const { return json{{"a", a}, {"b", b}, {"min", lo}, {"max", hi}}; }

void DeviceSpec::check_time(double t_s) const {
  if (extrapolate || !extrapolated(t_s)) return;
  const std::string last = std::isinf(time_max_s) ? std::string("no upper bound") : format_time(time_max_s);
  throw UsageError("device " + (name.empty() ? std::string("(unnamed)") : name) + ": " + format_time(t_s) +
                   " after programming is outside the times its source covers (" + format_time(time_min_s) +
                   " to " + last + "); pass --extrapolate (or set device.extrapolate=true) to run it anyway, "
                   "and reports will mark it extrapolated");
}

std::string DeviceSpec::inert_reason(const std::string& key, double t_s, bool programmed_state_counts) const {
  const std::string group = key.substr(0, key.find('.'));
  const std::string field = key.find('.') == std::string::npos ? "" : key.substr(key.find('.') + 1);
  const std::string who = "device " + (name.empty() ? std::string("(unnamed)") : name);
  const bool one_over_f_at_zero = accumulated.kind == AccumulatedNoiseSpec::Kind::kPcm1f && accumulated.add_t0 &&
                                  drift.kind == DriftSpec::Kind::kPowerLaw;
  if (group == "programming" || group == "write_verify") {
    if (group == "programming" && field != "kind" && programming.kind == SigmaModel::Kind::kNone) {
      return who + " has no programming noise (programming.kind none)";
    }
    if (group == "write_verify" && field != "enabled" && !write_verify.enabled) {
      return who + " does not write-verify (write_verify.enabled false)";
    }
    if (drift.kind == DriftSpec::Kind::kRelaxationTable && t_s > 0 &&
        accumulated.kind != AccumulatedNoiseSpec::Kind::kPcm1f && !programmed_state_counts) {
      return who + " uses relaxation_table drift: after programming (t > 0) each conductance is its target "
             "spread by the source's sigma at t, whatever was programmed; " + group + ".* acts only at t = 0";
    }
    return "";
  }
  if (group == "drift" || group == "accumulated_noise") {
    const bool off = group == "drift" ? drift.kind == DriftSpec::Kind::kNone
                                      : accumulated.kind == AccumulatedNoiseSpec::Kind::kNone;
    if (off && field != "kind") return who + " has no " + group + " (" + group + ".kind none)";
    const bool acts_at_zero = one_over_f_at_zero && (group == "accumulated_noise" || field == "t0_s" ||
                                                     field == "kind");
    if (t_s == 0 && !acts_at_zero) {
      return "right after programming (t = 0) " + who + " holds its programmed state: " + group +
             ".* acts only at t > 0";
    }
    return "";
  }
  if (group == "read_noise" && field != "kind" && read.kind == SigmaModel::Kind::kNone) {
    return who + " has no read noise (read_noise.kind none)";
  }
  return "";
}

// ---------------------------------------------------------------------------------------------
// The device's parts, each read and written by a function of its own; the device's own keys in
// one table (core/fields.h).
namespace {

WriteVerifySpec read_write_verify(const json& v, const std::string& p) {
  reject_unknown(v, p, {"enabled", "max_iterations", "tolerance", "tolerance_kind"});
  WriteVerifySpec w;
  for (const auto& [k, x] : v.items()) {
    const std::string q = p + "." + k;
    if (k == "enabled") w.enabled = get_bool(x, q);
    if (k == "max_iterations") w.max_iterations = static_cast<int>(bounded_int(x, q, bounds::kVerifyIterations));
    if (k == "tolerance") w.tolerance = bounded(x, q, bounds::kVerifyTolerance);
    if (k == "tolerance_kind") {
      const std::string t = get_string(x, q);
      if (t != "relative" && t != "absolute") throw SpecError(q, "is \"" + t + "\", expected \"relative\" or \"absolute\"");
      w.relative = t == "relative";
    }
  }
  return w;
}

json write_verify_json(const WriteVerifySpec& w) {
  return {{"enabled", w.enabled},
          {"max_iterations", w.max_iterations},
          {"tolerance", w.tolerance},
          {"tolerance_kind", w.relative ? "relative" : "absolute"}};
}

// Only the keys of the drift's kind are allowed (a power-law key on a relaxation table is refused).
DriftSpec read_drift(const json& v, const std::string& p) {
  DriftSpec s;
  s.kind = get_enum(json(kind_of(v, p)), p + ".kind", kDriftKinds);
  std::set<std::string> allowed = {"kind", "scale"};
  if (s.kind == DriftSpec::Kind::kPowerLaw) allowed.insert({"t0_s", "nu_mean", "nu_std"});
  if (s.kind == DriftSpec::Kind::kRelaxationTable) allowed.insert({"times_s", "sigma_at"});
  if (s.kind == DriftSpec::Kind::kLogRelaxation) allowed.insert({"mean_per_ln_s", "std_per_ln_s", "std_uS"});
  reject_unknown(v, p, allowed);
  for (const auto& [k, x] : v.items()) {
    const std::string q = p + "." + k;
    if (k == "scale") s.scale = bounded(x, q, bounds::kDriftScale);
    if (k == "t0_s") s.t0_s = bounded(x, q, bounds::kDriftReference);
    if (k == "nu_mean") s.nu_mean = LogClip::from_json(x, q);
    if (k == "nu_std") {
      s.nu_std = LogClip::from_json(x, q);
      if (s.nu_std.lo < 0) throw SpecError(q, "min is " + format_number(s.nu_std.lo) + ", expected >= 0 (a spread)");
    }
    if (k == "times_s") s.times_s = get_numbers(x, q);
    if (k == "sigma_at") {
      if (!x.is_array()) throw SpecError(q, "expected an array of sigma models");
      for (size_t i = 0; i < x.size(); ++i) s.sigma_at.push_back(SigmaModel::from_json(x[i], q + "[" + std::to_string(i) + "]"));
    }
    if (k == "mean_per_ln_s") s.mean_per_ln_s = bounded(x, q, bounds::kDriftMeanPerLn);
    if (k == "std_per_ln_s") s.std_per_ln_s = bounded(x, q, bounds::kDriftSpread);
    if (k == "std_uS") s.std_uS = bounded(x, q, bounds::kDriftSpread);
  }
  if (s.kind == DriftSpec::Kind::kPowerLaw && !(s.t0_s > 0)) throw SpecError(p + ".t0_s", "must be > 0");
  if (s.kind == DriftSpec::Kind::kRelaxationTable) {
    if (s.times_s.empty() || s.times_s.size() != s.sigma_at.size()) {
      throw SpecError(p, "times_s and sigma_at must be non-empty and of equal length");
    }
    for (size_t i = 0; i < s.times_s.size(); ++i) {
      if (!(s.times_s[i] > 0) || (i && !(s.times_s[i] > s.times_s[i - 1]))) {
        throw SpecError(p + ".times_s", "must be positive and strictly increasing");
      }
    }
  }
  return s;
}

json drift_json(const DriftSpec& drift) {
  json dr{{"kind", name_of(drift.kind, kDriftKinds)}, {"scale", drift.scale}};
  if (drift.kind == DriftSpec::Kind::kPowerLaw) {
    dr["t0_s"] = drift.t0_s;
    dr["nu_mean"] = drift.nu_mean.to_json();
    dr["nu_std"] = drift.nu_std.to_json();
  } else if (drift.kind == DriftSpec::Kind::kRelaxationTable) {
    dr["times_s"] = drift.times_s;
    for (const auto& s : drift.sigma_at) dr["sigma_at"].push_back(s.to_json());
  } else if (drift.kind == DriftSpec::Kind::kLogRelaxation) {
    dr["mean_per_ln_s"] = drift.mean_per_ln_s;
    dr["std_per_ln_s"] = drift.std_per_ln_s;
    dr["std_uS"] = drift.std_uS;
  }
  return dr;
}

AccumulatedNoiseSpec read_accumulated(const json& v, const std::string& p) {
  AccumulatedNoiseSpec a;
  a.kind = get_enum(json(kind_of(v, p)), p + ".kind", kAccKinds);
  std::set<std::string> allowed = {"kind", "scale"};
  if (a.kind == AccumulatedNoiseSpec::Kind::kPcm1f) allowed.insert({"t_read_s", "add_t0", "q_a", "q_b", "q_floor", "q_max"});
  if (a.kind == AccumulatedNoiseSpec::Kind::kLog10) allowed.insert({"t_read_s", "k"});
  reject_unknown(v, p, allowed);
  for (const auto& [k, x] : v.items()) {
    const std::string q = p + "." + k;
    if (k == "scale") a.scale = bounded(x, q, bounds::kAccumulatedScale);
    if (k == "t_read_s") a.t_read_s = bounded(x, q, bounds::kReadTime);
    if (k == "add_t0") a.add_t0 = get_bool(x, q);
    if (k == "q_a") a.q_a = bounded(x, q, bounds::kAccumulatedQ);
    if (k == "q_b") a.q_b = bounded(x, q, bounds::kAccumulatedShape);
    if (k == "q_floor") a.q_floor = bounded(x, q, bounds::kAccumulatedQ);
    if (k == "q_max") a.q_max = bounded(x, q, bounds::kAccumulatedQ);
    if (k == "k") a.k = bounded(x, q, bounds::kAccumulatedShape);
  }
  if (a.kind != AccumulatedNoiseSpec::Kind::kNone && !(a.t_read_s > 0)) throw SpecError(p + ".t_read_s", "must be > 0");
  return a;
}

json accumulated_json(const AccumulatedNoiseSpec& a) {
  json acc{{"kind", name_of(a.kind, kAccKinds)}, {"scale", a.scale}};
  if (a.kind == AccumulatedNoiseSpec::Kind::kPcm1f) {
    acc.update(json{{"t_read_s", a.t_read_s}, {"add_t0", a.add_t0}, {"q_a", a.q_a}, {"q_b", a.q_b},
                    {"q_floor", a.q_floor}, {"q_max", a.q_max}});
  } else if (a.kind == AccumulatedNoiseSpec::Kind::kLog10) {
    acc.update(json{{"t_read_s", a.t_read_s}, {"k", a.k}});
  }
  return acc;
}

StuckSpec read_stuck(const json& v, const std::string& p) {
  reject_unknown(v, p, {"at_min", "at_max"});
  StuckSpec st;
  for (const auto& [k, x] : v.items()) (k == "at_min" ? st.at_min : st.at_max) = bounded(x, p + "." + k, bounds::kStuckFraction);
  if (st.at_min + st.at_max > 1) throw SpecError(p, "fractions add up to more than 1");
  return st;
}

// [first, last] in seconds; a last of null means the source states no upper bound.
void read_time_range(DeviceSpec& d, const json& v, const std::string& p) {
  if (!v.is_array() || v.size() != 2) throw SpecError(p, "expected [first, last] in seconds, got " + describe(v));
  d.time_min_s = get_number(v[0], p + "[0]");
  d.time_max_s = v[1].is_null() ? std::numeric_limits<double>::infinity() : get_number(v[1], p + "[1]");
  if (!(d.time_min_s >= 0) || !(d.time_max_s >= d.time_min_s)) {
    throw SpecError(p, "expected 0 <= first <= last, got " + describe(v));
  }
}

template <class T>
std::function<void(const DeviceSpec&, json&)> write(const char* key, T DeviceSpec::*member) {
  return [key, member](const DeviceSpec& d, json& j) { j[key] = d.*member; };
}

const std::vector<Field<DeviceSpec>>& device_fields() {
  using D = DeviceSpec;
  using V = const json&;
  using P = const std::string&;
  static const std::vector<Field<D>> fields = {
      {"name", [](D& d, V v, P p) { d.name = get_string(v, p); }, write("name", &D::name)},
      {"citation", [](D& d, V v, P p) { d.citation = get_string(v, p); }, write("citation", &D::citation)},
      {"description", [](D& d, V v, P p) { d.description = get_string(v, p); },
       [](const D& d, json& j) {
         if (!d.description.empty()) j["description"] = d.description;
       }},
      {"g_min_uS", [](D& d, V v, P p) { d.g_min_uS = bounded(v, p, bounds::kConductance); }, write("g_min_uS", &D::g_min_uS)},
      {"g_max_uS", [](D& d, V v, P p) { d.g_max_uS = bounded(v, p, bounds::kConductance); }, write("g_max_uS", &D::g_max_uS)},
      {"levels", [](D& d, V v, P p) { d.levels = get_int(v, p); }, write("levels", &D::levels)},
      {"window_dtod", [](D& d, V v, P p) { d.window_dtod = bounded(v, p, bounds::kWindowSpread); },
       write("window_dtod", &D::window_dtod)},
      {"clip_to_window", [](D& d, V v, P p) { d.clip_to_window = get_bool(v, p); },
       write("clip_to_window", &D::clip_to_window)},
      {"extrapolate", [](D& d, V v, P p) { d.extrapolate = get_bool(v, p); }, write("extrapolate", &D::extrapolate)},
      {"time_range_s", read_time_range,
       [](const D& d, json& j) {
         j["time_range_s"] = json::array({d.time_min_s, std::isinf(d.time_max_s) ? json(nullptr) : json(d.time_max_s)});
       }},
      {"programming", [](D& d, V v, P p) { d.programming = SigmaModel::from_json(v, p); },
       [](const D& d, json& j) { j["programming"] = d.programming.to_json(); }},
      {"read_noise", [](D& d, V v, P p) { d.read = SigmaModel::from_json(v, p); },
       [](const D& d, json& j) { j["read_noise"] = d.read.to_json(); }},
      {"write_verify", [](D& d, V v, P p) { d.write_verify = read_write_verify(v, p); },
       [](const D& d, json& j) { j["write_verify"] = write_verify_json(d.write_verify); }},
      {"drift", [](D& d, V v, P p) { d.drift = read_drift(v, p); },
       [](const D& d, json& j) { j["drift"] = drift_json(d.drift); }},
      {"accumulated_noise", [](D& d, V v, P p) { d.accumulated = read_accumulated(v, p); },
       [](const D& d, json& j) { j["accumulated_noise"] = accumulated_json(d.accumulated); }},
      {"stuck", [](D& d, V v, P p) { d.stuck = read_stuck(v, p); },
       [](const D& d, json& j) { j["stuck"] = {{"at_min", d.stuck.at_min}, {"at_max", d.stuck.at_max}}; }},
  };
  return fields;
}

// What holds across keys: the window, its spread, and write-verify's tolerance inside it (a
// fraction of the target, or at most the window's width in uS; 0 would never be met).
void check_device(const DeviceSpec& d, const std::string& path) {
  if (!(d.g_max_uS > d.g_min_uS)) throw SpecError(path + ".g_max_uS", "must be greater than g_min_uS");
  d.window().validate(path);
  if (d.write_verify.enabled) {
    const double limit = d.write_verify.relative ? 1.0 : d.g_max_uS - d.g_min_uS;
    if (!(d.write_verify.tolerance > 0 && d.write_verify.tolerance <= limit)) {
      throw SpecError(path + ".write_verify.tolerance",
                      "is " + format_number(d.write_verify.tolerance) + ", expected above 0 and at most " +
                          format_number(limit) +
                          (d.write_verify.relative ? " (a fraction of the target)" : " uS (the window's width)"));
    }
  }
}

}  // namespace

DeviceSpec DeviceSpec::from_json(const json& j, const std::string& path) {
  DeviceSpec d = read_fields(j, path, device_fields());
  check_device(d, path);
  return d;
}

json DeviceSpec::to_json() const { return write_fields(*this, device_fields()); }

std::vector<std::string> DeviceSpec::keys() { return keys_of(device_fields()); }

DeviceSpec load_device(const std::string& name_or_path, const std::vector<std::string>& overrides,
                       const std::string& data_dir) {
  const std::string path = preset_path(name_or_path, data_dir + "/devices");
  json j = read_json_file(path, "device \"" + name_or_path + "\"");
  for (const auto& o : overrides) set_dotted(j, o);
  try {
    return DeviceSpec::from_json(j, "device");
  } catch (const SpecError& e) {
    throw SpecError(path + ": " + e.key_path(),
                    std::string(e.what()).substr(e.key_path().size() + 2));
  }
}

}  // namespace qs4d
