// Reading untrusted HDF5 files with libhdf5's crashes contained (issues #16 and #31). libhdf5
// 1.10.8 crashes (invalid free, heap overflow), loops forever or maps absurd amounts of memory on
// some malformed files through ordinary API calls, before any check of ours can run. So every
// public loader reads in a child process, once:
//   - the parent opens the file itself (refusing anything but a regular file) and forks;
//   - the child reads through that descriptor (/proc/self/fd/N: a path swapped after the open
//     changes nothing), under an address-space limit that scales with the file's size, and
//     writes what it parsed (or the error it met) to a pipe in our own format (detail/wire.h);
//   - the parent reads the pipe with a deadline of its own (poll, then SIGKILL), so a child that
//     hangs, or a launcher that blocked the child's signals, cannot hang the parent; it never
//     calls libhdf5 on the file and decodes the answer with every size checked.
// A crash, hang or memory exhaustion becomes one FormatError naming the file.
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <new>
#include <string>
#include <thread>

#include "models/detail/h5.h"

// Sanitizer builds (scripts/test.sh --full's, and the fuzz harnesses'): see child().
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

namespace qs4d {

// The model's fields in the child's answer (a friend of S4DModel).
struct ModelWire {
  static void put(h5::wire::Writer& w, const S4DModel& m);
  static void get(h5::wire::Reader& r, S4DModel& m);
};

namespace h5 {
namespace {

// How the child's answer begins.
enum class Answer : uint8_t { kValue = 1, kFormatError, kUsageError, kOutOfMemory, kOtherError };
constexpr unsigned kDefaultSeconds = 120;
// The child may map this much beyond what the process holds: 256 MiB plus 1024 bytes for every
// byte of the file (HDF5 compresses; the loaders already refuse a dataset claiming more than
// 1000x what the file stores), at most 8 GiB.
constexpr uint64_t kBaseHeadroom = uint64_t{256} << 20, kMaxHeadroom = uint64_t{8} << 30;
constexpr uint64_t kHeadroomPerFileByte = 1024;

// The descriptor the reading child reads its file through (-1 outside it).
int g_child_fd = -1;
std::string g_child_path;

uint64_t virtual_bytes() {
  std::ifstream statm("/proc/self/statm");
  uint64_t pages = 0;
  if (!(statm >> pages)) return 0;
  return pages * static_cast<uint64_t>(sysconf(_SC_PAGESIZE));
}

unsigned time_limit_s() {
  const char* v = std::getenv("QS4D_READ_TIMEOUT_S");
  if (v == nullptr) return kDefaultSeconds;
  const std::string text(v);
  const bool digits = !text.empty() && text.size() <= 5 &&
                      std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '9'; });
  const unsigned long s = digits ? std::strtoul(text.c_str(), nullptr, 10) : 0;
  if (!digits || s < 1 || s > 86400) {
    throw UsageError("QS4D_READ_TIMEOUT_S is \"" + text +
                     "\", expected a whole number of seconds from 1 to 86400 (default 120)");
  }
  return static_cast<unsigned>(s);
}

void write_all(int fd, const std::string& bytes) {
  size_t done = 0;
  while (done < bytes.size()) {
    const ssize_t n = write(fd, bytes.data() + done, bytes.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) _exit(3);  // the parent went away
    done += static_cast<size_t>(n);
  }
}

// The error's own words, without the "file: 'object': " that FormatError puts in front.
std::string detail_of(const FormatError& e) {
  std::string prefix = e.file();
  if (!e.object().empty()) prefix += ": '" + e.object() + "'";
  prefix += ": ";
  const std::string what = e.what();
  return what.rfind(prefix, 0) == 0 ? what.substr(prefix.size()) : what;
}

[[noreturn]] void child(int fd, const std::string& path, int out, uint64_t limit_bytes,
                        const std::function<void(wire::Writer&)>& read) {
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
  for (const int sig : {SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGABRT}) signal(sig, SIG_DFL);
#ifdef QS4D_ASAN
  // A fuzzer registers a death callback that saves the current input as a finding; a sanitizer
  // report in this child is the contained outcome, not a finding.
  __sanitizer_set_death_callback(nullptr);
#endif
  g_child_fd = fd;
  g_child_path = path;
  wire::Writer w;
  try {
    w.pod(Answer::kValue);
    read(w);
  } catch (const FormatError& e) {  // a failed allocation inside libhdf5 is named by Reader::fail
    w = wire::Writer();
    w.pod(Answer::kFormatError);
    wire::put(w, e.kind());
    wire::put(w, e.object());
    wire::put(w, detail_of(e));
  } catch (const std::bad_alloc&) {
    w = wire::Writer();
    w.pod(Answer::kOutOfMemory);
  } catch (const UsageError& e) {
    w = wire::Writer();
    w.pod(Answer::kUsageError);
    wire::put(w, std::string(e.what()));
  } catch (const std::exception& e) {
    w = wire::Writer();
    w.pod(Answer::kOtherError);
    wire::put(w, std::string(e.what()));
  }
  write_all(out, w.data());
  _exit(0);
}

std::string signal_name(int sig) {
  const char* name = sigabbrev_np(sig);
  return name ? "SIG" + std::string(name) : "signal " + std::to_string(sig);
}

// Reads the child's answer until it closes the pipe or the deadline passes; false on timeout.
bool read_answer(int in, std::chrono::steady_clock::time_point deadline, std::string& answer) {
  char buffer[1 << 16];
  for (;;) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now()).count();
    if (left <= 0) return false;
    pollfd p{in, POLLIN, 0};
    const int ready = poll(&p, 1, static_cast<int>(std::min<int64_t>(left, 1000)));
    if (ready < 0 && errno != EINTR) return false;
    if (ready <= 0) continue;
    const ssize_t n = read(in, buffer, sizeof buffer);
    if (n < 0 && (errno == EINTR || errno == EAGAIN)) continue;
    if (n <= 0) return true;  // closed: the child wrote everything (or died)
    answer.append(buffer, static_cast<size_t>(n));
  }
}

