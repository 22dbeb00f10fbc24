// Chip specs: presets, overrides and strict parsing.
#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "mapping/detail/spec_json.h"
#include "sim/sim.h"

namespace qs4d {

using nlohmann::json;

std::string data_dir() {
  if (const char* env = std::getenv("QS4D_DATA_DIR")) return env;
  return QS4D_SOURCE_DATA_DIR;
}

ChipSpec ChipSpec::from_json(const json& j) {
  if (!j.is_object()) throw SpecError("chip", "expected a JSON object");
  ChipSpec c;
  for (const auto& [key, v] : j.items()) {
    if (key == "name" || key == "description") {
      if (!v.is_string()) throw SpecError(key, "expected a string, got " + v.dump());
      (key == "name" ? c.name : c.description) = v.get<std::string>();
    } else if (key == "device") {
      if (!v.is_object()) throw SpecError("device", "expected an object, got " + v.dump());
      for (const auto& [dk, dv] : v.items()) {
        const std::string p = "device." + dk;
        if (dk == "g_min_uS" || dk == "g_max_uS") {
          if (!dv.is_number()) throw SpecError(p, "expected a number, got " + dv.dump());
          (dk == "g_min_uS" ? c.device.g_min_uS : c.device.g_max_uS) = dv.get<double>();
        } else if (dk == "levels") {
          if (!dv.is_number_integer()) throw SpecError(p, "expected an integer, got " + dv.dump());
          c.device.levels = dv.get<int64_t>();
        } else {
          throw SpecError(p, "unknown key (allowed: g_max_uS, g_min_uS, levels)");
        }
      }
      c.device.validate("device");
    } else if (key == "mapping") {
      c.mapping = MappingSpec::from_json(v, "mapping");
    } else {
      throw SpecError(key, "unknown key (allowed: description, device, mapping, name)");
    }
  }
  c.resolved = j;
  c.resolved["mapping"] = c.mapping.to_json();
  c.resolved["device"] = json{{"g_min_uS", c.device.g_min_uS},
                              {"g_max_uS", c.device.g_max_uS},
                              {"levels", c.device.levels}};
  return c;
}

ChipSpec load_chip(const std::string& name_or_path, const std::vector<std::string>& overrides) {
  std::string path = name_or_path;
  const bool looks_like_path = name_or_path.find('/') != std::string::npos ||
                               name_or_path.find(".json") != std::string::npos;
  if (!looks_like_path) path = data_dir() + "/chips/" + name_or_path + ".json";
  std::ifstream in(path);
  if (!in) {
    throw UsageError("chip \"" + name_or_path + "\": no such preset or file (" + path + ")");
  }
  json j;
  try {
    j = json::parse(in);
  } catch (const json::parse_error& e) {
    throw UsageError(path + ": not valid JSON: " + e.what());
  }
  for (const auto& o : overrides) spec_json::set_dotted(j, o);
  try {
    return ChipSpec::from_json(j);
  } catch (const SpecError& e) {
    throw SpecError(path + ": " + e.key_path(), std::string(e.what()).substr(e.key_path().size() + 2));
  }
}

}  // namespace qs4d
