// Checkpoint format v1: reading and validation. The format itself is documented in model.h.
#include <cmath>
#include <set>
#include <sstream>

#include "models/detail/h5.h"
#include "models/model.h"

namespace qs4d {

namespace {

constexpr int64_t kFormatVersion = 1;
const std::string kStateDict = "/state_dict";
const std::string kQuant = "/quant";
const std::string kStateQuant = "/state_quant";

std::string layer_prefix(int64_t i) { return "s4_layers." + std::to_string(i) + "."; }
std::string norm_prefix(int64_t i) { return "norms." + std::to_string(i) + "."; }

}  // namespace

// Reads one checkpoint into an S4DModel; a friend of S4DModel so it can fill it in place.
class CheckpointReader {
 public:
  explicit CheckpointReader(const std::string& path) : r_(path) {}

  S4DModel read() {
    S4DModel m;
    m.path_ = r_.path();
    m.config_ = read_config();
    expected_ = expected_shapes(m.config_);
    read_state_dict(m);
    read_quant(m);
    build_layers(m);
    read_state_quant(m);
    read_meta(m);
    return m;
  }

 private:
  ModelConfig read_config() {
    if (!r_.has_attr("/", "format_version")) {
      r_.fail(ErrorKind::kMissingObject, "/@format_version",
              "attribute is missing: not a QS4D-Sim checkpoint (expected format_version = 1)");
    }
    const int64_t version = r_.attr_int("/", "format_version");
    if (version != kFormatVersion) {
      r_.fail(ErrorKind::kUnsupportedVersion, "/@format_version",
              "is " + std::to_string(version) + ", expected 1 (this build reads format v1)");
    }
    ModelConfig c;
    c.d_input = size_attr("d_input");
    c.d_output = size_attr("d_output");
    c.d_model = size_attr("d_model");
    c.d_state = size_attr("d_state");
    c.n_layers = size_attr("n_layers");
    if (c.d_state % 2 != 0) {
      r_.fail(ErrorKind::kBadValue, "/@d_state",
              "is " + std::to_string(c.d_state) + ", expected an even number (N/2 complex modes)");
    }
    const int64_t prenorm = r_.attr_int("/", "prenorm");
    if (prenorm != 0 && prenorm != 1) {
      r_.fail(ErrorKind::kBadValue, "/@prenorm",
              "is " + std::to_string(prenorm) + ", expected 0 or 1");
    }
    c.prenorm = prenorm == 1;
    const std::string norm = r_.attr_string("/", "norm");
    if (norm == "layer") {
      c.norm = NormKind::kLayer;
    } else if (norm == "batch") {
      c.norm = NormKind::kBatch;
    } else {
      r_.fail(ErrorKind::kBadValue, "/@norm", "is \"" + norm + "\", expected \"layer\" or \"batch\"");
    }
    const double eps = r_.attr_float("/", "norm_eps");
    if (!std::isfinite(eps) || eps <= 0 || eps > 1) {
      std::ostringstream v;
      v << eps;
      r_.fail(ErrorKind::kBadValue, "/@norm_eps", "is " + v.str() + ", expected 0 < eps <= 1");
    }
    c.norm_eps = static_cast<float>(eps);
    // Refuse before allocating: the largest tensor and the sum of all of them must be sane.
    const int64_t per_layer = 2 * c.d_model * c.d_model + 8 * c.d_model * c.modes();
    if (2 * c.d_model * c.d_model > kMaxTensorElements ||
        c.d_model * c.d_input > kMaxTensorElements || c.d_model * c.d_output > kMaxTensorElements ||
        c.d_model * c.d_state > kMaxTensorElements ||
        per_layer > kMaxTensorElements * 4 / c.n_layers) {
      r_.fail(ErrorKind::kAbsurdSize, "/",
              "sizes d_input=" + std::to_string(c.d_input) + " d_model=" +
                  std::to_string(c.d_model) + " d_state=" + std::to_string(c.d_state) +
                  " n_layers=" + std::to_string(c.n_layers) + " d_output=" +
                  std::to_string(c.d_output) + " would need more than " +
                  std::to_string(kMaxTensorElements) + " elements in one tensor or " +
                  std::to_string(kMaxTensorElements * 4) + " in all; refusing to allocate");
    }
    return c;
  }

