// core: what every module shares, declared once. The error types every module throws, the strict
// JSON helpers of every spec parser, the conductance window the mapper and the devices agree on,
// seeded random streams with named keys, and the one thread count of every parallel level. The
// action counts that sim/ records and energy/ prices are beside it, in core/counts.h.
#pragma once

#include <cstdint>
#include <map>
#include <mutex>
#include <set>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

namespace qs4d {

// ---------------------------------------------------------------------------------------------
// Errors: every problem with a file from outside is a FormatError naming the file, the object
// (dataset or attribute path) and what was found against what was expected.
enum class ErrorKind {
  kUnreadable,          // not an HDF5 file, truncated, I/O failure
  kMissingObject,       // required attribute, group or dataset absent
  kUnknownTensor,       // name in /state_dict that the model does not have
  kWrongRank,
  kWrongShape,
  kWrongType,           // e.g. integer where floats are required, string where a number is
  kNonFinite,           // NaN or infinity in a tensor
  kBadValue,            // out-of-range attribute or code (odd d_state, bits 40, norm "group")
  kAbsurdSize,          // a size that would need an unreasonable allocation
  kUnsupportedVersion,
};

const char* to_string(ErrorKind kind);

class FormatError : public std::runtime_error {
 public:
  FormatError(ErrorKind kind, std::string file, std::string object, const std::string& detail);
  ErrorKind kind() const { return kind_; }
  const std::string& file() const { return file_; }
  const std::string& object() const { return object_; }

 private:
  ErrorKind kind_;
  std::string file_;
  std::string object_;
};

// A request that cannot be served with valid inputs (wrong input width, bad option value).
class UsageError : public std::invalid_argument {
 public:
  using std::invalid_argument::invalid_argument;
};

// A configuration value that is wrong: names the dotted key path and what is allowed.
class SpecError : public std::invalid_argument {
 public:
  SpecError(const std::string& key_path, const std::string& detail)
      : std::invalid_argument(key_path + ": " + detail), key_path_(key_path) {}
  const std::string& key_path() const { return key_path_; }

