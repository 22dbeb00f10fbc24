// One thread count for every parallel level (OpenMP teams, Eigen's products, nested regions).
//
// Why: a parallel region opened with num_threads(1) leaves OpenMP's default team size and
// Eigen's own thread count untouched, and Eigen then opens a nested team of
// omp_get_max_threads() threads inside it (issue #15: --threads 1 ran on every core, 10x slower
// for small products). A ThreadScope sets all three for as long as it lives and restores them.
#pragma once

namespace qs4d {

// The thread count a call asking for `requested` runs on: requested when positive, else
// OpenMP's default (OMP_NUM_THREADS or the core count), capped at kMaxThreads.
int resolve_threads(int requested);

// Upper bound on any thread count: more threads than this only cost memory (per-thread scratch).
inline constexpr int kMaxThreads = 256;

class ThreadScope {
 public:
  explicit ThreadScope(int requested);
  ~ThreadScope();
  ThreadScope(const ThreadScope&) = delete;
  ThreadScope& operator=(const ThreadScope&) = delete;
  int threads() const { return threads_; }

 private:
  int threads_;
  int previous_omp_;
  int previous_eigen_;
  int previous_levels_;
};

}  // namespace qs4d
