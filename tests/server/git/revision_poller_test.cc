// The revision poller against a real git repository and a real SQLite store: a new head is
// compiled once per group of known nodes, and those catalogs are what the builder serves (no
// second compile when agents ask). A head with a repository error is not served; a head that
// fails only because of some nodes' own inputs is served to everyone else, and lists those
// nodes. Revoked and stale nodes are not compiled at all. A valid rollout policy is recorded
// on the revision; an invalid one fails it like any repository error.

#include "server/git/revision_poller.h"

#include "gtest/gtest.h"
#include "tests/testing/fake_clock.h"
#include "tests/testing/git_fixture.h"
#include "tests/testing/test_util.h"
#include "server/store/sqlite/sqlite_store.h"

namespace plumb {
namespace {

using testing::GitFixture;
using testing::ManualClock;
using testing::TempDir;

constexpr char kPlumbYaml[] = R"(version: 1
targets:
  - name: all
    nodes: "*"
    modules: [base]
  - name: web
    labels: {role: web}
    modules: [web]
)";

class RevisionPollerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    git_ = std::make_unique<GitFixture>(dir_.path());
    git_->Write("plumb.yaml", kPlumbYaml);
    git_->Write("modules/base/module.yaml",
                "resources:\n  - file: /etc/base\n    content: \"base\"\n");
    git_->Write("modules/web/module.yaml",
                "resources:\n  - file: /etc/web\n    template: web.mustache\n");
    git_->Write("modules/web/templates/web.mustache", "role {{labels.role}}\n");
    auto source = GitSource::Open(git_->bare(), "main", dir_.Sub("mirror.git"));
    ASSERT_TRUE(source.ok()) << source.status();
    source_ = std::move(*source);
    auto store = SqliteStore::Open(dir_.Sub("plumb.db"));
    ASSERT_TRUE(store.ok()) << store.status();
    store_ = std::move(*store);
    // Five known nodes in two groups: web (its template reads labels.role) and the rest.
    for (int i = 0; i < 5; ++i) {
      v1::Node n;
      n.set_name("n" + std::to_string(i));
      if (i < 2) (*n.mutable_labels())["role"] = "web";
      n.set_last_seen_unix_ms(absl::ToUnixMillis(clock_.Now()));
      ASSERT_TRUE(store_->PutNode(n).ok());
    }
    poller_ = std::make_unique<RevisionPoller>(source_.get(), store_.get(), &builder_, &clock_,
                                               absl::Hours(1), [this] { ++served_; });
  }

  TempDir dir_;
  std::unique_ptr<GitFixture> git_;
  std::unique_ptr<GitSource> source_;
  std::unique_ptr<Store> store_;
  CatalogBuilder builder_;
  ManualClock clock_;
  int served_ = 0;
  std::unique_ptr<RevisionPoller> poller_;
};

TEST_F(RevisionPollerTest, EachGroupIsCompiledOnceAndServedFromThatCompile) {
  std::string sha = git_->Commit("first");
  auto rev = poller_->SyncNow();
  ASSERT_TRUE(rev.ok()) << rev.status();
  EXPECT_EQ(rev->sha(), sha);
  EXPECT_TRUE(rev->serving());
  EXPECT_EQ(served_, 1);
  // The validation pass's catalogs are already the builder's: two groups, before any agent.
  EXPECT_EQ(builder_.compiled_groups(), 2);
  auto web = builder_.Build(NodeInputs{"n0", {{"role", "web"}}, {}});
  auto other = builder_.Build(NodeInputs{"n4", {}, {}});
  ASSERT_TRUE(web.ok()) << web.status();
  ASSERT_TRUE(other.ok()) << other.status();
  EXPECT_EQ(web->get(), builder_.Build(NodeInputs{"n1", {{"role", "web"}}, {}})->get());
  EXPECT_EQ((*web)->resources_size(), 2);
  EXPECT_EQ((*other)->resources_size(), 1);
  EXPECT_EQ(builder_.compiled_groups(), 2);
  // A node of a group nobody had yet is compiled on demand.
  ASSERT_TRUE(builder_.Build(NodeInputs{"n9", {{"role", "db"}}, {}}).ok());
  EXPECT_EQ(builder_.compiled_groups(), 2);  // role=db reads no label: the "all" group
  ASSERT_TRUE(builder_.Build(NodeInputs{"n8", {{"role", "web2"}}, {}}).ok());
  EXPECT_EQ(builder_.compiled_groups(), 2);  // role=web2 matches no target: same as n4
}

