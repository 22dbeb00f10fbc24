// MappingSpec and ConductanceWindow: strict JSON parsing and validation.
#include <cmath>
#include <nlohmann/json.hpp>
#include <set>

#include "core/core.h"
#include "mapping/mapping.h"

namespace qs4d {
namespace {

using nlohmann::json;
using namespace spec_json;

const std::vector<std::pair<std::string, Encoding>> kEncodings = {
    {"differential", Encoding::kDifferential}, {"offset", Encoding::kOffset}};
const std::vector<std::pair<std::string, OffsetReference>> kReferences = {
    {"column", OffsetReference::kColumn}, {"digital", OffsetReference::kDigital}};
const std::vector<std::pair<std::string, QuantSource>> kSources = {
    {"auto", QuantSource::kAuto},
    {"checkpoint", QuantSource::kCheckpoint},
    {"post_training", QuantSource::kPostTraining}};
const std::vector<std::pair<std::string, Granularity>> kGranularities = {
    {"per_tensor", Granularity::kPerTensor}, {"per_column", Granularity::kPerColumn}};

}  // namespace

MappingSpec MappingSpec::from_json(const json& j, const std::string& path) {
  reject_unknown(j, path,
                 {"tile_rows", "tile_cols", "encoding", "offset_reference", "bits_per_device",
                  "quantization", "weight_bits", "granularity", "map_recurrence",
                  "recurrence_bits"});
  MappingSpec s;
  for (const auto& [key, v] : j.items()) {
    const std::string p = path + "." + key;
    if (key == "tile_rows") s.tile_rows = get_int(v, p);
    if (key == "tile_cols") s.tile_cols = get_int(v, p);
    if (key == "encoding") s.encoding = get_enum(v, p, kEncodings);
    if (key == "offset_reference") s.offset_reference = get_enum(v, p, kReferences);
    if (key == "bits_per_device") s.bits_per_device = get_small_int(v, p);
    if (key == "quantization") s.quantization = get_enum(v, p, kSources);
    if (key == "weight_bits") s.weight_bits = get_small_int(v, p);
    if (key == "granularity") s.granularity = get_enum(v, p, kGranularities);
    if (key == "map_recurrence") {
      if (!v.is_boolean()) throw SpecError(p, "expected true or false, got " + describe(v));
      s.map_recurrence = v.get<bool>();
    }
    if (key == "recurrence_bits") s.recurrence_bits = get_small_int(v, p);
  }
  s.validate(path);
  return s;
}

json MappingSpec::to_json() const {
  return json{{"tile_rows", tile_rows},
              {"tile_cols", tile_cols},
              {"encoding", name_of(encoding, kEncodings)},
              {"offset_reference", name_of(offset_reference, kReferences)},
              {"bits_per_device", bits_per_device},
              {"quantization", name_of(quantization, kSources)},
              {"weight_bits", weight_bits},
              {"granularity", name_of(granularity, kGranularities)},
              {"map_recurrence", map_recurrence},
              {"recurrence_bits", recurrence_bits}};
}

void MappingSpec::validate(const std::string& path) const {
  for (const auto& [key, v] : {std::pair{"tile_rows", tile_rows}, {"tile_cols", tile_cols}}) {
    if (v < 2 || v > 4096) {
      throw SpecError(path + "." + key, "must be 2..4096, got " + std::to_string(v));
    }
  }
  // Every tile is held densely (targets, conductances and their per-device state).
  if (tile_rows * tile_cols > 2048 * 2048) {
    throw SpecError(path + ".tile_rows", "tile of " + std::to_string(tile_rows) + " x " + std::to_string(tile_cols) +
                                             " cells: at most 2048 x 2048 = 4,194,304 cells per tile");
  }
  for (const auto& [key, v] : {std::pair{"weight_bits", weight_bits},
                               {"recurrence_bits", recurrence_bits}}) {
    if (v < kMinQuantBits || v > kMaxQuantBits) {
      throw SpecError(path + "." + key, "must be " + std::to_string(kMinQuantBits) + ".." +
                                            std::to_string(kMaxQuantBits) + ", got " + std::to_string(v));
    }
  }
  if (bits_per_device < 0 || bits_per_device > 16) {
    throw SpecError(path + ".bits_per_device",
                    "must be 0 (no slicing) or 1..16, got " + std::to_string(bits_per_device));
  }
}

}  // namespace qs4d
