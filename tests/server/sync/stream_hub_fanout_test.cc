// StreamHub::OnNewRevision fanning out to many agents at once (stream_hub_fanout.cc computes
// the deltas and starts the writes on several threads): every agent still has at most one
// update in flight, and each update is the delta against what that agent acknowledged last,
// whether the agents' catalogs are shared (deltas computed once per group) or per node.

#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/synchronization/mutex.h"
#include "common/catalog.h"
#include "common/compiler/directory_tree.h"
#include "gtest/gtest.h"
#include "server/store/sqlite/sqlite_store.h"
#include "server/sync/stream_hub.h"
#include "tests/testing/fake_clock.h"
#include "tests/testing/test_util.h"

namespace plumb {
namespace {

using testing::TempDir;

// Records the updates written to one stream, completing each write at once.
class UpdateRecorder : public StreamWriter {
 public:
  explicit UpdateRecorder(AgentSession* session) : session_(session) {}
  void StartWrite(const v1::ServerMessage* msg) override {
    {
      absl::MutexLock lock(&mu_);
      if (msg->has_update()) updates_.push_back(msg->update());
    }
    session_->OnWriteDone(true);
  }
  // An update shared with other agents: recorded as the agent decodes it (prefix, then body).
  bool StartSharedWrite(const SharedUpdate& update, const std::string& nonce) override {
    std::string bytes = update.Prefix(nonce);
    bytes.append(reinterpret_cast<const char*>(update.body().begin()), update.body().size());
    v1::ServerMessage msg;
    EXPECT_TRUE(msg.ParseFromString(bytes));
    {
      absl::MutexLock lock(&mu_);
      updates_.push_back(msg.update());
      last_shared_ = &update;
    }
    session_->OnWriteDone(true);
    return true;
  }
  void Finish(grpc::Status) override {}
  std::vector<v1::CatalogUpdate> updates() {
    absl::MutexLock lock(&mu_);
    return updates_;
  }
  // The shared update of the last shared write (null: none).
  const SharedUpdate* last_shared() {
    absl::MutexLock lock(&mu_);
    return last_shared_;
  }

 private:
  AgentSession* const session_;
  absl::Mutex mu_;
  std::vector<v1::CatalogUpdate> updates_ ABSL_GUARDED_BY(mu_);
  const SharedUpdate* last_shared_ ABSL_GUARDED_BY(mu_) = nullptr;
};

// One simulated agent: its stream, and the catalog it holds (updates applied as it acks them).
struct Agent {
  std::string name;
  std::shared_ptr<AgentSession> session;
  std::unique_ptr<UpdateRecorder> writer;
  v1::Catalog held;
  size_t seen = 0;  // updates already checked
};

// The motd template is the parameter: per node ({{node.name}}) or per group ({{labels.grp}}).
class StreamHubFanOutTest : public ::testing::TestWithParam<std::string> {
 protected:
  static constexpr int kAgents = 2 * static_cast<int>(StreamHub::kParallelFanOutMin);

  void SetUp() override {
    testing::WriteFileOrDie(dir_.Sub("repo/plumb.yaml"),
                            "version: 1\ntargets:\n  - name: all\n    nodes: \"*\"\n"
                            "    modules: [base]\n");
    testing::WriteFileOrDie(dir_.Sub("repo/modules/base/templates/motd.mustache"),
                            GetParam() + "\n");
    Serve("f1: one\nf2: one\n", 'a');
    auto store = SqliteStore::Open(dir_.Sub("plumb.db"));
    ASSERT_TRUE(store.ok()) << store.status();
    store_ = std::move(*store);
    hub_ = std::make_unique<StreamHub>(store_.get(), &builder_, &runs_, &clock_);
  }

  // Serves a revision of files given as "name: content" lines, plus the motd template.
  void Serve(const std::string& files, char sha) {
    std::string yaml = "resources:\n  - file: /etc/motd\n    template: motd.mustache\n";
    for (absl::string_view line : absl::StrSplit(files, '\n', absl::SkipEmpty())) {
      std::vector<std::string> kv = absl::StrSplit(line, ": ");
      absl::StrAppend(&yaml, "  - file: /etc/", kv[0], "\n    content: \"", kv[1], "\"\n");
    }
    testing::WriteFileOrDie(dir_.Sub("repo/modules/base/module.yaml"), yaml);
    auto state = DesiredState::Parse(DirectoryTree(dir_.Sub("repo")), std::string(40, sha));
    ASSERT_TRUE(state->ok());
    builder_.SetDesiredState(state);
  }

  void Connect() {
    for (int i = 0; i < kAgents; ++i) {
      auto a = std::make_unique<Agent>();
      a->name = absl::StrCat("n", i);
      a->session = std::make_shared<AgentSession>("ipv4:127.0.0.1:1");
      a->session->verified_node = a->name;
      a->writer = std::make_unique<UpdateRecorder>(a->session.get());
      a->session->Attach(a->writer.get());
      v1::AgentMessage hello;
      hello.mutable_hello()->set_node(a->name);
      (*hello.mutable_hello()->mutable_labels())["grp"] = absl::StrCat("g", i % 4);
      hub_->OnMessage(a->session, hello);
      agents_.push_back(std::move(a));
    }
    hub_->Drain();
  }