// Waits for the child until the deadline; kills it past that. The status, or -1 after a kill.
int reap(pid_t pid, std::chrono::steady_clock::time_point deadline, bool& timed_out) {
  int status = 0;
  for (;;) {
    const pid_t r = waitpid(pid, &status, WNOHANG);
    if (r == pid) return status;
    if (r < 0 && errno != EINTR) return status;
    if (timed_out || std::chrono::steady_clock::now() >= deadline) {
      timed_out = true;
      kill(pid, SIGKILL);
      while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
      }
      return -1;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
}

[[noreturn]] void rethrow_answer(const std::string& path, const std::string& answer) {
  wire::Reader r(answer, path);
  const auto tag = r.pod<Answer>();
  std::string text;
  switch (tag) {
    case Answer::kFormatError: {
      ErrorKind kind{};
      std::string object;
      wire::get(r, kind);
      wire::get(r, object);
      wire::get(r, text);
      throw FormatError(kind, path, object, text);
    }
    case Answer::kOutOfMemory:
      throw FormatError(ErrorKind::kAbsurdSize, path, "",
                        "reading it needs more memory than its size allows (the reading child's "
                        "limit scales with the file): malformed or far larger than any model");
    case Answer::kUsageError: wire::get(r, text); throw UsageError(text);
    case Answer::kOtherError:
      wire::get(r, text);
      throw FormatError(ErrorKind::kUnreadable, path, "", "reading it failed: " + text);
    default: r.fail("an unknown answer");
  }
}

}  // namespace

bool reads_uncontained() {
  const char* off = std::getenv("QS4D_UNCONTAINED_READS");
  return off != nullptr && std::string(off) == "1";
}

