// plumb-server's security settings from YAML and flags: SAN and token lists, agent certificate
// lifetime, TLS defaults from the built-in CA, and --insecure kept on loopback.

#include "server/security/security_config.h"

#include "absl/time/clock.h"
#include "gtest/gtest.h"
#include "server/security/certificate_authority.h"
#include "server/server_config.h"
#include "tests/testing/test_util.h"

namespace plumb {
namespace {

using testing::TempDir;
using testing::WriteFileOrDie;

absl::StatusOr<ServerConfig> Load(std::vector<std::string> args) {
  args.insert(args.begin(), "plumb-server");
  std::vector<const char*> argv;
  for (const std::string& a : args) argv.push_back(a.c_str());
  auto flags = CommandLine::Parse(static_cast<int>(argv.size()), argv.data(), ServerBoolFlags());
  if (!flags.ok()) return flags.status();
  return LoadServerConfig(*flags);
}

TEST(SecurityConfigTest, ListsFromYamlAndFlags) {
  TempDir dir;
  WriteFileOrDie(dir.Sub("s.yaml"),
                 "repo: {url: /r}\n"
                 "tls:\n  san: [plumb.example.org, 10.0.0.5]\n  agent_cert_lifetime: 2h\n"
                 "operator_tokens:\n  - token-one-0123456789\n  - sha256:abc\n");
  auto c = Load({"--config", dir.Sub("s.yaml"), "--state_dir", dir.Sub("state")});
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->security.tls_san, (std::vector<std::string>{"plumb.example.org", "10.0.0.5"}));
  EXPECT_EQ(c->security.operator_tokens.size(), 2u);
  EXPECT_EQ(c->security.agent_cert_lifetime, absl::Hours(2));
  auto flags = Load({"--config", dir.Sub("s.yaml"), "--tls.san", "a,b", "--tls.san", "c"});
  ASSERT_TRUE(flags.ok()) << flags.status();
  EXPECT_EQ(flags->security.tls_san, (std::vector<std::string>{"a", "b", "c"}));
  auto defaults = Load({"--repo.url", "/r"});
  EXPECT_EQ(defaults->security.tls_san, (std::vector<std::string>{"localhost", "127.0.0.1"}));
}

TEST(SecurityConfigTest, BadValuesAreNamed) {
  auto c = Load({"--repo.url", "/r", "--tls.agent_cert_lifetime", "1s"});
  EXPECT_FALSE(c.ok());
  EXPECT_NE(c.status().message().find("tls.agent_cert_lifetime"), std::string::npos);
  TempDir dir;
  WriteFileOrDie(dir.Sub("s.yaml"), "repo: {url: /r}\ntls: {san: [{a: b}]}\n");
  c = Load({"--config", dir.Sub("s.yaml")});
  EXPECT_FALSE(c.ok());
  EXPECT_NE(c.status().message().find("tls.san"), std::string::npos);
  WriteFileOrDie(dir.Sub("l.yaml"), "repo: {url: [/r]}\n");  // not a list key
  EXPECT_FALSE(Load({"--config", dir.Sub("l.yaml")}).ok());
}

TEST(SecurityConfigTest, TlsDefaultsToTheBuiltInCaAfterCaInit) {
  TempDir dir;
  std::string state = dir.Sub("state");
  auto before = Load({"--repo.url", "/r", "--state_dir", state});
  ASSERT_TRUE(before.ok());
  EXPECT_TRUE(before->tls.empty());
  ASSERT_TRUE(CertificateAuthority::Init(state + "/ca", {"localhost"}, absl::Now()).ok());
  auto after = Load({"--repo.url", "/r", "--state_dir", state});
  ASSERT_TRUE(after.ok());
  EXPECT_EQ(after->tls.cert, state + "/ca/server.pem");
  EXPECT_EQ(after->tls.key, state + "/ca/server.key");
  EXPECT_EQ(after->tls.ca, state + "/ca/ca.pem");
  auto own = Load({"--repo.url", "/r", "--state_dir", state, "--tls.cert", "/c", "--tls.key", "/k"});
  EXPECT_EQ(own->tls.cert, "/c");
  EXPECT_EQ(own->tls.ca, "");
}

TEST(SecurityConfigTest, InsecureStaysOnLoopbackUnlessAsked) {
  auto c = Load({"--repo.url", "/r", "--insecure", "--listen", "0.0.0.0:7443"});
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->listen, "127.0.0.1:7443");
  auto any = Load({"--repo.url", "/r", "--insecure", "--insecure-bind-any", "--listen",
                   "0.0.0.0:7443"});
  ASSERT_TRUE(any.ok()) << any.status();
  EXPECT_EQ(any->listen, "0.0.0.0:7443");
  auto tls = Load({"--repo.url", "/r", "--listen", "0.0.0.0:7443"});
  EXPECT_EQ(tls->listen, "0.0.0.0:7443");
  EXPECT_TRUE(IsLoopbackListen("127.0.0.2:1"));
  EXPECT_TRUE(IsLoopbackListen("[::1]:1"));
  EXPECT_TRUE(IsLoopbackListen("localhost:1"));
  EXPECT_FALSE(IsLoopbackListen("10.0.0.1:1"));
  EXPECT_FALSE(IsLoopbackListen("[::]:1"));
}

}  // namespace
}  // namespace plumb
