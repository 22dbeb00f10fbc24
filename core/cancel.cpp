#include "core/cancel.h"

#include <atomic>

namespace qs4d {
namespace {
std::atomic<bool> g_cancel{false};
}  // namespace

void request_cancel(bool on) { g_cancel.store(on, std::memory_order_relaxed); }
bool cancel_requested() { return g_cancel.load(std::memory_order_relaxed); }

}  // namespace qs4d