 private:
  std::string key_path_;
};

// ---------------------------------------------------------------------------------------------
// Strict JSON specs: every problem is a SpecError naming the dotted key path.
namespace spec_json {
using nlohmann::json;

// Deeper nesting than this is refused while parsing (no spec needs more than a few levels, and
// a deeply nested value would exhaust the stack of anything that walks it).
inline constexpr int kMaxDepth = 32;

// A value for an error message, never walked recursively: scalars as JSON, containers by size.
std::string describe(const json& j);
// Parses text with the nesting bound; `what` names the source in errors.
json parse_bounded(const std::string& text, const std::string& what);
// Where a preset lives: NAME means FOLDER/NAME.json; anything with a '/' or ".json" is a path.
std::string preset_path(const std::string& name_or_path, const std::string& folder);
// The preset names (files NAME.json) in a folder, sorted; and the same comma-separated.
std::vector<std::string> preset_list(const std::string& folder);
std::string preset_names(const std::string& folder);
// Parses a JSON file; `what` ("device \"x\"") names it when the file is missing, with the
// presets its folder holds.
json read_json_file(const std::string& path, const std::string& what);
void reject_unknown(const json& j, const std::string& path, const std::set<std::string>& known);
int64_t get_int(const json& j, const std::string& path);
// An integer that must fit an int: checked in 64 bits before it is narrowed, so 2^32 + 4 is an
// error rather than 4. The validate() step checks the value's own range afterwards.
int get_small_int(const json& j, const std::string& path);
double get_number(const json& j, const std::string& path);
bool get_bool(const json& j, const std::string& path);
std::string get_string(const json& j, const std::string& path);
std::vector<double> get_numbers(const json& j, const std::string& path);
// Sets one dotted key from "a.b=value" (value parsed as JSON when it is valid JSON, else taken
// as a string). Unknown keys are left to the strict parser that reads the result.
void set_dotted(json& j, const std::string& assignment);

template <typename E>
E get_enum(const json& j, const std::string& path, const std::vector<std::pair<std::string, E>>& names) {
  std::string allowed;
  for (const auto& [n, v] : names) {
    if (j.is_string() && j.get<std::string>() == n) return v;
    allowed += (allowed.empty() ? "\"" : ", \"") + n + "\"";
  }
  throw SpecError(path, "is " + describe(j) + ", expected one of " + allowed);
}

template <typename E>
std::string name_of(E v, const std::vector<std::pair<std::string, E>>& names) {
  for (const auto& [n, e] : names) {
    if (e == v) return n;
  }
  return "?";
}
}  // namespace spec_json

// ---------------------------------------------------------------------------------------------
// The part of a device description the mapper needs.
struct ConductanceWindow {
  double g_min_uS = 0.0;
  double g_max_uS = 25.0;
  int64_t levels = 0;  // programmable levels across the window; 0 = continuous
  void validate(const std::string& path = "device") const;
};

// ---------------------------------------------------------------------------------------------
// A number as it was given: the shortest form that reads back to the same double ("1e-320",
// "0.3", "nan"), for messages that must not narrow what the user wrote.
std::string format_number(double x);

// ---------------------------------------------------------------------------------------------
// Times after programming. "1s,1h,1d,1y" -> seconds, sorted, each once. Units s, m (minutes),
// h, d, w, mo (365.25 / 12 days), y (365.25 days); a bare number is seconds. Throws UsageError
// naming the bad entry.
std::vector<double> parse_times(const std::string& text);
inline constexpr double kMaxTimeS = 1e12;  // no device model is sourced beyond a few decades
// Seconds as the shortest of those units that gives a whole number ("3600" -> "1h").
std::string format_time(double seconds);

// Text from a file as it may be printed: control characters (C0, DEL, C1) and bytes that are
// not valid UTF-8 written as \xNN, so a terminal never executes what a file carries.
std::string printable(const std::string& text);

// ---------------------------------------------------------------------------------------------
// Files (core/files.cpp). A file read from outside is a regular file of at most max_bytes: else
// false, with `why` saying what it is ("is a FIFO, expected a regular file"), without blocking.
bool read_regular_file(const std::string& path, uint64_t max_bytes, std::string& text, std::string& why);
// The descriptor of `path` opened for reading, and its size, when it is a regular file (opened
// without blocking, so a FIFO is refused rather than waited on); else -1 and `why`.
int open_regular_file(const std::string& path, uint64_t& size, std::string& why);
inline constexpr uint64_t kMaxJsonFileBytes = uint64_t{64} << 20;  // chip, device, tech, sidecar
inline constexpr uint64_t kMaxCsvFileBytes = uint64_t{1} << 30;    // a resumed sweep's results
// A temporary beside `path` that no one can predict: PATH.tmp.PID.RANDOM.
std::string exclusive_temp_path(const std::string& path);
// Writes `text` to `path` through an exclusively created temporary and a rename: readers never
// see half a file, and nothing planted at a temporary name is followed.
void write_text_atomic(const std::string& path, const std::string& text);

// ---------------------------------------------------------------------------------------------
// A file's identity for result files: "fnv1a64:<16 hex digits>:<bytes>" of its content, so a
// resumed run can tell that a checkpoint or dataset changed under the same path.
std::string file_fingerprint(const std::string& path);
// The same over bytes in memory (a loaded dataset's values: independent of HDF5's metadata).
std::string bytes_fingerprint(const void* data, size_t size);
inline constexpr const char* kProgramVersion = "qs4dsim 0.1.0";

// ---------------------------------------------------------------------------------------------
// A progress bar with the time remaining on stderr: "[####....] 3/12 <unit>, 40 s elapsed, ~2 m
// left". Thread-safe; silent when disabled.
class ProgressBar {
 public:
  ProgressBar(int64_t total, std::string unit, bool enabled);
  void advance(int64_t by = 1);  // after each unit finishes
  // Units counted as done without work (a resumed sweep): they do not enter the rate.
  void skip(int64_t by);

