// The dense row-major matrices every module passes around (Eigen), in one small place so that a
// leaf module (circuit/) can use them without including the model.
#pragma once

#include <Eigen/Core>

namespace qs4d {

using RowMatrixXf = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
using RowMatrixXd = Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

}  // namespace qs4d
