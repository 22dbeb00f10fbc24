// libFuzzer harness: qs4dsim circuit on an arbitrary input file (its /G and /v read contained,
// then checked and solved within the verb's stated limits), with the solver, cell model and one
// resistance chosen by the first byte. Refusals are errors; nothing may crash or hang.
#include <cstdint>
#include <cstdio>
#include <exception>

#include "run/cli/commands.h"
#include "tests/fuzz/fuzz_input.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  qs4d::cli::CircuitArgs args;
  args.in = qs4d::fuzz::write_input(data + 1, size - 1, ".h5");
  args.out = args.in + ".out.h5";
  const uint8_t pick = data[0];
  args.solver = pick % 3 == 0 ? "exact" : pick % 3 == 1 ? "first-order" : "ideal";
  if (pick & 4) args.row_wire_ohm = 1.0;
  if (pick & 8) args.col_wire_ohm = 0.5;
  if (pick & 16) args.access_ohm = 1000.0;
  if ((pick & 32) && args.solver == "exact") args.cell_v0 = 0.25;
  std::FILE* quiet = std::freopen("/dev/null", "w", stdout);
  (void)quiet;
  try {
    qs4d::cli::run_circuit(args);
  } catch (const std::exception&) {
  }
  std::remove(args.out.c_str());
  return 0;
}
