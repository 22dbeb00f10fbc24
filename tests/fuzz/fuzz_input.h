// Shared by the libFuzzer harnesses: the input as a file (the loaders and spec parsers take
// paths), one per process so parallel fuzzing jobs (-jobs=N) do not share it.
#pragma once

#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <fstream>
#include <string>

namespace qs4d::fuzz {

inline std::string input_path(const char* suffix) {
  return "/tmp/qs4d_fuzz_" + std::to_string(getpid()) + suffix;
}

inline std::string write_input(const uint8_t* data, size_t size, const char* suffix) {
  const std::string path = input_path(suffix);
  std::ofstream(path, std::ios::binary).write(reinterpret_cast<const char*>(data),
                                              static_cast<std::streamsize>(size));
  return path;
}

}  // namespace qs4d::fuzz
