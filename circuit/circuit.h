// circuit: one crossbar tile as an electrical network (IR drop), a leaf module on Eigen.
//
// Holds the tile's resistances (CircuitSpec), the exact, first-order and ideal transfer matrices
// of a linear tile (circuit.cpp), Newton's method for nonlinear sinh cells (nonlinear.cpp), the
// tile as a SPICE netlist for checking against ngspice (netlist.cpp), and the physical limits of
// each input. May include core/ only: the chip description (chip/) and the simulator (sim/)
// build on it.
#pragma once

#include <Eigen/Core>
#include <cstdint>
#include <string>

#include "core/core.h"
#include "core/matrix.h"

namespace qs4d {

// A tile as a resistive circuit (IR drop). Convention: row i is driven at its column-0 end
// through the driver resistance; cell (i, j) joins row node (i, j) to column node (i, j);
// neighbouring nodes along a row or a column are joined by one wire segment; column j is sensed
// at its row R-1 end through the sense resistance into a virtual ground. The network is linear,
// so i_out (uA, per column) = A (cols x rows) v (V, per row) with G in uS.
struct CircuitSpec {
  double row_wire_ohm = 0;  // per row segment
  double col_wire_ohm = 0;  // per column segment
  double driver_ohm = 0;    // DAC driver output resistance
  double sense_ohm = 0;     // sense amplifier input resistance (0: ideal virtual ground)
  double access_ohm = 0;    // 1T1R access transistor in series with each cell
  bool any() const {        // some resistance: the tile is not the ideal product
    return row_wire_ohm > 0 || col_wire_ohm > 0 || driver_ohm > 0 || sense_ohm > 0 ||
           access_ohm > 0;
  }
};
enum class CircuitSolver {
  kIdeal,       // A = G^T (no wires)
  kFirstOrder,  // each cell alone in series with its own wire path (other cells' currents ignored)
  kExact,       // the nodal equations of the whole network, solved exactly
};
const char* to_string(CircuitSolver s);
CircuitSolver parse_circuit_solver(const std::string& text);  // "exact" | "first-order" | "ideal"
inline constexpr int64_t kMaxCircuitCells = int64_t{1} << 20;
// A cell of 1 S (1 ohm) is far above any memristor (the chip specs stop at 1e5 uS); beyond it the
// network is no crossbar and its currents overflow what the solvers are written for.
inline constexpr double kMaxCircuitConductance_uS = 1e6;
// The transfer matrix of a tile with conductances g_uS (rows x cols). Exact: one sparse LDLT
// factorisation of the nodal matrix and one solve per column, every resistance (0 included)
// taken exactly. Throws UsageError on negative or non-finite values.
Eigen::MatrixXd transfer_matrix(const Eigen::MatrixXd& g_uS, const CircuitSpec& spec,
                                CircuitSolver solver);
// Input voltages (batch x rows): one per row of the tile, each finite and within
// +-kMaxCircuitInput_V (a read is a fraction of a volt; beyond a kilovolt no crossbar survives).
// Conductances: finite, 0 .. kMaxCircuitConductance_uS. Both throw UsageError naming `where` and
// the first bad element.
inline constexpr double kMaxCircuitInput_V = 1e3;
void check_circuit_inputs(const RowMatrixXd& v, int64_t rows,
                          const std::string& where = "circuit: the inputs");
void check_circuit_conductances(const Eigen::MatrixXd& g_uS, const std::string& where);
// The same network with nonlinear cells, I = G v0 sinh(V / v0) (G: the small-signal conductance
// at 0 V; the ASU/Stanford RRAM form): output currents (batch x cols, uA) for input voltages v
// (batch x rows, V) by Newton's method on the nodal equations (circuit/nonlinear.cpp).
struct NonlinearSolve {
  RowMatrixXd i_uA;
  int max_iterations = 0;           // Newton steps of the slowest input vector
  double max_cell_v_over_v0 = 0.0;  // the largest |V| / v0 across a cell
};
// The same tile, inputs and cells as a SPICE netlist (ngspice dialect; circuit/netlist.cpp
// names its nodes): `ngspice -b` prints each input vector's column currents in amperes.
// cell_v0_V > 0: sinh cells, else linear.
std::string spice_netlist(const Eigen::MatrixXd& g_uS, const RowMatrixXd& v,
                          const CircuitSpec& spec, double cell_v0_V);
NonlinearSolve solve_nonlinear(const Eigen::MatrixXd& g_uS, const RowMatrixXd& v,
                               const CircuitSpec& spec, double v0_V);

}  // namespace qs4d
