// Error types, the conductance window's checks and the stream seeds.
#include <cmath>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <vector>

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
  // Object names and details can quote a file's own bytes: printed escaped.
  std::string out = printable(file);
  if (!object.empty()) out += ": '" + printable(object) + "'";
  return out + ": " + printable(detail);
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
  // A physical bound: no memristive cell conducts anywhere near 0.1 S.
  if (g_max_uS > 1e5) {
    throw SpecError(path + ".g_max_uS", "must be at most 1e5 uS (0.1 S), got " + std::to_string(g_max_uS));
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

namespace {
constexpr uint64_t kFnvOffset = 0xcbf29ce484222325ULL, kFnvPrime = 0x100000001b3ULL;  // FNV-1a, 64 bits
uint64_t fnv1a(uint64_t h, const unsigned char* p, size_t n) {
  for (size_t i = 0; i < n; ++i) {
    h ^= p[i];
    h *= kFnvPrime;
  }
  return h;
}
std::string fingerprint_text(uint64_t h, uint64_t bytes) {
  char out[64];
  std::snprintf(out, sizeof out, "fnv1a64:%016llx:%llu", static_cast<unsigned long long>(h),
                static_cast<unsigned long long>(bytes));
  return out;
}
}  // namespace

std::string bytes_fingerprint(const void* data, size_t size) {
  return fingerprint_text(fnv1a(kFnvOffset, static_cast<const unsigned char*>(data), size), size);
}

std::string file_fingerprint(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw UsageError(path + ": cannot open to fingerprint it");
  uint64_t h = kFnvOffset;
  uint64_t bytes = 0;
  std::vector<char> buf(1 << 16);
  while (in) {
    in.read(buf.data(), static_cast<std::streamsize>(buf.size()));
    const auto n = static_cast<size_t>(in.gcount());
    h = fnv1a(h, reinterpret_cast<const unsigned char*>(buf.data()), n);
    bytes += n;
  }
  return fingerprint_text(h, bytes);
}

uint64_t double_bits(double x) {
  uint64_t bits;
  std::memcpy(&bits, &x, sizeof bits);
  return bits;
}

}  // namespace qs4d
