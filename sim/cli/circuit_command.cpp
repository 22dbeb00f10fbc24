// qs4dsim circuit: one tile's currents and transfer matrix from a conductance matrix and input
// voltages, so the IR-drop model can be checked against SPICE or a hand-solved network.
#include <chrono>
#include <cstdio>

#include "sim/cli/commands.h"

namespace qs4d::cli {

int run_circuit(const CircuitArgs& args) {
  const RowMatrixXd g = read_matrix_f64(args.in, "/G");
  const RowMatrixXd v = read_matrix_f64(args.in, "/v");
  if (v.cols() != g.rows()) {
    throw UsageError(args.in + ": '/v' has " + std::to_string(v.cols()) + " columns, expected " +
                     std::to_string(g.rows()) + " (one voltage per row of /G)");
  }
  CircuitSpec spec;
  spec.row_wire_ohm = args.row_wire_ohm;
  spec.col_wire_ohm = args.col_wire_ohm;
  spec.driver_ohm = args.driver_ohm;
  spec.sense_ohm = args.sense_ohm;
  spec.access_ohm = args.access_ohm;
  const CircuitSolver solver = parse_circuit_solver(args.solver);
  if (args.cell_v0 > 0 && solver != CircuitSolver::kExact) {
    throw UsageError("--cell-v0 needs --solver exact (nonlinear cells are solved on the whole network)");
  }
  const auto start = std::chrono::steady_clock::now();
  const Eigen::MatrixXd a = transfer_matrix(g, spec, solver);  // small-signal (0 V) when nonlinear
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  RowMatrixXd i;  // (batch, cols) in uA
  if (args.cell_v0 <= 0) {
    i = v * a.transpose();
  } else {
    const auto newton_start = std::chrono::steady_clock::now();
    const NonlinearSolve nl = solve_nonlinear(g, v, spec, args.cell_v0);
    i = nl.i_uA;
    std::printf("cells       I = G v0 sinh(V / v0), v0 = %g V: Newton, at most %d steps per vector, "
                "largest |V| / v0 %.3f, %.3f s\n", args.cell_v0, nl.max_iterations,
                nl.max_cell_v_over_v0,
                std::chrono::duration<double>(std::chrono::steady_clock::now() - newton_start).count());
  }
  write_matrices_f64(args.out, {{"/i", i}, {"/A", RowMatrixXd(a)}});
  const double ideal = (v * g).cwiseAbs().sum();
  std::printf("tile        %lld x %lld cells, %lld input vectors (%s)\n",
              static_cast<long long>(g.rows()), static_cast<long long>(g.cols()),
              static_cast<long long>(v.rows()), args.in.c_str());
  std::printf("circuit     %s: row wire %g ohm, column wire %g ohm, driver %g ohm, sense %g ohm, "
              "access %g ohm\n", to_string(solver), spec.row_wire_ohm, spec.col_wire_ohm,
              spec.driver_ohm, spec.sense_ohm, spec.access_ohm);
  std::printf("output      sum |i| / sum |G^T v| = %.6f\n", ideal > 0 ? i.cwiseAbs().sum() / ideal : 1.0);
  std::printf("time        %.3f s for the transfer matrix\nwrote       %s (/i uA, /A)\n", seconds,
              args.out.c_str());
  return 0;
}

}  // namespace qs4d::cli