std::string open_path(const std::string& path) {
  return g_child_fd >= 0 && path == g_child_path ? "/proc/self/fd/" + std::to_string(g_child_fd) : path;
}

std::string read_in_child(const std::string& path, const std::function<void(wire::Writer&)>& read) {
  const unsigned seconds = time_limit_s();
  uint64_t file_bytes = 0;
  std::string why;
  const int fd = open_regular_file(path, file_bytes, why);
  if (fd < 0) throw FormatError(ErrorKind::kUnreadable, path, "", why);
  const uint64_t vm = virtual_bytes();
  const uint64_t headroom =
      std::min(kMaxHeadroom, kBaseHeadroom + std::min(file_bytes, kMaxHeadroom) * kHeadroomPerFileByte);
  int pipe_fds[2];
  if (pipe2(pipe_fds, O_CLOEXEC) != 0) {
    close(fd);
    throw FormatError(ErrorKind::kUnreadable, path, "", "no pipe for the reading child process");
  }
  const pid_t pid = fork();
  if (pid == 0) {
    close(pipe_fds[0]);
    child(fd, path, pipe_fds[1], vm > 0 ? vm + headroom : 0, read);
  }
  close(fd);
  close(pipe_fds[1]);
  if (pid < 0) {
    close(pipe_fds[0]);
    throw FormatError(ErrorKind::kUnreadable, path, "", "no child process to read it in (fork failed)");
  }
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(seconds);
  std::string answer;
  bool timed_out = !read_answer(pipe_fds[0], deadline, answer);
  close(pipe_fds[0]);
  const int status = reap(pid, deadline, timed_out);
  const auto refuse = [&](const std::string& detail) {
    throw FormatError(ErrorKind::kUnreadable, path, "", detail);
  };
  if (timed_out) {
    refuse("reading it did not finish within " + std::to_string(seconds) +
           " s (libhdf5 loops on some malformed files; QS4D_READ_TIMEOUT_S sets the limit)");
  }
  if (WIFSIGNALED(status)) {
    refuse("libhdf5 crashed reading it (" + signal_name(WTERMSIG(status)) +
           " in the child process that reads files): the file is malformed");
  }
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    refuse("libhdf5 failed reading it (the reading child process ended with status " +
           std::to_string(WIFEXITED(status) ? WEXITSTATUS(status) : -1) + "): the file is malformed");
  }
  if (answer.empty()) refuse("the reading child process gave no answer");
  if (static_cast<Answer>(answer[0]) != Answer::kValue) rethrow_answer(path, answer);
  return answer.substr(1);
}

