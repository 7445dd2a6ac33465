// The observability surfaces of a whole PlumbServer over real gRPC and HTTP on 127.0.0.1:
// WatchEvents sees revisions, connections, runs and drift repairs as they happen; GetNode
// carries the last run and failing resources; ListResourceEvents answers fleet-wide; /metrics
// counts it all and passes promtool; /readyz and grpc.health.v1 report the server ready.

#include <thread>

#include "gtest/gtest.h"
#include "plumb/v1/agent.grpc.pb.h"
#include "plumb/v1/fleet.grpc.pb.h"
#include "server/plumb_server.h"
#include "tests/testing/git_fixture.h"
#include "tests/testing/http_client.h"
#include "tests/testing/test_util.h"

namespace plumb {
namespace {

using testing::GitFixture;
using testing::HttpRequest;
using testing::TempDir;

constexpr char kPlumbYaml[] = "version: 1\ntargets:\n  - name: all\n    nodes: \"*\"\n"
                              "    modules: [base]\n";
constexpr char kModule[] = "resources:\n  - file: /etc/motd\n    content: \"hi\"\n"
                           "  - file: /etc/issue\n    content: \"x\"\n";

// A WatchEvents call held open by the test.
struct Watch {
  grpc::ClientContext ctx;
  std::unique_ptr<grpc::ClientReader<v1::Event>> reader;

  // The next event of `kind`, skipping others; fails the test if the stream ends first.
  v1::Event Next(v1::EventKind kind) {
    v1::Event e;
    while (reader->Read(&e)) {
      if (e.kind() == kind) return e;
    }
    ADD_FAILURE() << "stream ended before a " << v1::EventKind_Name(kind) << " event";
    return e;
  }
};

class FleetObservabilityTest : public ::testing::Test {
 protected:
  void SetUp() override {
    git_ = std::make_unique<GitFixture>(dir_.path());
    git_->Write("plumb.yaml", kPlumbYaml);
    git_->Write("modules/base/module.yaml", kModule);
    rev1_ = git_->Commit("first");
    ServerConfig config;
    config.listen = "127.0.0.1:0";
    config.http_listen = "127.0.0.1:0";
    config.repo_url = git_->bare();
    config.repo_poll = absl::Hours(1);
    config.state_dir = dir_.Sub("server");
    config.insecure = true;
    auto server = PlumbServer::Start(config);
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = std::move(*server);
    auto channel = grpc::CreateChannel("127.0.0.1:" + std::to_string(server_->grpc_port()),
                                       grpc::InsecureChannelCredentials());
    fleet_ = v1::FleetService::NewStub(channel);
    agent_ = v1::AgentService::NewStub(channel);
  }

  std::unique_ptr<Watch> StartWatch(const v1::WatchEventsRequest& req = {}) {
    auto w = std::make_unique<Watch>();
    w->ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
    w->reader = fleet_->WatchEvents(&w->ctx, req);
    w->reader->WaitForInitialMetadata();  // sent once the server has subscribed
    return w;
  }

  void Sync() {
    grpc::ClientContext ctx;
    v1::SyncResponse resp;
    ASSERT_TRUE(fleet_->Sync(&ctx, v1::SyncRequest(), &resp).ok());
  }

  std::string Metrics() { return HttpRequest(server_->http_port(), "GET", "/metrics").body; }

