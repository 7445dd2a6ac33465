// The poller compiles a new head incrementally from the serving revision: a commit that leaves
// a templated file and what its template reads alone reuses its renders (DesiredState::stats),
// and what the builder then serves equals a compile from scratch.

#include "common/compiler/directory_tree.h"
#include "gtest/gtest.h"
#include "server/git/revision_poller.h"
#include "server/store/sqlite/sqlite_store.h"
#include "tests/testing/fake_clock.h"
#include "tests/testing/git_fixture.h"
#include "tests/testing/test_util.h"

namespace plumb {
namespace {

using testing::GitFixture;
using testing::ManualClock;
using testing::TempDir;

// Three known nodes; every node renders a template reading its own name.
class RevisionPollerIncrementalTest : public ::testing::Test {
 protected:
  void SetUp() override {
    git_ = std::make_unique<GitFixture>(dir_.path());
    git_->Write("plumb.yaml",
                "version: 1\ntargets:\n  - name: all\n    nodes: \"*\"\n    modules: [base]\n");
    git_->Write("modules/base/module.yaml",
                "resources:\n  - file: /etc/static\n    content: \"one\"\n"
                "  - file: /etc/motd\n    template: motd.mustache\n");
    git_->Write("modules/base/templates/motd.mustache", "Welcome to {{node.name}}\n");
    auto source = GitSource::Open(git_->bare(), "main", dir_.Sub("mirror.git"));
    ASSERT_TRUE(source.ok()) << source.status();
    source_ = std::move(*source);
    auto store = SqliteStore::Open(dir_.Sub("plumb.db"));
    ASSERT_TRUE(store.ok()) << store.status();
    store_ = std::move(*store);
    for (int i = 0; i < 3; ++i) {
      v1::Node n;
      n.set_name("n" + std::to_string(i));
      n.set_last_seen_unix_ms(absl::ToUnixMillis(clock_.Now()));
      ASSERT_TRUE(store_->PutNode(n).ok());
    }
    poller_ = std::make_unique<RevisionPoller>(source_.get(), store_.get(), &builder_, &clock_,
                                               absl::Hours(1), [] {});
  }

  TempDir dir_;
  std::unique_ptr<GitFixture> git_;
  std::unique_ptr<GitSource> source_;
  std::unique_ptr<Store> store_;
  CatalogBuilder builder_;
  ManualClock clock_;
  std::unique_ptr<RevisionPoller> poller_;
};

TEST_F(RevisionPollerIncrementalTest, UnrelatedCommitReusesTheServingRevisionsRenders) {
  git_->Commit("first");
  ASSERT_TRUE(poller_->SyncNow().ok());
  EXPECT_EQ(builder_.desired_state()->stats().templates_rendered, 3);
  git_->Write("modules/base/module.yaml",
              "resources:\n  - file: /etc/static\n    content: \"two\"\n"
              "  - file: /etc/motd\n    template: motd.mustache\n");
  git_->Commit("static change");
  auto rev = poller_->SyncNow();
  ASSERT_TRUE(rev.ok()) << rev.status();
  ASSERT_TRUE(rev->serving());
  CompileStats stats = builder_.desired_state()->stats();
  EXPECT_EQ(stats.templates_rendered, 0);
  EXPECT_EQ(stats.templates_reused, 3);
  // What is served equals a compile of the same tree from scratch.
  auto served = builder_.Build(NodeInputs{"n1", {}, {}});
  ASSERT_TRUE(served.ok()) << served.status();
  DirectoryTree tree(dir_.Sub("work"));  // GitFixture's work clone
  NodeCompileResult fresh =
      DesiredState::Parse(tree, rev->sha())->CompileNode(NodeInputs{"n1", {}, {}});
  ASSERT_TRUE(fresh.ok());
  EXPECT_EQ((*served)->SerializeAsString(), fresh.catalog->SerializeAsString());
  EXPECT_EQ((*served)->digest(), fresh.catalog->digest());
}

TEST_F(RevisionPollerIncrementalTest, TemplateChangeRendersAgain) {
  git_->Commit("first");
  ASSERT_TRUE(poller_->SyncNow().ok());
  git_->Write("modules/base/templates/motd.mustache", "Hello from {{node.name}}\n");
  git_->Commit("template change");
  ASSERT_TRUE(poller_->SyncNow().ok());
  CompileStats stats = builder_.desired_state()->stats();
  EXPECT_EQ(stats.templates_rendered, 3);
  EXPECT_EQ(stats.templates_reused, 0);
}

}  // namespace
}  // namespace plumb
