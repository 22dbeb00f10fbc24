// Progress on stderr for long runs (eval's chips and times, a sweep's points).
#include <chrono>
#include <cstdio>

#include "core/cancel.h"
#include "core/core.h"

namespace qs4d {
namespace {
double now_s() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}
}  // namespace

ProgressBar::ProgressBar(int64_t total, std::string unit, bool enabled)
    : total_(total), unit_(std::move(unit)), enabled_(enabled && total > 0), start_(now_s()) {
  publish_progress(0, total_);
}

void ProgressBar::skip(int64_t by) {
  const std::lock_guard<std::mutex> lock(mutex_);
  skipped_ += by;
}

void ProgressBar::advance(int64_t by) {
  const std::lock_guard<std::mutex> lock(mutex_);
  done_ += by;
  publish_progress(done_ + skipped_, total_);
  draw();
}

void ProgressBar::draw() {
  if (!enabled_) return;
  const double elapsed = now_s() - start_;
  const int64_t finished = done_ + skipped_;
  const double left = done_ > 0 ? elapsed / static_cast<double>(done_) * static_cast<double>(total_ - finished) : 0.0;
  const int width = 30;
  const int filled = static_cast<int>(width * finished / total_);
  std::fprintf(stderr, "\r[%s%s] %lld/%lld %s, %.0f s elapsed, ~%.0f s left  ",
               std::string(static_cast<size_t>(filled), '#').c_str(),
               std::string(static_cast<size_t>(width - filled), '.').c_str(), static_cast<long long>(finished),
               static_cast<long long>(total_), unit_.c_str(), elapsed, left);
  if (finished >= total_) std::fprintf(stderr, "\n");
  std::fflush(stderr);
}

}  // namespace qs4d
