// StreamHub with environments (StreamHub::SetLines): each node is offered the catalog of its
// line's builder, chosen from its trusted labels at its Hello, its row names the line; a node
// no line takes is offered nothing and shows why; bound (join-token) labels decide over the
// Hello's, so an agent cannot pick another environment with its own labels.

#include <vector>

#include "absl/synchronization/mutex.h"
#include "common/compiler/directory_tree.h"
#include "gtest/gtest.h"
#include "server/store/sqlite/sqlite_store.h"
#include "server/sync/stream_hub.h"
#include "tests/testing/fake_clock.h"
#include "tests/testing/test_util.h"

namespace plumb {
namespace {

using testing::TempDir;

// Records writes, completing each at once.
class LineWriter : public StreamWriter {
 public:
  explicit LineWriter(AgentSession* session) : session_(session) {}
  void StartWrite(const v1::ServerMessage* msg) override {
    {
      absl::MutexLock lock(&mu_);
      writes_.push_back(*msg);
    }
    session_->OnWriteDone(true);
  }
  void Finish(grpc::Status) override {}
  std::vector<v1::ServerMessage> writes() {
    absl::MutexLock lock(&mu_);
    return writes_;
  }

 private:
  AgentSession* const session_;
  absl::Mutex mu_;
  std::vector<v1::ServerMessage> writes_ ABSL_GUARDED_BY(mu_);
};

class StreamHubLinesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    Load(&staging_, "staging", 'b');
    Load(&main_, "main", 'a');
    auto store = SqliteStore::Open(dir_.Sub("plumb.db"));
    ASSERT_TRUE(store.ok()) << store.status();
    store_ = std::move(*store);
    hub_ = std::make_unique<StreamHub>(store_.get(), &main_, &runs_, &clock_);
    // staging for env=staging; main for env=prod; nothing for the rest.
    hub_->SetLines({{"staging", &staging_}, {"main", &main_}},
                   [](const std::map<std::string, std::string>& labels) {
                     auto it = labels.find("env");
                     if (it == labels.end()) return -1;
                     return it->second == "staging" ? 0 : it->second == "prod" ? 1 : -1;
                   });
  }

  void Load(CatalogBuilder* builder, const std::string& text, char sha) {
    std::string repo = dir_.Sub("repo-" + text);
    testing::WriteFileOrDie(repo + "/plumb.yaml",
                            "version: 1\ntargets:\n  - name: all\n    nodes: \"*\"\n"
                            "    modules: [base]\n");
    testing::WriteFileOrDie(repo + "/modules/base/module.yaml",
                            "resources:\n  - file: /etc/motd\n    content: \"" + text + "\"\n");
    auto state = DesiredState::Parse(DirectoryTree(repo), std::string(40, sha));
    ASSERT_TRUE(state->ok());
    builder->SetDesiredState(state);
  }

  // Greets the hub as `node` with Hello labels `labels` (and `bound` join-token labels);
  // returns the revision of the catalog it was sent ("" when none).
  std::string Greet(const std::string& node, std::map<std::string, std::string> labels,
                    std::map<std::string, std::string> bound = {}) {
    auto session = std::make_shared<AgentSession>("ipv4:127.0.0.1:1");
    session->verified_node = node;
    session->bound_labels = std::move(bound);
    writers_.push_back(std::make_unique<LineWriter>(session.get()));
    session->Attach(writers_.back().get());
    v1::AgentMessage msg;
    msg.mutable_hello()->set_node(node);
    msg.mutable_hello()->mutable_labels()->insert(labels.begin(), labels.end());
    hub_->OnMessage(session, msg);
    hub_->Drain();
    sessions_.push_back(session);
    for (const v1::ServerMessage& m : writers_.back()->writes()) {
      if (m.has_update()) return m.update().revision();
    }
    return "";
  }

  std::string Revision(const std::string& node) {
    auto n = store_->GetNode(node);
    return n.ok() ? n->desired_revision() : "";
  }

  TempDir dir_;
  testing::ManualClock clock_;
  CatalogBuilder staging_, main_;
  RunTracker runs_;
  std::unique_ptr<Store> store_;
  std::vector<std::unique_ptr<LineWriter>> writers_;
  std::vector<std::shared_ptr<AgentSession>> sessions_;
  std::unique_ptr<StreamHub> hub_;
};

TEST_F(StreamHubLinesTest, EachNodeGetsItsLinesCatalogAndItsRowNamesTheLine) {
  EXPECT_EQ(Greet("s1", {{"env", "staging"}}), std::string(40, 'b'));
  EXPECT_EQ(Greet("p1", {{"env", "prod"}}), std::string(40, 'a'));
  EXPECT_EQ(Revision("s1"), std::string(40, 'b'));
  EXPECT_EQ(Revision("p1"), std::string(40, 'a'));
  EXPECT_EQ(store_->GetNode("s1")->environment(), "staging");
  EXPECT_EQ(store_->GetNode("p1")->environment(), "main");
}

TEST_F(StreamHubLinesTest, ANodeNoLineTakesIsSentNothingAndShowsWhy) {
  EXPECT_EQ(Greet("x1", {{"env", "qa"}}), "");
  auto node = store_->GetNode("x1");
  ASSERT_TRUE(node.ok()) << node.status();
  EXPECT_EQ(node->environment(), "-");
  EXPECT_EQ(node->desired_revision(), "");
  EXPECT_NE(node->last_error().find("no entry of the server's environments"), std::string::npos);
}

TEST_F(StreamHubLinesTest, BoundLabelsDecideTheLineNotTheHellos) {
  // Enrolled with env=prod bound by its join token; its Hello claims staging.
  EXPECT_EQ(Greet("p2", {{"env", "staging"}}, {{"env", "prod"}}), std::string(40, 'a'));
  EXPECT_EQ(Revision("p2"), std::string(40, 'a'));
  EXPECT_EQ(store_->GetNode("p2")->environment(), "main");
}

}  // namespace
}  // namespace plumb
