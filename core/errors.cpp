// Error types, the conductance window's checks and the stream seeds.
#include <cmath>
#include <cstring>

#include "core/core.h"

namespace qs4d {

const char* to_string(ErrorKind kind) {
  switch (kind) {
    case ErrorKind::kUnreadable: return "unreadable";
    case ErrorKind::kMissingObject: return "missing";
    case ErrorKind::kUnknownTensor: return "unknown tensor";
    case ErrorKind::kWrongRank: return "wrong rank";
    case ErrorKind::kWrongShape: return "wrong shape";
    case ErrorKind::kWrongType: return "wrong type";
    case ErrorKind::kNonFinite: return "non-finite value";
    case ErrorKind::kBadValue: return "bad value";
    case ErrorKind::kAbsurdSize: return "absurd size";
    case ErrorKind::kUnsupportedVersion: return "unsupported version";
  }
  return "error";
}

namespace {
std::string error_text(const std::string& file, const std::string& object,
                       const std::string& detail) {
  std::string out = file;
  if (!object.empty()) out += ": '" + object + "'";
  return out + ": " + detail;
}
}  // namespace

FormatError::FormatError(ErrorKind kind, std::string file, std::string object,
                         const std::string& detail)
    : std::runtime_error(error_text(file, object, detail)),
      kind_(kind),
      file_(std::move(file)),
      object_(std::move(object)) {}

void ConductanceWindow::validate(const std::string& path) const {
  if (!std::isfinite(g_min_uS) || g_min_uS < 0) {
    throw SpecError(path + ".g_min_uS", "must be finite and >= 0, got " + std::to_string(g_min_uS));
  }
  if (!std::isfinite(g_max_uS) || g_max_uS <= g_min_uS) {
    throw SpecError(path + ".g_max_uS", "must be finite and > g_min_uS, got " +
                                            std::to_string(g_max_uS));
  }
  if (levels < 0 || levels == 1 || levels > (int64_t{1} << 20)) {
    throw SpecError(path + ".levels", "must be 0 (continuous) or 2..1048576, got " +
                                          std::to_string(levels));
  }
}

uint64_t stream_seed(uint64_t master, uint64_t a, uint64_t b, uint64_t c) {
  uint64_t h = splitmix64(master);
  h = splitmix64(h ^ a);
  h = splitmix64(h ^ b);
  return splitmix64(h ^ c);
}

uint64_t double_bits(double x) {
  uint64_t bits;
  std::memcpy(&bits, &x, sizeof bits);
  return bits;
}

}  // namespace qs4d
