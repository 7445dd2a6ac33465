// Flow control of Sync streams over real gRPC on 127.0.0.1, a real git repository and a real
// SQLite store: a flooding agent's unread input is bounded and it does not delay another
// agent's Hello; a report the store refused is stored again on the same stream.

#include <sqlite3.h>

#include <atomic>
#include <thread>

#include "absl/cleanup/cleanup.h"
#include "absl/synchronization/notification.h"
#include "gtest/gtest.h"
#include "plumb/v1/agent.grpc.pb.h"
#include "plumb/v1/fleet.grpc.pb.h"
#include "server/sync/agent_session.h"
#include "server/plumb_server.h"
#include "tests/testing/git_fixture.h"
#include "tests/testing/test_util.h"

namespace plumb {
namespace {

using testing::GitFixture;
using testing::TempDir;

// Polls `condition` until it holds or `limit` passes; returns whether it held.
bool WaitUntil(const std::function<bool()>& condition, absl::Duration limit = absl::Seconds(20)) {
  absl::Time deadline = absl::Now() + limit;
  while (!condition()) {
    if (absl::Now() > deadline) return false;
    absl::SleepFor(absl::Milliseconds(2));
  }
  return true;
}

class StreamFlowControlTest : public ::testing::Test {
 protected:
  using Stream = grpc::ClientReaderWriter<v1::AgentMessage, v1::ServerMessage>;

  void SetUp() override {
    git_ = std::make_unique<GitFixture>(dir_.path());
    git_->Write("plumb.yaml",
                "version: 1\ntargets:\n  - name: all\n    nodes: \"*\"\n    modules: [base]\n");
    git_->Write("modules/base/module.yaml",
                "resources:\n  - file: /etc/motd\n    content: \"hi\"\n");
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
    auto channel = grpc::CreateChannel("127.0.0.1:" + std::to_string(server_->grpc_port()),
                                       grpc::InsecureChannelCredentials());
    agent_stub_ = v1::AgentService::NewStub(channel);
    fleet_stub_ = v1::FleetService::NewStub(channel);
    grpc::ClientContext ctx;
    v1::SyncResponse resp;
    ASSERT_TRUE(fleet_stub_->Sync(&ctx, v1::SyncRequest(), &resp).ok());
  }

  std::unique_ptr<Stream> Open(grpc::ClientContext* ctx, const std::string& node) {
    ctx->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(60));
    auto stream = agent_stub_->Sync(ctx);
    v1::AgentMessage hello;
    hello.mutable_hello()->set_node(node);
    EXPECT_TRUE(stream->Write(hello));
    return stream;
  }

  v1::AgentMessage Report(const std::string& id) {
    v1::AgentMessage msg;
    msg.mutable_report()->set_id(id);
    msg.mutable_report()->set_revision(rev_);
    msg.mutable_report()->set_trigger(v1::INTERVAL);
    auto* result = msg.mutable_report()->add_results();
    result->set_id("file:/etc/motd");
    result->set_outcome(v1::UNCHANGED);
    result->set_message(std::string(512, 'x'));
    return msg;
  }

