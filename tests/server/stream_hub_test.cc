// The Sync protocol's server half without gRPC: a StreamHub over a real SQLite store and a real
// catalog builder, with a recording StreamWriter in place of the reactor. Regressions found by
// tests/fuzz/agent_stream_fuzzer.

#include "server/stream_hub.h"

#include <vector>

#include "absl/synchronization/mutex.h"
#include "common/directory_tree.h"
#include "gtest/gtest.h"
#include "tests/testing/fake_clock.h"
#include "tests/testing/test_util.h"

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
    auto store = Store::Open(dir_.Sub("plumb.db"));
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

}  // namespace
}  // namespace plumb