 private:
  void draw();
  int64_t total_, done_ = 0, skipped_ = 0;
  std::string unit_;
  bool enabled_;
  double start_;
  std::mutex mutex_;
};

// ---------------------------------------------------------------------------------------------
// Random streams. Every random draw comes from a stream whose 64-bit seed is a splitmix64 hash
// of (master seed, keys...), so a result depends on its keys only, never on threads or order.
inline uint64_t splitmix64(uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}
uint64_t stream_seed(uint64_t master, uint64_t a, uint64_t b = 0, uint64_t c = 0);
// The bits of a double, as a stream key (a time after programming).
uint64_t double_bits(double x);

// What a stream is for: the keys, named once. Values are fixed: changing one changes results.
namespace stream_key {
// Per device block (devices/): programming, window spread, stuck devices, drift exponents,
// ageing at a time, read noise.
inline constexpr uint64_t kProgram = 1, kWindow = 2, kStuck = 3, kDriftExponent = 4, kAgeing = 5, kRead = 6;
// Device characterisation: programming and reading of level k.
inline constexpr uint64_t kCharacterizeProgram = 1, kCharacterizeRead = 2;
// A chip (sim/): programming its tiles ("prog"), ageing them ("age").
inline constexpr uint64_t kProgramTiles = 0x7072'6f67, kAgeTiles = 0x6167'65;
// A tile's spare rows and columns ("spar"), each programmed from its own stream.
inline constexpr uint64_t kSpareLines = 0x7370'6172;
// Monte-Carlo evaluation of a chip at a time ("eval"), energy counting ("ener"), and the ADC
// calibration pass of either (xor-ed into its base).
inline constexpr uint64_t kEvaluate = 0x6576'616c, kEnergyCount = 0x656e'6572, kCalibration = 0xca11;
// The output calibration pass of a deployed chip (xor-ed into its base as well).
inline constexpr uint64_t kOutputFit = 0x0f17'0000;
// The per-sample product streams of the analog executor.
inline constexpr uint64_t kEncoderProduct = 0, kDecoderProduct = uint64_t{1} << 20;
// The read-back of weights held on a chip (the Python module's perturb: "wts").
inline constexpr uint64_t kWeightRead = 0x777473;
inline constexpr uint64_t projection_product(int64_t layer) { return 1 + static_cast<uint64_t>(layer); }
inline constexpr uint64_t recurrence_product(int64_t layer) {
  return (uint64_t{1} << 21) + static_cast<uint64_t>(layer);
}
}  // namespace stream_key

// ---------------------------------------------------------------------------------------------
// One thread count for every parallel level (OpenMP teams, Eigen's products, nested regions).
//
// Why: a parallel region opened with num_threads(1) leaves OpenMP's default team size and
// Eigen's own thread count untouched, and Eigen then opens a nested team of
// omp_get_max_threads() threads inside it (issue #15: --threads 1 ran on every core, 10x slower
// for small products). A ThreadScope sets all three for as long as it lives and restores them.

// The thread count a call asking for `requested` runs on: requested when positive, else
// OpenMP's default (OMP_NUM_THREADS or the core count), capped at kMaxThreads.
int resolve_threads(int requested);

// Upper bound on any thread count: more threads than this only cost memory (per-thread scratch).
inline constexpr int kMaxThreads = 256;
// Named limits, each stated once (issue #29): chips per evaluation or sweep point, and the widths
// a quantized weight or PTQ component may have (a checkpoint's /quant, mapping.weight_bits).
inline constexpr int64_t kMaxTrials = 100000;
inline constexpr int kMinQuantBits = 2, kMaxQuantBits = 16;

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
