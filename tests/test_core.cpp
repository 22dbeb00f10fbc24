// core: the strict JSON helpers refuse deep nesting and keep messages one line; the stream
// hash is SplitMix64 (Steele, Lea, Flood, OOPSLA 2014), checked against its published first
// outputs; counts scale and add over every counter they name.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "core/core.h"
#include "run/run.h"

namespace qs4d {
namespace {

TEST(Core, SplitMix64IsTheReferenceGenerator) {
  // The reference generator seeded with 0 yields 0xe220a8397b1dcdaf, 0x6e789e6aa1b965f4, ...;
  // each output is splitmix64 of the state advanced by the golden gamma once more.
  EXPECT_EQ(splitmix64(0), 0xe220a8397b1dcdafULL);
  EXPECT_EQ(splitmix64(0x9e3779b97f4a7c15ULL), 0x6e789e6aa1b965f4ULL);
  EXPECT_NE(stream_seed(1, stream_key::kProgram), stream_seed(1, stream_key::kWindow));
  EXPECT_EQ(double_bits(1.0), 0x3ff0000000000000ULL);
}

TEST(Core, DeeplyNestedSpecIsRefusedWithAMessage) {
  std::string deep = "{\"tile_rows\": ";
  for (int i = 0; i < 100000; ++i) deep += "[";
  for (int i = 0; i < 100000; ++i) deep += "]";
  deep += "}";
  const auto path = std::filesystem::temp_directory_path() / "qs4d_deep_chip.json";
  std::ofstream(path) << deep;
  try {
    spec_json::read_json_file(path.string(), "chip");
    FAIL() << "accepted";
  } catch (const UsageError& e) {
    EXPECT_NE(std::string(e.what()).find("nested deeper than"), std::string::npos) << e.what();
  }
  EXPECT_THROW(load_chip(path.string(), {}), UsageError);
  std::filesystem::remove(path);
  nlohmann::json j;
  EXPECT_THROW(spec_json::set_dotted(j, "mapping.tile_rows=" + std::string(1000, '[') + std::string(1000, ']')),
               UsageError);
}

TEST(Core, ErrorMessagesShowLongValuesCut) {
  nlohmann::json big = nlohmann::json::array();
  for (int i = 0; i < 10000; ++i) big.push_back(i);
  try {
    spec_json::get_int(big, "mapping.tile_rows");
    FAIL() << "accepted";
  } catch (const SpecError& e) {
    const std::string m = e.what();
    EXPECT_LT(m.size(), 200u) << m;
    EXPECT_NE(m.find("mapping.tile_rows: expected an integer, got [0,1,2"), std::string::npos) << m;
  }
}

TEST(Core, CountsScaleAndAddEveryCounter) {
  ActionCounts a;
  ActionCounts::each_scalar(a, [](const char*, double& v) { v = 2; });
  a.dac_conversions[4] = 8;
  a.operands["ssm_state"] = {16, 1, 10, 10};
  ActionCounts b = a;
  b.add(a);
  b.scale(0.5);
  ActionCounts::each_scalar(b, [](const char* name, const double& v) { EXPECT_EQ(v, 2.0) << name; });
  EXPECT_EQ(b.dac_conversions.at(4), 8.0);
  EXPECT_EQ(b.operands.at("ssm_state").read_bits, 10.0);
  EXPECT_EQ(b.operands.at("ssm_state").footprint_bits, 16.0);  // a footprint is not a count
}

TEST(Times, UnitsSortedAndFormatted) {
  const std::vector<double> t = parse_times("1y,1w,2mo,30m,1w,0");
  const std::vector<double> expected = {0, 1800, 7 * 86400.0, 2 * 365.25 / 12 * 86400,
                                        365.25 * 86400};
  EXPECT_EQ(t, expected);
  EXPECT_EQ(format_time(7 * 86400.0), "1w");
  EXPECT_EQ(format_time(365.25 / 12 * 86400.0), "1mo");
  EXPECT_EQ(format_time(86400.0), "1d");
  EXPECT_THROW(parse_times("3fortnights"), UsageError);
}

}  // namespace
}  // namespace qs4d
