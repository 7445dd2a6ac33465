// The planner against a real git repository and a real SQLite store, on a fleet larger than one
// planning batch: groups shared by nodes of different batches are compiled once and stay until
// their last node is planned; a per-node template (every node its own group) plans every node
// with the right change; failures and untouched nodes are listed. Noop samples are capped per
// group and per plan.

#include "server/fleet/plan.h"

#include "absl/strings/str_format.h"
#include "gtest/gtest.h"
#include "server/store/sqlite/sqlite_store.h"
#include "server/sync/stream_hub.h"
#include "tests/testing/fake_clock.h"
#include "tests/testing/git_fixture.h"
#include "tests/testing/test_util.h"

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

class PlannerTest : public ::testing::Test {
 protected:
  // 1,300 nodes (more than two planning batches): roles web/db/cache in turn; every 100th web
  // node lacks the `dc` label its motd template needs when `motd_reads_dc`.
  void SetUp() override {
    git_ = std::make_unique<GitFixture>(dir_.path());
    WriteRepo("web v1", false);
    serving_ = git_->Commit("base");
    auto source = GitSource::Open(git_->bare(), "main", dir_.Sub("mirror.git"));
    ASSERT_TRUE(source.ok()) << source.status();
    source_ = std::move(*source);
    ASSERT_TRUE(source_->FetchRef("main").ok());
    auto store = SqliteStore::Open(dir_.Sub("plumb.db"));
    ASSERT_TRUE(store.ok()) << store.status();
    store_ = std::move(*store);
    v1::Revision revision;
    revision.set_sha(serving_);
    revision.set_status(v1::REVISION_OK);
    ASSERT_TRUE(store_->PutRevision(revision).ok());
    ASSERT_TRUE(store_->SetServingRevision(serving_).ok());
    std::vector<v1::Node> nodes;
    for (int i = 0; i < kNodes; ++i) {
      v1::Node& n = nodes.emplace_back();
      n.set_name(absl::StrFormat("node-%05d", i));
      n.set_connected(true);
      const char* role = i % 3 == 0 ? "web" : i % 3 == 1 ? "db" : "cache";
      (*n.mutable_labels())["role"] = role;
      if (i % 300 != 0) (*n.mutable_labels())["dc"] = i % 2 == 0 ? "a" : "b";
    }
    ASSERT_TRUE(store_->PutNodes(nodes).ok());
    planner_ = std::make_unique<Planner>(source_.get(), store_.get(), &clock_,
                                         absl::ZeroDuration());
  }

  void WriteRepo(const std::string& web_content, bool per_node_motd) {
    git_->Write("plumb.yaml", kPlumbYaml);
    git_->Write("modules/base/module.yaml",
                "resources:\n  - file: /etc/motd\n    template: motd.mustache\n");
    git_->Write("modules/base/templates/motd.mustache",
                per_node_motd ? "host {{node.name}} in {{labels.dc}}\n" : "welcome\n");
    git_->Write("modules/web/module.yaml",
                "resources:\n  - file: /etc/web\n    content: \"" + web_content + "\"\n");
  }

  v1::PlanResponse PlanBranch(const std::string& branch, const std::string& web_content,
                              bool per_node_motd, v1::PlanRequest request = {}) {
    EXPECT_EQ(0, testing::RunShell("git -C " + dir_.Sub("work") + " checkout -q -B " + branch +
                                   " " + serving_));
    WriteRepo(web_content, per_node_motd);
    EXPECT_EQ(0, testing::RunShell("git -C " + dir_.Sub("work") +
                                   " -c user.name=t -c user.email=t@t commit -qam change && git -C " +
                                   dir_.Sub("work") + " push -q origin " + branch));
    request.set_to(branch);
    auto plan = planner_->Plan(request);
    EXPECT_TRUE(plan.ok()) << plan.status();
    return plan.ok() ? *plan : v1::PlanResponse();
  }

  static constexpr int kNodes = 1300;
  TempDir dir_;
  ManualClock clock_;
  std::unique_ptr<GitFixture> git_;
  std::string serving_;
  std::unique_ptr<GitSource> source_;
  std::unique_ptr<SqliteStore> store_;
  std::unique_ptr<Planner> planner_;
};

TEST_F(PlannerTest, SharedGroupsAcrossBatchesGiveOneGroupOfEveryWebNode) {
  v1::PlanResponse plan = PlanBranch("web-change", "web v2", false);
  ASSERT_EQ(plan.errors_size(), 0);
  ASSERT_EQ(plan.groups_size(), 1);
  EXPECT_EQ(plan.groups(0).nodes_size(), (kNodes + 2) / 3);  // every web node, all batches
  EXPECT_NE(plan.groups(0).diff().find("+web v2"), std::string::npos) << plan.groups(0).diff();
  EXPECT_EQ(plan.unchanged_size(), kNodes - (kNodes + 2) / 3);
  EXPECT_EQ(plan.failures_size(), 0);
}

TEST_F(PlannerTest, PerNodeTemplatePlansEveryNodeAndFailsOnlyThoseMissingTheLabel) {
  v1::PlanResponse plan = PlanBranch("motd-per-node", "web v1", true);
  ASSERT_EQ(plan.errors_size(), 0);
  int failed = 0;
  for (int i = 0; i < kNodes; i += 300) ++failed;
  EXPECT_EQ(plan.failures_size(), failed);
  int planned = 0;
  for (const v1::PlanGroup& g : plan.groups()) planned += g.nodes_size();
  EXPECT_EQ(planned, kNodes - failed);  // every other node's motd changes
  EXPECT_EQ(plan.unchanged_size(), 0);
  // Each node's diff names its own host: node-00001's group shows its own name.
  bool found = false;
  for (const v1::PlanGroup& g : plan.groups()) {
    for (const std::string& n : g.nodes()) {
      if (n == "node-00001") {
        found = true;
        EXPECT_NE(g.diff().find("+host node-00001 in b"), std::string::npos) << g.diff();
      }
    }
  }
  EXPECT_TRUE(found);
}

// Every node is "connected" in the store but has no stream here: each sample is asked and
// answered "not connected" at once, so the cap is what the test sees (the per-plan cap:
// plan_noop_test.cc).
TEST_F(PlannerTest, NoopSamplesAreCappedPerGroup) {
  v1::PlanRequest request;
  request.set_to("main");
  request.set_noop_sample(1);
  EXPECT_TRUE(absl::IsUnimplemented(planner_->Plan(request).status()));  // no sampler
  request.set_noop_sample(-1);
  EXPECT_TRUE(absl::IsInvalidArgument(planner_->Plan(request).status()));

  CatalogBuilder builder;
  RunTracker runs;
  StreamHub hub(store_.get(), &builder, &runs, &clock_);
  NoopSampler sampler(&hub, &clock_);
  planner_->set_noop_sampler(&sampler);

  // One group of 434 web nodes, 20 asked: 10, the most per group.
  v1::PlanRequest web;
  web.set_noop_sample(20);
  v1::PlanResponse plan = PlanBranch("web-change", "web v2", false, web);
  ASSERT_EQ(plan.groups_size(), 1);
  ASSERT_EQ(plan.groups(0).noop_samples_size(), NoopSampler::kMaxPerGroup);
  EXPECT_EQ(plan.groups(0).noop_samples(0).node(), plan.groups(0).nodes(0));
  EXPECT_EQ(plan.groups(0).noop_samples(0).error(), "not connected");
  EXPECT_NE(plan.noop_note().find("at most 10 nodes per group"), std::string::npos);

  EXPECT_EQ(hub.noop_requests().outstanding(), 0);
}

}  // namespace
}  // namespace plumb