  TempDir dir_;
  std::unique_ptr<GitFixture> git_;
  std::string rev_;
  std::unique_ptr<PlumbServer> server_;
  std::unique_ptr<v1::AgentService::Stub> agent_stub_;
  std::unique_ptr<v1::FleetService::Stub> fleet_stub_;
};

// Agent "a" floods reports without reading acks while the hub's worker is held up: the server
// stops reading it at kMaxQueuedMessages, and agent "b"'s Hello, read after that, is handled
// behind at most those few messages instead of behind the whole flood.
TEST_F(StreamFlowControlTest, AFloodingAgentIsReadNoFurtherThanTheBound) {
  constexpr int kBound = AgentSession::kMaxQueuedMessages;
  StreamHub* hub = server_->hub();
  auto events = server_->events()->Subscribe();
  // Holds the hub's worker until released: whatever the agents send meanwhile waits in queues.
  absl::Notification release;
  hub->RequestRun({}, {"nobody"}, false, "gate",
                  [&release](std::vector<std::string>) { release.WaitForNotification(); });

  grpc::ClientContext a_ctx;
  auto a = Open(&a_ctx, "a");
  std::atomic<int> written{0};
  std::thread flood([&] {
    for (int i = 0; i < 2000; ++i) {
      if (!a->Write(Report("a-" + std::to_string(i)))) return;  // cancelled at the end
      ++written;
    }
  });
  // However the test ends: the flood stops and the worker goes on (or the server cannot stop).
  absl::Cleanup stop = [&] {
    a_ctx.TryCancel();
    flood.join();
    if (!release.HasBeenNotified()) release.Notify();
  };
  // gRPC buffers what the server does not read, up to its flow-control window; whatever that
  // holds, the hub must not take more than the bound.
  ASSERT_TRUE(WaitUntil([&] { return hub->queued_messages() >= kBound; }));
  ASSERT_TRUE(WaitUntil([&] { return written.load() >= 20; }));
  EXPECT_EQ(hub->queued_messages(), kBound);
  EXPECT_EQ(hub->max_stream_backlog(), kBound);

  grpc::ClientContext b_ctx;
  auto b = Open(&b_ctx, "b");
  EXPECT_TRUE(WaitUntil([&] { return hub->queued_messages() == kBound + 1; }))
      << hub->queued_messages();
  release.Notify();

  v1::ServerMessage b_first;
  ASSERT_TRUE(b->Read(&b_first));
  EXPECT_TRUE(b_first.has_update());
  // The order the worker handled things in: a's Hello, at most kBound - 1 of a's reports,
  // then b's Hello.
  int a_reports_before_b = 0;
  v1::Event event;
  while (events->WaitPop(&event, absl::Seconds(10))) {
    if (event.kind() == v1::EVENT_NODE_CONNECTED && event.node() == "b") break;
    if (event.kind() == v1::EVENT_RUN_FINISHED && event.node() == "a") ++a_reports_before_b;
  }
  EXPECT_EQ(event.node(), "b");
  EXPECT_LE(a_reports_before_b, kBound - 1);

  // The flood goes on being read, bounded, once the worker keeps up.
  int before = written.load();
  EXPECT_TRUE(WaitUntil([&] { return written.load() > before + 100 || written.load() == 2000; }));
  EXPECT_LE(hub->max_stream_backlog(), kBound);
  b_ctx.TryCancel();
  server_->events()->Unsubscribe(events);
}

// Fails every insert into reports while the table `fault` has a row (the test's own
// connection to the server's database).
class ReportFault {
 public:
  explicit ReportFault(const std::string& db_path) {
    EXPECT_EQ(sqlite3_open(db_path.c_str(), &db_), SQLITE_OK);
    sqlite3_busy_timeout(db_, 5000);
    Exec(
        "CREATE TABLE fault (x INTEGER); INSERT INTO fault VALUES (1);"
        "CREATE TRIGGER fail_reports BEFORE INSERT ON reports WHEN EXISTS (SELECT 1 FROM fault)"
        " BEGIN SELECT RAISE(ABORT, 'injected fault'); END;");
  }
  ~ReportFault() { sqlite3_close(db_); }
  void Clear() { Exec("DELETE FROM fault;"); }

 private:
  void Exec(const char* sql) {
    char* error = nullptr;
    EXPECT_EQ(sqlite3_exec(db_, sql, nullptr, nullptr, &error), SQLITE_OK) << error;
    sqlite3_free(error);
  }
  sqlite3* db_ = nullptr;
};

TEST_F(StreamFlowControlTest, AReportTheStoreRefusedIsStoredOnTheSameStream) {
  grpc::ClientContext ctx;
  auto s = Open(&ctx, "n1");
  v1::ServerMessage update;
  ASSERT_TRUE(s->Read(&update));
  ASSERT_TRUE(update.has_update());
  ReportFault fault(dir_.Sub("server") + "/plumb.db");

  ASSERT_TRUE(s->Write(Report("r-1")));
  StreamHub* hub = server_->hub();
  ASSERT_TRUE(WaitUntil([&] { return hub->report_store_failures() >= 1; }));
  fault.Clear();

  v1::ServerMessage ack;
  ASSERT_TRUE(s->Read(&ack)) << "the stream ended instead of retrying";
  ASSERT_TRUE(ack.has_report_ack());
  EXPECT_EQ(ack.report_ack().report_id(), "r-1");
  grpc::ClientContext list_ctx;
  v1::ListReportsResponse reports;
  ASSERT_TRUE(fleet_stub_->ListReports(&list_ctx, v1::ListReportsRequest(), &reports).ok());
  ASSERT_EQ(reports.reports_size(), 1);
  EXPECT_EQ(reports.reports(0).id(), "r-1");
  // Still the same stream: it answers the next report at once.
  ASSERT_TRUE(s->Write(Report("r-2")));
  ASSERT_TRUE(s->Read(&ack));
  EXPECT_EQ(ack.report_ack().report_id(), "r-2");
}

}  // namespace
}  // namespace plumb
