// A tile as a SPICE netlist (ngspice dialect), written straight from the convention in
// CircuitSpec (circuit.h) and docs/formats.md, not from the solvers' network: a user, or the test
// suite, can then check `qs4dsim circuit` against an independent circuit simulator.
//
// Nodes: s<i> (row i's source), r<i>_<j> and c<i>_<j> (row and column node at cell (i, j)),
// a<i>_<j> (between access transistor and device), t<j> (column j's sense node, held at 0 V by
// the ammeter vt<j>, whose current i(vt<j>) is the column's output current in amperes). A zero
// resistance is written as a 0 V source (an ideal short), so every value, 0 included, is the
// circuit itself. Linear cells are resistors; sinh cells are behavioural current sources
// I = G v0 sinh(V / v0). The control block runs one operating point per input vector (the row
// sources altered between them) and prints every ammeter with 16 significant digits.
#include <cstdio>
#include <sstream>
#include <string>

#include "circuit/circuit.h"

namespace qs4d {
namespace {

std::string number(double x) {
  char buffer[40];
  std::snprintf(buffer, sizeof buffer, "%.17g", x);
  return buffer;
}

// A two-terminal resistance: a resistor, or a 0 V source where it is 0 ohm.
void resistance(std::ostringstream& out, const std::string& name, const std::string& a,
                const std::string& b, double ohm) {
  if (ohm == 0) {
    out << "v" << name << " " << a << " " << b << " 0\n";
  } else {
    out << "r" << name << " " << a << " " << b << " " << number(ohm) << "\n";
  }
}

std::string node(const char* kind, int64_t i, int64_t j) {
  return kind + std::to_string(i) + "_" + std::to_string(j);
}

}  // namespace

std::string spice_netlist(const Eigen::MatrixXd& g_uS, const RowMatrixXd& v,
                          const CircuitSpec& spec, double cell_v0_V) {
  const int64_t R = g_uS.rows(), C = g_uS.cols();
  std::ostringstream out;
  out << "* qs4dsim tile " << R << " x " << C << ": row wire " << number(spec.row_wire_ohm)
      << ", column wire " << number(spec.col_wire_ohm) << ", driver " << number(spec.driver_ohm)
      << ", sense " << number(spec.sense_ohm) << ", access " << number(spec.access_ohm)
      << " ohm; cells " << (cell_v0_V > 0 ? "I = G v0 sinh(V / v0), v0 = " + number(cell_v0_V) + " V" : "linear")
      << "\n";
  for (int64_t i = 0; i < R; ++i) {
    out << "vs" << i << " s" << i << " 0 " << number(v.rows() > 0 ? v(0, i) : 0.0) << "\n";
    resistance(out, "d" + std::to_string(i), "s" + std::to_string(i), node("r", i, 0), spec.driver_ohm);
    for (int64_t j = 0; j + 1 < C; ++j) {
      resistance(out, "w" + node("r", i, j), node("r", i, j), node("r", i, j + 1), spec.row_wire_ohm);
    }
  }
  for (int64_t j = 0; j < C; ++j) {
    for (int64_t i = 0; i + 1 < R; ++i) {
      resistance(out, "w" + node("c", i, j), node("c", i, j), node("c", i + 1, j), spec.col_wire_ohm);
    }
    resistance(out, "e" + std::to_string(j), node("c", R - 1, j), "t" + std::to_string(j), spec.sense_ohm);
    out << "vt" << j << " t" << j << " 0 0\n";
  }
  for (int64_t i = 0; i < R; ++i) {
    for (int64_t j = 0; j < C; ++j) {
      const double g = g_uS(i, j);
      if (g == 0) continue;  // an empty cell carries no current
      std::string from = node("r", i, j);
      if (spec.access_ohm > 0) {
        resistance(out, "a" + node("", i, j), from, node("a", i, j), spec.access_ohm);
        from = node("a", i, j);
      }
      const std::string to = node("c", i, j);
      if (cell_v0_V > 0) {
        out << "bg" << i << "_" << j << " " << from << " " << to << " i=" << number(g * 1e-6 * cell_v0_V)
            << "*sinh(v(" << from << "," << to << ")/" << number(cell_v0_V) << ")\n";
      } else {
        out << "rg" << i << "_" << j << " " << from << " " << to << " " << number(1e6 / g) << "\n";
      }
    }
  }
  // Tight tolerances: the default reltol of 1e-3 would hide any disagreement below a permille.
  // At 1e-12 ngspice 39 gives up plain Newton on some sinh tiles and steps gmin, whose 1e-12 S
  // shunts then stay in the answer (1e-8 off); 1e-11 converges without it.
  out << ".options reltol=1e-11 abstol=1e-18 vntol=1e-15\n.control\nset numdgt=16\n";
  for (Eigen::Index b = 0; b < v.rows(); ++b) {
    if (b > 0) {
      for (int64_t i = 0; i < R; ++i) out << "alter vs" << i << " = " << number(v(b, i)) << "\n";
    }
    out << "op\necho vector " << b << "\n";
    for (int64_t j = 0; j < C; ++j) out << "print i(vt" << j << ")\n";
  }
  out << ".endc\n.end\n";
  return out.str();
}

}  // namespace qs4d
