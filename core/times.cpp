// Times after programming as users write them (1s, 1h, 1d, 1w, 1mo, 1y) and as reports print them.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>

#include "core/core.h"

namespace qs4d {

std::vector<double> parse_times(const std::string& text) {
  std::vector<double> out;
  size_t start = 0;
  while (start <= text.size()) {
    const size_t comma = text.find(',', start);
    const std::string item =
        text.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
    size_t used = 0;
    double value = 0;
    try {
      value = std::stod(item, &used);
    } catch (const std::exception&) {
      throw UsageError("time \"" + item + "\" is not a number with a unit (e.g. 1s, 1h, 1d, 1y)");
    }
    const std::string unit = item.substr(used);
    const double scale = unit.empty() || unit == "s" ? 1.0
                         : unit == "m"               ? 60.0  // minutes
                         : unit == "h"               ? 3600.0
                         : unit == "d"               ? 86400.0
                         : unit == "w"               ? 7 * 86400.0
                         : unit == "mo"              ? 365.25 / 12 * 86400.0
                         : unit == "y"               ? 365.25 * 86400.0
                                                     : -1.0;
    if (scale < 0 || !(value >= 0) || !std::isfinite(value)) {
      throw UsageError("time \"" + item + "\": expected a non-negative number with unit s, m "
                       "(minutes), h, d, w, mo (365.25/12 days) or y (365.25 days)");
    }
    // 1e305y overflows to infinity: named as given, not as "inf".
    if (!(value * scale <= kMaxTimeS)) {
      throw UsageError("time \"" + item + "\" is " + format_number(value * scale) +
                       " s, expected at most 1e12 s (about 31,700 years)");
    }
    out.push_back(value * scale);
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  std::sort(out.begin(), out.end());  // reports list times in order, each once
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

std::string format_number(double x) {
  char buffer[32];
  for (int digits = 1; digits <= 17; ++digits) {
    std::snprintf(buffer, sizeof buffer, "%.*g", digits, x);
    if (!std::isfinite(x) || std::strtod(buffer, nullptr) == x) break;
  }
  return buffer;
}

std::string format_time(double seconds) {
  const std::pair<double, const char*> units[] = {
      {365.25 * 86400.0, "y"}, {365.25 / 12 * 86400.0, "mo"}, {7 * 86400.0, "w"},
      {86400.0, "d"}, {3600.0, "h"}, {60.0, "m"}};
  for (const auto& [scale, name] : units) {
    const double v = seconds / scale;
    if (v >= 1 && std::abs(v - std::round(v)) < 1e-9) {
      return std::to_string(static_cast<long long>(std::round(v))) + name;
    }
  }
  char buf[32];
  std::snprintf(buf, sizeof buf, "%gs", seconds);
  return buf;
}

}  // namespace qs4d
