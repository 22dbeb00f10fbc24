// Chip-in-the-loop output calibration: one gain and one offset per read-out, fitted against what
// the ideal chip would read out on the same inputs.
#include "sim/sim.h"

namespace qs4d {

void AnalogChip::begin_output_fit() {
  gain_.clear();
  offset_.clear();
  fit_.assign(map_->matrices.size(), FitSums{});
  for (size_t m = 0; m < map_->matrices.size(); ++m) {
    const auto n = static_cast<Eigen::Index>(map_->matrices[m].outputs());
    FitSums& f = fit_[m];
    for (Eigen::ArrayXd* a : {&f.n, &f.u, &f.v, &f.uu, &f.uv}) a->setZero(n);
  }
  fitting_ = true;
}

// gain = cov(u, v) / var(u), offset = mean v - gain mean u; a read-out seen on fewer than two
// distinct values keeps gain 1 and takes the mean difference as its offset.
void AnalogChip::end_output_fit() {
  fitting_ = false;
  gain_.assign(fit_.size(), Eigen::ArrayXf());
  offset_.assign(fit_.size(), Eigen::ArrayXf());
  for (size_t m = 0; m < fit_.size(); ++m) {
    const FitSums& f = fit_[m];
    const Eigen::Index n = f.n.size();
    gain_[m] = Eigen::ArrayXf::Ones(n);
    offset_[m] = Eigen::ArrayXf::Zero(n);
    for (Eigen::Index j = 0; j < n; ++j) {
      if (f.n[j] < 1) continue;
      const double mu = f.u[j] / f.n[j], mv = f.v[j] / f.n[j];
      const double var = f.uu[j] / f.n[j] - mu * mu, cov = f.uv[j] / f.n[j] - mu * mv;
      const double gain = var > 1e-12 * std::max(1.0, f.uu[j] / f.n[j]) ? cov / var : 1.0;
      gain_[m][j] = static_cast<float>(gain);
      offset_[m][j] = static_cast<float>(mv - gain * mu);
    }
  }
  fit_.clear();
}

// u: this product's read-outs (acc, before output scales); v: the ideal chip's, codes times the
// exact input over its DAC scale.
void AnalogChip::fit_product(int64_t m, const RowMatrixXf& x, const ProductScratch& s) const {
  const QuantizedMatrix& q = map_->matrices[static_cast<size_t>(m)];
  if (q.kind == MatrixKind::kRecurrence) return;
  const Eigen::MatrixXf ideal = (s.inv.asDiagonal() * x) * q.codes.cast<float>().transpose();
  const Eigen::MatrixXd u = s.acc.cast<double>(), v = ideal.cast<double>();
  const Eigen::ArrayXd used = (s.x_scale.array() > 0).cast<double>();  // all-zero inputs carry nothing
  std::lock_guard<std::mutex> lock(mutex_);
  FitSums& f = fit_[static_cast<size_t>(m)];
  f.n += used.sum();
  f.u += (u.array().colwise() * used).colwise().sum().transpose();
  f.v += (v.array().colwise() * used).colwise().sum().transpose();
  f.uu += (u.array().square().colwise() * used).colwise().sum().transpose();
  f.uv += ((u.array() * v.array()).colwise() * used).colwise().sum().transpose();
}

void AnalogChip::correct_outputs(int64_t m, ProductScratch& s) const {
  const auto i = static_cast<size_t>(m);
  if (map_->matrices[i].kind == MatrixKind::kRecurrence) return;
  s.acc = ((s.acc.array().rowwise() * gain_[i].transpose()).rowwise() + offset_[i].transpose()).matrix();
}

}  // namespace qs4d
