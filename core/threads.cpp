#include "core/core.h"

#include <omp.h>

#include <Eigen/Core>
#include <algorithm>

namespace qs4d {

int resolve_threads(int requested) {
  const int n = requested > 0 ? requested : omp_get_max_threads();
  return std::clamp(n, 1, kMaxThreads);
}

ThreadScope::ThreadScope(int requested)
    : threads_(resolve_threads(requested)),
      previous_omp_(omp_get_max_threads()),
      previous_eigen_(Eigen::nbThreads()),
      previous_levels_(omp_get_max_active_levels()) {
  omp_set_num_threads(threads_);
  Eigen::setNbThreads(threads_);
  // Every parallel loop of the simulator is the only one at its level: a region inside another
  // runs on the thread that meets it, so n threads means n threads in all.
  omp_set_max_active_levels(1);
}

ThreadScope::~ThreadScope() {
  omp_set_max_active_levels(previous_levels_);
  Eigen::setNbThreads(previous_eigen_);
  omp_set_num_threads(previous_omp_);
}

}  // namespace qs4d