  int64_t size_attr(const std::string& name) {
    const int64_t v = r_.attr_int("/", name);
    if (v <= 0) {
      r_.fail(ErrorKind::kBadValue, "/@" + name,
              "is " + std::to_string(v) + ", expected a positive size");
    }
    if (v > kMaxDim) {
      r_.fail(ErrorKind::kAbsurdSize, "/@" + name,
              "is " + std::to_string(v) + ", expected at most " + std::to_string(kMaxDim) +
                  "; refusing to allocate");
    }
    return v;
  }

  static std::map<std::string, std::vector<int64_t>> expected_shapes(const ModelConfig& c) {
    const int64_t H = c.d_model, M = c.modes();
    std::map<std::string, std::vector<int64_t>> s;
    s["encoder.weight"] = {H, c.d_input};
    s["encoder.bias"] = {H};
    for (int64_t i = 0; i < c.n_layers; ++i) {
      const std::string p = layer_prefix(i);
      s[p + "D"] = {H};
      s[p + "kernel.log_dt"] = {H};
      s[p + "kernel.C"] = {H, M, 2};
      s[p + "kernel.log_A_real"] = {H, M};
      s[p + "kernel.A_imag"] = {H, M};
      s[p + "output_linear.0.weight"] = {2 * H, H, 1};
      s[p + "output_linear.0.bias"] = {2 * H};
      const std::string n = norm_prefix(i);
      s[n + "weight"] = {H};
      s[n + "bias"] = {H};
      if (c.norm == NormKind::kBatch) {
        s[n + "running_mean"] = {H};
        s[n + "running_var"] = {H};
        s[n + "num_batches_tracked"] = {};
      }
    }
    s["decoder.weight"] = {c.d_output, H};
    s["decoder.bias"] = {c.d_output};
    return s;
  }

  static bool is_counter(const std::string& name) {
    return name.size() > 19 && name.compare(name.size() - 19, 19, "num_batches_tracked") == 0;
  }

  void read_state_dict(S4DModel& m) {
    if (!r_.is_group(kStateDict)) {
      r_.fail(r_.exists(kStateDict) ? ErrorKind::kWrongType : ErrorKind::kMissingObject, kStateDict,
              r_.exists(kStateDict) ? "is a dataset, expected a group of tensors" : "group is missing");
    }
    const auto names = r_.children(kStateDict);
    const std::set<std::string> present(names.begin(), names.end());
    for (const auto& name : names) {
      if (!expected_.count(name)) {
        r_.fail(ErrorKind::kUnknownTensor, kStateDict + "/" + name,
                "unknown tensor: the model described by the root attributes has no such "
                "parameter (expected names like 'encoder.weight', 's4_layers.0.kernel.C', "
                "'norms.0.weight')");
      }
    }
    for (const auto& [name, shape] : expected_) {
      if (!present.count(name)) {
        r_.fail(ErrorKind::kMissingObject, kStateDict + "/" + name,
                "tensor is missing, expected shape " + h5::shape_text(shape));
      }
      const std::string path = kStateDict + "/" + name;
      const h5::DatasetInfo info = check_shape(path, shape);
      if (is_counter(name)) {
        if (info.value_class != h5::ValueClass::kInteger) {
          r_.fail(ErrorKind::kWrongType, path, "expected an integer counter");
        }
        continue;
      }
      Tensor t;
      t.shape = shape;
      t.values = r_.read_float(path);
      check_finite(path, t.values);
      m.tensors_[name] = std::move(t);
    }
  }

  h5::DatasetInfo check_shape(const std::string& path, const std::vector<int64_t>& shape) {
    const h5::DatasetInfo info = r_.info(path);
    if (info.shape.size() != shape.size()) {
      r_.fail(ErrorKind::kWrongRank, path,
              "rank " + std::to_string(info.shape.size()) + " " + h5::shape_text(info.shape) +
                  ", expected rank " + std::to_string(shape.size()) + " " +
                  h5::shape_text(shape));
    }
    if (info.shape != shape) {
      r_.fail(ErrorKind::kWrongShape, path,
              "shape " + h5::shape_text(info.shape) + ", expected " + h5::shape_text(shape));
    }
    return info;
  }

  void check_finite(const std::string& path, const std::vector<float>& v) {
    for (size_t i = 0; i < v.size(); ++i) {
      if (!std::isfinite(v[i])) {
        std::ostringstream out;
        out << "element " << i << " is " << v[i] << ", expected finite values";
        r_.fail(ErrorKind::kNonFinite, path, out.str());
      }
    }
  }

