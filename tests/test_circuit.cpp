// The tile circuit (issue #13) against hand-solved networks; the 256 x 256 comparison with an
// independent scipy nodal solution is python/tests/test_circuit.py.
#include <gtest/gtest.h>

#include <boost/random/mersenne_twister.hpp>
#include <boost/random/uniform_real_distribution.hpp>
#include <Eigen/LU>
#include <cmath>

#include "circuit/detail/network.h"
#include "circuit/circuit.h"

namespace qs4d {
namespace {

TEST(Circuit, NoWiresIsTheIdealProduct) {
  boost::random::mt19937_64 gen(1);
  boost::random::uniform_real_distribution<double> uniform(0.0, 50.0);  // uS
  const Eigen::MatrixXd g = Eigen::MatrixXd::NullaryExpr(7, 5, [&] { return uniform(gen); });
  const Eigen::MatrixXd a = transfer_matrix(g, CircuitSpec{}, CircuitSolver::kExact);
  EXPECT_EQ(a, g.transpose());
}

TEST(Circuit, OneConductingCellIsInSeriesWithItsWirePath) {
  // Only cell (2, 3) of a 4 x 6 tile conducts: the current flows through the driver, 3 row
  // segments, the cell, 4 - 1 - 2 = 1 column segment and the sense resistance, nowhere else.
  Eigen::MatrixXd g = Eigen::MatrixXd::Zero(4, 6);
  g(2, 3) = 80.0;  // uS
  const CircuitSpec s{2.0, 3.0, 50.0, 20.0, 1000.0};
  const double path_ohm = 50.0 + 3 * 2.0 + 1 * 3.0 + 20.0 + 1000.0;
  const double expected = 1.0 / (1.0 / 80.0 + path_ohm * 1e-6);  // uS
  for (CircuitSolver solver : {CircuitSolver::kExact, CircuitSolver::kFirstOrder}) {
    const Eigen::MatrixXd a = transfer_matrix(g, s, solver);
    EXPECT_NEAR(a(3, 2), expected, 1e-12 * expected) << to_string(solver);
    EXPECT_EQ(a.cwiseAbs().sum(), std::abs(a(3, 2))) << to_string(solver);
  }
}

TEST(Circuit, OneRowLadderSolvedByHand) {
  // Source -d- node a -r- node b; cell 0 from a, cell 1 from b, each through the sense s.
  // h_k = 1 / (1/G_k + s); V_b = V_a / (1 + r h_1); V_a = v / (1 + d (h_0 + h_1 / (1 + r h_1))).
  const double G0 = 40e-6, G1 = 90e-6, d = 300.0, r = 500.0, sense = 100.0;  // S and ohm
  Eigen::MatrixXd g(1, 2);
  g << G0 * 1e6, G1 * 1e6;
  const CircuitSpec s{r, 7.0, d, sense, 0.0};  // the column wire has no segment at R = 1
  const double h0 = 1 / (1 / G0 + sense), h1 = 1 / (1 / G1 + sense);
  const double va = 1.0 / (1 + d * (h0 + h1 / (1 + r * h1))), vb = va / (1 + r * h1);
  const Eigen::MatrixXd a = transfer_matrix(g, s, CircuitSolver::kExact);  // uA per V
  EXPECT_NEAR(a(0, 0), h0 * va * 1e6, 1e-12);
  EXPECT_NEAR(a(1, 0), h1 * vb * 1e6, 1e-12);
  // Kirchhoff at the source: what the driver delivers is what the senses take.
  EXPECT_NEAR((1.0 - va) / d * 1e6, a(0, 0) + a(1, 0), 1e-9);
}

TEST(Circuit, SymmetricTileGivesSymmetricOutputs) {
  // With no row-wire resistance two columns holding the same cells see the same network: their
  // currents are equal, whatever the column wire does to each.
  Eigen::MatrixXd g(3, 2);
  g << 10, 10, 20, 20, 30, 30;
  const Eigen::MatrixXd a = transfer_matrix(g, CircuitSpec{0.0, 5.0, 0.0, 3.0, 0.0},
                                            CircuitSolver::kExact);
  EXPECT_NEAR((a.row(0) - a.row(1)).cwiseAbs().maxCoeff(), 0.0, 1e-12);
}

// The chain solver (both wires resistive) against the general nodal solve, two independent
// algorithms, on random tiles with every combination of ideal or resistive driver, sense and
// access, tall, wide, one row and one column.
TEST(Circuit, ChainSolverEqualsTheNodalSolve) {
  boost::random::mt19937_64 gen(5);
  boost::random::uniform_real_distribution<double> uniform(0.0, 100.0);  // uS
  const std::pair<int, int> shapes[] = {{7, 5}, {5, 9}, {1, 6}, {6, 1}, {1, 1}, {24, 17}};
  for (const auto& [R, C] : shapes) {
    const Eigen::MatrixXd g = Eigen::MatrixXd::NullaryExpr(R, C, [&] { return uniform(gen); });
    for (double driver : {0.0, 40.0}) {
      for (double sense : {0.0, 15.0}) {
        for (double access : {0.0, 2000.0}) {
          const CircuitSpec s{2.5, 1.5, driver, sense, access};
          const Eigen::MatrixXd cell = g.array() / (1.0 + g.array() * access * 1e-6);
          const Eigen::MatrixXd chain = detail::chain_transfer_matrix(cell, s);
          const Eigen::MatrixXd nodal = detail::nodal_transfer_matrix(cell, s);
          EXPECT_LE((chain - nodal).cwiseAbs().maxCoeff(), 1e-9 * nodal.cwiseAbs().maxCoeff())
              << R << "x" << C << " driver " << driver << " sense " << sense << " access " << access;
          EXPECT_EQ(transfer_matrix(g, s, CircuitSolver::kExact), chain);  // what the simulator uses
        }
      }
    }
  }
}

// The blocked symmetric inverse behind the chain solver against Eigen's LU inverse, at sizes
// below, at and well above its recursion's base block (16).
TEST(Circuit, SymmetricInverseEqualsLuInverse) {
  boost::random::mt19937_64 gen(11);
  boost::random::uniform_real_distribution<double> uniform(-1.0, 1.0);
  for (const int n : {1, 5, 16, 17, 100, 256}) {
    const Eigen::MatrixXd b = Eigen::MatrixXd::NullaryExpr(n, n, [&] { return uniform(gen); });
    const Eigen::MatrixXd spd = b * b.transpose() + n * Eigen::MatrixXd::Identity(n, n);
    Eigen::MatrixXd work = spd;
    ASSERT_TRUE(detail::invert_spd(work));
    const Eigen::MatrixXd expected = spd.inverse();
    EXPECT_LE((work - expected).cwiseAbs().maxCoeff(), 1e-12 * expected.cwiseAbs().maxCoeff()) << n;
  }
  Eigen::MatrixXd indefinite = Eigen::MatrixXd::Identity(40, 40);
  indefinite(35, 35) = -1.0;  // found in the second half's Schur complement
  EXPECT_FALSE(detail::invert_spd(indefinite));
}

// Chain against nodal on a tile large enough for the blocked inverse to recurse (base 16).
TEST(Circuit, ChainSolverEqualsTheNodalSolveOnALargerTile) {
  boost::random::mt19937_64 gen(7);
  boost::random::uniform_real_distribution<double> uniform(1.0, 100.0);  // uS
  const Eigen::MatrixXd g = Eigen::MatrixXd::NullaryExpr(70, 90, [&] { return uniform(gen); });
  for (double sense : {0.0, 15.0}) {
    const CircuitSpec s{1.0, 2.5, 0.0, sense, 0.0};
    const Eigen::MatrixXd chain = detail::chain_transfer_matrix(g, s);
    const Eigen::MatrixXd nodal = detail::nodal_transfer_matrix(g, s);
    EXPECT_LE((chain - nodal).cwiseAbs().maxCoeff(), 1e-9 * nodal.cwiseAbs().maxCoeff()) << sense;
  }
}

// Nonlinear cells: with v0 far above every voltage the Newton solve is the linear network's
// (access resistance as its own element here, folded in the transfer matrix).
TEST(Circuit, NonlinearCellsWithLargeV0AreTheLinearNetwork) {
  boost::random::mt19937_64 gen(3);
  boost::random::uniform_real_distribution<double> uniform(1.0, 100.0), volts(-0.3, 0.3);
  Eigen::MatrixXd g = Eigen::MatrixXd::NullaryExpr(6, 5, [&] { return uniform(gen); });
  g(0, 0) = g(3, 2) = g(5, 4) = 0.0;  // empty cells (stuck off, unused): no node of their own
  const RowMatrixXd v = RowMatrixXd::NullaryExpr(3, 6, [&] { return volts(gen); });
  for (const CircuitSpec& s : {CircuitSpec{2.5, 1.5, 40.0, 15.0, 2000.0}, CircuitSpec{1.0, 0.0, 0.0, 0.0, 0.0},
                               CircuitSpec{0.0, 0.0, 0.0, 0.0, 500.0}}) {
    const RowMatrixXd linear = v * transfer_matrix(g, s, CircuitSolver::kExact).transpose();
    const NonlinearSolve r = solve_nonlinear(g, v, s, 1e3);
    // |V| / v0 <= 3e-4 across a cell, so sinh departs from linear by at most x^2 / 6 = 1.5e-8.
    EXPECT_LE((r.i_uA - linear).cwiseAbs().maxCoeff(), 2e-8 * linear.cwiseAbs().maxCoeff());
    EXPECT_LE(r.max_cell_v_over_v0, 3e-4);
  }
}

// One cell between a driver and a sense resistance, hand-reduced to one equation in its current,
// I = G v0 sinh((v - I (R_d + R_s)) / v0), solved here by bisection.
TEST(Circuit, NonlinearSingleCellMatchesTheScalarEquation) {
  const double g = 100.0, v0 = 0.25, rd = 1000.0, rs = 500.0;  // uS, V, ohm
  const Eigen::MatrixXd gm = Eigen::MatrixXd::Constant(1, 1, g);
  for (const double v : {0.05, 0.3, 0.6, -0.45}) {
    const auto f = [&](double i_uA) { return i_uA - g * v0 * std::sinh((v - i_uA * 1e-6 * (rd + rs)) / v0); };
    double lo = -1e6, hi = 1e6;  // uA; f is increasing in i
    for (int k = 0; k < 200; ++k) (f(0.5 * (lo + hi)) > 0 ? hi : lo) = 0.5 * (lo + hi);
    const NonlinearSolve r = solve_nonlinear(gm, RowMatrixXd::Constant(1, 1, v), CircuitSpec{0, 0, rd, rs, 0}, v0);
    EXPECT_NEAR(r.i_uA(0, 0), 0.5 * (lo + hi), 1e-9 * std::abs(lo)) << v;
    EXPECT_GT(std::abs(r.i_uA(0, 0)), std::abs(g * v / (1 + g * 1e-6 * (rd + rs))));  // sinh > linear
  }
  EXPECT_THROW(solve_nonlinear(gm, RowMatrixXd::Constant(1, 1, 0.1), CircuitSpec{}, 0.0), UsageError);
}

TEST(Circuit, RefusesBadValues) {
  Eigen::MatrixXd g = Eigen::MatrixXd::Ones(2, 2);
  EXPECT_THROW(transfer_matrix(g, CircuitSpec{-1.0, 0, 0, 0, 0}, CircuitSolver::kExact),
               UsageError);
  g(0, 0) = std::nan("");
  EXPECT_THROW(transfer_matrix(g, CircuitSpec{}, CircuitSolver::kExact), UsageError);
  EXPECT_THROW(parse_circuit_solver("spice"), UsageError);
  g(0, 0) = 1e308;  // far beyond any device
  EXPECT_THROW(transfer_matrix(g, CircuitSpec{}, CircuitSolver::kIdeal), UsageError);
  g(0, 0) = 1.0;
  EXPECT_THROW(transfer_matrix(g, CircuitSpec{1e-320, 0, 0, 0, 0}, CircuitSolver::kExact), UsageError);
  RowMatrixXd v = RowMatrixXd::Constant(1, 2, 0.1);
  v(0, 1) = std::nan("");
  EXPECT_THROW(solve_nonlinear(g, v, CircuitSpec{}, 0.25), UsageError);
  EXPECT_THROW(check_circuit_inputs(v, 2), UsageError);
}

// Inputs far above v0 overflow sinh: reported as divergence with the largest |V| / v0 reached,
// not as a singular matrix.
TEST(Circuit, NewtonDivergenceIsNamed) {
  const Eigen::MatrixXd g = Eigen::MatrixXd::Constant(3, 3, 50.0);
  try {
    solve_nonlinear(g, RowMatrixXd::Constant(1, 3, 0.4), CircuitSpec{0, 0, 100.0, 0, 0}, 0.001);
    FAIL() << "expected a divergence";
  } catch (const UsageError& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find("diverged"), std::string::npos) << what;
    EXPECT_NE(what.find("largest |V| / v0"), std::string::npos) << what;
  }
}

}  // namespace
}  // namespace qs4d
