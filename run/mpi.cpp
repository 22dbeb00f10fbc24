// MpiSession: MPI initialised only when an MPI launcher started this process.
#include <cstdlib>

#include "run/run.h"

#ifdef QS4D_HAVE_MPI
#include <mpi.h>
#endif

namespace qs4d {
namespace {

bool g_active = false;
int g_rank = 0, g_size = 1;

// Open MPI's mpirun, PMIx (srun --mpi=pmix) and PMI-1/2 launchers each set one of these.
bool launched_by_mpi() {
  for (const char* v : {"OMPI_COMM_WORLD_SIZE", "PMIX_RANK", "PMI_RANK"}) {
    if (std::getenv(v) != nullptr) return true;
  }
  return false;
}

}  // namespace

MpiSession::MpiSession(int* argc, char*** argv) {
#ifdef QS4D_HAVE_MPI
  if (!launched_by_mpi()) return;
  // Serialized: a coordinator thread on rank 0 and worker threads on every rank make MPI calls,
  // never two at once (run/sweep_units.cpp holds one lock around each).
  int provided = 0;
  MPI_Init_thread(argc, argv, MPI_THREAD_SERIALIZED, &provided);
  if (provided < MPI_THREAD_SERIALIZED) {
    MPI_Finalize();
    throw UsageError("this MPI library does not provide MPI_THREAD_SERIALIZED, which sweeps need");
  }
  MPI_Comm_rank(MPI_COMM_WORLD, &g_rank);
  MPI_Comm_size(MPI_COMM_WORLD, &g_size);
  g_active = true;
#else
  (void)argc;
  (void)argv;
  (void)launched_by_mpi;
#endif
}

MpiSession::~MpiSession() {
#ifdef QS4D_HAVE_MPI
  if (g_active) MPI_Finalize();
#endif
  g_active = false;
}

int MpiSession::rank() { return g_rank; }
int MpiSession::size() { return g_size; }

void MpiSession::abort(int status) {
#ifdef QS4D_HAVE_MPI
  if (g_active && g_size > 1) MPI_Abort(MPI_COMM_WORLD, status);
#else
  (void)status;
#endif
}

bool MpiSession::built_with_mpi() {
#ifdef QS4D_HAVE_MPI
  return true;
#else
  return false;
#endif
}

void MpiSession::require_one_run_per_job() {
  const char* tasks = std::getenv("SLURM_NTASKS");
  if (tasks == nullptr || size() > 1) return;
  char* end = nullptr;
  const long n = std::strtol(tasks, &end, 10);
  if (end == tasks || *end != '\0' || n <= 1) return;
  throw UsageError("Slurm started " + std::to_string(n) + " tasks (SLURM_NTASKS) but this process is alone (MPI size 1): "
                   "each task would run the whole job into the same file. Launch with srun --mpi=pmix (or "
                   "mpirun) and a qs4dsim built with MPI" +
                   std::string(built_with_mpi() ? "" : " (this one was built without it)") +
                   ", or run one task (--ntasks=1)");
}

}  // namespace qs4d
