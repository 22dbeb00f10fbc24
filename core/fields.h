// A spec's keys declared once (issue #29): each key with how it is read, its range checked, and
// how it is written back. The unknown-key refusal, the parse and to_json all come from the one
// table, and the docs test reads the keys from it, so the three lists that had to agree are one.
#pragma once

#include <functional>
#include <set>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/bounds.h"
#include "core/core.h"

namespace qs4d::spec_json {

template <class S>
struct Field {
  std::string key;
  // Reads `value` (at dotted `path`) into the spec, refusing it with a SpecError naming the path.
  std::function<void(S&, const json& value, const std::string& path)> read;
  // Writes the spec's value under `key`; empty for a key that is only read (a shorthand).
  std::function<void(const S&, json& out)> write = {};
};

// A number within a physical bound (core/bounds.h), refused with a SpecError that names `path`,
// the value as given, the range and why. check_bound takes a value already read.
inline void check_bound(double x, const std::string& shown, const std::string& path, const PhysicalBound& b) {
  if (!b.admits(x)) throw SpecError(path, "is " + shown + ", expected " + range_text(b) + " (" + b.why + ")");
}
inline double bounded(const json& v, const std::string& path, const PhysicalBound& b) {
  const double x = get_number(v, path);
  check_bound(x, format_number(x), path, b);
  return x;
}
inline int64_t bounded_int(const json& v, const std::string& path, const PhysicalBound& b) {
  const int64_t x = get_int(v, path);
  check_bound(static_cast<double>(x), std::to_string(x), path, b);
  return x;
}

template <class S>
std::vector<std::string> keys_of(const std::vector<Field<S>>& fields) {
  std::vector<std::string> keys;
  for (const Field<S>& f : fields) keys.push_back(f.key);
  return keys;
}

// Reads every key of `j` (in the object's order) into `s`; a key not in the table is refused.
// Each key's errors name `path.key` (`key` at the top level, path ""); an unknown key is named
// under `unknown_path` (default: `path`).
template <class S>
S read_fields(const json& j, const std::string& path, const std::vector<Field<S>>& fields, S s = S{},
              const std::string& unknown_path = "") {
  const std::vector<std::string> keys = keys_of(fields);
  reject_unknown(j, unknown_path.empty() ? path : unknown_path, std::set<std::string>(keys.begin(), keys.end()));
  for (const auto& [key, value] : j.items()) {
    for (const Field<S>& f : fields) {
      if (f.key == key) f.read(s, value, path.empty() ? key : path + "." + key);
    }
  }
  return s;
}

template <class S>
json write_fields(const S& s, const std::vector<Field<S>>& fields) {
  json j = json::object();
  for (const Field<S>& f : fields) {
    if (f.write) f.write(s, j);
  }
  return j;
}

}  // namespace qs4d::spec_json