  static bool is_discrete_name(const std::string& name, int64_t n_layers) {
    for (int64_t i = 0; i < n_layers; ++i) {
      if (name == layer_prefix(i) + "kernel.Abar" || name == layer_prefix(i) + "kernel.Bbar") {
        return true;
      }
    }
    return false;
  }

  void read_quant(S4DModel& m) {
    if (!r_.exists(kQuant)) return;
    if (!r_.is_group(kQuant)) r_.fail(ErrorKind::kWrongType, kQuant, "is not a group");
    const ModelConfig& c = m.config_;
    for (const auto& name : r_.children(kQuant)) {
      const std::string g = kQuant + "/" + name;
      std::vector<int64_t> shape;
      if (expected_.count(name) && !is_counter(name)) {
        shape = expected_.at(name);
      } else if (is_discrete_name(name, c.n_layers)) {
        shape = {c.d_model, c.modes(), 2};
      } else {
        r_.fail(ErrorKind::kUnknownTensor, g,
                "quantization spec for a tensor the model does not have (expected a "
                "/state_dict name or s4_layers.{i}.kernel.Abar / .Bbar)");
      }
      QuantSpec q;
      q.shape = shape;
      const int64_t bits = r_.attr_int(g, "bits");
      if (bits < kMinQuantBits || bits > kMaxQuantBits) {
        r_.fail(ErrorKind::kBadValue, g + "/@bits",
                "is " + std::to_string(bits) + ", expected 2..16");
      }
      q.bits = static_cast<int>(bits);
      const int64_t sym = r_.attr_int(g, "symmetric");
      if (sym != 0 && sym != 1) {
        r_.fail(ErrorKind::kBadValue, g + "/@symmetric",
                "is " + std::to_string(sym) + ", expected 0 or 1");
      }
      q.symmetric = sym == 1;
      const int64_t axis = r_.attr_int(g, "axis");
      if (axis < -1 || axis >= static_cast<int64_t>(shape.size())) {
        r_.fail(ErrorKind::kBadValue, g + "/@axis",
                "is " + std::to_string(axis) + ", expected -1 (per tensor) or 0.." +
                    std::to_string(shape.size() - 1));
      }
      q.axis = static_cast<int>(axis);
      check_shape(g + "/codes", shape);
      const auto codes = r_.read_int(g + "/codes");
      const int64_t n_scales = axis < 0 ? 1 : shape[static_cast<size_t>(axis)];
      const h5::DatasetInfo sinfo = r_.info(g + "/scale");
      if (sinfo.numel() != n_scales || sinfo.shape.size() > 1) {
        r_.fail(ErrorKind::kWrongShape, g + "/scale",
                "shape " + h5::shape_text(sinfo.shape) + ", expected " +
                    (axis < 0 ? std::string("() or (1,)") : h5::shape_text({n_scales})));
      }
      q.scale = r_.read_float(g + "/scale");
      check_finite(g + "/scale", q.scale);
      for (float s : q.scale) {
        if (!(s > 0)) {
          r_.fail(ErrorKind::kBadValue, g + "/scale", "contains a non-positive scale");
        }
      }
      int64_t qmin = -((int64_t{1} << (bits - 1)) - 1), qmax = (int64_t{1} << (bits - 1)) - 1;
      if (!q.symmetric) {
        qmin = 0;
        qmax = (int64_t{1} << bits) - 1;
        q.zero_point.assign(static_cast<size_t>(n_scales), 0);
        if (r_.exists(g + "/zero_point")) {
          const h5::DatasetInfo zinfo = r_.info(g + "/zero_point");
          if (zinfo.numel() != n_scales) {
            r_.fail(ErrorKind::kWrongShape, g + "/zero_point",
                    "shape " + h5::shape_text(zinfo.shape) + ", expected the shape of scale");
          }
          const auto zp = r_.read_int(g + "/zero_point");
          for (size_t i = 0; i < zp.size(); ++i) {
            // A zero point outside the code range is no asymmetric quantizer; checking before
            // narrowing keeps 2^63-1 or INT32_MIN from wrapping into an accepted value.
            if (zp[i] < qmin || zp[i] > qmax) {
              r_.fail(ErrorKind::kBadValue, g + "/zero_point",
                      "element " + std::to_string(i) + " is " + std::to_string(zp[i]) +
                          ", expected " + std::to_string(qmin) + ".." + std::to_string(qmax) +
                          " for " + std::to_string(bits) + "-bit asymmetric codes");
            }
            q.zero_point[i] = static_cast<int32_t>(zp[i]);
          }
        }
      }
      q.codes.resize(codes.size());
      for (size_t i = 0; i < codes.size(); ++i) {
        if (codes[i] < qmin || codes[i] > qmax) {
          r_.fail(ErrorKind::kBadValue, g + "/codes",
                  "element " + std::to_string(i) + " is " + std::to_string(codes[i]) +
                      ", expected " + std::to_string(qmin) + ".." + std::to_string(qmax) +
                      " for " + std::to_string(bits) + "-bit " +
                      (q.symmetric ? "symmetric" : "asymmetric") + " codes");
        }
        q.codes[i] = static_cast<int32_t>(codes[i]);
      }
      m.quant_[name] = std::move(q);
    }
    // Abar and Bbar come as a pair; dequantized /state_dict tensors replace the stored ones.
    for (int64_t i = 0; i < c.n_layers; ++i) {
      const bool a = m.quant_.count(layer_prefix(i) + "kernel.Abar") > 0;
      const bool b = m.quant_.count(layer_prefix(i) + "kernel.Bbar") > 0;
      if (a != b) {
        r_.fail(ErrorKind::kMissingObject,
                kQuant + "/" + layer_prefix(i) + (a ? "kernel.Bbar" : "kernel.Abar"),
                "missing: Abar and Bbar are quantized together or not at all");
      }
    }
    for (const auto& [name, q] : m.quant_) {
      if (m.tensors_.count(name)) m.tensors_[name].values = dequantize(q);
    }
  }

