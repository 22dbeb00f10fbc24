// Dataset files (format in model.h) and plain sequence tensors from any HDF5 file.
#include <cmath>
#include <sstream>
#include <type_traits>

#include "models/detail/h5.h"
#include "models/model.h"

namespace qs4d {
namespace {

// Checks a (n, L, d) float dataset's shape and size, then reads up to `limit` samples.
SequenceBatch read_batch(const h5::Reader& r, const std::string& dataset, int64_t limit) {
  const h5::DatasetInfo info = r.info(dataset);
  if (info.shape.size() != 3) {
    r.fail(ErrorKind::kWrongRank, dataset,
           "rank " + std::to_string(info.shape.size()) + " " + h5::shape_text(info.shape) +
               ", expected rank 3 (samples, length, d_input)");
  }
  if (info.value_class != h5::ValueClass::kFloat) {
    r.fail(ErrorKind::kWrongType, dataset, "is not floating point, expected float32 samples");
  }
  for (int64_t d : info.shape) {
    if (d <= 0) r.fail(ErrorKind::kWrongShape, dataset,
                       "shape " + h5::shape_text(info.shape) + " has an empty axis");
    if (d > kMaxDatasetElements) {
      r.fail(ErrorKind::kAbsurdSize, dataset,
             "shape " + h5::shape_text(info.shape) + " has an axis larger than " +
                 std::to_string(kMaxDatasetElements) + "; refusing to allocate");
    }
  }
  SequenceBatch b;
  b.n = limit > 0 ? std::min(limit, info.shape[0]) : info.shape[0];
  b.length = info.shape[1];
  b.width = info.shape[2];
  if (b.length > kMaxDatasetElements / b.width || b.n > kMaxDatasetElements / (b.length * b.width)) {
    r.fail(ErrorKind::kAbsurdSize, dataset,
           "shape " + h5::shape_text(info.shape) + " holds more than " +
               std::to_string(kMaxDatasetElements) + " values; refusing to allocate");
  }
  b.values = r.read_float(dataset, b.n);
  for (size_t i = 0; i < b.values.size(); ++i) {
    if (!std::isfinite(b.values[i])) {
      const int64_t per = b.length * b.width;
      std::ostringstream out;
      out << "sample " << static_cast<int64_t>(i) / per << " step "
          << (static_cast<int64_t>(i) % per) / b.width << " is " << b.values[i]
          << ", expected finite values";
      r.fail(ErrorKind::kNonFinite, dataset, out.str());
    }
  }
  return b;
}

Dataset load_dataset_here(const std::string& path, int64_t limit) {
  h5::Reader r(path);
  Dataset ds;
  ds.path = path;
  ds.name = r.attr_string("/", "name");
  ds.source = r.attr_string("/", "source");
  ds.n_classes = r.attr_int("/", "n_classes");
  if (ds.n_classes < 1 || ds.n_classes > kMaxDim) {
    r.fail(ErrorKind::kBadValue, "/@n_classes",
           "is " + std::to_string(ds.n_classes) + ", expected 1.." + std::to_string(kMaxDim));
  }
  ds.x = read_batch(r, "/x", limit);
  const h5::DatasetInfo yinfo = r.info("/y");
  if (yinfo.shape.size() != 1) {
    r.fail(ErrorKind::kWrongRank, "/y",
           "rank " + std::to_string(yinfo.shape.size()) + ", expected rank 1 (samples)");
  }
  const int64_t n_all = r.info("/x").shape[0];
  if (yinfo.shape[0] != n_all) {
    r.fail(ErrorKind::kWrongShape, "/y",
           "shape " + h5::shape_text(yinfo.shape) + ", expected (" + std::to_string(n_all) +
               ",) to match /x");
  }
  ds.y = r.read_int("/y", ds.x.n);
  for (size_t i = 0; i < ds.y.size(); ++i) {
    if (ds.y[i] < 0 || ds.y[i] >= ds.n_classes) {
      r.fail(ErrorKind::kBadValue, "/y",
             "label " + std::to_string(i) + " is " + std::to_string(ds.y[i]) + ", expected 0.." +
                 std::to_string(ds.n_classes - 1));
    }
  }
  return ds;
}

SequenceBatch read_sequences_here(const std::string& path, const std::string& dataset) {
  h5::Reader r(path);
  const std::string name = dataset.empty() || dataset[0] != '/' ? "/" + dataset : dataset;
  return read_batch(r, name, 0);
}

}  // namespace

// Each loader reads the file first in a child process, then here (h5::read_contained).
SequenceBatch read_sequences(const std::string& path, const std::string& dataset) {
  return h5::read_contained(path, [&] { return read_sequences_here(path, dataset); });
}

void check_data_fits(const S4DModel& model, const Dataset& data, int64_t batch) {
  if (batch <= 0) throw UsageError("batch must be positive");
  if (data.x.n == 0) throw UsageError("dataset " + data.name + " holds no samples");
  if (model.config().d_output < data.n_classes) {
    throw UsageError("dataset " + data.path + " has " + std::to_string(data.n_classes) +
                     " classes, the model " + model.path() + " only " +
                     std::to_string(model.config().d_output) + " outputs");
  }
  if (data.x.width != model.config().d_input) {  // both files named (issue #31)
    throw UsageError("dataset " + (data.path.empty() ? data.name : data.path) + " has " +
                     std::to_string(data.x.width) + " features per step, the model " + model.path() +
                     " expects d_input = " + std::to_string(model.config().d_input));
  }
}

Dataset load_dataset(const std::string& path, int64_t limit) {
  Dataset d = h5::read_contained(path, [&] { return load_dataset_here(path, limit); });
  d.limit = limit;
  return d;
}

namespace {

// Reads a rank-2 float dataset of any float dtype as T (float or double), refusing other ranks
// and absurd sizes before allocating.
template <typename T>
Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor> read_matrix_as(
    const std::string& path, const std::string& dataset) {
  h5::Reader r(path);
  const std::string name = dataset.empty() || dataset[0] != '/' ? "/" + dataset : dataset;
  const h5::DatasetInfo info = r.info(name);
  if (info.shape.size() != 2) {
    r.fail(ErrorKind::kWrongRank, name,
           "rank " + std::to_string(info.shape.size()) + ", expected rank 2 (rows, cols)");
  }
  if (info.numel() > kMaxTensorElements) {
    r.fail(ErrorKind::kAbsurdSize, name, "shape " + h5::shape_text(info.shape) +
                                             " is too large; refusing to allocate");
  }
  std::vector<T> v;
  if constexpr (std::is_same_v<T, float>) {
    v = r.read_float(name);
  } else {
    v = r.read_double(name);
  }
  return Eigen::Map<const Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>>(
      v.data(), info.shape[0], info.shape[1]);
}

}  // namespace

RowMatrixXf read_matrix(const std::string& path, const std::string& dataset) {
  return h5::read_contained(path, [&] { return read_matrix_as<float>(path, dataset); });
}

RowMatrixXd read_matrix_f64(const std::string& path, const std::string& dataset) {
  return h5::read_contained(path, [&] { return read_matrix_as<double>(path, dataset); });
}

void write_matrices_f64(const std::string& path,
                        const std::vector<std::pair<std::string, RowMatrixXd>>& matrices) {
  h5::AtomicWriter w(path);
  for (const auto& [dataset, m] : matrices) {
    w.write_double(dataset.empty() || dataset[0] != '/' ? "/" + dataset : dataset,
                   {static_cast<int64_t>(m.rows()), static_cast<int64_t>(m.cols())}, m.data());
  }
  w.commit();
}

void write_matrix(const std::string& path, const std::string& dataset, const RowMatrixXf& m) {
  h5::AtomicWriter w(path);
  w.write_float(dataset.empty() || dataset[0] != '/' ? "/" + dataset : dataset,
                {static_cast<int64_t>(m.rows()), static_cast<int64_t>(m.cols())}, m.data());
  w.commit();
}

}  // namespace qs4d
