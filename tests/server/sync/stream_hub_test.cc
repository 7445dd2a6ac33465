// The Sync protocol's server half without gRPC: a StreamHub over a real SQLite store and a real
// catalog builder, with a recording StreamWriter in place of the reactor. Regressions found by
// tests/fuzz/agent_stream_fuzzer.

#include "server/sync/stream_hub.h"

#include <vector>

#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "common/compiler/directory_tree.h"
#include "gtest/gtest.h"
#include "tests/testing/fake_clock.h"
#include "tests/testing/test_util.h"
#include "server/store/forwarding_store.h"
#include "server/store/sqlite/sqlite_store.h"
#include "tests/testing/wait_for.h"

namespace plumb {
namespace {

using testing::TempDir;

// Records writes, completing each at once, and the status the stream finished with.
class RecordingWriter : public StreamWriter {
 public:
  explicit RecordingWriter(AgentSession* session) : session_(session) {}
  void StartWrite(const v1::ServerMessage* msg) override {
    {
      absl::MutexLock lock(&mu_);
      writes_.push_back(*msg);
    }
    session_->OnWriteDone(true);
  }
  void Finish(grpc::Status status) override {
    absl::MutexLock lock(&mu_);
    finished_ = true;
    status_ = std::move(status);
  }
  std::vector<v1::ServerMessage> writes() {
    absl::MutexLock lock(&mu_);
    return writes_;
  }
  bool finished() {
    absl::MutexLock lock(&mu_);
    return finished_;
  }
  grpc::StatusCode code() {
    absl::MutexLock lock(&mu_);
    return status_.error_code();
  }

 private:
  AgentSession* const session_;
  absl::Mutex mu_;
  std::vector<v1::ServerMessage> writes_ ABSL_GUARDED_BY(mu_);
  bool finished_ ABSL_GUARDED_BY(mu_) = false;
  grpc::Status status_ ABSL_GUARDED_BY(mu_);
};

class StreamHubTest : public ::testing::Test {
 protected:
  void SetUp() override {
    testing::WriteFileOrDie(dir_.Sub("repo/plumb.yaml"),
                            "version: 1\ntargets:\n  - name: all\n    nodes: \"*\"\n"
                            "    modules: [base]\n");
    testing::WriteFileOrDie(dir_.Sub("repo/modules/base/module.yaml"),
                            "resources:\n  - file: /etc/motd\n    content: \"hi\\n\"\n");
    auto state = DesiredState::Parse(DirectoryTree(dir_.Sub("repo")), std::string(40, 'a'));
    ASSERT_TRUE(state->ok());
    builder_.SetDesiredState(state);
    auto store = SqliteStore::Open(dir_.Sub("plumb.db"));
    ASSERT_TRUE(store.ok()) << store.status();
    store_ = std::move(*store);
    hub_ = std::make_unique<StreamHub>(store_.get(), &builder_, &runs_, &clock_);
  }

  // A stream whose TLS identity is `node`, attached to `writer`.
  std::shared_ptr<AgentSession> Open(const std::string& node,
                                     std::unique_ptr<RecordingWriter>* writer) {
    auto session = std::make_shared<AgentSession>("ipv4:127.0.0.1:1");
    session->verified_node = node;
    *writer = std::make_unique<RecordingWriter>(session.get());
    session->Attach(writer->get());
    return session;
  }

  static v1::AgentMessage Hello(const std::string& node) {
    v1::AgentMessage msg;
    msg.mutable_hello()->set_node(node);
    return msg;
  }

