// plumb-server's configuration: the observability keys (http_listen, webhook_secret,
// retention.*) from the YAML file and as flags, their defaults and their errors.

#include "server/server_config.h"

#include "gtest/gtest.h"
#include "tests/testing/test_util.h"

namespace plumb {
namespace {

using testing::TempDir;

absl::StatusOr<ServerConfig> Load(std::vector<std::string> args) {
  args.insert(args.begin(), "plumb-server");
  std::vector<const char*> argv;
  for (const std::string& a : args) argv.push_back(a.c_str());
  auto flags = CommandLine::Parse(static_cast<int>(argv.size()), argv.data(), ServerBoolFlags());
  if (!flags.ok()) return flags.status();
  return LoadServerConfig(*flags);
}

TEST(ServerConfigTest, Defaults) {
  auto c = Load({"--repo.url", "/srv/repo.git"});
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->http_listen, "127.0.0.1:7480");
  EXPECT_EQ(c->webhook_secret, "");
  EXPECT_EQ(c->retention_reports_per_node, 500);
  EXPECT_EQ(c->retention_max_age, absl::Hours(24 * 30));
}

TEST(ServerConfigTest, ExampleConfigFileLoadsAndFlagsWin) {
  TempDir dir;
  testing::WriteFileOrDie(dir.Sub("server.yaml"), R"(repo: {url: /srv/repo.git}
http_listen: 127.0.0.1:9100
webhook_secret: s3cret
retention:
  reports_per_node: 50
  max_age: 7d
)");
  auto c = Load({"--config", dir.Sub("server.yaml")});
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->http_listen, "127.0.0.1:9100");
  EXPECT_EQ(c->webhook_secret, "s3cret");
  EXPECT_EQ(c->retention_reports_per_node, 50);
  EXPECT_EQ(c->retention_max_age, absl::Hours(24 * 7));

  c = Load({"--config", dir.Sub("server.yaml"), "--retention.reports_per_node", "0",
            "--retention.max_age", "12h", "--http_listen", ""});
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->retention_reports_per_node, 0);
  EXPECT_EQ(c->retention_max_age, absl::Hours(12));
  EXPECT_EQ(c->http_listen, "");  // HTTP disabled
}

TEST(ServerConfigTest, ShippedExampleConfigIsValid) {
  auto c = Load({"--config", std::string(PLUMB_SOURCE_DIR) + "/deploy/config/server.yaml"});
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->retention_reports_per_node, 500);
  EXPECT_EQ(c->retention_max_age, absl::Hours(24 * 30));
}

TEST(ServerConfigTest, BadRetentionValuesAreNamed) {
  auto c = Load({"--repo.url", "/r", "--retention.reports_per_node", "lots"});
  EXPECT_EQ(c.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(c.status().message().find("retention.reports_per_node"), std::string::npos);
  c = Load({"--repo.url", "/r", "--retention.max_age", "a month"});
  EXPECT_EQ(c.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(c.status().message().find("retention.max_age"), std::string::npos);
  c = Load({"--repo.url", "/r", "--retention.reports_per_node", "-1"});
  EXPECT_FALSE(c.ok());
}

}  // namespace
}  // namespace plumb

namespace plumb {
namespace {

TEST(ServerConfigTest, StoreUrlAndPasswordFile) {
  testing::TempDir dir;
  testing::WriteFileOrDie(dir.Sub("server.yaml"), R"(repo: {url: /srv/repo.git}
store:
  url: "postgresql://plumb@db.example:5432/plumb?sslmode=verify-full"
  password_file: /etc/plumb/db-password
)");
  auto c = Load({"--config", dir.Sub("server.yaml")});
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->store_url, "postgresql://plumb@db.example:5432/plumb?sslmode=verify-full");
  EXPECT_EQ(c->store_password_file, "/etc/plumb/db-password");

  auto sqlite = Load({"--repo.url", "/srv/repo.git"});
  ASSERT_TRUE(sqlite.ok()) << sqlite.status();
  EXPECT_EQ(sqlite->store_url, "");  // the default: SQLite under state_dir

  auto orphan = Load({"--repo.url", "/srv/repo.git", "--store.password_file", "/x"});
  EXPECT_EQ(orphan.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(orphan.status().message().find("needs store.url"), absl::string_view::npos)
      << orphan.status();
}

}  // namespace
}  // namespace plumb