  // /state_quant/s4_layers.{i}.x: the grid a layer's state was trained on (model.h, StateGrid).
  void read_state_quant(S4DModel& m) {
    if (!r_.exists(kStateQuant)) return;
    if (!r_.is_group(kStateQuant)) r_.fail(ErrorKind::kWrongType, kStateQuant, "is not a group");
    const int64_t H = m.config_.d_model, M = m.config_.modes();
    for (const auto& name : r_.children(kStateQuant)) {
      const std::string g = kStateQuant + "/" + name;
      int64_t layer = -1;
      for (int64_t i = 0; i < m.config_.n_layers; ++i)
        if (name == layer_prefix(i) + "x") layer = i;
      if (layer < 0) {
        r_.fail(ErrorKind::kUnknownTensor, g,
                "is no layer's state (expected s4_layers.{i}.x with i in 0.." +
                    std::to_string(m.config_.n_layers - 1) + ")");
      }
      StateGrid grid;
      const int64_t bits = r_.attr_int(g, "bits");
      if (bits < kMinQuantBits || bits > kMaxQuantBits) {
        r_.fail(ErrorKind::kBadValue, g + "/@bits", "is " + std::to_string(bits) + ", expected 2..16");
      }
      grid.bits = static_cast<int>(bits);
      grid.granularity = r_.attr_string(g, "granularity");
      const std::map<std::string, std::vector<int64_t>> shapes = {{"layer", {}}, {"channel", {H}}, {"mode", {H, M}}};
      if (!shapes.count(grid.granularity)) {
        r_.fail(ErrorKind::kBadValue, g + "/@granularity",
                "is \"" + grid.granularity + "\", expected \"layer\", \"channel\" or \"mode\"");
      }
      grid.calibration = r_.attr_string(g, "calibration");
      if (grid.calibration != "max" && grid.calibration != "percentile" && grid.calibration != "lsq") {
        r_.fail(ErrorKind::kBadValue, g + "/@calibration",
                "is \"" + grid.calibration + "\", expected \"max\", \"percentile\" or \"lsq\"");
      }
      const std::vector<int64_t>& want = shapes.at(grid.granularity);
      const h5::DatasetInfo info = r_.info(g + "/step");
      const bool scalar_ok = want.empty() && info.numel() == 1 && info.shape.size() <= 1;
      if (!scalar_ok && info.shape != want) {
        r_.fail(ErrorKind::kWrongShape, g + "/step",
                "shape " + h5::shape_text(info.shape) + ", expected " +
                    (want.empty() ? std::string("() or (1,)") : h5::shape_text(want)) + " for granularity " +
                    grid.granularity);
      }
      const std::vector<float> steps = r_.read_float(g + "/step");
      check_finite(g + "/step", steps);
      for (float s : steps) {
        if (!(s > 0) || s > 1e30f) r_.fail(ErrorKind::kBadValue, g + "/step", "contains a step that is not in (0, 1e30]");
      }
      grid.step.resize(static_cast<size_t>(H * M));
      for (int64_t h = 0; h < H; ++h)
        for (int64_t k = 0; k < M; ++k) {
          const size_t from = want.empty() ? 0 : static_cast<size_t>(want.size() == 1 ? h : h * M + k);
          grid.step[static_cast<size_t>(h * M + k)] = steps[from];
        }
      m.layers_[static_cast<size_t>(layer)].state_grid = std::move(grid);
    }
  }

