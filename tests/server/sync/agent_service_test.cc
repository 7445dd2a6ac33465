// The Sync protocol's server half over real gRPC on 127.0.0.1, against a real git repository
// and a real SQLite store: Hello/CatalogUpdate/Ack, deltas on reconnect, NACKs, idempotent
// reports, GetBlob.

#include "server/sync/agent_service.h"

#include <set>

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

constexpr char kPlumbYaml[] = R"(version: 1
targets:
  - name: all
    nodes: "*"
    modules: [base]
)";

std::string ModuleWithFiles(int n, const std::string& changed_content) {
  std::string m = "resources:\n";
  for (int i = 0; i < n; ++i) {
    m += "  - file: /etc/f" + std::to_string(i) + "\n    content: \"" +
         (i == 0 ? changed_content : "file " + std::to_string(i)) + "\"\n";
  }
  return m;
}

class AgentServiceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    git_ = std::make_unique<GitFixture>(dir_.path());
    git_->Write("plumb.yaml", kPlumbYaml);
    git_->Write("modules/base/module.yaml", ModuleWithFiles(5, "v1"));
    rev1_ = git_->Commit("first");
    StartServer();
  }

  void StartServer() {
    ServerConfig config;
    config.listen = "127.0.0.1:0";
    config.repo_url = git_->bare();
    config.repo_poll = absl::Hours(1);
    config.state_dir = dir_.Sub("server");
    config.insecure = true;
    auto server = PlumbServer::Start(config);
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = std::move(*server);
    channel_ = grpc::CreateChannel("127.0.0.1:" + std::to_string(server_->grpc_port()),
                                   grpc::InsecureChannelCredentials());
    agent_stub_ = v1::AgentService::NewStub(channel_);
    fleet_stub_ = v1::FleetService::NewStub(channel_);
    SyncRepo();
  }

  void SyncRepo() {
    grpc::ClientContext ctx;
    v1::SyncResponse resp;
    ASSERT_TRUE(fleet_stub_->Sync(&ctx, v1::SyncRequest(), &resp).ok());
  }

  // One open stream.
  struct Stream {
    grpc::ClientContext ctx;
    std::unique_ptr<grpc::ClientReaderWriter<v1::AgentMessage, v1::ServerMessage>> rw;
  };

  std::unique_ptr<Stream> Open(const std::string& node,
                               const std::map<std::string, std::string>& held = {},
                               const std::string& digest = "") {
    auto s = std::make_unique<Stream>();
    s->ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(20));
    s->rw = agent_stub_->Sync(&s->ctx);
    v1::AgentMessage hello;
    hello.mutable_hello()->set_node(node);
    hello.mutable_hello()->set_catalog_digest(digest);
    for (const auto& [id, v] : held) (*hello.mutable_hello()->mutable_resource_versions())[id] = v;
    EXPECT_TRUE(s->rw->Write(hello));
    return s;
  }

  v1::ServerMessage Next(Stream* s) {
    v1::ServerMessage msg;
    EXPECT_TRUE(s->rw->Read(&msg));
    return msg;
  }

  void AckOk(Stream* s, const std::string& nonce) {
    v1::AgentMessage ack;
    ack.mutable_ack()->set_nonce(nonce);
    ASSERT_TRUE(s->rw->Write(ack));
  }

  // A stream that received its first catalog and acknowledged it; `held` and `digest` get
  // what the agent now holds.
  std::unique_ptr<Stream> OpenAndAck(const std::string& node,
                                     std::map<std::string, std::string>* held,
                                     std::string* digest) {
    auto s = Open(node);
    v1::ServerMessage first = Next(s.get());
    for (const auto& r : first.update().upserted()) (*held)[r.id()] = r.version();
    *digest = first.update().catalog_digest();
    AckOk(s.get(), first.update().nonce());
    return s;
  }

  v1::Node GetNode(const std::string& name) {
    grpc::ClientContext ctx;
    v1::GetNodeRequest req;
    req.set_name(name);
    v1::Node node;
    EXPECT_TRUE(fleet_stub_->GetNode(&ctx, req, &node).ok());
    return node;
  }

  TempDir dir_;
  std::unique_ptr<GitFixture> git_;
  std::string rev1_;
  std::unique_ptr<PlumbServer> server_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<v1::AgentService::Stub> agent_stub_;
  std::unique_ptr<v1::FleetService::Stub> fleet_stub_;
};

