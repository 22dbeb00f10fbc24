// Strict JSON specs: parsing with a bounded depth, typed getters whose errors name the key path.
#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "core/core.h"

namespace qs4d::spec_json {
namespace {
struct TooDeep {};
}  // namespace

std::string describe(const json& j) {
  // Values come from parse_bounded, so dump() recurses at most kMaxDepth levels; long values
  // are cut so that a message stays one line.
  std::string s = j.dump();
  if (s.size() > 80) s = s.substr(0, 72) + "... (" + std::to_string(s.size()) + " characters)";
  return s;
}

json parse_bounded(const std::string& text, const std::string& what) {
  try {
    return json::parse(text, [](int depth, json::parse_event_t, json&) {
      if (depth > kMaxDepth) throw TooDeep{};
      return true;
    });
  } catch (const TooDeep&) {
    throw UsageError(what + ": nested deeper than " + std::to_string(kMaxDepth) + " levels");
  }
}


// Where a preset lives: NAME means FOLDER/NAME.json; anything with a '/' or ".json" is a path.
std::string preset_path(const std::string& name_or_path, const std::string& folder) {
  const bool is_path = name_or_path.find('/') != std::string::npos ||
                       name_or_path.find(".json") != std::string::npos;
  return is_path ? name_or_path : folder + "/" + name_or_path + ".json";
}

std::vector<std::string> preset_list(const std::string& folder) {
  std::vector<std::string> names;
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator(folder, ec)) {
    if (e.path().extension() == ".json") names.push_back(e.path().stem().string());
  }
  std::sort(names.begin(), names.end());
  return names;
}

std::string preset_names(const std::string& folder) {
  std::string out;
  for (const auto& n : preset_list(folder)) out += (out.empty() ? "" : ", ") + n;
  return out;
}

// Parses a JSON file; `what` ("device \"x\"") names it when the file is missing, with the
// presets its folder holds.
json read_json_file(const std::string& path, const std::string& what) {
  std::string text, why;
  if (!read_regular_file(path, kMaxJsonFileBytes, text, why)) {
    if (why != "no such file") throw UsageError(what + ": " + path + " " + why);
    const std::string folder = std::filesystem::path(path).parent_path().string();
    const std::string names = preset_names(folder.empty() ? "." : folder);
    throw UsageError(what + ": no such preset or file (" + path + ")" +
                     (names.empty() ? "" : "; presets in " + folder + ": " + names));
  }
  try {
    return parse_bounded(text, path);
  } catch (const json::parse_error& e) {
    throw UsageError(path + ": not valid JSON: " + e.what());
  }
}

void reject_unknown(const json& j, const std::string& path, const std::set<std::string>& known) {
  if (!j.is_object()) throw SpecError(path, "expected an object, got " + std::string(j.type_name()));
  for (const auto& [key, value] : j.items()) {
    if (!known.count(key)) {
      std::string allowed;
      for (const auto& k : known) allowed += (allowed.empty() ? "" : ", ") + k;
      throw SpecError(path + "." + key, "unknown key (allowed: " + allowed + ")");
    }
  }
}

int64_t get_int(const json& j, const std::string& path) {
  if (!j.is_number_integer()) {
    throw SpecError(path, "expected an integer, got " + describe(j));
  }
  // An unsigned value beyond int64 (2^64 - 1) is shown as written, never wrapped to -1.
  if (j.is_number_unsigned() && j.get<uint64_t>() > static_cast<uint64_t>(INT64_MAX)) {
    throw SpecError(path, "is " + j.dump() + ", far outside any valid range");
  }
  return j.get<int64_t>();
}

// An integer that must fit an int: checked in 64 bits before it is narrowed, so 2^32 + 4 is an
// error rather than 4. The validate() step checks the value's own range afterwards.
int get_small_int(const json& j, const std::string& path) {
  const int64_t v = get_int(j, path);
  if (v < -(int64_t{1} << 30) || v > (int64_t{1} << 30)) {
    throw SpecError(path, "is " + std::to_string(v) + ", far outside any valid range");
  }
  return static_cast<int>(v);
}