  TempDir dir_;
  testing::ManualClock clock_;
  CatalogBuilder builder_;
  RunTracker runs_;
  std::unique_ptr<Store> store_;
  std::unique_ptr<StreamHub> hub_;
};

// The stream was authorized before `plumbctl node revoke`, its Hello is handled after: it must
// get no catalog, and the node stays revoked.
TEST_F(StreamHubTest, HelloAfterRevocationIsRefused) {
  std::unique_ptr<RecordingWriter> writer;
  auto session = Open("web-1", &writer);
  hub_->SetRevoked("web-1", true);
  hub_->OnMessage(session, Hello("web-1"));
  hub_->Drain();
  EXPECT_TRUE(writer->writes().empty());
  EXPECT_TRUE(writer->finished());
  EXPECT_EQ(writer->code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(hub_->connected(), 0);
  auto node = store_->GetNode("web-1");
  ASSERT_TRUE(node.ok()) << node.status();
  EXPECT_EQ(node->status(), v1::NODE_REVOKED);
}

TEST_F(StreamHubTest, HelloAfterEnrollingAgainIsServed) {
  hub_->SetRevoked("web-1", true);
  hub_->SetRevoked("web-1", false);
  std::unique_ptr<RecordingWriter> writer;
  auto session = Open("web-1", &writer);
  hub_->OnMessage(session, Hello("web-1"));
  hub_->Drain();
  ASSERT_EQ(writer->writes().size(), 1u);
  EXPECT_TRUE(writer->writes()[0].has_update());
  EXPECT_FALSE(writer->finished());
  EXPECT_EQ(hub_->connected(), 1);
  hub_->OnDisconnect(session);
  hub_->Drain();
}

// A Hello still queued from a stream that is being closed must not replace (and close) the
// node's live stream.
TEST_F(StreamHubTest, AQueuedHelloOfAClosedStreamDoesNotReplaceTheLiveOne) {
  std::unique_ptr<RecordingWriter> live_writer, old_writer;
  auto live = Open("web-1", &live_writer);
  hub_->OnMessage(live, Hello("web-1"));
  hub_->Drain();
  ASSERT_EQ(hub_->connected(), 1);
  auto old = Open("web-1", &old_writer);
  old->Close(grpc::Status(grpc::StatusCode::CANCELLED, "gone"));
  hub_->OnMessage(old, Hello("web-1"));
  hub_->Drain();
  EXPECT_FALSE(live_writer->finished());
  EXPECT_EQ(hub_->connected(), 1);
  EXPECT_TRUE(old_writer->writes().empty());
  hub_->OnDisconnect(live);
  hub_->Drain();
}

// Without a catalog for the node (it fails to compile for it), nobody can tell which results
// are sensitive: the report is stored without any diff. A negative duration is stored as 0.
TEST_F(StreamHubTest, ReportsKeepNoDiffWhenTheNodeHasNoCatalog) {
  testing::WriteFileOrDie(dir_.Sub("repo/modules/base/module.yaml"),
                          "resources:\n  - file: /etc/motd\n    template: m.mustache\n");
  testing::WriteFileOrDie(dir_.Sub("repo/modules/base/templates/m.mustache"), "{{labels.x}}\n");
  auto state = DesiredState::Parse(DirectoryTree(dir_.Sub("repo")), std::string(40, 'b'));
  ASSERT_TRUE(state->ok());
  builder_.SetDesiredState(state);  // no label x: web-1's catalog does not compile
  std::unique_ptr<RecordingWriter> writer;
  auto session = Open("web-1", &writer);
  hub_->OnMessage(session, Hello("web-1"));
  v1::AgentMessage report;
  report.mutable_report()->set_id("r-1");
  report.mutable_report()->set_duration_us(-5);
  v1::ResourceResult* result = report.mutable_report()->add_results();
  result->set_id("file:/etc/motd");
  result->set_outcome(v1::WOULD_CHANGE);
  result->set_diff("-password=old\n+password=new\n");
  hub_->OnMessage(session, report);
  hub_->Drain();
  auto stored = store_->GetReport("r-1");
  ASSERT_TRUE(stored.ok()) << stored.status();
  ASSERT_EQ(stored->results_size(), 1);
  EXPECT_TRUE(stored->results(0).diff().empty());
  EXPECT_EQ(stored->duration_us(), 0);
  hub_->OnDisconnect(session);
  hub_->Drain();
}

// A revision whose template reads a label this node lacks: the node is sent nothing (it keeps
// its last good catalog), shows failed with the error, stays failed when it reports a run of
// its old catalog, and recovers when a later revision compiles for it.
TEST_F(StreamHubTest, ANodeTheRevisionDoesNotCompileForFailsAloneAndRecovers) {
  std::unique_ptr<RecordingWriter> writer;
  auto session = Open("web-1", &writer);
  hub_->OnMessage(session, Hello("web-1"));
  hub_->Drain();
  ASSERT_EQ(writer->writes().size(), 1u);
  std::string good_rev = writer->writes()[0].update().revision();
  v1::AgentMessage ack;
  ack.mutable_ack()->set_nonce(writer->writes()[0].update().nonce());
  hub_->OnMessage(session, ack);
  testing::WriteFileOrDie(dir_.Sub("repo/modules/base/module.yaml"),
                          "resources:\n  - file: /etc/motd\n    template: m.mustache\n");
  testing::WriteFileOrDie(dir_.Sub("repo/modules/base/templates/m.mustache"), "{{labels.x}}\n");
  builder_.SetDesiredState(DesiredState::Parse(DirectoryTree(dir_.Sub("repo")), std::string(40, 'b')));
  hub_->OnNewRevision();
  hub_->Drain();
  EXPECT_EQ(writer->writes().size(), 1u);  // nothing sent: the agent keeps its catalog
  auto node = store_->GetNode("web-1");
  ASSERT_TRUE(node.ok());
  EXPECT_EQ(node->status(), v1::NODE_FAILED);
  EXPECT_NE(node->last_error().find("labels.x"), std::string::npos) << node->last_error();
  EXPECT_NE(node->last_error().find("bbbbbbbbbbbb does not compile"), std::string::npos);
  EXPECT_EQ(node->desired_revision(), good_rev);
  // A clean run of the last good catalog does not hide the failure.
  v1::AgentMessage report;
  report.mutable_report()->set_id("r-1");
  report.mutable_report()->set_revision(good_rev);
  report.mutable_report()->set_trigger(v1::INTERVAL);
  hub_->OnMessage(session, report);
  hub_->Drain();
  node = store_->GetNode("web-1");
  EXPECT_EQ(node->status(), v1::NODE_FAILED);
  EXPECT_NE(node->last_error().find("labels.x"), std::string::npos);
  // The next revision compiles again: the node gets it, and the error is gone.
  testing::WriteFileOrDie(dir_.Sub("repo/modules/base/templates/m.mustache"), "fixed\n");
  builder_.SetDesiredState(DesiredState::Parse(DirectoryTree(dir_.Sub("repo")), std::string(40, 'c')));
  hub_->OnNewRevision();
  hub_->Drain();
  ASSERT_EQ(writer->writes().size(), 3u);  // the report's ack, then the update
  EXPECT_EQ(writer->writes()[2].update().revision(), std::string(40, 'c'));
  node = store_->GetNode("web-1");
  EXPECT_EQ(node->status(), v1::NODE_PENDING);
  EXPECT_TRUE(node->last_error().empty()) << node->last_error();
  hub_->OnDisconnect(session);
  hub_->Drain();
}

TEST_F(StreamHubTest, ForgetNodeClosesItsStreamAndDeletesItsRow) {
  std::unique_ptr<RecordingWriter> writer;
  auto session = Open("web-1", &writer);
  hub_->OnMessage(session, Hello("web-1"));
  hub_->Drain();
  ASSERT_TRUE(store_->GetNode("web-1").ok());
  absl::Status result = absl::UnknownError("not called");
  hub_->ForgetNode("web-1", [&](absl::Status s) { result = s; });
  hub_->OnDisconnect(session);  // as the closed stream's reactor does
  hub_->Drain();
  EXPECT_TRUE(result.ok()) << result;
  EXPECT_TRUE(writer->finished());
  EXPECT_EQ(hub_->connected(), 0);
  EXPECT_TRUE(absl::IsNotFound(store_->GetNode("web-1").status()));
  hub_->ForgetNode("web-1", [&](absl::Status s) { result = s; });
  hub_->Drain();
  EXPECT_TRUE(absl::IsNotFound(result)) << result;
}

// Counts PutNodes transactions; the first one waits for release() (the hub's worker is then
// busy while more work queues up behind it).
class GatedNodeStore : public ForwardingStore {
 public:
  using ForwardingStore::ForwardingStore;
  absl::Status PutNodes(const std::vector<v1::Node>& nodes) override {
    bool first = false;
    {
      absl::MutexLock lock(&mu_);
      first = ++transactions_ == 1;
    }
    if (first) {
      entered_.Notify();
      released_.WaitForNotification();
    }
    return ForwardingStore::PutNodes(nodes);
  }
  void WaitEntered() { entered_.WaitForNotification(); }
  void Release() { released_.Notify(); }
  int transactions() {
    absl::MutexLock lock(&mu_);
    return transactions_;
  }

 private:
  absl::Notification entered_, released_;
  absl::Mutex mu_;
  int transactions_ ABSL_GUARDED_BY(mu_) = 0;
};

// A burst of Hellos (agents connecting at once) queued behind the worker is written in a few
// transactions, not one per Hello; a lone Hello's row is written without waiting for more.
TEST_F(StreamHubTest, NodeRowsOfQueuedHellosShareATransaction) {
  GatedNodeStore store(store_.get());
  StreamHub hub(&store, &builder_, &runs_, &clock_);
  constexpr int kAgents = 50;
  std::vector<std::unique_ptr<RecordingWriter>> writers(kAgents);
  std::vector<std::shared_ptr<AgentSession>> sessions;
  for (int i = 0; i < kAgents; ++i) {
    sessions.push_back(Open("web-" + std::to_string(i), &writers[i]));
  }
  hub.OnMessage(sessions[0], Hello("web-0"));
  store.WaitEntered();  // the worker is writing web-0's row; the others queue up meanwhile
  for (int i = 1; i < kAgents; ++i) hub.OnMessage(sessions[i], Hello("web-" + std::to_string(i)));
  store.Release();
  ASSERT_TRUE(testing::WaitFor([&] { return hub.connected() == kAgents; }));
  ASSERT_TRUE(testing::WaitFor([&] { return store_->GetNode("web-49").ok(); }));
  for (int i = 0; i < kAgents; ++i) {
    auto node = store_->GetNode("web-" + std::to_string(i));
    ASSERT_TRUE(node.ok()) << node.status();
    EXPECT_TRUE(node->connected()) << node->name();
  }
  EXPECT_LE(store.transactions(), 3);  // web-0's, the queued 49's, at most one more
  for (auto& s : sessions) hub.OnDisconnect(s);
  hub.Drain();
}

}  // namespace
}  // namespace plumb
