// Wire limits over real gRPC on 127.0.0.1 against a real server: a message over a limit ends
// its stream with INVALID_ARGUMENT naming the field and nothing else is affected; a report
// from the future is stored as of now; a 20,000-resource catalog reaches an agent's channel.

#include <chrono>
#include <string>

#include "absl/strings/str_cat.h"
#include "common/grpc_credentials.h"
#include "common/wire_limits.h"
#include "gtest/gtest.h"
#include "plumb/v1/agent.grpc.pb.h"
#include "plumb/v1/fleet.grpc.pb.h"
#include "server/plumb_server.h"
#include "tests/testing/git_fixture.h"
#include "tests/testing/test_util.h"

namespace plumb {
namespace {

using testing::GitFixture;
using testing::TempDir;

std::string ModuleWithFiles(int n) {
  std::string m = "resources:\n";
  for (int i = 0; i < n; ++i) {
    absl::StrAppend(&m, "  - file: /etc/f", i, "\n    content: \"file ", i, "\"\n");
  }
  return m;
}

class WireLimitsServiceTest : public ::testing::Test {
 protected:
  void StartServer(int files) {
    git_ = std::make_unique<GitFixture>(dir_.path());
    git_->Write("plumb.yaml", "version: 1\ntargets:\n  - {name: all, nodes: \"*\", modules: [base]}\n");
    git_->Write("modules/base/module.yaml", ModuleWithFiles(files));
    rev_ = git_->Commit("first");
    ServerConfig config;
    config.listen = "127.0.0.1:0";
    config.repo_url = git_->bare();
    config.repo_poll = absl::Hours(1);
    config.state_dir = dir_.Sub("server");
    config.insecure = true;
    auto server = PlumbServer::Start(config);
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = std::move(*server);
    // The agent's own channel arguments: its receive limit is what a big catalog must fit.
    channel_ = grpc::CreateCustomChannel(absl::StrCat("127.0.0.1:", server_->grpc_port()),
                                         grpc::InsecureChannelCredentials(),
                                         DefaultChannelArguments());
    agent_stub_ = v1::AgentService::NewStub(channel_);
    fleet_stub_ = v1::FleetService::NewStub(channel_);
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(120));
    v1::SyncResponse resp;
    grpc::Status synced = fleet_stub_->Sync(&ctx, v1::SyncRequest(), &resp);
    ASSERT_TRUE(synced.ok()) << synced.error_message();
  }

  struct Stream {
    grpc::ClientContext ctx;
    std::unique_ptr<grpc::ClientReaderWriter<v1::AgentMessage, v1::ServerMessage>> rw;
  };

  std::unique_ptr<Stream> Open(const v1::Hello& hello) {
    auto s = std::make_unique<Stream>();
    s->ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(60));
    s->rw = agent_stub_->Sync(&s->ctx);
    v1::AgentMessage msg;
    *msg.mutable_hello() = hello;
    s->rw->Write(msg);
    return s;
  }

  static v1::Hello HelloFor(const std::string& node) {
    v1::Hello hello;
    hello.set_node(node);
    return hello;
  }

  // Reads until the server ends the stream; returns its status.
  static grpc::Status Ended(Stream* s) {
    v1::ServerMessage ignored;
    while (s->rw->Read(&ignored)) {
    }
    return s->rw->Finish();
  }

  // A stream that got its catalog and acknowledged it.
  std::unique_ptr<Stream> Converge(const std::string& node, v1::CatalogUpdate* update) {
    auto s = Open(HelloFor(node));
    v1::ServerMessage msg;
    EXPECT_TRUE(s->rw->Read(&msg));
    EXPECT_TRUE(msg.has_update());
    v1::AgentMessage ack;
    ack.mutable_ack()->set_nonce(msg.update().nonce());
    EXPECT_TRUE(s->rw->Write(ack));
    *update = msg.update();
    return s;
  }

  TempDir dir_;
  std::unique_ptr<GitFixture> git_;
  std::string rev_;
  std::unique_ptr<PlumbServer> server_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<v1::AgentService::Stub> agent_stub_;
  std::unique_ptr<v1::FleetService::Stub> fleet_stub_;
};