  // Checks the agent's one new update (none if `expect_update` is false): it takes exactly what
  // the agent holds to the node's catalog now, upserting and removing exactly the difference.
  void CheckNewUpdate(Agent& a, bool expect_update) {
    std::vector<v1::CatalogUpdate> updates = a.writer->updates();
    ASSERT_EQ(updates.size(), a.seen + (expect_update ? 1 : 0)) << a.name;
    if (!expect_update) return;
    const v1::CatalogUpdate& u = updates[a.seen++];
    auto want = builder_.Build(a.session->sync().inputs());  // the worker is idle (drained)
    ASSERT_TRUE(want.ok()) << want.status();
    std::map<std::string, std::string> held, target;
    for (const v1::Resource& r : a.held.resources()) held[r.id()] = r.version();
    for (const v1::Resource& r : (*want)->resources()) target[r.id()] = r.version();
    std::set<std::string> want_upserted, want_removed, upserted, removed;
    for (const auto& [id, version] : target) {
      auto it = held.find(id);
      if (it == held.end() || it->second != version) want_upserted.insert(id);
    }
    for (const auto& [id, version] : held) {
      if (target.count(id) == 0) want_removed.insert(id);
    }
    for (const v1::Resource& r : u.upserted()) upserted.insert(r.id());
    removed.insert(u.removed().begin(), u.removed().end());
    EXPECT_EQ(upserted, want_upserted) << a.name << ": delta against another held catalog";
    if (!u.full()) {
      EXPECT_EQ(removed, want_removed) << a.name;
    }
    v1::Catalog applied = a.held;
    ASSERT_TRUE(ApplyUpdate(u, &applied)) << a.name;
    EXPECT_EQ(applied.digest(), (*want)->digest()) << a.name;
    pending_[a.name] = {u.nonce(), applied};
  }

  // The agent acknowledges its update in flight: it now holds that catalog.
  void Ack(Agent& a) {
    auto it = pending_.find(a.name);
    ASSERT_NE(it, pending_.end()) << a.name;
    v1::AgentMessage ack;
    ack.mutable_ack()->set_nonce(it->second.first);
    a.held = it->second.second;
    pending_.erase(it);
    hub_->OnMessage(a.session, ack);
  }

  TempDir dir_;
  testing::ManualClock clock_;
  CatalogBuilder builder_;
  RunTracker runs_;
  std::unique_ptr<Store> store_;
  std::unique_ptr<StreamHub> hub_;
  std::vector<std::unique_ptr<Agent>> agents_;
  std::map<std::string, std::pair<std::string, v1::Catalog>> pending_;  // nonce, catalog
};

TEST_P(StreamHubFanOutTest, OneUpdateInFlightEachAgainstWhatTheAgentAcknowledged) {
  Connect();
  for (auto& a : agents_) CheckNewUpdate(*a, true);  // the full catalog answering Hello
  for (auto& a : agents_) Ack(*a);
  hub_->Drain();

  Serve("f1: two\nf2: one\nf3: new\n", 'b');  // B: f1 changed, f3 added
  hub_->OnNewRevision();
  hub_->Drain();
  for (auto& a : agents_) CheckNewUpdate(*a, true);
  for (int i = 0; i < kAgents; i += 2) Ack(*agents_[i]);  // the odd agents are still applying B
  hub_->Drain();

  Serve("f1: two\nf2: two\n", 'c');  // C: f2 changed, f3 removed
  hub_->OnNewRevision();
  hub_->Drain();
  for (int i = 0; i < kAgents; ++i) {
    // Even agents hold B and get B -> C; odd ones have B in flight and get nothing yet.
    CheckNewUpdate(*agents_[i], i % 2 == 0);
  }
  for (int i = 1; i < kAgents; i += 2) Ack(*agents_[i]);
  hub_->Drain();
  for (int i = 0; i < kAgents; ++i) CheckNewUpdate(*agents_[i], i % 2 == 1);  // B -> C
}

// The agents of one group get one delta, serialized once: their writes share its bytes (each
// with its own nonce, which their ACKs check). Per-node catalogs give one per agent.
TEST_P(StreamHubFanOutTest, AgentsOfOneGroupShareOneSerializedUpdate) {
  const size_t want = GetParam() == "{{node.name}}" ? kAgents : 4;
  Connect();
  std::set<const SharedUpdate*> bodies;  // alive: the hub caches shared deltas
  for (auto& a : agents_) {
    CheckNewUpdate(*a, true);  // the full catalog answering Hello, for agents holding nothing
    bodies.insert(a->writer->last_shared());
  }
  EXPECT_EQ(bodies.count(nullptr), 0u);
  EXPECT_EQ(bodies.size(), want);
  for (auto& a : agents_) Ack(*a);
  hub_->Drain();

  Serve("f1: two\nf2: one\n", 'b');
  hub_->OnNewRevision();
  hub_->Drain();
  bodies.clear();  // (the batch's deltas were all alive together)
  for (auto& a : agents_) {
    CheckNewUpdate(*a, true);
    bodies.insert(a->writer->last_shared());
  }
  EXPECT_EQ(bodies.count(nullptr), 0u);
  EXPECT_EQ(bodies.size(), want);
  // Likewise the blobs each agent may fetch: one object per catalog, not a copy per agent.
  std::set<const OfferedBlobs*> blob_sets;
  for (auto& a : agents_) {
    std::shared_ptr<const OfferedBlobs> blobs = a->session->offered_blobs();
    ASSERT_NE(blobs, nullptr);
    EXPECT_GT(blobs->size(), 0u);
    EXPECT_EQ(blobs->pinned(), blobs->size());
    blob_sets.insert(blobs.get());
  }
  EXPECT_EQ(blob_sets.size(), want);
  for (auto& a : agents_) Ack(*a);
  hub_->Drain();
  for (auto& a : agents_) CheckNewUpdate(*a, false);  // every nonce matched: nothing resent
}

INSTANTIATE_TEST_SUITE_P(Templates, StreamHubFanOutTest,
                         ::testing::Values("{{node.name}}", "{{labels.grp}}"),
                         [](const auto& info) { return info.index == 0 ? "PerNode" : "PerGroup"; });

}  // namespace
}  // namespace plumb