  static std::vector<float> dequantize(const QuantSpec& q) {
    std::vector<float> out(q.codes.size());
    // Stride of the scale axis in the row-major layout.
    int64_t inner = 1;
    if (q.axis >= 0) {
      for (size_t d = static_cast<size_t>(q.axis) + 1; d < q.shape.size(); ++d) inner *= q.shape[d];
    }
    for (size_t i = 0; i < out.size(); ++i) {
      const size_t k =
          q.axis < 0 ? 0 : static_cast<size_t>((static_cast<int64_t>(i) / inner) %
                                               q.shape[static_cast<size_t>(q.axis)]);
      const int32_t zp = q.zero_point.empty() ? 0 : q.zero_point[k];
      out[i] = static_cast<float>(q.codes[i] - zp) * q.scale[k];
    }
    return out;
  }

  void build_layers(S4DModel& m) {
    const ModelConfig& c = m.config_;
    const int64_t H = c.d_model, M = c.modes();
    auto matrix = [&](const std::string& name, int64_t rows, int64_t cols) {
      const Tensor& t = m.tensors_.at(name);
      return RowMatrixXf(Eigen::Map<const RowMatrixXf>(t.values.data(), rows, cols));
    };
    auto vector = [&](const std::string& name) {
      const Tensor& t = m.tensors_.at(name);
      return Eigen::VectorXf(Eigen::Map<const Eigen::VectorXf>(t.values.data(), t.numel()));
    };
    m.enc_w_ = matrix("encoder.weight", H, c.d_input);
    m.enc_b_ = vector("encoder.bias");
    m.dec_w_ = matrix("decoder.weight", c.d_output, H);
    m.dec_b_ = vector("decoder.bias");
    for (int64_t i = 0; i < c.n_layers; ++i) {
      const std::string p = layer_prefix(i), n = norm_prefix(i);
      S4DLayer L;
      L.d = vector(p + "D");
      L.out_weight = matrix(p + "output_linear.0.weight", 2 * H, H);
      L.out_bias = vector(p + "output_linear.0.bias");
      L.norm_weight = vector(n + "weight");
      L.norm_bias = vector(n + "bias");
      if (c.norm == NormKind::kBatch) {
        L.running_mean = vector(n + "running_mean");
        L.running_var = vector(n + "running_var");
        for (int64_t h = 0; h < H; ++h) {
          if (L.running_var[h] < 0) {
            r_.fail(ErrorKind::kBadValue, kStateDict + "/" + n + "running_var",
                    "element " + std::to_string(h) + " is negative, expected variances >= 0");
          }
        }
      }
      const auto& Cv = m.tensors_.at(p + "kernel.C").values;
      L.c.resize(static_cast<size_t>(H * M));
      L.a_bar.resize(L.c.size());
      L.b_bar.resize(L.c.size());
      for (size_t k = 0; k < L.c.size(); ++k) L.c[k] = {Cv[2 * k], Cv[2 * k + 1]};
      const auto qa = m.quant_.find(p + "kernel.Abar");
      if (qa != m.quant_.end()) {
        const auto av = dequantize(qa->second);
        const auto bv = dequantize(m.quant_.at(p + "kernel.Bbar"));
        for (size_t k = 0; k < L.c.size(); ++k) {
          L.a_bar[k] = {av[2 * k], av[2 * k + 1]};
          L.b_bar[k] = {bv[2 * k], bv[2 * k + 1]};
        }
        L.discrete_from_quant = true;
      } else {
        const auto& log_dt = m.tensors_.at(p + "kernel.log_dt").values;
        const auto& log_a = m.tensors_.at(p + "kernel.log_A_real").values;
        const auto& a_imag = m.tensors_.at(p + "kernel.A_imag").values;
        for (int64_t h = 0; h < H; ++h) {
          const double dt = std::exp(static_cast<double>(log_dt[h]));
          for (int64_t mm = 0; mm < M; ++mm) {
            const size_t k = static_cast<size_t>(h * M + mm);
            const std::complex<double> A(-std::exp(static_cast<double>(log_a[k])), a_imag[k]);
            const std::complex<double> a_bar = std::exp(A * dt);
            L.a_bar[k] = a_bar;
            L.b_bar[k] = (a_bar - 1.0) / A;
          }
        }
      }
      for (size_t k = 0; k < L.c.size(); ++k) {
        const bool finite = std::isfinite(L.a_bar[k].real()) && std::isfinite(L.a_bar[k].imag()) &&
                            std::isfinite(L.b_bar[k].real()) && std::isfinite(L.b_bar[k].imag());
        if (!finite || std::abs(L.a_bar[k]) > 1.0 + 1e-6) {
          std::ostringstream out;
          out << "channel " << k / static_cast<size_t>(M) << " mode " << k % static_cast<size_t>(M)
              << " gives Abar = " << L.a_bar[k] << ", Bbar = " << L.b_bar[k]
              << ", expected finite values with |Abar| <= 1 (a stable recurrence)";
          r_.fail(ErrorKind::kBadValue,
                  L.discrete_from_quant ? kQuant + "/" + p + "kernel.Abar"
                                        : kStateDict + "/" + p + "kernel.log_A_real",
                  out.str());
        }
      }
      m.layers_.push_back(std::move(L));
    }
  }