TEST_F(AgentServiceTest, HelloGetsFullCatalogThenOnlyChangedResources) {
  auto s = Open("n1");
  v1::ServerMessage first = Next(s.get());
  ASSERT_TRUE(first.has_update());
  EXPECT_TRUE(first.update().full());
  EXPECT_EQ(first.update().revision(), rev1_);
  EXPECT_EQ(first.update().upserted_size(), 5);
  AckOk(s.get(), first.update().nonce());

  git_->Write("modules/base/module.yaml", ModuleWithFiles(5, "v2"));
  std::string rev2 = git_->Commit("change one file");
  SyncRepo();
  v1::ServerMessage second = Next(s.get());
  ASSERT_TRUE(second.has_update());
  EXPECT_FALSE(second.update().full());
  EXPECT_EQ(second.update().revision(), rev2);
  ASSERT_EQ(second.update().upserted_size(), 1);
  EXPECT_EQ(second.update().upserted(0).id(), "file:/etc/f0");
  EXPECT_EQ(second.update().order_size(), 5);
}

TEST_F(AgentServiceTest, AgentsOfAGroupShareDeltasButAHelloCannotPoisonThem) {
  // a and b acknowledge rev1 from this server; c claims rev1's digest with a held map that
  // lies about one resource (as a broken or hostile agent could).
  std::map<std::string, std::string> held;
  std::string digest;
  auto a = OpenAndAck("a", &held, &digest);
  auto b = Open("b");
  AckOk(b.get(), Next(b.get()).update().nonce());
  std::map<std::string, std::string> lying = held;
  lying["file:/etc/f3"] = "not-the-real-version";
  auto c = Open("c", lying, digest);
  v1::ServerMessage c_first = Next(c.get());
  ASSERT_TRUE(c_first.has_update());
  AckOk(c.get(), c_first.update().nonce());
  v1::AgentMessage hb;
  hb.mutable_heartbeat();
  ASSERT_TRUE(c->rw->Write(hb));
  ASSERT_TRUE(Next(c.get()).has_heartbeat());  // c's ack handled: its held state is now ours

  git_->Write("modules/base/module.yaml", ModuleWithFiles(5, "v2"));
  std::string rev2 = git_->Commit("change one file");
  SyncRepo();
  for (auto* s : {a.get(), b.get(), c.get()}) {
    v1::ServerMessage m = Next(s);
    ASSERT_TRUE(m.has_update());
    EXPECT_EQ(m.update().revision(), rev2);
    ASSERT_EQ(m.update().upserted_size(), 1);
    EXPECT_EQ(m.update().upserted(0).id(), "file:/etc/f0");
  }
}

TEST_F(AgentServiceTest, AHelloWithALyingHeldMapGetsWhatItReallyNeeds) {
  std::map<std::string, std::string> held;
  std::string digest;
  auto a = OpenAndAck("a", &held, &digest);
  git_->Write("modules/base/module.yaml", ModuleWithFiles(5, "v2"));
  SyncRepo();
  git_->Commit("change one file");
  SyncRepo();
  ASSERT_EQ(Next(a.get()).update().upserted_size(), 1);  // cached: (rev2, rev1 digest)
  // d claims rev1's digest but lacks f3's version: its delta must include f3, not reuse a's.
  std::map<std::string, std::string> lying = held;
  lying.erase("file:/etc/f3");
  auto d = Open("d", lying, digest);
  v1::ServerMessage m = Next(d.get());
  ASSERT_TRUE(m.has_update());
  std::set<std::string> ids;
  for (const auto& r : m.update().upserted()) ids.insert(r.id());
  EXPECT_TRUE(ids.count("file:/etc/f0"));
  EXPECT_TRUE(ids.count("file:/etc/f3"));
}

TEST_F(AgentServiceTest, ReconnectWithHeldVersionsGetsAnEmptyDelta) {
  std::map<std::string, std::string> held;
  std::string digest;
  {
    auto s = Open("n1");
    v1::ServerMessage m = Next(s.get());
    for (const auto& r : m.update().upserted()) held[r.id()] = r.version();
    digest = m.update().catalog_digest();
    AckOk(s.get(), m.update().nonce());
    s->ctx.TryCancel();
  }
  // A restarted server resumes from what the agent holds.
  server_.reset();
  StartServer();
  auto s = Open("n1", held, digest);
  v1::ServerMessage m = Next(s.get());
  ASSERT_TRUE(m.has_update());
  EXPECT_FALSE(m.update().full());
  EXPECT_EQ(m.update().upserted_size(), 0);
  EXPECT_EQ(m.update().catalog_digest(), digest);
  EXPECT_EQ(server_->hub()->resources_sent(), 0);
}

