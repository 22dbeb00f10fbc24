// Sharing a sweep's (point, trial) units out over MPI processes and worker threads.
//
// Rank 0 keeps the queue of units and the results. Its own workers take units from the queue
// directly; with more than one process, a coordinator thread on rank 0 answers the other ranks'
// requests (a unit, or "stop" once the queue is empty) and receives their results. Every MPI call
// of a process is made under one lock (MPI_THREAD_SERIALIZED). A point is complete when all its
// trials are in; rank 0 then hands it to `done`, one point at a time.
#include <atomic>
#include <chrono>
#include <deque>
#include <exception>
#include <map>
#include <mutex>
#include <thread>

#include "run/detail/sweep_units.h"
#include "run/run.h"

#ifdef QS4D_HAVE_MPI
#include <mpi.h>
#endif

namespace qs4d::detail {

nlohmann::json UnitResult::to_json() const {
  nlohmann::json j{{"point", point},       {"trial", trial},         {"digital", digital_accuracy},
                   {"accuracy", accuracy}, {"agreement", agreement}, {"clips", clips},
                   {"conversions", conversions}};
  if (!extra.is_null()) j["extra"] = extra;
  return j;
}

UnitResult UnitResult::from_json(const nlohmann::json& j) {
  UnitResult r;
  r.point = j.at("point").get<int64_t>();
  r.trial = j.at("trial").get<int64_t>();
  r.digital_accuracy = j.at("digital").get<double>();
  r.accuracy = j.at("accuracy").get<std::vector<double>>();
  r.agreement = j.at("agreement").get<std::vector<double>>();
  r.clips = j.at("clips").get<std::vector<int64_t>>();
  r.conversions = j.at("conversions").get<std::vector<int64_t>>();
  if (j.contains("extra")) r.extra = j.at("extra");
  return r;
}

namespace {

// Where a worker gets units from and gives results to.
class Source {
 public:
  virtual ~Source() = default;
  virtual bool next(SweepUnit& unit) = 0;
  virtual void submit(UnitResult result) = 0;
};

// Rank 0's queue and results.
class Coordinator : public Source {
 public:
  Coordinator(const std::vector<int64_t>& points, int64_t trials, const PointDone& done)
      : trials_(trials), done_(done) {
    for (int64_t p : points) {
      for (int64_t t = 0; t < trials; ++t) queue_.push_back({p, t});
    }
    total_ = static_cast<int64_t>(queue_.size());
  }
  bool next(SweepUnit& unit) override {
    std::lock_guard<std::mutex> lock(mutex_);
    if (queue_.empty() || failed_) return false;
    unit = queue_.front();
    queue_.pop_front();
    return true;
  }
  void submit(UnitResult result) override {
    std::unique_lock<std::mutex> lock(mutex_);
    const int64_t point = result.point;
    std::vector<UnitResult>& slot = pending_[point];
    if (slot.empty()) slot.resize(static_cast<size_t>(trials_));
    slot[static_cast<size_t>(result.trial)] = std::move(result);
    const bool complete = ++arrived_[point] == trials_;
    std::vector<UnitResult> by_trial;
    if (complete) {
      by_trial = std::move(slot);
      pending_.erase(point);
      arrived_.erase(point);
    }
    lock.unlock();
    if (complete) {
      const std::lock_guard<std::mutex> writing(done_mutex_);
      done_(point, by_trial);
    }
    const std::lock_guard<std::mutex> again(mutex_);
    ++received_;
  }
  bool all_in() {
    std::lock_guard<std::mutex> lock(mutex_);
    return received_ == total_ || failed_;
  }
  void fail() {
    std::lock_guard<std::mutex> lock(mutex_);
    failed_ = true;
  }
  int64_t total() const { return total_; }

 private:
  std::mutex mutex_, done_mutex_;
  std::deque<SweepUnit> queue_;
  std::map<int64_t, std::vector<UnitResult>> pending_;
  std::map<int64_t, int64_t> arrived_;
  int64_t trials_, total_ = 0, received_ = 0;
  bool failed_ = false;
  const PointDone& done_;
};

#ifdef QS4D_HAVE_MPI
constexpr int kTagRequest = 1, kTagUnit = 2, kTagStop = 3, kTagResult = 4;

// A worker rank's view of rank 0's queue.
class RemoteSource : public Source {
 public:
  explicit RemoteSource(std::mutex& mpi) : mpi_(mpi) {}
  bool next(SweepUnit& unit) override {
    std::lock_guard<std::mutex> lock(mpi_);
    if (stopped_) return false;
    MPI_Send(nullptr, 0, MPI_BYTE, 0, kTagRequest, MPI_COMM_WORLD);
    int64_t msg[2] = {0, 0};
    MPI_Status status;
    MPI_Recv(msg, 2, MPI_INT64_T, 0, MPI_ANY_TAG, MPI_COMM_WORLD, &status);
    if (status.MPI_TAG == kTagStop) {
      stopped_ = true;  // each rank is told once; its other workers stop without asking
      return false;
    }
    unit = {msg[0], msg[1]};
    return true;
  }
  void submit(UnitResult result) override {
    const std::string text = result.to_json().dump();
    std::lock_guard<std::mutex> lock(mpi_);
    MPI_Send(text.data(), static_cast<int>(text.size()), MPI_CHAR, 0, kTagResult, MPI_COMM_WORLD);
  }

