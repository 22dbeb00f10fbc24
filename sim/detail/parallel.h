// A parallel loop that carries exceptions out (sim-internal; run/ above it uses it too): OpenMP must not let one escape a
// thread, so each iteration's is kept and the first (in index order) rethrown after the loop.
#pragma once

#include <atomic>
#include <cstdint>
#include <exception>
#include <vector>

namespace qs4d::detail {

// Runs body(i) for i in [0, n), one iteration at a time per thread (dynamic schedule). After an
// iteration fails, the ones not yet started are skipped (the loop fails anyway; a cancelled run
// must not start every remaining chip only to stop it).
template <class Body>
void parallel_for_each(int64_t n, Body&& body) {
  std::vector<std::exception_ptr> errors(static_cast<size_t>(n));
  std::atomic<bool> failed{false};
#pragma omp parallel for schedule(dynamic, 1)
  for (int64_t i = 0; i < n; ++i) {
    if (failed.load(std::memory_order_relaxed)) continue;
    try {
      body(i);
    } catch (...) {
      errors[static_cast<size_t>(i)] = std::current_exception();
      failed.store(true, std::memory_order_relaxed);
    }
  }
  for (const auto& e : errors) {
    if (e) std::rethrow_exception(e);
  }
}

}  // namespace qs4d::detail