TEST_F(AgentServiceTest, ReportIsStoredOnceAndAcknowledgedEachTime) {
  auto s = Open("n1");
  v1::ServerMessage m = Next(s.get());
  AckOk(s.get(), m.update().nonce());
  v1::AgentMessage report;
  report.mutable_report()->set_id("r-1");
  report.mutable_report()->set_node("someone-else");  // ignored: the stream's node counts
  report.mutable_report()->set_revision(rev1_);
  report.mutable_report()->set_trigger(v1::CATALOG);
  auto* res = report.mutable_report()->add_results();
  res->set_id("file:/etc/f0");
  res->set_outcome(v1::CHANGED);
  for (int i = 0; i < 2; ++i) {
    ASSERT_TRUE(s->rw->Write(report));
    v1::ServerMessage ack = Next(s.get());
    ASSERT_TRUE(ack.has_report_ack());
    EXPECT_EQ(ack.report_ack().report_id(), "r-1");
  }
  grpc::ClientContext ctx;
  v1::ListReportsRequest req;
  v1::ListReportsResponse resp;
  ASSERT_TRUE(fleet_stub_->ListReports(&ctx, req, &resp).ok());
  ASSERT_EQ(resp.reports_size(), 1);
  EXPECT_EQ(resp.reports(0).node(), "n1");
  v1::Node node = GetNode("n1");
  EXPECT_EQ(node.status(), v1::NODE_CONVERGED);
  EXPECT_EQ(node.applied_revision(), rev1_);
}

TEST_F(AgentServiceTest, NackMarksNodeFailedAndIsNotResent) {
  auto s = Open("n1");
  v1::ServerMessage m = Next(s.get());
  v1::AgentMessage nack;
  nack.mutable_ack()->set_nonce(m.update().nonce());
  nack.mutable_ack()->set_error("disk full");
  ASSERT_TRUE(s->rw->Write(nack));
  // A heartbeat round trip proves the NACK was handled (same worker queue, FIFO).
  v1::AgentMessage hb;
  hb.mutable_heartbeat()->set_unix_ms(1);
  ASSERT_TRUE(s->rw->Write(hb));
  v1::ServerMessage reply = Next(s.get());
  EXPECT_TRUE(reply.has_heartbeat()) << reply.DebugString();
  v1::Node node = GetNode("n1");
  EXPECT_EQ(node.status(), v1::NODE_FAILED);
  EXPECT_NE(node.last_error().find("disk full"), std::string::npos);
}

TEST_F(AgentServiceTest, FirstMessageMustBeHello) {
  grpc::ClientContext ctx;
  auto rw = agent_stub_->Sync(&ctx);
  v1::AgentMessage ack;
  ack.mutable_ack()->set_nonce("1");
  ASSERT_TRUE(rw->Write(ack));
  v1::ServerMessage msg;
  EXPECT_FALSE(rw->Read(&msg));
  grpc::Status status = rw->Finish();
  EXPECT_EQ(status.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
}

TEST_F(AgentServiceTest, GetBlobStreamsContentNamedByCatalog) {
  auto s = Open("n1");
  v1::ServerMessage m = Next(s.get());
  const v1::Resource& r = m.update().upserted(0);
  ASSERT_FALSE(r.content_digest().empty());
  grpc::ClientContext ctx;
  v1::GetBlobRequest req;
  req.set_digest(r.content_digest());
  auto reader = agent_stub_->GetBlob(&ctx, req);
  std::string content;
  v1::BlobChunk chunk;
  while (reader->Read(&chunk)) content += chunk.data();
  ASSERT_TRUE(reader->Finish().ok());
  EXPECT_EQ(content, "v1");

  grpc::ClientContext ctx2;
  req.set_digest(std::string(64, '0'));
  auto missing = agent_stub_->GetBlob(&ctx2, req);
  while (missing->Read(&chunk)) {
  }
  EXPECT_EQ(missing->Finish().error_code(), grpc::StatusCode::NOT_FOUND);
}

}  // namespace
}  // namespace plumb
