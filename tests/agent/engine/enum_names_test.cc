// The daemon's enum names without descriptors: the same strings as protobuf's _Name functions,
// for every value of each enum (a new value without a name here fails).

#include "agent/engine/enum_names.h"

#include "gtest/gtest.h"

namespace plumb {
namespace {

TEST(EnumNamesTest, RunTriggerNamesAreTheProtoNames) {
  const auto* descriptor = v1::RunTrigger_descriptor();
  for (int i = 0; i < descriptor->value_count(); ++i) {
    auto value = static_cast<v1::RunTrigger>(descriptor->value(i)->number());
    EXPECT_EQ(RunTriggerName(value), v1::RunTrigger_Name(value));
  }
  EXPECT_EQ(RunTriggerName(static_cast<v1::RunTrigger>(99)), "");
}

TEST(EnumNamesTest, ResourceOutcomeNamesAreTheProtoNames) {
  const auto* descriptor = v1::ResourceOutcome_descriptor();
  for (int i = 0; i < descriptor->value_count(); ++i) {
    auto value = static_cast<v1::ResourceOutcome>(descriptor->value(i)->number());
    EXPECT_EQ(ResourceOutcomeName(value), v1::ResourceOutcome_Name(value));
  }
  EXPECT_EQ(ResourceOutcomeName(static_cast<v1::ResourceOutcome>(99)), "");
}

}  // namespace
}  // namespace plumb