TEST_F(RevisionPollerTest, AHeadFailingOnlyForSomeNodesInputsIsServedToTheOthers) {
  std::string good = git_->Commit("first");
  ASSERT_TRUE(poller_->SyncNow().ok());
  // Web nodes lack the label this template reads: their own inputs fail, not the repository.
  git_->Write("modules/web/templates/web.mustache", "{{labels.missing}}\n");
  git_->Write("modules/base/module.yaml",
              "resources:\n  - file: /etc/base\n    content: \"base v2\"\n");
  std::string next = git_->Commit("breaks web nodes only");
  auto rev = poller_->SyncNow();
  ASSERT_TRUE(rev.ok()) << rev.status();
  EXPECT_TRUE(rev->serving());
  EXPECT_EQ(rev->status(), v1::REVISION_OK);
  EXPECT_EQ(rev->errors_size(), 0);
  ASSERT_EQ(rev->node_failures_size(), 2);
  EXPECT_EQ(rev->node_failures(0).node(), "n0");
  EXPECT_EQ(rev->node_failures(1).node(), "n1");
  ASSERT_EQ(rev->node_failures(0).errors_size(), 1);
  EXPECT_EQ(rev->node_failures(0).errors(0).location(), "modules/web/templates/web.mustache:1:1");
  EXPECT_NE(rev->node_failures(0).errors(0).message().find("labels.missing"), std::string::npos);
  EXPECT_EQ(served_, 2);
  EXPECT_EQ(builder_.desired_state()->revision(), next);
  // Recorded: GetRevision (plumbctl revision SHA) lists the failures.
  auto stored = store_->GetRevision(next);
  ASSERT_TRUE(stored.ok());
  EXPECT_EQ(stored->node_failures_size(), 2);
  // Everyone else gets the new revision; the web nodes get an error, never a catalog.
  auto other = builder_.Build(NodeInputs{"n4", {}, {}});
  ASSERT_TRUE(other.ok()) << other.status();
  EXPECT_EQ((*other)->revision(), next);
  EXPECT_TRUE(absl::IsInvalidArgument(builder_.Build(NodeInputs{"n0", {{"role", "web"}}, {}}).status()));
  (void)good;
}

TEST_F(RevisionPollerTest, AHeadWithARepositoryErrorIsNotServed) {
  std::string good = git_->Commit("first");
  ASSERT_TRUE(poller_->SyncNow().ok());
  // An undefined var is the repository's error even though only web nodes render it.
  git_->Write("modules/web/templates/web.mustache", "{{vars.nope}}\n");
  git_->Commit("breaks the repository");
  auto rev = poller_->SyncNow();
  ASSERT_TRUE(rev.ok()) << rev.status();
  EXPECT_FALSE(rev->serving());
  EXPECT_EQ(rev->status(), v1::REVISION_FAILED);
  ASSERT_GT(rev->errors_size(), 0);
  EXPECT_NE(rev->errors(0).message().find("(node n"), std::string::npos) << rev->errors(0).message();
  EXPECT_EQ(rev->node_failures_size(), 0);
  EXPECT_EQ(served_, 1);
  EXPECT_EQ(builder_.desired_state()->revision(), good);
}

TEST_F(RevisionPollerTest, AValidRolloutPolicyIsRecordedOnTheRevision) {
  git_->Write("plumb.yaml", std::string(kPlumbYaml) +
                                "rollout:\n  waves:\n    - {name: canary, nodes: [n0], bake: 2m}\n"
                                "    - {percent: 100}\n  max_failed: \"10%\"\n");
  std::string sha = git_->Commit("with a rollout policy");
  auto rev = poller_->SyncNow();
  ASSERT_TRUE(rev.ok()) << rev.status();
  EXPECT_TRUE(rev->serving());
  ASSERT_TRUE(rev->has_rollout());
  auto stored = store_->GetRevision(sha);
  ASSERT_TRUE(stored.ok()) << stored.status();
  ASSERT_EQ(stored->rollout().waves_size(), 2);
  EXPECT_EQ(stored->rollout().waves(0).name(), "canary");
  EXPECT_EQ(stored->rollout().waves(0).bake_ms(), 120000);
  EXPECT_EQ(stored->rollout().max_failed_percent(), 10u);
  // Without `rollout:` the revision has none.
  git_->Write("plumb.yaml", kPlumbYaml);
  git_->Commit("policy removed");
  rev = poller_->SyncNow();
  ASSERT_TRUE(rev.ok()) << rev.status();
  EXPECT_FALSE(rev->has_rollout());
}

