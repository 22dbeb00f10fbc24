// The two exact solvers behind transfer_matrix (sim-internal; sim/circuit.cpp). Both take the
// cells with their access resistance folded in (uS) and return A (cols x rows, uA per V).
#pragma once

#include <Eigen/Core>

#include "sim/sim.h"

namespace qs4d::detail {

// Every node of the network, zero resistances joined, one sparse LDLT; any resistances.
Eigen::MatrixXd nodal_transfer_matrix(const Eigen::MatrixXd& cell, const CircuitSpec& spec);
// Rows and columns as chains, block-tridiagonal elimination; both wire resistances above 0.
Eigen::MatrixXd chain_transfer_matrix(const Eigen::MatrixXd& cell, const CircuitSpec& spec);
// In place: a symmetric positive definite matrix -> its inverse; false when not positive definite.
bool invert_spd(Eigen::Ref<Eigen::MatrixXd> e);

}  // namespace qs4d::detail
