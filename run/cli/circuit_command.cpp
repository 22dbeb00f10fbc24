// qs4dsim circuit: one tile's currents and transfer matrix from a conductance matrix and input
// voltages, so the IR-drop model can be checked against SPICE or a hand-solved network.
#include <algorithm>
#include <chrono>
#include <cstdio>

#include "run/cli/commands.h"

namespace qs4d::cli {

namespace {

// Work the verb takes on, refused before any solver allocates (issue #31): the exact solve of a
// resistive tile costs about 4/3 R C^3 + R^2 C^2 flops (docs/formats.md; 10 GFlop and 0.16 s for
// 256 x 256 on one core), the nonlinear one a sparse factorisation of the whole network per
// Newton step and input vector (2.3 s per vector at 256 x 256).
constexpr int64_t kMaxSide = 4096;
double exact_flops(double R, double C) { return 4.0 / 3.0 * R * C * C * C + R * R * C * C; }
const double kMaxExactWork = exact_flops(512, 512);  // 1.6e11, a few seconds on one core
constexpr double kMaxNonlinearWork = 1048576.0;   // 2^20 cells x input vectors

void check_work(const CircuitArgs& args, const RowMatrixXd& g, const RowMatrixXd& v,
                const CircuitSpec& spec, CircuitSolver solver) {
  const double R = double(g.rows()), C = double(g.cols());
  if (g.rows() > kMaxSide || g.cols() > kMaxSide) {
    throw UsageError(args.in + ": '/G' is " + std::to_string(g.rows()) + " x " +
                     std::to_string(g.cols()) + ", expected at most " + std::to_string(kMaxSide) +
                     " rows and columns");
  }
  if (solver == CircuitSolver::kExact && spec.any() && exact_flops(R, C) > kMaxExactWork) {
    throw UsageError(args.in + ": '/G' is " + std::to_string(g.rows()) + " x " +
                     std::to_string(g.cols()) + ", whose exact solve costs about 4/3 R C^3 + " +
                     "R^2 C^2 = " + format_number(exact_flops(R, C)) + " flops, expected at most " +
                     format_number(kMaxExactWork) + " (a 512 x 512 tile)");
  }
  if (args.cell_v0 > 0 && R * C * double(v.rows()) > kMaxNonlinearWork) {
    throw UsageError(args.in + ": " + std::to_string(v.rows()) + " input vectors on a " +
                     std::to_string(g.rows()) + " x " + std::to_string(g.cols()) +
                     " tile with nonlinear cells, expected rows x cols x vectors at most 2^20");
  }
}

}  // namespace

int run_circuit(const CircuitArgs& args) {
  const RowMatrixXd g = read_matrix_f64(args.in, "/G");
  const RowMatrixXd v = read_matrix_f64(args.in, "/v");
  check_circuit_conductances(g, args.in + ": '/G' element");
  check_circuit_inputs(v, g.rows(), args.in + ": '/v'");
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
  check_work(args, g, v, spec, solver);
  if (!args.netlist.empty()) write_text_atomic(args.netlist, spice_netlist(g, v, spec, args.cell_v0));
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
  if (!args.netlist.empty()) std::printf("netlist     %s (ngspice -b)\n", args.netlist.c_str());
  return 0;
}

}  // namespace qs4d::cli
