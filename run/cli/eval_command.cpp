// qs4dsim eval: parses its text into an EvalRequest (run/run.h) and prints the report the library
// builds; --json writes it.
#include <nlohmann/json.hpp>

#include "run/cli/commands.h"

namespace qs4d::cli {

EvalRequest eval_request(const EvalArgs& args) {
  EvalRequest request = args.request;
  if (!args.times.empty()) request.times_s = parse_times(args.times);
  if (!args.chip.empty()) {
    request.chip = load_chip(args.chip, with_extrapolation(request.overrides, request.extrapolate, "device."));
  } else if (!request.overrides.empty()) {
    throw UsageError("eval: --set " + request.overrides.front() + " needs --chip (a digital run has no chip keys)");
  }
  return request;
}

int run_eval(const EvalArgs& args) {
  if (!args.chip.empty()) MpiSession::require_one_run_per_job();
  const EvalRequest request = eval_request(args);
  const S4DModel model = S4DModel::load(request.checkpoint);
  const Dataset data = load_dataset(request.data, request.limit);
  const bool writer = MpiSession::rank() == 0;  // under MPI, rank 0 prints and writes
  const nlohmann::json j = evaluation_report(model, data, request, writer);
  if (writer && !args.json_out.empty()) write_text_atomic(args.json_out, j.dump(2) + "\n");
  return 0;
}

}  // namespace qs4d::cli
