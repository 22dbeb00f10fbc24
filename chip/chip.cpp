// Chip specs: presets, overrides and strict parsing.
#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "core/core.h"
#include "chip/chip.h"
#include "core/fields.h"

namespace qs4d {

using nlohmann::json;
using namespace spec_json;

namespace {
std::string& installed_data_dir() {
  static std::string dir;
  return dir;
}
}  // namespace

void set_installed_data_dir(const std::string& dir) { installed_data_dir() = dir; }

std::string data_dir() {
  if (const char* env = std::getenv("QS4D_DATA_DIR")) return env;
  if (!installed_data_dir().empty()) return installed_data_dir();
  return QS4D_SOURCE_DATA_DIR;
}

namespace {
const std::vector<std::pair<std::string, DriftCompensation>> kCompensation = {
    {"none", DriftCompensation::kNone},
    {"global", DriftCompensation::kGlobal},
    {"per_column", DriftCompensation::kPerColumn},
    {"global_ones", DriftCompensation::kGlobalOnes},
    {"per_column_ones", DriftCompensation::kPerColumnOnes}};
}  // namespace

namespace {

// Converter bits: 0 (ideal) or 2..24.
std::function<void(PeripherySpec&, const json&, const std::string&)> read_bits(int PeripherySpec::*bits) {
  return [bits](PeripherySpec& p, const json& v, const std::string& q) {
    p.*bits = static_cast<int>(bounded_int(v, q, bounds::kConverterBits));
  };
}

// A resistance of the tile's circuit (0 or within the physical range).
std::function<void(PeripherySpec&, const json&, const std::string&)> read_ohm(double CircuitSpec::*ohm) {
  return [ohm](PeripherySpec& p, const json& v, const std::string& q) {
    const double x = bounded(v, q, bounds::kResistance);
    if (ohm == nullptr) {  // wire_resistance_ohm: both wires, per segment (the older single key)
      p.circuit.row_wire_ohm = p.circuit.col_wire_ohm = x;
    } else {
      p.circuit.*ohm = x;
    }
  };
}

template <class T, class S>
std::function<void(const S&, json&)> write_member(const char* key, T S::*member) {
  return [key, member](const S& s, json& j) { j[key] = s.*member; };
}

std::string one_of(const json& v, const std::string& q, const std::string& a, const std::string& b) {
  const std::string s = get_string(v, q);
  if (s != a && s != b) throw SpecError(q, "is \"" + s + "\", expected \"" + a + "\" or \"" + b + "\"");
  return s;
}

const std::vector<Field<PeripherySpec>>& periphery_fields() {
  using P = PeripherySpec;
  static const std::vector<Field<P>> fields = {
      {"dac_bits", read_bits(&P::dac_bits), write_member("dac_bits", &P::dac_bits)},
      {"adc_bits", read_bits(&P::adc_bits), write_member("adc_bits", &P::adc_bits)},
      {"state_dac_bits", read_bits(&P::state_dac_bits), write_member("state_dac_bits", &P::state_dac_bits)},
      {"state_adc_bits", read_bits(&P::state_adc_bits), write_member("state_adc_bits", &P::state_adc_bits)},
      {"state_ranges",
       [](P& p, const json& v, const std::string& q) {
         p.state_ranges_trained = one_of(v, q, "calibrated", "trained") == "trained";
       },
       [](const P& p, json& j) { j["state_ranges"] = p.state_ranges_trained ? "trained" : "calibrated"; }},
      {"state_dac_ranges",
       [](P& p, const json& v, const std::string& q) {
         p.state_dac_per_mode = one_of(v, q, "channel", "mode") == "mode";
       },
       // Written only when not the default, so that the run identities of chips without it stay.
       [](const P& p, json& j) {
         if (p.state_dac_per_mode) j["state_dac_ranges"] = "mode";
       }},
      {"adc_range",
       [](P& p, const json& v, const std::string& q) {
         if (v.is_string() && v.get<std::string>() == "calibrated") {
           p.adc_calibrated = true;
         } else if (v.is_number() && v.get<double>() > 0 && v.get<double>() <= 1) {
           p.adc_calibrated = false;
           p.adc_range_fraction = v.get<double>();
         } else {
           throw SpecError(q, "expected \"calibrated\" or a fraction of full scale in (0, 1], got " + describe(v));
         }
       },
       [](const P& p, json& j) { j["adc_range"] = p.adc_calibrated ? json("calibrated") : json(p.adc_range_fraction); }},
      {"dac_range",
       [](P& p, const json& v, const std::string& q) {
         if (v.is_string() && v.get<std::string>() == "dynamic") {
           p.dac_range = 0;
         } else if (v.is_number() && v.get<double>() > 0 && std::isfinite(v.get<double>())) {
           p.dac_range = v.get<double>();
         } else {
           throw SpecError(q, "expected \"dynamic\" or a positive full-scale input, got " + describe(v));
         }
       },
       [](const P& p, json& j) { j["dac_range"] = p.dac_range > 0 ? json(p.dac_range) : json("dynamic"); }},
      {"signed_inputs",
       [](P& p, const json& v, const std::string& q) {
         p.two_phase_inputs = one_of(v, q, "polarity", "two_phase") == "two_phase";
       },
       [](const P& p, json& j) { j["signed_inputs"] = p.two_phase_inputs ? "two_phase" : "polarity"; }},
      {"calibration_samples",
       [](P& p, const json& v, const std::string& q) {
         p.calibration_samples = get_int(v, q);
         if (p.calibration_samples < 1) throw SpecError(q, "must be >= 1");
       },
       write_member("calibration_samples", &P::calibration_samples)},
      {"adc_headroom",
       [](P& p, const json& v, const std::string& q) {
         p.adc_headroom = bounded(v, q, bounds::kAdcHeadroom);
       },
       write_member("adc_headroom", &P::adc_headroom)},
      {"output_noise",
       [](P& p, const json& v, const std::string& q) {
         p.output_noise = bounded(v, q, bounds::kOutputNoise);
       },
       write_member("output_noise", &P::output_noise)},
      {"wire_resistance_ohm", read_ohm(nullptr)},  // read only: written as the two wires
      {"row_wire_ohm", read_ohm(&CircuitSpec::row_wire_ohm),
       [](const P& p, json& j) { j["row_wire_ohm"] = p.circuit.row_wire_ohm; }},
      {"col_wire_ohm", read_ohm(&CircuitSpec::col_wire_ohm),
       [](const P& p, json& j) { j["col_wire_ohm"] = p.circuit.col_wire_ohm; }},
      {"driver_ohm", read_ohm(&CircuitSpec::driver_ohm),
       [](const P& p, json& j) { j["driver_ohm"] = p.circuit.driver_ohm; }},
      {"sense_ohm", read_ohm(&CircuitSpec::sense_ohm),
       [](const P& p, json& j) { j["sense_ohm"] = p.circuit.sense_ohm; }},
      {"access_ohm", read_ohm(&CircuitSpec::access_ohm),
       [](const P& p, json& j) { j["access_ohm"] = p.circuit.access_ohm; }},
      {"ir_drop",
       [](P& p, const json& v, const std::string& q) {
         p.ir_drop = parse_circuit_solver(one_of(v, q, "exact", "first-order"));
       },
       [](const P& p, json& j) { j["ir_drop"] = to_string(p.ir_drop); }},
      {"read_noise_path",
       [](P& p, const json& v, const std::string& q) { p.per_cell_read_noise = one_of(v, q, "column", "cell") == "cell"; },
       [](const P& p, json& j) { j["read_noise_path"] = p.per_cell_read_noise ? "cell" : "column"; }},
  };
  return fields;
}

const std::vector<Field<DataflowSpec>>& dataflow_fields() {
  using D = DataflowSpec;
  static const std::vector<Field<D>> fields = {
      {"ssm_parameters",
       [](D& d, const json& v, const std::string& q) {
         d.ssm_parameters_local = get_enum<bool>(v, q, {{"local", true}, {"streamed", false}});
       },
       [](const D& d, json& j) { j["ssm_parameters"] = d.ssm_parameters_local ? "local" : "streamed"; }},
      {"activations",
       [](D& d, const json& v, const std::string& q) {
         d.activations_local = get_enum<bool>(v, q, {{"local", true}, {"global_buffer", false}});
       },
       [](const D& d, json& j) { j["activations"] = d.activations_local ? "local" : "global_buffer"; }},
      {"batch",
       [](D& d, const json& v, const std::string& q) {
         d.batch = bounded_int(v, q, bounds::kDataflowBatch);
       },
       write_member("batch", &D::batch)},
  };
  return fields;
}

}  // namespace

PeripherySpec PeripherySpec::from_json(const json& j, const std::string& path) {
  // The shorthand for both wires would otherwise race the specific keys (read in alphabetical
  // order, it came last and won); load_chip writes it out when an override sets a wire.
  if (j.is_object() && j.contains("wire_resistance_ohm") && (j.contains("row_wire_ohm") || j.contains("col_wire_ohm"))) {
    throw SpecError(path + ".wire_resistance_ohm",
                    "is given together with row_wire_ohm or col_wire_ohm: give either the one value "
                    "for both wires or the two");
  }
  return read_fields(j, path, periphery_fields());
}

json PeripherySpec::to_json() const { return write_fields(*this, periphery_fields()); }

std::vector<std::string> PeripherySpec::keys() { return keys_of(periphery_fields()); }

DataflowSpec DataflowSpec::from_json(const json& j, const std::string& path) {
  return read_fields(j, path, dataflow_fields());
}

json DataflowSpec::to_json() const { return write_fields(*this, dataflow_fields()); }

std::vector<std::string> DataflowSpec::keys() { return keys_of(dataflow_fields()); }

std::string ChipSpec::inert_at_every(const std::string& key, const std::vector<double>& times_s) const {
  std::string why;
  for (double t : times_s) {
    const std::string reason = inert_reason(key, t);
    if (reason.empty()) return "";
    if (why.empty()) why = reason;
  }
  return why;
}

std::string ChipSpec::inert_reason(const std::string& key, double t_s) const {
  if (key.rfind("device.", 0) == 0) {
    // Write-verify outcomes steer a repair: then the programmed state matters beyond the cells.
    const bool repair_reads_verify = device.write_verify.enabled && (repair_partner || repair_spares);
    return device.inert_reason(key.substr(7), t_s, repair_reads_verify);
  }
  if ((key == "periphery.calibration_samples" || key == "periphery.adc_headroom") && !calibrates_adc()) {
    return periphery.adc_calibrated ? "chip " + name + " has ideal ADCs (periphery.adc_bits 0): no range to calibrate"
                            : "chip " + name + " has fixed ADC ranges (periphery.adc_range is not calibrated)";
  }
  if ((key == "periphery.state_dac_bits" || key == "periphery.state_adc_bits" || key == "periphery.state_ranges" ||
       key == "periphery.state_dac_ranges") &&
      !analog_recurrence) {
    return "chip " + name + " runs its recurrence digitally (recurrence digital): it has no state converters";
  }
  if (key == "periphery.state_ranges" && periphery.state_dac_bits == 0 && periphery.state_adc_bits == 0) {
    return "chip " + name + " has ideal state converters (periphery.state_dac_bits and state_adc_bits 0): no range "
           "to set";
  }
  if (key == "periphery.state_dac_ranges" && (!periphery.state_ranges_trained || periphery.state_dac_bits == 0)) {
    return "chip " + name + (periphery.state_dac_bits == 0 ? " has an ideal state DAC (periphery.state_dac_bits 0)"
                                                           : " ranges its state DAC on the signal (periphery.state_ranges "
                                                             "\"calibrated\")") +
           ": the state DAC's full scale is not taken from the trained grid";
  }
  return "";
}

namespace {

// The chip's own keys; the nested specs (device, mapping, periphery, dataflow) read theirs.
const std::vector<Field<ChipSpec>>& chip_fields() {
  using C = ChipSpec;
  static const std::vector<Field<C>> fields = {
      {"name", [](C& c, const json& v, const std::string& q) { c.name = get_string(v, q); }},
      {"description", [](C& c, const json& v, const std::string& q) { c.description = get_string(v, q); }},
      {"device", [](C& c, const json& v, const std::string&) { c.device = DeviceSpec::from_json(v, "device"); }},
      {"mapping", [](C& c, const json& v, const std::string&) { c.mapping = MappingSpec::from_json(v, "mapping"); }},
      {"periphery",
       [](C& c, const json& v, const std::string&) { c.periphery = PeripherySpec::from_json(v, "periphery"); }},
      {"dataflow", [](C& c, const json& v, const std::string&) { c.dataflow = DataflowSpec::from_json(v, "dataflow"); }},
      {"analog_layers",
       [](C& c, const json& v, const std::string& q) {
         if (!v.is_array()) throw SpecError(q, "expected a list of \"encoder\", \"output\", \"decoder\"");
         c.analog_encoder = c.analog_projections = c.analog_decoder = false;
         for (const auto& e : v) {
           const std::string s = get_string(e, q + "[]");
           bool& on = s == "encoder" ? c.analog_encoder : s == "output" ? c.analog_projections : c.analog_decoder;
           if (s != "encoder" && s != "output" && s != "decoder") {
             throw SpecError(q, "\"" + s + "\" is not one of \"encoder\", \"output\", \"decoder\"");
           }
           on = true;
         }
       }},
      {"recurrence",
       [](C& c, const json& v, const std::string& q) { c.analog_recurrence = one_of(v, q, "digital", "analog") == "analog"; }},
      {"drift_compensation",
       [](C& c, const json& v, const std::string& q) { c.drift_compensation = get_enum(v, q, kCompensation); }},
      {"technology", [](C& c, const json& v, const std::string& q) { c.technology = get_string(v, q); }},
      {"repair",
       [](C& c, const json& v, const std::string& q) {
         const int r = get_enum<int>(v, q, {{"none", 0}, {"partner", 1}, {"spares", 2}});
         c.repair_partner = r == 1;
         c.repair_spares = r == 2;
       }},
      {"spares",
       [](C& c, const json& v, const std::string& q) {
         reject_unknown(v, q, {"rows", "cols"});
         for (const auto& [k, x] : v.items()) {
           (k == "rows" ? c.spare_rows : c.spare_cols) = bounded_int(x, q + "." + k, bounds::kSpareLines);
         }
       }},
      {"fault_aware_mapping", [](C& c, const json& v, const std::string& q) { c.fault_aware_mapping = get_bool(v, q); }},
  };
  return fields;
}

}  // namespace

std::vector<std::string> ChipSpec::keys() { return keys_of(chip_fields()); }

ChipSpec ChipSpec::from_json(const json& j) {
  ChipSpec c;
  c.mapping = MappingSpec{};
  c = read_fields(j, "", chip_fields(), std::move(c), "chip");
  if (!j.contains("device")) throw SpecError("device", "missing (a preset name or an object)");
  if (c.analog_recurrence) c.mapping.map_recurrence = true;  // the blocks must be on tiles
  if (c.repair_partner && c.mapping.encoding != Encoding::kDifferential) {
    throw SpecError("repair", "\"partner\" needs mapping.encoding=differential (a cell's partner is the other "
                              "device of its pair)");
  }
  if ((c.repair_partner || c.repair_spares) && !c.device.write_verify.enabled) {
    throw SpecError("repair", std::string(c.repair_partner ? "\"partner\"" : "\"spares\"") +
                                  " needs device.write_verify.enabled (write-verify finds the failed cells)");
  }
  if (c.repair_spares && c.spare_rows + c.spare_cols == 0) {
    throw SpecError("repair", "\"spares\" needs spares.rows or spares.cols above 0 (spare lines per tile)");
  }
  // The circuit solve places every cell at its mapped position; a spare line (at the tile's
  // edge) or a moved row would sit elsewhere, which it does not model.
  if ((c.repair_spares || c.fault_aware_mapping) && c.periphery.circuit.any()) {
    throw SpecError(c.repair_spares ? "repair" : "fault_aware_mapping",
                    "is not modelled together with wire, driver, sense or access resistance (IR drop "
                    "places every cell where the mapping put it); set those resistances to 0");
  }
  if (c.analog_recurrence && c.periphery.state_ranges_trained && !c.periphery.adc_calibrated) {
    throw SpecError("periphery.state_ranges", "\"trained\" needs adc_range \"calibrated\" (the ranges of the "
                                              "input u and the output y beside the trained state are calibrated)");
  }
  if (c.analog_recurrence && c.periphery.state_dac_per_mode && !c.periphery.state_ranges_trained) {
    throw SpecError("periphery.state_dac_ranges", "\"mode\" needs state_ranges \"trained\" (the full scale of each "
                                                  "row's DAC is its mode's trained bound)");
  }
  if (c.analog_recurrence && c.periphery.state_ranges_trained && c.periphery.two_phase_inputs) {
    throw SpecError("periphery.state_ranges", "\"trained\" needs signed_inputs \"polarity\" (a two-phase read "
                                              "converts each phase alone, which the trained bounds do not bound)");
  }
  c.resolved = j;
  c.resolved["device"] = c.device.to_json();
  c.resolved["mapping"] = c.mapping.to_json();
  c.resolved["periphery"] = c.periphery.to_json();
  c.resolved["dataflow"] = c.dataflow.to_json();
  json layers = json::array();
  if (c.analog_encoder) layers.push_back("encoder");
  if (c.analog_projections) layers.push_back("output");
  if (c.analog_decoder) layers.push_back("decoder");
  c.resolved["analog_layers"] = layers;
  c.resolved["recurrence"] = c.analog_recurrence ? "analog" : "digital";
  c.resolved["drift_compensation"] = name_of(c.drift_compensation, kCompensation);
  c.resolved["repair"] = c.repair_partner ? "partner" : c.repair_spares ? "spares" : "none";
  c.resolved["spares"] = {{"rows", c.spare_rows}, {"cols", c.spare_cols}};
  c.resolved["fault_aware_mapping"] = c.fault_aware_mapping;
  c.resolved["technology"] = c.technology;
  return c;
}

namespace {

// After an override of a wire resistance, the later value wins over the file's: the shorthand
// periphery.wire_resistance_ohm (both wires) is written out as the two keys, so that setting
// row_wire_ohm on a preset that gives the shorthand, or the shorthand on one that gives the two,
// changes what was asked (issue #13: --set periphery.row_wire_ohm=1 on neurram_256 was lost).
void resolve_wire_override(json& j, const std::string& key) {
  if (!j.is_object() || !j.contains("periphery") || !j["periphery"].is_object()) return;
  json& p = j["periphery"];
  if (key == "periphery.wire_resistance_ohm") {
    p["row_wire_ohm"] = p["col_wire_ohm"] = p["wire_resistance_ohm"];
    p.erase("wire_resistance_ohm");
  } else if ((key == "periphery.row_wire_ohm" || key == "periphery.col_wire_ohm") &&
             p.contains("wire_resistance_ohm")) {
    const std::string other = key == "periphery.row_wire_ohm" ? "col_wire_ohm" : "row_wire_ohm";
    if (!p.contains(other)) p[other] = p["wire_resistance_ohm"];
    p.erase("wire_resistance_ohm");
  }
}

}  // namespace

ChipSpec load_chip(const std::string& name_or_path, const std::vector<std::string>& overrides) {
  const std::string path = preset_path(name_or_path, data_dir() + "/chips");
  json j = read_json_file(path, "chip \"" + name_or_path + "\"");
  return load_chip_json(std::move(j), path, std::filesystem::path(path).parent_path().string(), overrides);
}

ChipSpec load_chip_json(json j, const std::string& path, const std::string& base_dir,
                        const std::vector<std::string>& overrides) {
  // A device given by preset name is expanded first, so --set device.x=y reaches its keys.
  if (j.is_object() && j.contains("device") && j["device"].is_string()) {
    const std::string d = j["device"].get<std::string>();
    // A relative device path is relative to the chip file, so a chip and its device travel together.
    std::string device_path = preset_path(d, data_dir() + "/devices");
    if (device_path == d && std::filesystem::path(d).is_relative()) {
      device_path = (std::filesystem::path(base_dir) / d).lexically_normal().string();
    }
    j["device"] = read_json_file(device_path, "device \"" + d + "\"");
  }
  for (const auto& o : overrides) {
    set_dotted(j, o);
    resolve_wire_override(j, o.substr(0, o.find('=')));
  }
  try {
    return ChipSpec::from_json(j);
  } catch (const SpecError& e) {
    // Blame the override that set the failing key, if one did, not the preset file (issue #19).
    std::string where = path;
    for (const auto& o : overrides) {
      const std::string key = o.substr(0, o.find('='));
      const std::string& bad = e.key_path();
      const auto under = [](const std::string& a, const std::string& b) {  // a at or below b
        return a == b || a.compare(0, b.size() + 1, b + ".") == 0;
      };
      const bool same_branch = under(bad, key) || under(key, bad);
      if (same_branch) where = "--set " + o;
    }
    throw SpecError(where + ": " + e.key_path(),
                    std::string(e.what()).substr(e.key_path().size() + 2));
  }
}

}  // namespace qs4d
