// Reading untrusted HDF5 files with libhdf5's crashes contained (issue #16). libhdf5 1.10.8
// crashes (invalid free, heap overflow) or loops forever on some malformed files through
// ordinary API calls, before any check of ours can run. So every public loader first makes the
// same read in a child process (fork, with a time limit and an address-space limit); only if
// the child ends normally, with the data or with our own error, does the loader read here. The
// child's outcome decides nothing else: libhdf5 is deterministic on the same bytes, so the read
// here then raises the same FormatError or returns the data. A crash, hang or memory blow-up
// becomes a FormatError naming the file. The cost is a second read of the file (a checkpoint
// in milliseconds; the 60,000-image L = 784 MNIST training set in about a third of a second).
#include <fcntl.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <new>
#include <string>

#include "models/detail/h5.h"

// Sanitizer builds (scripts/test.sh's, and the fuzz harnesses'): see child().
#if defined(__SANITIZE_ADDRESS__)
#define QS4D_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define QS4D_ASAN 1
#endif
#endif
#ifdef QS4D_ASAN
#include <sanitizer/common_interface_defs.h>
#endif

namespace qs4d::h5 {
namespace {

// The child's own exit codes; any other ending (a signal, or an exit status that a sanitizer's
// or fuzzer's crash handler chose) counts as a crash.
constexpr int kExitRead = 37, kExitError = 38, kExitOutOfMemory = 39;
constexpr unsigned kDefaultSeconds = 120;
constexpr uint64_t kHeadroomBytes = uint64_t{8} << 30;  // on top of what the process maps

// The process's current virtual size (bytes), from /proc/self/statm; 0 if unknown.
uint64_t virtual_bytes() {
  std::ifstream statm("/proc/self/statm");
  uint64_t pages = 0;
  if (!(statm >> pages)) return 0;
  return pages * static_cast<uint64_t>(sysconf(_SC_PAGESIZE));
}

unsigned time_limit_s() {
  const char* v = std::getenv("QS4D_READ_TIMEOUT_S");
  if (v == nullptr) return kDefaultSeconds;
  char* end = nullptr;
  const unsigned long s = std::strtoul(v, &end, 10);
  return end != v && *end == '\0' && s >= 1 && s <= 86400 ? static_cast<unsigned>(s) : kDefaultSeconds;
}

[[noreturn]] void child(const std::function<void()>& read, uint64_t limit_bytes, unsigned seconds) {
  // Only async-signal-safe work and the read itself; _exit skips the parent's atexit handlers.
  if (limit_bytes > 0) {
    const rlimit lim{limit_bytes, limit_bytes};
    setrlimit(RLIMIT_AS, &lim);
  }
  const rlimit no_core{0, 0};  // a crash here is expected, not worth a core file
  setrlimit(RLIMIT_CORE, &no_core);
  // Silent: the parent reports the outcome in one line; what libhdf5 or a sanitizer would print
  // while crashing is for QS4D_UNCONTAINED_READS=1 under a debugger.
  if (const int null = open("/dev/null", O_WRONLY); null >= 0) {
    dup2(null, STDOUT_FILENO);
    dup2(null, STDERR_FILENO);
    close(null);
  }
  // Default actions for the fatal signals: a handler inherited from the parent (a fuzzer's, a
  // sanitizer's, Python's) must not turn a crash here into an ordinary exit.
  for (const int sig : {SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGABRT, SIGALRM}) signal(sig, SIG_DFL);
#ifdef QS4D_ASAN
  // A fuzzer registers a death callback that saves the current input as a finding; a sanitizer
  // report in this child is the contained outcome, not a finding.
  __sanitizer_set_death_callback(nullptr);
#endif
  alarm(seconds);
  int code = kExitRead;
  try {
    read();
  } catch (const std::bad_alloc&) {
    code = kExitOutOfMemory;
  } catch (...) {
    code = kExitError;
  }
  _exit(code);
}

std::string signal_name(int sig) {
  const char* name = sigabbrev_np(sig);
  return name ? "SIG" + std::string(name) : "signal " + std::to_string(sig);
}

}  // namespace

void probe_in_child(const std::string& path, const std::function<void()>& read) {
  if (const char* off = std::getenv("QS4D_UNCONTAINED_READS"); off && std::string(off) == "1") {
    return;  // the fuzz harnesses: crashes must reach the fuzzer
  }
  const unsigned seconds = time_limit_s();
  const uint64_t vm = virtual_bytes();
  const uint64_t limit = vm > 0 ? vm + kHeadroomBytes : 0;
  const pid_t pid = fork();
  if (pid < 0) return;  // no process to spare: the caller reads as before, uncontained
  if (pid == 0) child(read, limit, seconds);
  int status = 0;
  while (waitpid(pid, &status, 0) < 0) {
    if (errno != EINTR) return;
  }
  const auto refuse = [&](const std::string& detail) {
    throw FormatError(ErrorKind::kUnreadable, path, "", detail);
  };
  if (WIFSIGNALED(status)) {
    const int sig = WTERMSIG(status);
    if (sig == SIGALRM) {
      refuse("reading it did not finish within " + std::to_string(seconds) +
             " s (libhdf5 loops on some malformed files; QS4D_READ_TIMEOUT_S sets the limit)");
    }
    refuse("libhdf5 crashed reading it (" + signal_name(sig) +
           " in a child process that reads files first): the file is malformed");
  }
  const int code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  if (code == kExitOutOfMemory) {
    refuse("reading it needs more than " + std::to_string(kHeadroomBytes >> 30) +
           " GiB of memory beyond what this process holds: malformed or far larger than any model");
  }
  if (code != kExitRead && code != kExitError) {
    refuse("libhdf5 failed reading it (the reading child process ended with status " +
           std::to_string(code) + "): the file is malformed");
  }
  // A normal end (data or our own error): the caller's read gives the same outcome.
}

}  // namespace qs4d::h5
