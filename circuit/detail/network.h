// The network and the two exact solvers behind transfer_matrix (circuit-internal; circuit/circuit.cpp).
// Both take the cells with their access resistance folded in (uS) and return A (cols x rows, uA per V).
#pragma once

#include <Eigen/Core>
#include <cstdint>
#include <vector>

#include "circuit/circuit.h"

namespace qs4d::detail {

// A tile's network with zero resistances joined: elements between node classes, and what each
// class is (index = class id: input row, output column or unknown index; -1 where not).
struct Network {
  struct Edge {
    int64_t a, b;  // classes
    double g_uS;   // (small-signal) conductance
    bool cell;     // the device itself (nonlinear when its I-V is), else a resistance
  };
  std::vector<Edge> edges;
  std::vector<int64_t> input_of, output_of, unknown;
  int64_t n_unknown = 0;
};
// Refuses a bad spec, size or conductance (UsageError).
void check_circuit(const Eigen::MatrixXd& g_uS, const CircuitSpec& spec);
// With access_nodes, each cell is its access resistance to an internal node and the bare device
// (`cell` = G); without, one element with the access folded in (`cell` = G_eff).
Network build_network(const Eigen::MatrixXd& cell, const CircuitSpec& spec, bool access_nodes);

// Every node of the network, zero resistances joined, one sparse LDLT; any resistances.
Eigen::MatrixXd nodal_transfer_matrix(const Eigen::MatrixXd& cell, const CircuitSpec& spec);
// Rows and columns as chains, block-tridiagonal elimination; both wire resistances above 0.
Eigen::MatrixXd chain_transfer_matrix(const Eigen::MatrixXd& cell, const CircuitSpec& spec);
// In place: a symmetric positive definite matrix -> its inverse; false when not positive definite.
bool invert_spd(Eigen::Ref<Eigen::MatrixXd> e);

}  // namespace qs4d::detail
