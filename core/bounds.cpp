#include "core/bounds.h"

#include <cstdint>

#include "core/core.h"

namespace qs4d {

namespace {
// Whole numbers below a million as written ("10", "4096"), others in format_number's form.
std::string limit_text(double x) {
  if (x == static_cast<double>(static_cast<int64_t>(x)) && x > -1e6 && x < 1e6) {
    return std::to_string(static_cast<int64_t>(x));
  }
  return format_number(x);
}
}  // namespace

std::string range_text(const PhysicalBound& b) {
  const std::string unit = b.unit;
  return std::string(b.zero_allowed ? "0 or " : "") + limit_text(b.lo) + " .. " + limit_text(b.hi) +
         (unit.empty() ? "" : " " + unit);
}

std::string physical_bounds_markdown() {
  std::string out = "| keys | accepted | why |\n|---|---|---|\n";
  for (const PhysicalBound* b : physical_bounds()) {
    out += std::string("| ") + b->keys + " | " + range_text(*b) + " | " + b->why + " |\n";
  }
  return out;
}

}  // namespace qs4d