 private:
  std::mutex& mpi_;
  bool stopped_ = false;
};

// Rank 0's coordinator thread: answers requests and takes results until every unit is in and
// every other rank has been told to stop. It polls (1 ms naps) so that it takes no core from the
// workers beside it.
void serve(Coordinator& c, int size, std::mutex& mpi) {
  int stops = 0;
  while (!(c.all_in() && stops == size - 1)) {
    int flag = 0;
    MPI_Status status;
    std::string text;
    bool result = false;
    {
      std::lock_guard<std::mutex> lock(mpi);
      MPI_Iprobe(MPI_ANY_SOURCE, MPI_ANY_TAG, MPI_COMM_WORLD, &flag, &status);
      if (flag && status.MPI_TAG == kTagRequest) {
        MPI_Recv(nullptr, 0, MPI_BYTE, status.MPI_SOURCE, kTagRequest, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
        SweepUnit unit;
        if (c.next(unit)) {
          const int64_t msg[2] = {unit.point, unit.trial};
          MPI_Send(msg, 2, MPI_INT64_T, status.MPI_SOURCE, kTagUnit, MPI_COMM_WORLD);
        } else {
          MPI_Send(nullptr, 0, MPI_BYTE, status.MPI_SOURCE, kTagStop, MPI_COMM_WORLD);
          ++stops;
        }
      } else if (flag && status.MPI_TAG == kTagResult) {
        int n = 0;
        MPI_Get_count(&status, MPI_CHAR, &n);
        text.resize(static_cast<size_t>(n));
        MPI_Recv(text.data(), n, MPI_CHAR, status.MPI_SOURCE, kTagResult, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
        result = true;
      }
    }
    if (result) c.submit(UnitResult::from_json(nlohmann::json::parse(text)));  // outside the MPI lock
    if (!flag) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
}
#endif

// Runs `workers` threads taking units from `source` until it has none left; the first error stops
// the queue and is rethrown once the others finish their unit (under MPI, the command line then
// ends every process: MpiSession::abort).
void work(Source& source, Coordinator* coordinator, int workers, int threads_per_unit, const RunUnit& run) {
  std::exception_ptr error;
  std::mutex error_mutex;
  auto loop = [&] {
    try {
      SweepUnit unit;
      while (source.next(unit)) source.submit(run(unit, threads_per_unit));
    } catch (...) {
      const std::lock_guard<std::mutex> lock(error_mutex);
      if (!error) error = std::current_exception();
      if (coordinator != nullptr) coordinator->fail();
    }
  };
  std::vector<std::thread> pool;
  for (int w = 1; w < workers; ++w) pool.emplace_back(loop);
  loop();
  for (auto& t : pool) t.join();
  if (error) std::rethrow_exception(error);
}

}  // namespace

void run_units(const std::vector<int64_t>& points, int64_t trials, int threads, const RunUnit& run,
               const PointDone& done) {
  const int size = MpiSession::size(), rank = MpiSession::rank();
  int64_t total = static_cast<int64_t>(points.size()) * trials;
#ifdef QS4D_HAVE_MPI
  if (size > 1) MPI_Bcast(&total, 1, MPI_INT64_T, 0, MPI_COMM_WORLD);
#endif
  if (total == 0) return;
  // Enough workers that every one has units (one per thread at most), the threads shared out.
  const int all = resolve_threads(threads);
  const int workers = static_cast<int>(std::clamp<int64_t>(total / size, 1, all));
  const int per_unit = std::max(1, all / workers);
  if (rank == 0) {
    Coordinator coordinator(points, trials, done);
#ifdef QS4D_HAVE_MPI
    if (size > 1) {
      std::mutex mpi;
      std::thread server([&] { serve(coordinator, size, mpi); });
      try {
        work(coordinator, &coordinator, workers, per_unit, run);
      } catch (...) {
        server.detach();  // the run is being aborted
        throw;
      }
      server.join();
      return;
    }
#endif
    work(coordinator, &coordinator, workers, per_unit, run);
    return;
  }
#ifdef QS4D_HAVE_MPI
  std::mutex mpi;
  RemoteSource remote(mpi);
  work(remote, nullptr, workers, per_unit, run);
#endif
}

}  // namespace qs4d::detail
