// libFuzzer harness: the text a user or a file hands over outside JSON files: times ("1d,1e305y"),
// --set assignments (dotted keys, values parsed as bounded JSON), and the escaping of anything
// printed from a file (printable must always give valid UTF-8 without control characters).
#include <cstdint>
#include <cstdlib>
#include <exception>
#include <string>

#include "core/core.h"

namespace {

bool clean(const std::string& s) {
  for (unsigned char c : s) {
    if (c < 0x20 || c == 0x7f) return false;
  }
  return true;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  if (!clean(qs4d::printable(text))) std::abort();  // a control character got through
  try {
    qs4d::parse_times(text);
  } catch (const std::exception&) {
  }
  try {
    nlohmann::json j = nlohmann::json::object();
    qs4d::spec_json::set_dotted(j, text);
    (void)j.dump();
  } catch (const std::exception&) {
  }
  return 0;
}