TEST_F(WireLimitsServiceTest, AMillionDotFactKeyEndsOnlyItsOwnStream) {
  StartServer(3);
  v1::CatalogUpdate before;
  auto good = Converge("good-1", &before);
  v1::Hello hostile = HelloFor("hostile-1");
  std::string key = "a";
  for (int i = 0; i < 1000000; ++i) key += ".a";
  (*hostile.mutable_facts())[key] = "x";
  auto bad = Open(hostile);
  grpc::Status status = Ended(bad.get());
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(status.error_message().rfind("hello.facts key \"a.a.a", 0), 0u)
      << status.error_message();
  // The server is alive, the hostile node unknown to it, and a new agent still converges.
  grpc::ClientContext ctx;
  v1::GetNodeRequest req;
  req.set_name("hostile-1");
  v1::Node node;
  EXPECT_EQ(fleet_stub_->GetNode(&ctx, req, &node).error_code(), grpc::StatusCode::NOT_FOUND);
  v1::CatalogUpdate after;
  auto next = Converge("good-2", &after);
  EXPECT_EQ(after.catalog_digest(), before.catalog_digest());
}

TEST_F(WireLimitsServiceTest, AnOversizedReportFieldEndsTheStreamNamingIt) {
  StartServer(3);
  v1::CatalogUpdate update;
  auto s = Converge("n1", &update);
  v1::AgentMessage report;
  report.mutable_report()->set_id("r1");
  v1::ResourceResult* r = report.mutable_report()->add_results();
  r->set_id("file:/etc/f0");
  r->set_message(std::string(wire::kMaxResultMessageBytes + 1, 'm'));
  s->rw->Write(report);
  grpc::Status status = Ended(s.get());
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(status.error_message(),
            absl::StrCat("report.results[0].message: ", wire::kMaxResultMessageBytes + 1,
                         " bytes, limit ", wire::kMaxResultMessageBytes));
}

TEST_F(WireLimitsServiceTest, AReportFromTheFutureIsStoredAsOfNow) {
  StartServer(1);
  v1::CatalogUpdate update;
  auto s = Converge("n1", &update);
  int64_t year_ahead = absl::ToUnixMillis(absl::Now() + absl::Hours(24 * 365));
  v1::AgentMessage report;
  report.mutable_report()->set_id("future-1");
  report.mutable_report()->set_revision(rev_);
  report.mutable_report()->set_started_unix_ms(year_ahead);
  ASSERT_TRUE(s->rw->Write(report));
  v1::ServerMessage ack;
  ASSERT_TRUE(s->rw->Read(&ack));
  ASSERT_TRUE(ack.has_report_ack());
  grpc::ClientContext ctx;
  v1::GetReportRequest req;
  req.set_id("future-1");
  v1::Report stored;
  ASSERT_TRUE(fleet_stub_->GetReport(&ctx, req, &stored).ok());
  EXPECT_LE(stored.started_unix_ms(), absl::ToUnixMillis(absl::Now()));
  EXPECT_GT(stored.started_unix_ms(), absl::ToUnixMillis(absl::Now() - absl::Minutes(5)));
}

TEST_F(WireLimitsServiceTest, ATwentyThousandResourceCatalogReachesItsAgent) {
  StartServer(20000);
  v1::CatalogUpdate update;
  auto s = Converge("big-1", &update);
  EXPECT_EQ(update.upserted_size(), 20000);
  EXPECT_TRUE(update.full());
  // Over gRPC's default 4 MiB receive limit: what the agent's raised limit is for.
  EXPECT_GT(update.ByteSizeLong(), size_t{4} << 20);
  // Its reconnect lists every resource it holds: within the server's receive limit.
  v1::Hello again = HelloFor("big-1");
  for (const v1::Resource& r : update.upserted()) {
    (*again.mutable_resource_versions())[r.id()] = r.version();
  }
  again.set_catalog_digest(update.catalog_digest());
  s->ctx.TryCancel();
  auto second = Open(again);
  v1::ServerMessage msg;
  ASSERT_TRUE(second->rw->Read(&msg));
  EXPECT_EQ(msg.update().upserted_size(), 0);
  EXPECT_EQ(msg.update().catalog_digest(), update.catalog_digest());
}

}  // namespace
}  // namespace plumb
