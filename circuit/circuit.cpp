// A crossbar tile as a resistive network (see CircuitSpec in circuit.h): the exact transfer matrix
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
#include <Eigen/Cholesky>
#include <Eigen/SparseCholesky>
#include <Eigen/SparseCore>
#include <cmath>
#include <numeric>

#include "core/bounds.h"
#include "circuit/detail/network.h"
#include "circuit/circuit.h"

namespace qs4d {
namespace {

constexpr double kMicroSiemensPerSiemens = 1e6;
// Blocks up to this size are inverted directly (Cholesky against the identity); measured
// fastest for 256 x 256 tiles among 8, 16, 32 and 64.
constexpr int64_t kBaseBlock = 16;

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
  bool cell;     // the device itself, else a resistance
};

void check_spec(const CircuitSpec& s) {
  const std::pair<const char*, double> values[] = {
      {"row_wire_ohm", s.row_wire_ohm}, {"col_wire_ohm", s.col_wire_ohm},
      {"driver_ohm", s.driver_ohm},     {"sense_ohm", s.sense_ohm},
      {"access_ohm", s.access_ohm}};
  for (const auto& [name, v] : values) {
    if (!bounds::kResistance.admits(v)) {
      throw UsageError(std::string("circuit ") + name + " = " + format_number(v) + " ohm, expected " +
                       range_text(bounds::kResistance) + " (" + bounds::kResistance.why + ")");
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

void check_circuit_conductances(const Eigen::MatrixXd& g_uS, const std::string& where) {
  for (Eigen::Index i = 0; i < g_uS.rows(); ++i) {
    for (Eigen::Index j = 0; j < g_uS.cols(); ++j) {
      const double g = g_uS(i, j);
      if (!(g >= 0 && g <= kMaxCircuitConductance_uS)) {
        throw UsageError(where + " (" + std::to_string(i) + ", " + std::to_string(j) + ") is " +
                         format_number(g) + " uS, expected 0 .. " +
                         format_number(kMaxCircuitConductance_uS) + " uS");
      }
    }
  }
}

void detail::check_circuit(const Eigen::MatrixXd& g_uS, const CircuitSpec& spec) {
  check_spec(spec);
  const int64_t R = g_uS.rows(), C = g_uS.cols();
  if (R <= 0 || C <= 0 || R * C > kMaxCircuitCells) {
    throw UsageError("circuit: " + std::to_string(R) + " x " + std::to_string(C) +
                     " cells, expected 1 .. " + std::to_string(kMaxCircuitCells));
  }
  check_circuit_conductances(g_uS, "circuit: conductance");
}

void check_circuit_inputs(const RowMatrixXd& v, int64_t rows, const std::string& where) {
  if (v.cols() != rows) {
    throw UsageError(where + " has " + std::to_string(v.cols()) +
                     " columns, expected " + std::to_string(rows) + " (one voltage per row of G)");
  }
  for (Eigen::Index b = 0; b < v.rows(); ++b) {
    for (Eigen::Index i = 0; i < v.cols(); ++i) {
      if (!(std::abs(v(b, i)) <= kMaxCircuitInput_V)) {
        throw UsageError(where + " element (" + std::to_string(b) + ", " + std::to_string(i) +
                         ") is " + format_number(v(b, i)) + " V, expected a finite voltage within +-" +
                         format_number(kMaxCircuitInput_V) + " V");
      }
    }
  }
}

Eigen::MatrixXd transfer_matrix(const Eigen::MatrixXd& g_uS, const CircuitSpec& spec,
                                CircuitSolver solver) {
  detail::check_circuit(g_uS, spec);
  const int64_t R = g_uS.rows(), C = g_uS.cols();
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
  // Both wires with resistance: the chains (fast, exact); a zero-resistance wire joins nodes,
  // which the general nodal solve handles.
  if (spec.row_wire_ohm > 0 && spec.col_wire_ohm > 0) return detail::chain_transfer_matrix(cell, spec);
  return detail::nodal_transfer_matrix(cell, spec);
}

namespace detail {

// The network's nodes (see the top of this file), zero resistances joined (union-find), and
// its elements between the joined classes. With access_nodes, each cell is its access resistance
// to an internal node and the bare device from there (for a nonlinear device); else the cell is
// one element with the access resistance folded in (`cell` is then G_eff).
Network build_network(const Eigen::MatrixXd& cell, const CircuitSpec& spec, bool access_nodes) {
  const int64_t R = cell.rows(), C = cell.cols();
  // Node ids: row nodes, column nodes, sources, senses, internal cell nodes.
  const int64_t n_cells = R * C;
  const auto row_node = [&](int64_t i, int64_t j) { return i * C + j; };
  const auto col_node = [&](int64_t i, int64_t j) { return n_cells + i * C + j; };
  const auto source = [&](int64_t i) { return 2 * n_cells + i; };
  const auto sense = [&](int64_t j) { return 2 * n_cells + R + j; };
  const auto inner = [&](int64_t i, int64_t j) { return 2 * n_cells + R + C + i * C + j; };
  const int64_t n_nodes = 2 * n_cells + R + C + (access_nodes ? n_cells : 0);
  Nodes nodes(n_nodes);
  std::vector<Element> elements;
  elements.reserve(static_cast<size_t>(5 * n_cells + R + C));
  const auto connect = [&](int64_t a, int64_t b, double ohm) {
    if (ohm == 0) {
      nodes.join(a, b);
    } else {
      elements.push_back({a, b, conductance_uS(ohm), false});
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
      if (!(cell(i, j) > 0)) continue;  // an empty cell: no element, and no internal node
      int64_t from = row_node(i, j);
      if (access_nodes) {
        connect(from, inner(i, j), spec.access_ohm);
        from = inner(i, j);
      }
      elements.push_back({from, col_node(i, j), cell(i, j), true});
    }
  }
  // Classes: a source's class is known (input k), a sense's class is known (0 V, output j).
  Network net;
  net.input_of.assign(static_cast<size_t>(n_nodes), -1);
  net.output_of.assign(static_cast<size_t>(n_nodes), -1);
  net.unknown.assign(static_cast<size_t>(n_nodes), -1);
  for (int64_t i = 0; i < R; ++i) net.input_of[static_cast<size_t>(nodes.find(source(i)))] = i;
  for (int64_t j = 0; j < C; ++j) net.output_of[static_cast<size_t>(nodes.find(sense(j)))] = j;
  // Only a class that an element touches is an unknown: the internal node of an empty cell (a
  // stuck-off device or an unused cell, which carries no current) would otherwise float and make
  // the nodal matrix singular.
  std::vector<bool> touched(static_cast<size_t>(n_nodes), false);
  for (const Element& e : elements) {
    const int64_t ca = nodes.find(e.a), cb = nodes.find(e.b);
    if (ca == cb) continue;
    net.edges.push_back({ca, cb, e.g_uS, e.cell});
    touched[static_cast<size_t>(ca)] = touched[static_cast<size_t>(cb)] = true;
  }
  for (int64_t node = 0; node < n_nodes; ++node) {
    const size_t c = static_cast<size_t>(nodes.find(node));
    if (touched[c] && net.input_of[c] < 0 && net.output_of[c] < 0 && net.unknown[c] < 0) {
      net.unknown[c] = net.n_unknown++;
    }
  }
  return net;
}

// The general solve: every node, zero resistances joined (union-find), one sparse LDLT.
Eigen::MatrixXd nodal_transfer_matrix(const Eigen::MatrixXd& cell, const CircuitSpec& spec) {
  const int64_t R = cell.rows(), C = cell.cols();
  const Network net = build_network(cell, spec, false);
  const auto& input_of = net.input_of;
  const auto& output_of = net.output_of;
  const auto& unknown = net.unknown;
  const int64_t n = net.n_unknown;
  std::vector<Eigen::Triplet<double>> lap, b_in, q_out;
  Eigen::MatrixXd a = Eigen::MatrixXd::Zero(C, R);  // P: sense joined straight to a source
  for (const Network::Edge& e : net.edges) {
    const size_t ca = static_cast<size_t>(e.a), cb = static_cast<size_t>(e.b);
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

// In place: a symmetric positive definite matrix -> its inverse (both triangles), by halves:
// with E = [A B^T; B D], X = B A^-1 and the Schur complement Z = D - X B^T (positive definite),
// E^-1 = [A^-1 + X^T Z^-1 X, -(Z^-1 X)^T; -Z^-1 X, Z^-1]. 4n^3/3 flops, all in matrix products.
// False when the matrix is not positive definite.
bool invert_spd(Eigen::Ref<Eigen::MatrixXd> e) {
  const int64_t n = e.rows();
  if (n <= kBaseBlock) {
    const Eigen::LLT<Eigen::MatrixXd> llt(e);
    if (llt.info() != Eigen::Success) return false;
    e = llt.solve(Eigen::MatrixXd::Identity(n, n));
    return true;
  }
  const int64_t h = n / 2;
  auto a = e.topLeftCorner(h, h);
  auto b = e.bottomLeftCorner(n - h, h);
  auto d = e.bottomRightCorner(n - h, n - h);
  if (!invert_spd(a)) return false;
  const Eigen::MatrixXd x = b * a;
  d.noalias() -= x * b.transpose();
  if (!invert_spd(d)) return false;
  b.noalias() = -(d * x);
  a.noalias() -= x.transpose() * b;
  e.topRightCorner(h, n - h) = b.transpose();
  return true;
}

// Both wires with resistance: the network as chains. Row i's nodes form a chain (tridiagonal
// T_i) tied to the column nodes by its cells, so U_i = a_i v_i + K_i W_i; put into Kirchhoff's law
// at the column nodes, the column voltages solve a block-tridiagonal system
//   D_i W_i - g_c W_{i-1} - g_c W_{i+1} = m_i v_i,
//   D_i = diag(g_c (column neighbours) + G_i [+ g_s on the last row]) - diag(G_i) K_i,  m_i = G_i a_i,
// whose forward sweep (block Thomas: E_0 = D_0, E_k = D_k - g_c^2 E_{k-1}^-1) carries the
// dependence of the last block on every input, Y_k = g_c E_{k-1}^-1 Y_{k-1} + m_k e_k^T; the
// output currents are g_s W_{R-1} = g_s E_{R-1}^-1 Y_{R-1}. With a virtual-ground sense (0 ohm)
// W_{R-1} = 0 is known, the sweep stops at row R-2, and column j's current is
// g_c W(R-2, j) + G(R-1, j) U(R-1, j). With an ideal driver (0 ohm) U(i, 0) = v_i is known.
// Every E_k is a Schur complement of the positive definite nodal matrix, so Cholesky applies.
// Cost about 4/3 R C^3 (one symmetric inverse per row) + R^2 C^2 (the sweep of Y) flops, dense
// and cache-friendly, against one sparse solve per column of the nodal form.
Eigen::MatrixXd chain_transfer_matrix(const Eigen::MatrixXd& cell, const CircuitSpec& spec) {
  const int64_t R = cell.rows(), C = cell.cols();
  const double gr = conductance_uS(spec.row_wire_ohm), gc = conductance_uS(spec.col_wire_ohm);
  const bool ideal_driver = spec.driver_ohm == 0, ideal_sense = spec.sense_ohm == 0;
  const double gd = ideal_driver ? 0.0 : conductance_uS(spec.driver_ohm);
  const double gs = ideal_sense ? 0.0 : conductance_uS(spec.sense_ohm);
  // Row i's chain eliminated into the column nodes: m = G_i a_i (C) and the column block
  // D_i - diag(G_i) K_i (C x C, symmetric), from the free nodes j0..C-1 (j0 = 1 when the
  // driver fixes node 0). The chain's tridiagonal T = L D L^T (unit lower bidiagonal L with
  // L(k, k-1) = -c_k, pivots d_k) has the inverse T^-1(k, l) = sigma_k p(k, l) for k >= l, with
  // p(k, l) = c_{l+1} ... c_k and sigma_k = T^-1(k, k) = 1 / d_k + c_{k+1}^2 sigma_{k+1}: every
  // c_k = g_r / d_{k-1} lies in (0, 1], so the products only shrink. Column l of K's lower part
  // is then column l + 1's scaled by c_{l+1}, one vector operation: O(C^2) per row.
  const int64_t j0 = ideal_driver ? 1 : 0, n = C - j0;
  Eigen::VectorXd pivot(n), c(n), sigma(n), w(n), p(n), g(n);
  auto row_block = [&](int64_t i, Eigen::VectorXd& m, Eigen::MatrixXd& e) {
    m.setZero();
    if (ideal_driver) {
      m[0] = cell(i, 0);  // U(i, 0) = v_i
      e.col(0).setZero();  // the fixed node ties column node 0 to nothing else
      e.row(0).setZero();
    }
    if (n > 0) {
      for (int64_t k = 0; k < n; ++k) {
        const int64_t j = j0 + k;
        const double diag =
            cell(i, j) + gr * static_cast<double>((j > 0) + (j + 1 < C)) + (j == 0 ? gd : 0.0);
        c[k] = k == 0 ? 0.0 : gr / pivot[k - 1];
        pivot[k] = k == 0 ? diag : diag - c[k] * gr;
      }
      sigma[n - 1] = 1.0 / pivot[n - 1];
      for (int64_t k = n - 2; k >= 0; --k) sigma[k] = 1.0 / pivot[k] + c[k + 1] * c[k + 1] * sigma[k + 1];
      g = cell.row(i).tail(n).transpose();  // contiguous: cell's rows are strided
      w = g.cwiseProduct(sigma);             // G_k sigma_k
      // Both triangles, each column written contiguously: below the diagonal column l holds
      // p(k, l) over k >= l (from column l + 1's by one factor), above it column k holds p(k, l)
      // over l <= k (from column k - 1's by one factor).
      for (int64_t l = n - 1; l >= 0; --l) {
        p.segment(l + 1, n - l - 1) *= c[l + 1 < n ? l + 1 : 0];
        p[l] = 1.0;
        e.col(j0 + l).segment(j0 + l, n - l) = -g[l] * w.segment(l, n - l).cwiseProduct(p.segment(l, n - l));
      }
      // The drive: g_d into free node 0, or g_r from the fixed node 0 into node 1 (p now holds
      // p(k, 0)).
      m.tail(n) = (ideal_driver ? gr : gd) * w.cwiseProduct(p);
      for (int64_t k = 0; k < n; ++k) {
        p.head(k) *= c[k];
        p[k] = 1.0;
        e.col(j0 + k).segment(j0, k) = -w[k] * g.head(k).cwiseProduct(p.head(k));
      }
    }
    const double wires = gc * static_cast<double>((i > 0) + (i + 1 < R)) + (i == R - 1 ? gs : 0.0);
    e.diagonal() += (wires + cell.row(i).array()).matrix().transpose();
  };
  const int64_t blocks = ideal_sense ? R - 1 : R;  // column-node rows with unknown voltages
  // e holds E_k and e_inv E_{k-1}^-1, both triangles. Buffers are allocated once; y and y_next
  // take turns (columns k and above of y are scratch).
  Eigen::VectorXd m(C);
  Eigen::MatrixXd e(C, C), e_inv(C, C), y = Eigen::MatrixXd::Zero(C, R), y_next(C, R);
  for (int64_t k = 0; k < blocks; ++k) {
    row_block(k, m, e);
    if (k > 0) {
      e -= (gc * gc) * e_inv;
      y_next.leftCols(k).noalias() = gc * (e_inv * y.leftCols(k));
      y.swap(y_next);
    }
    y.col(k) = m;
    if (!invert_spd(e)) {
      throw UsageError("circuit: the nodal matrix is not positive definite (a part of the network floats)");
    }
    e_inv.swap(e);
  }
  Eigen::MatrixXd a(C, R);
  if (!ideal_sense) {
    a.noalias() = gs * (e_inv * y);
    return a;
  }
  a.setZero();
  if (blocks > 0) {  // the current down the last column segment (y's last column is scratch)
    a.leftCols(blocks).noalias() = gc * (e_inv * y.leftCols(blocks));
  }
  row_block(R - 1, m, e);  // the last row's cells straight into the sense
  a.col(R - 1) += m;
  return a;
}

}  // namespace detail

}  // namespace qs4d