double get_number(const json& j, const std::string& path) {
  if (!j.is_number()) throw SpecError(path, "expected a number, got " + describe(j));
  return j.get<double>();
}

bool get_bool(const json& j, const std::string& path) {
  if (!j.is_boolean()) throw SpecError(path, "expected true or false, got " + describe(j));
  return j.get<bool>();
}

std::string get_string(const json& j, const std::string& path) {
  if (!j.is_string()) throw SpecError(path, "expected a string, got " + describe(j));
  return j.get<std::string>();
}

std::vector<double> get_numbers(const json& j, const std::string& path) {
  if (!j.is_array()) throw SpecError(path, "expected an array of numbers, got " + describe(j));
  std::vector<double> out;
  for (size_t i = 0; i < j.size(); ++i) out.push_back(get_number(j[i], path + "[" + std::to_string(i) + "]"));
  return out;
}

// Sets one dotted key from "a.b=value" (value parsed as JSON when it is valid JSON, else taken
// as a string). Unknown keys are left to the strict parser that reads the result.
namespace {

// Whether `text` is well-formed UTF-8 (no overlong forms, surrogates or values beyond U+10FFFF),
// as JSON strings must be.
bool valid_utf8(const std::string& text) {
  size_t i = 0;
  while (i < text.size()) {
    const auto c = static_cast<unsigned char>(text[i]);
    int n = c < 0x80 ? 0 : (c >> 5) == 0x6 ? 1 : (c >> 4) == 0xE ? 2 : (c >> 3) == 0x1E ? 3 : -1;
    if (n < 0 || i + static_cast<size_t>(n) >= text.size() + (n == 0 ? 1 : 0)) return false;
    uint32_t cp = n == 0 ? c : c & (0x3F >> n);
    for (int k = 1; k <= n; ++k) {
      const auto d = static_cast<unsigned char>(text[i + static_cast<size_t>(k)]);
      if ((d >> 6) != 0x2) return false;
      cp = (cp << 6) | (d & 0x3F);
    }
    const uint32_t least[] = {0, 0x80, 0x800, 0x10000};
    if (cp < least[n] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return false;
    i += static_cast<size_t>(n) + 1;
  }
  return true;
}

}  // namespace

void set_dotted(json& j, const std::string& assignment) {
  const auto eq = assignment.find('=');
  if (eq == std::string::npos || eq == 0) {
    throw SpecError(assignment, "expected key=value, e.g. mapping.tile_rows=128");
  }
  if (!valid_utf8(assignment)) {
    throw SpecError("--set", "is not valid UTF-8 text (a key=value pair in UTF-8 is expected)");
  }
  const std::string key = assignment.substr(0, eq), text = assignment.substr(eq + 1);
  json value;
  try {
    value = parse_bounded(text, "--set " + key);
  } catch (const json::parse_error&) {
    value = text;  // bare words such as offset or differential
  } catch (const json::out_of_range&) {  // 1e309: a number no double holds
    throw SpecError(key, "is " + text + ", a number beyond any double (at most about 1.8e308)");
  }
  json* node = &j;
  size_t start = 0;
  while (true) {
    const size_t dot = key.find('.', start);
    const std::string part = key.substr(start, dot == std::string::npos ? dot : dot - start);
    if (!node->is_object()) throw SpecError(key, "cannot set a key inside a non-object value");
    if (dot == std::string::npos) {
      // A model switched to another kind drops the parameters of the old one (they would be
      // unknown keys of the new kind), keeping its scale: --set device.drift.kind=none works.
      if (part == "kind" && node->contains("kind") && (*node)["kind"] != value) {
        for (auto it = node->begin(); it != node->end();) {
          it = it.key() == "kind" || it.key() == "scale" ? std::next(it) : node->erase(it);
        }
      }
      (*node)[part] = value;  // unknown keys are caught by the strict parser that follows
      return;
    }
    if (!node->contains(part)) (*node)[part] = json::object();
    node = &(*node)[part];
    start = dot + 1;
  }
}

}  // namespace qs4d::spec_json
