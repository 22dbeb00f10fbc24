// MappingSpec and ConductanceWindow: strict JSON parsing and validation.
#include <cmath>
#include <nlohmann/json.hpp>
#include <set>
#include <type_traits>

#include "core/core.h"
#include "core/fields.h"
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

namespace {

// An enumerated key, read and written through its names.
template <class E>
Field<MappingSpec> enum_field(const char* key, E MappingSpec::*member, const std::vector<std::pair<std::string, E>>& names) {
  return {key, [member, &names](MappingSpec& s, const json& v, const std::string& p) { s.*member = get_enum(v, p, names); },
          [key, member, &names](const MappingSpec& s, json& j) { j[key] = name_of(s.*member, names); }};
}

// An integer key (its range checked by validate(), which knows the combinations).
template <class T>
Field<MappingSpec> int_field(const char* key, T MappingSpec::*member) {
  return {key,
          [member](MappingSpec& s, const json& v, const std::string& p) {
            if constexpr (std::is_same_v<T, int64_t>) {
              s.*member = get_int(v, p);
            } else {
              s.*member = get_small_int(v, p);  // checked in 64 bits before it is narrowed
            }
          },
          [key, member](const MappingSpec& s, json& j) { j[key] = s.*member; }};
}

const std::vector<Field<MappingSpec>>& mapping_fields() {
  using M = MappingSpec;
  static const std::vector<Field<M>> fields = {
      int_field("tile_rows", &M::tile_rows),
      int_field("tile_cols", &M::tile_cols),
      enum_field("encoding", &M::encoding, kEncodings),
      enum_field("offset_reference", &M::offset_reference, kReferences),
      int_field("bits_per_device", &M::bits_per_device),
      enum_field("quantization", &M::quantization, kSources),
      int_field("weight_bits", &M::weight_bits),
      enum_field("granularity", &M::granularity, kGranularities),
      {"map_recurrence",
       [](M& s, const json& v, const std::string& p) {
         if (!v.is_boolean()) throw SpecError(p, "expected true or false, got " + describe(v));
         s.map_recurrence = v.get<bool>();
       },
       [](const M& s, json& j) { j["map_recurrence"] = s.map_recurrence; }},
      int_field("recurrence_bits", &M::recurrence_bits),
  };
  return fields;
}

}  // namespace

MappingSpec MappingSpec::from_json(const json& j, const std::string& path) {
  const MappingSpec s = read_fields(j, path, mapping_fields());
  s.validate(path);
  return s;
}

json MappingSpec::to_json() const { return write_fields(*this, mapping_fields()); }

std::vector<std::string> MappingSpec::keys() { return keys_of(mapping_fields()); }

void MappingSpec::validate(const std::string& path) const {
  for (const auto& [key, v] : {std::pair{"tile_rows", tile_rows}, {"tile_cols", tile_cols}}) {
    spec_json::check_bound(static_cast<double>(v), std::to_string(v), path + "." + key, bounds::kTileSide);
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
  spec_json::check_bound(static_cast<double>(bits_per_device), std::to_string(bits_per_device),
                         path + ".bits_per_device", bounds::kBitsPerDevice);
}

}  // namespace qs4d
