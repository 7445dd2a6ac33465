#include "common/config_file.h"

#include "gtest/gtest.h"
#include "tests/testing/test_util.h"

namespace plumb {
namespace {

using testing::TempDir;
using testing::WriteFileOrDie;

const std::set<std::string> kKeys = {"server", "repo.url", "repo.poll", "insecure"};
const std::set<std::string> kMaps = {"labels"};

TEST(ConfigFileTest, FlattensNestedKeysAndMaps) {
  TempDir dir;
  WriteFileOrDie(dir.Sub("c.yaml"),
                 "server: a:1\nrepo:\n  url: /srv/r.git\n  poll: 5s\nlabels: {role: web, env: prod}\n");
  auto c = ConfigValues::LoadFile(dir.Sub("c.yaml"), kKeys, kMaps);
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->Get("server"), "a:1");
  EXPECT_EQ(c->Get("repo.url"), "/srv/r.git");
  EXPECT_EQ(*c->GetDuration("repo.poll", absl::Seconds(1)), absl::Seconds(5));
  auto labels = c->GetMap("labels");
  EXPECT_EQ(labels.size(), 2u);
  EXPECT_EQ(labels["role"], "web");
}

TEST(ConfigFileTest, UnknownKeyNamesFileLineAndColumn) {
  TempDir dir;
  WriteFileOrDie(dir.Sub("c.yaml"), "server: a\nrepo:\n  urll: x\n");
  auto c = ConfigValues::LoadFile(dir.Sub("c.yaml"), kKeys, kMaps);
  ASSERT_FALSE(c.ok());
  EXPECT_NE(c.status().message().find("c.yaml:3:3: unknown key \"repo.urll\""), std::string::npos)
      << c.status();
}

TEST(ConfigFileTest, BadYamlNamesLocation) {
  TempDir dir;
  WriteFileOrDie(dir.Sub("c.yaml"), "server: [a\n");
  auto c = ConfigValues::LoadFile(dir.Sub("c.yaml"), kKeys, kMaps);
  ASSERT_FALSE(c.ok());
  EXPECT_NE(c.status().message().find("c.yaml:"), std::string::npos) << c.status();
}

TEST(ConfigFileTest, FlagsOverrideFileAndAddMapEntries) {
  TempDir dir;
  WriteFileOrDie(dir.Sub("c.yaml"), "server: from-file\nlabels: {role: db}\n");
  auto c = ConfigValues::LoadFile(dir.Sub("c.yaml"), kKeys, kMaps);
  ASSERT_TRUE(c.ok());
  const char* argv[] = {"x", "--server=from-flag", "--labels", "role=web", "--insecure"};
  auto flags = CommandLine::Parse(5, argv, {"insecure"});
  ASSERT_TRUE(flags.ok());
  ASSERT_TRUE(c->ApplyFlags(*flags, kKeys, kMaps).ok());
  EXPECT_EQ(c->Get("server"), "from-flag");
  EXPECT_EQ(c->GetMap("labels")["role"], "web");
  EXPECT_TRUE(*c->GetBool("insecure", false));
}

TEST(ConfigFileTest, BadBooleanAndDurationAreNamed) {
  ConfigValues c;
  c.Set("insecure", "maybe");
  c.Set("repo.poll", "soon");
  EXPECT_NE(c.GetBool("insecure", false).status().message().find("insecure"), std::string::npos);
  EXPECT_NE(c.GetDuration("repo.poll", absl::Seconds(1)).status().message().find("repo.poll"),
            std::string::npos);
}

TEST(ConfigFileTest, BadValuesFromTheFileNameFileLineAndColumn) {
  TempDir dir;
  WriteFileOrDie(dir.Sub("c.yaml"), "server: a\nrepo:\n  poll: soon\ninsecure: maybe\n");
  auto c = ConfigValues::LoadFile(dir.Sub("c.yaml"), kKeys, kMaps);
  ASSERT_TRUE(c.ok()) << c.status();
  std::string poll(c->GetDuration("repo.poll", absl::Seconds(1)).status().message());
  EXPECT_NE(poll.find("c.yaml:3:9: repo.poll: "), std::string::npos) << poll;
  std::string insecure(c->GetBool("insecure", false).status().message());
  EXPECT_NE(insecure.find("c.yaml:4:11: insecure: expected true or false"), std::string::npos)
      << insecure;
  // A flag replaces the value, and the message then names the key alone.
  const char* argv[] = {"x", "--repo.poll=later"};
  auto flags = CommandLine::Parse(2, argv, {});
  ASSERT_TRUE(flags.ok());
  ASSERT_TRUE(c->ApplyFlags(*flags, kKeys, kMaps).ok());
  std::string flagged(c->GetDuration("repo.poll", absl::Seconds(1)).status().message());
  EXPECT_EQ(flagged.find("c.yaml"), std::string::npos) << flagged;
  EXPECT_NE(flagged.find("repo.poll"), std::string::npos) << flagged;
}

TEST(ConfigFileTest, DuplicateKeysAndMissingFilesAreErrors) {
  TempDir dir;
  WriteFileOrDie(dir.Sub("c.yaml"), "server: a\nserver: b\n");
  auto c = ConfigValues::LoadFile(dir.Sub("c.yaml"), kKeys, kMaps);
  ASSERT_FALSE(c.ok());
  EXPECT_NE(c.status().message().find("c.yaml:2:"), std::string::npos) << c.status();
  auto missing = ConfigValues::LoadFile(dir.Sub("nope.yaml"), kKeys, kMaps);
  EXPECT_TRUE(absl::IsNotFound(missing.status())) << missing.status();
}

TEST(CommandLineTest, ParsesFlagsPositionalsAndRepeats) {
  const char* argv[] = {"x", "apply", "--label", "a=b", "--label=c=d", "--once", "dir"};
  auto cl = CommandLine::Parse(7, argv, {"once"});
  ASSERT_TRUE(cl.ok());
  EXPECT_EQ(cl->positional(), (std::vector<std::string>{"apply", "dir"}));
  EXPECT_EQ(cl->GetAll("label"), (std::vector<std::string>{"a=b", "c=d"}));
  EXPECT_TRUE(cl->GetBool("once"));
  EXPECT_FALSE(cl->CheckKnown({"label"}).ok());
  EXPECT_TRUE(cl->CheckKnown({"label", "once"}).ok());
}

TEST(CommandLineTest, MissingValueIsAnError) {
  const char* argv[] = {"x", "--server"};
  auto cl = CommandLine::Parse(2, argv, {});
  ASSERT_FALSE(cl.ok());
  EXPECT_NE(cl.status().message().find("--server"), std::string::npos);
}

TEST(CommandLineTest, DurationsWithDays) {
  EXPECT_EQ(*ParseDurationText("30s"), absl::Seconds(30));
  EXPECT_EQ(*ParseDurationText("5m"), absl::Minutes(5));
  EXPECT_EQ(*ParseDurationText("2d"), absl::Hours(48));
  EXPECT_EQ(*ParseDurationText("1d12h"), absl::Hours(36));
  EXPECT_FALSE(ParseDurationText("5").ok());
  EXPECT_FALSE(ParseDurationText("").ok());
  EXPECT_FALSE(ParseDurationText("-5m").ok());
}

}  // namespace
}  // namespace plumb
