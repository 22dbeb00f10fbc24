// Files from outside and result files (issue #31): what is read must be a regular file of a
// stated size at most (a FIFO would block, /dev/zero never ends), and what is written goes
// through a temporary that no one could have planted (created exclusively, under a name no one
// can predict, never through a symlink) and is renamed into place.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <random>

#include "core/core.h"

namespace qs4d {
namespace {

std::string file_kind(mode_t mode) {
  if (S_ISDIR(mode)) return "a directory";
  if (S_ISFIFO(mode)) return "a FIFO";
  if (S_ISCHR(mode)) return "a character device";
  if (S_ISBLK(mode)) return "a block device";
  if (S_ISSOCK(mode)) return "a socket";
  return "not a regular file";
}

// Only for temporary file names, which must be unpredictable to others (a planted symlink); no
// result depends on it, so it is deliberately not drawn from --seed.
std::string random_hex() {
  std::random_device device;  // /dev/urandom
  char out[17];
  std::snprintf(out, sizeof out, "%08x%08x", device(), device());
  return out;
}

}  // namespace

int open_regular_file(const std::string& path, uint64_t& size, std::string& why) {
  const int fd = open(path.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC);  // a FIFO must not block
  if (fd < 0) {
    why = errno == ENOENT ? "no such file" : std::string("cannot be opened (") + std::strerror(errno) + ")";
    return -1;
  }
  struct stat st {};
  const bool stated = fstat(fd, &st) == 0;
  if (!stated || !S_ISREG(st.st_mode)) {
    why = "is " + (stated ? file_kind(st.st_mode) : std::string("not a regular file")) + ", expected a regular file";
    close(fd);
    return -1;
  }
  size = static_cast<uint64_t>(st.st_size);
  return fd;
}

bool read_regular_file(const std::string& path, uint64_t max_bytes, std::string& text,
                       std::string& why) {
  uint64_t size = 0;
  const int fd = open_regular_file(path, size, why);
  if (fd < 0) return false;
  if (size > max_bytes) {
    why = "is " + std::to_string(size) + " bytes, expected at most " + std::to_string(max_bytes);
    close(fd);
    return false;
  }
  text.clear();
  text.reserve(static_cast<size_t>(size));
  char buffer[1 << 16];
  for (;;) {
    const ssize_t n = read(fd, buffer, sizeof buffer);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      why = std::string("cannot be read (") + std::strerror(errno) + ")";
      close(fd);
      return false;
    }
    if (n == 0) break;
    text.append(buffer, static_cast<size_t>(n));
    if (text.size() > max_bytes) {  // it grew while we read
      why = "grew past " + std::to_string(max_bytes) + " bytes while being read";
      close(fd);
      return false;
    }
  }
  close(fd);
  return true;
}

std::string printable(const std::string& text) {
  std::string out;
  out.reserve(text.size());
  const auto escape = [&](unsigned char c) {
    char hex[5];
    std::snprintf(hex, sizeof hex, "\\x%02x", c);
    out += hex;
  };
  const auto* s = reinterpret_cast<const unsigned char*>(text.data());
  const size_t n = text.size();
  for (size_t i = 0; i < n;) {
    const unsigned char c = s[i];
    if (c < 0x80) {
      if (c < 0x20 || c == 0x7f) {
        escape(c);
      } else {
        out += static_cast<char>(c);
      }
      ++i;
      continue;
    }
    // A UTF-8 sequence: its length from the lead byte, each continuation 10xxxxxx, no overlong
    // two-byte form, and no C1 control (U+0080..U+009F, which some terminals obey).
    const size_t len = (c & 0xE0) == 0xC0 ? 2 : (c & 0xF0) == 0xE0 ? 3 : (c & 0xF8) == 0xF0 ? 4 : 0;
    bool valid = len > 0 && i + len <= n && !(len == 2 && c < 0xC2) && !(c == 0xC2 && s[i + 1] < 0xA0);
    for (size_t k = 1; valid && k < len; ++k) valid = (s[i + k] & 0xC0) == 0x80;
    if (!valid) {
      escape(c);
      ++i;
      continue;
    }
    out.append(text, i, len);
    i += len;
  }
  return out;
}

std::string exclusive_temp_path(const std::string& path) {
  return path + ".tmp." + std::to_string(getpid()) + "." + random_hex();
}

void write_text_atomic(const std::string& path, const std::string& text) {
  const std::string tmp = exclusive_temp_path(path);
  // O_EXCL | O_NOFOLLOW: fails on anything already there, a planted symlink included.
  const int fd = open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
  if (fd < 0) throw UsageError(path + ": cannot create a temporary beside it (" + std::strerror(errno) + ")");
  size_t done = 0;
  while (done < text.size()) {
    const ssize_t n = write(fd, text.data() + done, text.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      close(fd);
      unlink(tmp.c_str());
      throw UsageError(path + ": write failed (" + std::strerror(errno) + ")");
    }
    done += static_cast<size_t>(n);
  }
  if (close(fd) != 0 || std::rename(tmp.c_str(), path.c_str()) != 0) {
    const std::string reason = std::strerror(errno);
    unlink(tmp.c_str());
    throw UsageError(path + ": cannot put the result in place (" + reason + ")");
  }
}

}  // namespace qs4d
