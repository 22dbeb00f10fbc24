// A crossbar tile as a resistive network (see CircuitSpec in sim.h): the exact transfer matrix
// from one sparse factorisation of the nodal equations, and the first-order and ideal models.
//
// Nodes: row node (i, j) and column node (i, j) for every cell, a source S_i per row (the DAC's
// voltage) and a sense node T_j per column (virtual ground, 0 V). Elements: driver S_i - row
// (i, 0); row segments (i, j) - (i, j + 1); column segments (i, j) - (i + 1, j); sense
// column (R - 1, j) - T_j; the cell between row (i, j) and column (i, j), G_eff = G / (1 + G
// R_access). A zero resistance joins its two nodes into one (union-find), so every value,
// including 0, is solved exactly. Nodes joined to S_i or T_j are known; the rest solve the
// symmetric positive definite system L V = B v (Kirchhoff's current law), and the current into
// T_j is the sum over its elements of g (V_other - 0), so i = Q V + P v and
// A = Q L^-1 B + P = (B^T L^-1 Q^T)^T + P: one factorisation and one solve per column.
#include <Eigen/SparseCholesky>
#include <Eigen/SparseCore>
#include <cmath>
#include <numeric>

#include "sim/sim.h"

namespace qs4d {
namespace {

constexpr double kMicroSiemensPerSiemens = 1e6;

// Union-find over node ids, merged along zero-resistance elements.
class Nodes {
 public:
  explicit Nodes(int64_t n) : parent_(static_cast<size_t>(n)) {
    std::iota(parent_.begin(), parent_.end(), int64_t{0});
  }
  int64_t find(int64_t a) {
    while (parent_[static_cast<size_t>(a)] != a) {
      parent_[static_cast<size_t>(a)] = parent_[static_cast<size_t>(parent_[static_cast<size_t>(a)])];
      a = parent_[static_cast<size_t>(a)];
    }
    return a;
  }
  void join(int64_t a, int64_t b) { parent_[static_cast<size_t>(find(a))] = find(b); }

