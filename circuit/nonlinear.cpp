// A tile whose cells conduct nonlinearly (issue #13, optional part): I = G v0 sinh(V / v0), the
// ASU/Stanford RRAM form I = I0 exp(-g/g0) sinh(V/V0) (Guan, Yu and Wong, IEEE EDL 33, 2012;
// compared with other models in Panda et al., Nanoscale Res. Lett. 13:8, 2018, table 3) with the
// prefactor written so that G is the small-signal conductance at 0 V. Written for read
// voltages below switching; the solve reports the largest |V| / v0 it met.
//
// Newton on the nodal equations of the same network as the exact linear solve (circuit/circuit.cpp):
// at each iterate the Jacobian is the network's Laplacian with each cell's conductance replaced
// by G cosh(V / v0) (symmetric positive definite, one pattern for every iterate, so its sparse
// LDLT is analysed once and only refactorised), and the step solves J dV = -F (Kirchhoff's
// current law's residual). From V = 0 the first step lands on the linear solution.
#include <Eigen/SparseCholesky>
#include <Eigen/SparseCore>
#include <cmath>

#include "circuit/detail/network.h"
#include "circuit/circuit.h"

namespace qs4d {
namespace {

constexpr int kMaxIterations = 100;
constexpr double kStepTolerance = 1e-12;  // volts, relative to the largest input (at least 1 mV)

struct EdgeCurrent {
  double i_uA, di_dv_uS;
};

EdgeCurrent edge_current(const detail::Network::Edge& e, double dv, double v0) {
  if (!e.cell) return {e.g_uS * dv, e.g_uS};
  const double x = dv / v0;
  return {e.g_uS * v0 * std::sinh(x), e.g_uS * std::cosh(x)};
}

}  // namespace

NonlinearSolve solve_nonlinear(const Eigen::MatrixXd& g_uS, const RowMatrixXd& v,
                               const CircuitSpec& spec, double v0_V) {
  if (!std::isfinite(v0_V) || v0_V <= 0 || v0_V > 1e3) {
    throw UsageError("circuit: cell v0 = " + format_number(v0_V) + " V, expected 0 < v0 <= 1000");
  }
  check_circuit_inputs(v, g_uS.rows());
  detail::check_circuit(g_uS, spec);
  const detail::Network net = detail::build_network(g_uS, spec, true);
  const int64_t n = net.n_unknown;
  NonlinearSolve out;
  out.i_uA = RowMatrixXd::Zero(v.rows(), g_uS.cols());
  Eigen::SimplicialLDLT<Eigen::SparseMatrix<double>> ldlt;
  bool analysed = false;
  std::vector<Eigen::Triplet<double>> triplets;
  for (Eigen::Index b = 0; b < v.rows(); ++b) {
    Eigen::VectorXd V = Eigen::VectorXd::Zero(n);
    const auto volt = [&](int64_t c) {
      const size_t k = static_cast<size_t>(c);
      return net.unknown[k] >= 0 ? V[net.unknown[k]] : net.input_of[k] >= 0 ? v(b, net.input_of[k]) : 0.0;
    };
    const double tolerance = kStepTolerance * std::max(1e-3, v.row(b).cwiseAbs().maxCoeff());
    double largest_x = 0;  // the largest |V| / v0 across a cell at any iterate, for the message
    const auto diverged = [&](int step, const char* why) {
      return UsageError("circuit: Newton's method diverged for input vector " + std::to_string(b) +
                        " at step " + std::to_string(step) + " (" + why +
                        "); the largest |V| / v0 across a cell reached " + format_number(largest_x) +
                        " with v0 = " + format_number(v0_V) +
                        " V: inputs far above v0 drive sinh out of range");
    };
    int iterations = 0;
    for (bool converged = n == 0; !converged; ++iterations) {
      if (iterations == kMaxIterations) {
        throw diverged(iterations, ("no convergence in " + std::to_string(kMaxIterations) + " steps").c_str());
      }
      Eigen::VectorXd residual = Eigen::VectorXd::Zero(n);
      triplets.clear();
      for (const auto& e : net.edges) {
        const double dv = volt(e.a) - volt(e.b);
        if (e.cell) largest_x = std::max(largest_x, std::abs(dv) / v0_V);
        const EdgeCurrent c = edge_current(e, dv, v0_V);
        const int64_t ua = net.unknown[static_cast<size_t>(e.a)], ub = net.unknown[static_cast<size_t>(e.b)];
        if (ua >= 0) {
          residual[ua] += c.i_uA;
          triplets.emplace_back(ua, ua, c.di_dv_uS);
          if (ub >= 0) triplets.emplace_back(ua, ub, -c.di_dv_uS);
        }
        if (ub >= 0) {
          residual[ub] -= c.i_uA;
          triplets.emplace_back(ub, ub, c.di_dv_uS);
          if (ua >= 0) triplets.emplace_back(ub, ua, -c.di_dv_uS);
        }
      }
      // sinh and cosh overflow long before the matrix could be singular: say so.
      if (!residual.allFinite()) throw diverged(iterations, "a cell current overflowed");
      Eigen::SparseMatrix<double> jacobian(n, n);
      jacobian.setFromTriplets(triplets.begin(), triplets.end());
      if (!analysed) {
        ldlt.analyzePattern(jacobian);
        analysed = true;
      }
      ldlt.factorize(jacobian);
      if (ldlt.info() != Eigen::Success) {
        throw UsageError("circuit: the nodal matrix is singular (a part of the network floats)");
      }
      const Eigen::VectorXd step = ldlt.solve(-residual);
      if (!step.allFinite()) throw diverged(iterations, "the step is not finite");
      V += step;
      converged = step.cwiseAbs().maxCoeff() <= tolerance;
    }
    out.max_iterations = std::max(out.max_iterations, iterations);
    // Currents into the sense nodes (0 V), and the largest cell voltage met.
    for (const auto& e : net.edges) {
      const double dv = volt(e.a) - volt(e.b);
      if (e.cell) out.max_cell_v_over_v0 = std::max(out.max_cell_v_over_v0, std::abs(dv) / v0_V);
      const double i = edge_current(e, dv, v0_V).i_uA;  // from a to b
      if (const int64_t j = net.output_of[static_cast<size_t>(e.b)]; j >= 0) out.i_uA(b, j) += i;
      if (const int64_t j = net.output_of[static_cast<size_t>(e.a)]; j >= 0) out.i_uA(b, j) -= i;
    }
  }
  return out;
}

}  // namespace qs4d