TEST_F(RevisionPollerTest, AnInvalidRolloutPolicyFailsTheRevisionAndTheLastGoodIsServed) {
  std::string good = git_->Commit("first");
  ASSERT_TRUE(poller_->SyncNow().ok());
  // Line 12 of plumb.yaml: the second wave's percent is not above the first's.
  git_->Write("plumb.yaml", std::string(kPlumbYaml) +
                                "rollout:\n  waves:\n    - {percent: 50}\n    - {percent: 20}\n");
  git_->Write("modules/base/module.yaml",
              "resources:\n  - file: /etc/base\n    content: \"base v2\"\n");
  std::string bad = git_->Commit("a rollout policy that makes no sense");
  auto rev = poller_->SyncNow();
  ASSERT_TRUE(rev.ok()) << rev.status();
  EXPECT_EQ(rev->sha(), bad);
  EXPECT_FALSE(rev->serving());
  EXPECT_EQ(rev->status(), v1::REVISION_FAILED);
  EXPECT_FALSE(rev->has_rollout());
  ASSERT_EQ(rev->errors_size(), 1);
  EXPECT_EQ(rev->errors(0).location(), "plumb.yaml:12:17");
  EXPECT_NE(rev->errors(0).message().find("percent 20 must be greater than 50"),
            std::string::npos)
      << rev->errors(0).message();
  EXPECT_EQ(served_, 1);
  // Recorded as failed; the serving revision and its catalogs are still the good one.
  auto stored = store_->GetRevision(bad);
  ASSERT_TRUE(stored.ok());
  EXPECT_EQ(stored->status(), v1::REVISION_FAILED);
  EXPECT_EQ(builder_.desired_state()->revision(), good);
  auto catalog = builder_.Build(NodeInputs{"n4", {}, {}});
  ASSERT_TRUE(catalog.ok()) << catalog.status();
  EXPECT_EQ((*catalog)->revision(), good);
}

TEST_F(RevisionPollerTest, RevokedAndStaleNodesAreNotCompiled) {
  // Only a node labelled role=old selects the module with an unknown reference.
  git_->Write("plumb.yaml", std::string(kPlumbYaml) +
                                "  - name: old\n    labels: {role: old}\n    modules: [old]\n");
  git_->Write("modules/old/module.yaml",
              "resources:\n  - package: x\n    require: [package:nope]\n");
  git_->Commit("a module only old nodes use, broken");
  v1::Node revoked;
  revoked.set_name("gone-revoked");
  (*revoked.mutable_labels())["role"] = "old";
  revoked.set_status(v1::NODE_REVOKED);
  revoked.set_last_seen_unix_ms(absl::ToUnixMillis(clock_.Now()));
  ASSERT_TRUE(store_->PutNode(revoked).ok());
  v1::Node stale = revoked;
  stale.set_name("gone-stale");
  stale.set_status(v1::NODE_OFFLINE);
  stale.set_last_seen_unix_ms(absl::ToUnixMillis(clock_.Now() - absl::Hours(24 * 8)));
  ASSERT_TRUE(store_->PutNode(stale).ok());
  auto rev = poller_->SyncNow();
  ASSERT_TRUE(rev.ok()) << rev.status();
  EXPECT_TRUE(rev->serving()) << (rev->errors_size() > 0 ? rev->errors(0).message() : "");
  // With a longer stale_after the stale node counts again, and its error fails the revision.
  poller_->set_stale_after(absl::Hours(24 * 30));
  git_->Write("modules/base/module.yaml", "resources:\n  - file: /etc/base\n    content: b2\n");
  git_->Commit("next");
  rev = poller_->SyncNow();
  ASSERT_TRUE(rev.ok()) << rev.status();
  EXPECT_FALSE(rev->serving());
  ASSERT_GT(rev->errors_size(), 0);
  EXPECT_NE(rev->errors(0).message().find("(node gone-stale)"), std::string::npos)
      << rev->errors(0).message();
}

}  // namespace
}  // namespace plumb

namespace plumb {
namespace {

// A replica that is not the leader (replicas on one PostgreSQL).
class NeverLeader : public Leadership {
 public:
  void Start(std::function<void()>) override {}
  void Stop() override {}
  bool IsLeader() override { return false; }
};

TEST_F(RevisionPollerTest, FollowerServesTheStoresRevisionAndRecordsNothing) {
  NeverLeader follower;
  poller_->set_leadership(&follower);
  std::string first = git_->Commit("first");
  // Nothing served yet: the follower waits for the leader, records nothing.
  EXPECT_FALSE(poller_->SyncNow().ok());
  EXPECT_FALSE(store_->GetRevision(first).ok());
  EXPECT_EQ(served_, 0);
  // The leader (elsewhere) records and serves `first`; a newer head is not the follower's to
  // record.
  v1::Revision rev;
  rev.set_sha(first);
  rev.set_status(v1::REVISION_OK);
  ASSERT_TRUE(store_->PutRevision(rev).ok());
  ASSERT_TRUE(store_->SetServingRevision(first).ok());
  git_->Write("modules/base/module.yaml",
              "resources:\n  - file: /etc/base\n    content: \"changed\"\n");
  std::string second = git_->Commit("second");
  auto got = poller_->SyncNow();
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(got->sha(), first);
  EXPECT_EQ(served_, 1);
  EXPECT_FALSE(store_->GetRevision(second).ok());
  ASSERT_NE(builder_.desired_state(), nullptr);
  EXPECT_EQ(builder_.desired_state()->revision(), first);
  ASSERT_TRUE(poller_->SyncNow().ok());
  EXPECT_EQ(served_, 1);  // already served: nothing to do
}

}  // namespace
}  // namespace plumb