// ---------------------------------------------------------------------------------------------
// The loaders' results in the wire format.
namespace wire {

void put(Writer& w, const SequenceBatch& b) {
  put(w, b.n);
  put(w, b.length);
  put(w, b.width);
  put(w, b.values);
}
void get(Reader& r, SequenceBatch& b) {
  get(r, b.n);
  get(r, b.length);
  get(r, b.width);
  get(r, b.values);
  if (b.n < 0 || b.length < 0 || b.width < 0 ||
      static_cast<double>(b.n) * static_cast<double>(b.length) * static_cast<double>(b.width) !=
          static_cast<double>(b.values.size())) {
    r.fail("sequences whose shape does not match their values");
  }
}

void put(Writer& w, const Dataset& d) {
  put(w, d.x);
  put(w, d.y);
  put(w, d.name);
  put(w, d.source);
  put(w, d.n_classes);
  put(w, d.path);
}
void get(Reader& r, Dataset& d) {
  get(r, d.x);
  get(r, d.y);
  get(r, d.name);
  get(r, d.source);
  get(r, d.n_classes);
  get(r, d.path);
  if (static_cast<int64_t>(d.y.size()) != d.x.n) r.fail("labels that do not match the samples");
}

void put(Writer& w, const Tensor& t) {
  put(w, t.shape);
  put(w, t.values);
}
void get(Reader& r, Tensor& t) {
  get(r, t.shape);
  get(r, t.values);
}

void put(Writer& w, const QuantSpec& q) {
  put(w, q.bits);
  put(w, q.symmetric);
  put(w, q.axis);
  put(w, q.scale);
  put(w, q.zero_point);
  put(w, q.codes);
  put(w, q.shape);
}
void get(Reader& r, QuantSpec& q) {
  get(r, q.bits);
  get(r, q.symmetric);
  get(r, q.axis);
  get(r, q.scale);
  get(r, q.zero_point);
  get(r, q.codes);
  get(r, q.shape);
}

void put(Writer& w, const S4DLayer& l) {
  put(w, l.a_bar);
  put(w, l.b_bar);
  put(w, l.c);
  for (const Eigen::VectorXf* v : {&l.d, &l.out_bias, &l.norm_weight, &l.norm_bias, &l.running_mean, &l.running_var}) {
    put(w, *v);
  }
  put(w, l.out_weight);
  put(w, l.discrete_from_quant);
  put(w, l.state_grid.bits);
  put(w, l.state_grid.granularity);
  put(w, l.state_grid.calibration);
  put(w, l.state_grid.step);
}
void get(Reader& r, S4DLayer& l) {
  get(r, l.a_bar);
  get(r, l.b_bar);
  get(r, l.c);
  for (Eigen::VectorXf* v : {&l.d, &l.out_bias, &l.norm_weight, &l.norm_bias, &l.running_mean, &l.running_var}) {
    get(r, *v);
  }
  get(r, l.out_weight);
  get(r, l.discrete_from_quant);
  get(r, l.state_grid.bits);
  get(r, l.state_grid.granularity);
  get(r, l.state_grid.calibration);
  get(r, l.state_grid.step);
  if (l.state_grid.bits < 0 || l.state_grid.bits > kMaxQuantBits ||
      (l.state_grid.bits > 0 && l.state_grid.step.size() != l.a_bar.size()))
    r.fail("a layer whose state grid does not match its modes");
}

void put(Writer& w, const S4DModel& m) { ModelWire::put(w, m); }
void get(Reader& r, S4DModel& m) { ModelWire::get(r, m); }

}  // namespace wire
}  // namespace h5

void ModelWire::put(h5::wire::Writer& w, const S4DModel& m) {
  using h5::wire::put;
  const ModelConfig& c = m.config_;
  for (const int64_t v : {c.d_input, c.d_output, c.d_model, c.d_state, c.n_layers}) put(w, v);
  put(w, c.prenorm);
  put(w, c.norm == NormKind::kBatch);
  put(w, c.norm_eps);
  put(w, m.path_);
  put(w, m.layers_);
  put(w, m.enc_w_);
  put(w, m.dec_w_);
  put(w, m.enc_b_);
  put(w, m.dec_b_);
  put(w, m.tensors_);
  put(w, m.quant_);
  put(w, m.meta_);
}

void ModelWire::get(h5::wire::Reader& r, S4DModel& m) {
  using h5::wire::get;
  ModelConfig& c = m.config_;
  for (int64_t* v : {&c.d_input, &c.d_output, &c.d_model, &c.d_state, &c.n_layers}) get(r, *v);
  get(r, c.prenorm);
  bool batch_norm = false;
  get(r, batch_norm);
  c.norm = batch_norm ? NormKind::kBatch : NormKind::kLayer;
  get(r, c.norm_eps);
  get(r, m.path_);
  get(r, m.layers_);
  get(r, m.enc_w_);
  get(r, m.dec_w_);
  get(r, m.enc_b_);
  get(r, m.dec_b_);
  get(r, m.tensors_);
  get(r, m.quant_);
  get(r, m.meta_);
  if (m.config_.n_layers < 0 || static_cast<size_t>(m.config_.n_layers) != m.layers_.size()) {
    r.fail("a model whose layer count does not match its layers");
  }
}

}  // namespace qs4d