 private:
  std::vector<int64_t> parent_;
};

struct Element {
  int64_t a, b;  // node ids
  double g_uS;   // conductance
};

void check_spec(const CircuitSpec& s) {
  const std::pair<const char*, double> values[] = {
      {"row_wire_ohm", s.row_wire_ohm}, {"col_wire_ohm", s.col_wire_ohm},
      {"driver_ohm", s.driver_ohm},     {"sense_ohm", s.sense_ohm},
      {"access_ohm", s.access_ohm}};
  for (const auto& [name, v] : values) {
    if (!std::isfinite(v) || v < 0 || v > 1e9) {
      throw UsageError(std::string("circuit ") + name + " = " + std::to_string(v) +
                       " ohm, expected 0 .. 1e9 (a resistance)");
    }
  }
}

// Series conductance (uS) of a resistance in ohms; 0 ohm -> infinite (the caller joins nodes).
double conductance_uS(double ohm) { return kMicroSiemensPerSiemens / ohm; }

}  // namespace

const char* to_string(CircuitSolver s) {
  switch (s) {
    case CircuitSolver::kIdeal: return "ideal";
    case CircuitSolver::kFirstOrder: return "first-order";
    case CircuitSolver::kExact: return "exact";
  }
  return "?";
}

CircuitSolver parse_circuit_solver(const std::string& text) {
  if (text == "ideal") return CircuitSolver::kIdeal;
  if (text == "first-order") return CircuitSolver::kFirstOrder;
  if (text == "exact") return CircuitSolver::kExact;
  throw UsageError("circuit solver \"" + text + "\": expected exact, first-order or ideal");
}

Eigen::MatrixXd transfer_matrix(const Eigen::MatrixXd& g_uS, const CircuitSpec& spec,
                                CircuitSolver solver) {
  check_spec(spec);
  const int64_t R = g_uS.rows(), C = g_uS.cols();
  if (R <= 0 || C <= 0 || R * C > kMaxCircuitCells) {
    throw UsageError("circuit: " + std::to_string(R) + " x " + std::to_string(C) +
                     " cells, expected 1 .. " + std::to_string(kMaxCircuitCells));
  }
  if (!g_uS.allFinite() || g_uS.minCoeff() < 0) {
    throw UsageError("circuit: conductances must be finite and non-negative (uS)");
  }
  // The cell with its access transistor in series.
  const Eigen::MatrixXd cell = g_uS.array() / (1.0 + g_uS.array() * spec.access_ohm * 1e-6);
  if (solver == CircuitSolver::kIdeal) return cell.transpose();
  if (solver == CircuitSolver::kFirstOrder) {
    // Each cell alone in series with its own wire path (first order in the wire resistance:
    // the currents of the other cells are ignored): driver, j row segments, R - 1 - i column
    // segments, sense.
    Eigen::MatrixXd a(C, R);
    for (int64_t i = 0; i < R; ++i) {
      for (int64_t j = 0; j < C; ++j) {
        const double path_mohm = 1e-6 * (spec.driver_ohm + spec.row_wire_ohm * double(j) +
                                         spec.col_wire_ohm * double(R - 1 - i) + spec.sense_ohm);
        a(j, i) = cell(i, j) / (1.0 + cell(i, j) * path_mohm);
      }
    }
    return a;
  }

  // Node ids: row nodes, column nodes, sources, senses.
  const int64_t n_cells = R * C;
  const auto row_node = [&](int64_t i, int64_t j) { return i * C + j; };
  const auto col_node = [&](int64_t i, int64_t j) { return n_cells + i * C + j; };
  const auto source = [&](int64_t i) { return 2 * n_cells + i; };
  const auto sense = [&](int64_t j) { return 2 * n_cells + R + j; };
  Nodes nodes(2 * n_cells + R + C);
  std::vector<Element> elements;
  elements.reserve(static_cast<size_t>(4 * n_cells + R + C));
  const auto connect = [&](int64_t a, int64_t b, double ohm) {
    if (ohm == 0) {
      nodes.join(a, b);
    } else {
      elements.push_back({a, b, conductance_uS(ohm)});
    }
  };
  for (int64_t i = 0; i < R; ++i) {
    connect(source(i), row_node(i, 0), spec.driver_ohm);
    for (int64_t j = 0; j + 1 < C; ++j) connect(row_node(i, j), row_node(i, j + 1), spec.row_wire_ohm);
  }
  for (int64_t j = 0; j < C; ++j) {
    for (int64_t i = 0; i + 1 < R; ++i) connect(col_node(i, j), col_node(i + 1, j), spec.col_wire_ohm);
    connect(col_node(R - 1, j), sense(j), spec.sense_ohm);
  }
  for (int64_t i = 0; i < R; ++i) {
    for (int64_t j = 0; j < C; ++j) {
      if (cell(i, j) > 0) elements.push_back({row_node(i, j), col_node(i, j), cell(i, j)});
    }
  }
  // Classes: a source's class is known (input k), a sense's class is known (0 V, output j).
  std::vector<int64_t> input_of(static_cast<size_t>(2 * n_cells + R + C), -1);
  std::vector<int64_t> output_of(input_of.size(), -1), unknown(input_of.size(), -1);
  for (int64_t i = 0; i < R; ++i) input_of[static_cast<size_t>(nodes.find(source(i)))] = i;
  for (int64_t j = 0; j < C; ++j) output_of[static_cast<size_t>(nodes.find(sense(j)))] = j;
  int64_t n = 0;
  for (int64_t node = 0; node < 2 * n_cells + R + C; ++node) {
    const size_t c = static_cast<size_t>(nodes.find(node));
    if (input_of[c] < 0 && output_of[c] < 0 && unknown[c] < 0) unknown[c] = n++;
  }

  std::vector<Eigen::Triplet<double>> lap, b_in, q_out;
  Eigen::MatrixXd a = Eigen::MatrixXd::Zero(C, R);  // P: sense joined straight to a source
  for (const Element& e : elements) {
    const size_t ca = static_cast<size_t>(nodes.find(e.a)), cb = static_cast<size_t>(nodes.find(e.b));
    if (ca == cb) continue;
    for (const auto& [self, other] : {std::pair{ca, cb}, std::pair{cb, ca}}) {
      if (unknown[self] >= 0) {
        lap.emplace_back(unknown[self], unknown[self], e.g_uS);
        if (unknown[other] >= 0) lap.emplace_back(unknown[self], unknown[other], -e.g_uS);
        if (input_of[other] >= 0) b_in.emplace_back(unknown[self], input_of[other], e.g_uS);
      } else if (output_of[self] >= 0) {
        // Current into the sense node from this element: g (V_other - 0).
        if (unknown[other] >= 0) q_out.emplace_back(output_of[self], unknown[other], e.g_uS);
        if (input_of[other] >= 0) a(output_of[self], input_of[other]) += e.g_uS;
      }
    }
  }
  if (n == 0) return a;
  Eigen::SparseMatrix<double> L(n, n), B(n, R), Q(C, n);
  L.setFromTriplets(lap.begin(), lap.end());
  B.setFromTriplets(b_in.begin(), b_in.end());
  Q.setFromTriplets(q_out.begin(), q_out.end());
  Eigen::SimplicialLDLT<Eigen::SparseMatrix<double>> ldlt(L);
  if (ldlt.info() != Eigen::Success) {
    throw UsageError("circuit: the nodal matrix is singular (a part of the network floats)");
  }
  // A += Q L^-1 B, in blocks of outputs so the dense right-hand sides stay small.
  constexpr int64_t kBlock = 32;
  const Eigen::SparseMatrix<double> qt = Q.transpose();
  for (int64_t j0 = 0; j0 < C; j0 += kBlock) {
    const int64_t w = std::min(kBlock, C - j0);
    const Eigen::MatrixXd rhs = Eigen::MatrixXd(qt.middleCols(j0, w));
    const Eigen::MatrixXd y = ldlt.solve(rhs);  // L y = Q^T (L symmetric)
    a.middleRows(j0, w) += (B.transpose() * y).transpose();
  }
  return a;
}

}  // namespace qs4d
