// Run control from another thread. Cancellation: a request to stop long work early (the Python module's Ctrl-C, issue #33). Work
// checks it between batches (DigitalEngine::logits, which every evaluation runs through) and
// throws Cancelled; what was computed is not kept. One flag for the process: a request stops
// every run in flight, on every thread.
#pragma once

#include <cstdint>
#include <stdexcept>

namespace qs4d {

class Cancelled : public std::runtime_error {
 public:
  Cancelled() : std::runtime_error("cancelled (interrupted before it finished; nothing kept)") {}
};

void request_cancel(bool on);
bool cancel_requested();
inline void throw_if_cancelled() {
  if (cancel_requested()) throw Cancelled();
}

// Progress of the run in flight, published by every ProgressBar (drawn or not) for a watcher on
// another thread (the Python module's progress bar or callback). One for the process.
void publish_progress(int64_t done, int64_t total);
void progress_now(int64_t& done, int64_t& total);

}  // namespace qs4d