  void read_meta(S4DModel& m) {
    if (!r_.is_group("/meta")) return;
    for (const auto& name : r_.attr_names("/meta")) m.meta_[name] = r_.attr_as_text("/meta", name);
  }

  h5::Reader r_;
  std::map<std::string, std::vector<int64_t>> expected_;
};

S4DModel S4DModel::load(const std::string& path) {
  return h5::read_contained(path, [&] { return CheckpointReader(path).read(); });
}

std::map<std::string, int64_t> S4DModel::parameter_counts() const {
  std::map<std::string, int64_t> out{
      {"encoder", 0}, {"ssm", 0}, {"output_linear", 0}, {"norms", 0}, {"decoder", 0}};
  for (const auto& [name, t] : tensors_) {
    if (name.rfind("encoder.", 0) == 0) {
      out["encoder"] += t.numel();
    } else if (name.rfind("decoder.", 0) == 0) {
      out["decoder"] += t.numel();
    } else if (name.find("output_linear") != std::string::npos) {
      out["output_linear"] += t.numel();
    } else if (name.rfind("norms.", 0) == 0) {
      // Running statistics are buffers, not parameters.
      if (name.find("running_") == std::string::npos) out["norms"] += t.numel();
    } else {
      out["ssm"] += t.numel();
    }
  }
  return out;
}

int64_t S4DModel::weight_bytes() const { return weight_bytes_at(0); }

int64_t S4DModel::state_bytes(int fixed_bits) const {
  int64_t bits = 0;
  for (const S4DLayer& layer : layers_) {
    const int b = fixed_bits > 0 ? fixed_bits : (layer.state_grid.bits > 0 ? layer.state_grid.bits : 32);
    bits += 2 * static_cast<int64_t>(layer.a_bar.size()) * b;  // Re and Im of every mode
  }
  return (bits + 7) / 8;
}

int64_t S4DModel::weight_bytes_at(int fixed_bits) const {
  int64_t bits = 0;
  for (const auto& [name, t] : tensors_) {
    if (name.find("running_") != std::string::npos) continue;
    const bool continuous_ssm = name.find("kernel.log_") != std::string::npos ||
                                name.find("kernel.A_imag") != std::string::npos;
    if (continuous_ssm) {
      // Superseded by quantized Abar/Bbar, the continuous parameters need no storage.
      const std::string prefix = name.substr(0, name.find("kernel.")) + "kernel.Abar";
      if (quant_.count(prefix)) continue;
    }
    const auto q = quant_.find(name);
    bits += t.numel() * (fixed_bits > 0 ? fixed_bits : q == quant_.end() ? 32 : q->second.bits);
  }
  for (const auto& [name, q] : quant_) {
    if (!tensors_.count(name)) bits += static_cast<int64_t>(q.codes.size()) * (fixed_bits > 0 ? fixed_bits : q.bits);
  }
  return (bits + 7) / 8;
}

}  // namespace qs4d