  TempDir dir_;
  std::unique_ptr<GitFixture> git_;
  std::string rev1_;
  std::unique_ptr<PlumbServer> server_;
  std::unique_ptr<v1::FleetService::Stub> fleet_;
  std::unique_ptr<v1::AgentService::Stub> agent_;
};

TEST_F(FleetObservabilityTest, WatchSeesRevisionsNodesRunsAndDrift) {
  auto watch = StartWatch();
  EXPECT_EQ(server_->events()->subscribers(), 1);
  // The poller may have evaluated rev1 before we subscribed: watch a commit made after.
  git_->Write("modules/base/module.yaml", std::string(kModule) + "  - file: /etc/hosts\n"
                                          "    content: \"h\"\n");
  std::string rev2 = git_->Commit("second");
  Sync();
  v1::Event fetched = watch->Next(v1::EVENT_REVISION_FETCHED);
  while (fetched.revision() == rev1_) fetched = watch->Next(v1::EVENT_REVISION_FETCHED);
  EXPECT_EQ(fetched.revision(), rev2);
  EXPECT_EQ(fetched.message(), "second");
  v1::Event compiled = watch->Next(v1::EVENT_REVISION_COMPILED);
  while (compiled.revision() == rev1_) compiled = watch->Next(v1::EVENT_REVISION_COMPILED);
  EXPECT_EQ(compiled.revision(), rev2);

  git_->Write("plumb.yaml", "version: 1\ntargets: [oops");
  std::string bad = git_->Commit("broken");
  Sync();
  v1::Event failed = watch->Next(v1::EVENT_REVISION_FAILED);
  EXPECT_EQ(failed.revision(), bad);
  EXPECT_NE(failed.message().find("plumb.yaml"), std::string::npos) << failed.message();

  grpc::ClientContext actx;
  auto stream = agent_->Sync(&actx);
  v1::AgentMessage hello;
  hello.mutable_hello()->set_node("web-1");
  ASSERT_TRUE(stream->Write(hello));
  EXPECT_EQ(watch->Next(v1::EVENT_NODE_CONNECTED).node(), "web-1");

  v1::AgentMessage msg;
  v1::Report* report = msg.mutable_report();
  report->set_id("r-drift");
  report->set_revision(rev1_);
  report->set_trigger(v1::DRIFT);
  report->set_duration_us(1500);
  report->set_started_unix_ms(absl::ToUnixMillis(absl::Now()));
  report->add_results()->set_id("file:/etc/motd");
  report->mutable_results(0)->set_outcome(v1::CHANGED);
  report->add_results()->set_id("file:/etc/issue");
  report->mutable_results(1)->set_outcome(v1::UNCHANGED);
  ASSERT_TRUE(stream->Write(msg));
  v1::Event finished = watch->Next(v1::EVENT_RUN_FINISHED);
  EXPECT_EQ(finished.node(), "web-1");
  EXPECT_EQ(finished.report().changed(), 1);
  EXPECT_EQ(finished.report().unchanged(), 1);
  v1::Event drift = watch->Next(v1::EVENT_DRIFT_REPAIRED);
  EXPECT_EQ(drift.message(), "repaired file:/etc/motd");
  EXPECT_GT(drift.seq(), finished.seq());

  actx.TryCancel();
  EXPECT_EQ(watch->Next(v1::EVENT_NODE_DISCONNECTED).node(), "web-1");
}

TEST_F(FleetObservabilityTest, WatchFiltersByKind) {
  v1::WatchEventsRequest req;
  req.add_kinds(v1::EVENT_REVISION_COMPILED);
  auto watch = StartWatch(req);
  git_->Write("modules/base/module.yaml", kModule + std::string("# new commit\n"));
  std::string rev2 = git_->Commit("second");
  Sync();
  v1::Event e;
  do {
    ASSERT_TRUE(watch->reader->Read(&e));
    // Every event passed the filter (the FETCHED ones were dropped by the server).
    EXPECT_EQ(e.kind(), v1::EVENT_REVISION_COMPILED);
  } while (e.revision() != rev2);
}

TEST_F(FleetObservabilityTest, NodeShowsLastRunAndFailingResourcesAndMetricsCount) {
  Sync();
  grpc::ClientContext actx;
  auto stream = agent_->Sync(&actx);
  v1::AgentMessage hello;
  hello.mutable_hello()->set_node("web-2");
  ASSERT_TRUE(stream->Write(hello));
  v1::AgentMessage msg;
  v1::Report* report = msg.mutable_report();
  report->set_id("r-fail");
  report->set_revision(rev1_);
  report->set_trigger(v1::CATALOG);
  report->set_duration_us(2000000);
  v1::ResourceResult* bad = report->add_results();
  bad->set_id("file:/etc/issue");
  bad->set_outcome(v1::FAILED);
  bad->set_message("permission denied");
  bad->set_diff("--- a\n+++ b\n");
  ASSERT_TRUE(stream->Write(msg));
  v1::ServerMessage in;
  while (stream->Read(&in) && !in.has_report_ack()) {
  }
  ASSERT_TRUE(in.has_report_ack());

  grpc::ClientContext ctx;
  v1::GetNodeRequest get;
  get.set_name("web-2");
  v1::Node node;
  ASSERT_TRUE(fleet_->GetNode(&ctx, get, &node).ok());
  EXPECT_EQ(node.last_run().id(), "r-fail");
  EXPECT_EQ(node.last_run().failed(), 1);
  ASSERT_EQ(node.failing_resources_size(), 1);
  EXPECT_EQ(node.failing_resources(0).id(), "file:/etc/issue");
  EXPECT_EQ(node.failing_resources(0).message(), "permission denied");
  EXPECT_EQ(node.failing_resources(0).diff(), "");

  grpc::ClientContext ectx;
  v1::ListResourceEventsRequest ereq;
  ereq.set_outcome(v1::FAILED);
  v1::ListResourceEventsResponse eresp;
  ASSERT_TRUE(fleet_->ListResourceEvents(&ectx, ereq, &eresp).ok());
  ASSERT_EQ(eresp.events_size(), 1);
  EXPECT_EQ(eresp.events(0).node(), "web-2");

  std::string metrics = Metrics();
  EXPECT_NE(metrics.find("plumb_reports_received_total{outcome=\"failed\"} 1\n"), std::string::npos)
      << metrics;
  EXPECT_NE(metrics.find("plumb_connected_agents 1\n"), std::string::npos);
  EXPECT_NE(metrics.find("plumb_apply_duration_seconds_sum 2\n"), std::string::npos);
  EXPECT_NE(metrics.find("plumb_catalog_updates_sent_total 1\n"), std::string::npos);
  EXPECT_NE(metrics.find("plumb_catalog_resources_sent_total 2\n"), std::string::npos);
  EXPECT_NE(metrics.find("plumb_compile_duration_seconds_count 1\n"), std::string::npos);
  EXPECT_NE(metrics.find("plumb_nodes{status=\"failed\"} 1\n"), std::string::npos);
  EXPECT_NE(metrics.find("plumb_nodes{status=\"converged\"} 0\n"), std::string::npos);
  EXPECT_NE(metrics.find("plumb_repository_fetch_ok 1\n"), std::string::npos);

  if (testing::RunShell("command -v promtool") == 0) {
    testing::WriteFileOrDie(dir_.Sub("metrics.txt"), metrics);
    std::string out;
    EXPECT_EQ(testing::RunShell("promtool check metrics < " + dir_.Sub("metrics.txt"), &out), 0)
        << out;
    EXPECT_EQ(out, "");
  }
}

TEST_F(FleetObservabilityTest, ReadyAfterFetchAndHealthServing) {
  Sync();
  EXPECT_EQ(HttpRequest(server_->http_port(), "GET", "/readyz").status, 200);
  EXPECT_EQ(HttpRequest(server_->http_port(), "GET", "/healthz").status, 200);
}

TEST_F(FleetObservabilityTest, ShutdownEndsWatchers) {
  auto watch = StartWatch();
  absl::Time start = absl::Now();
  std::thread stopper([&] { server_->Shutdown(); });
  v1::Event e;
  while (watch->reader->Read(&e)) {
  }
  grpc::Status st = watch->reader->Finish();
  stopper.join();
  EXPECT_FALSE(st.ok());
  EXPECT_LT(absl::Now() - start, absl::Seconds(2)) << "watchers should not wait for the deadline";
}

}  // namespace
}  // namespace plumb
