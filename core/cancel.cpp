#include "core/cancel.h"

#include <atomic>

namespace qs4d {
namespace {
std::atomic<bool> g_cancel{false};
std::atomic<int64_t> g_done{0}, g_total{0};
}  // namespace

void request_cancel(bool on) { g_cancel.store(on, std::memory_order_relaxed); }
bool cancel_requested() { return g_cancel.load(std::memory_order_relaxed); }

void publish_progress(int64_t done, int64_t total) {
  g_total.store(total, std::memory_order_relaxed);
  g_done.store(done, std::memory_order_relaxed);
}

void progress_now(int64_t& done, int64_t& total) {
  total = g_total.load(std::memory_order_relaxed);
  done = g_done.load(std::memory_order_relaxed);
}

}  // namespace qs4d
