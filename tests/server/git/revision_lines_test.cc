// Revision lines (server.yaml `environments:`) against a real git repository with two branches
// and a real SQLite store: each line fetches its branch, compiles only the nodes the mapping
// gives it, records its revisions in its own line and serves them from its own builder; a
// failing commit on one branch leaves the other line serving; a line's rollout state is its
// own; the hub's matcher sends each node to its line.

#include "server/git/revision_lines.h"

#include "gtest/gtest.h"
#include "server/store/sqlite/sqlite_store.h"
#include "tests/testing/fake_clock.h"
#include "tests/testing/git_fixture.h"
#include "tests/testing/test_util.h"
#include "tests/testing/wait_for.h"

namespace plumb {
namespace {

using testing::GitFixture;
using testing::ManualClock;
using testing::TempDir;
using testing::WaitFor;

constexpr char kPlumbYaml[] = R"(version: 1
targets:
  - name: all
    nodes: "*"
    modules: [app]
)";

// The template reads labels.env: one group per environment label.
void WriteApp(GitFixture& git, const std::string& text) {
  git.Write("plumb.yaml", kPlumbYaml);
  git.Write("modules/app/module.yaml",
            "resources:\n  - file: /etc/app\n    template: app.mustache\n");
  git.Write("modules/app/templates/app.mustache", text + " {{labels.env}}\n");
}

class RevisionLinesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    git_ = std::make_unique<GitFixture>(dir_.path());
    auto store = SqliteStore::Open(dir_.Sub("plumb.db"));
    ASSERT_TRUE(store.ok()) << store.status();
    store_ = std::move(*store);
    for (const auto& [name, env] : std::vector<std::pair<std::string, std::string>>{
             {"stage-1", "staging"}, {"prod-1", "prod"}, {"prod-2", "prod"}}) {
      v1::Node n;
      n.set_name(name);
      (*n.mutable_labels())["env"] = env;
      n.set_last_seen_unix_ms(absl::ToUnixMillis(clock_.Now()));
      ASSERT_TRUE(store_->PutNode(n).ok());
    }
    auto root = ParseYaml("- {branch: staging, labels: {env: staging}}\n- {branch: main}\n",
                          "server.yaml");
    ASSERT_TRUE(root.ok());
    auto envs = Environments::Parse(*root, "server.yaml");
    ASSERT_TRUE(envs.ok()) << envs.status();
    RevisionLineSettings settings{git_->bare(), dir_.path(), absl::Seconds(10), absl::Hours(1),
                                  absl::ZeroDuration()};
    auto lines = RevisionLines::Open(*envs, settings, nullptr, store_.get(), &clock_, nullptr,
                                     nullptr, nullptr, [this] { ++served_; });
    ASSERT_TRUE(lines.ok()) << lines.status();
    lines_ = std::move(*lines);
  }

  RevisionLine& staging() { return *lines_->Find("staging"); }
  RevisionLine& main_line() { return *lines_->Find("main"); }

  TempDir dir_;
  std::unique_ptr<GitFixture> git_;
  std::unique_ptr<Store> store_;
  ManualClock clock_;
  int served_ = 0;
  std::unique_ptr<RevisionLines> lines_;
};

TEST_F(RevisionLinesTest, EachLineServesItsBranchToItsNodesOnly) {
  WriteApp(*git_, "main");
  std::string main_sha = git_->Commit("main");
  WriteApp(*git_, "staging");
  std::string staging_sha = git_->CommitTo("staging", "staging");
  ASSERT_TRUE(lines_->SyncNow().ok());
  ASSERT_TRUE(staging().poller->SyncNow().ok());
  EXPECT_EQ(served_, 2);
  EXPECT_EQ(*store_->ServingRevision("main"), main_sha);
  EXPECT_EQ(*store_->ServingRevision("staging"), staging_sha);
  EXPECT_EQ(staging().builder->desired_state()->revision(), staging_sha);
  EXPECT_EQ(main_line().builder->desired_state()->revision(), main_sha);
  // Only the line's own nodes were compiled: one group (env=staging / env=prod) each.
  EXPECT_EQ(staging().builder->compiled_groups(), 1);
  EXPECT_EQ(main_line().builder->compiled_groups(), 1);
  auto listed = store_->ListRevisions("staging", 0);
  ASSERT_TRUE(listed.ok());
  ASSERT_EQ(listed->size(), 1u);
  EXPECT_EQ((*listed)[0].environment(), "staging");
  EXPECT_TRUE((*listed)[0].serving());

  LineMatcher match = lines_->Matcher();
  ASSERT_TRUE(match);
  std::vector<ServingLine> serving = lines_->ServingLines();
  ASSERT_EQ(serving.size(), 2u);
  EXPECT_EQ(serving[match({{"env", "staging"}})].environment, "staging");
  EXPECT_EQ(serving[match({{"env", "prod"}})].environment, "main");
  EXPECT_EQ(&lines_->default_line(), &main_line());
}

TEST_F(RevisionLinesTest, AFailingCommitOnOneBranchLeavesTheOtherLineServing) {
  WriteApp(*git_, "good");
  std::string good = git_->Commit("good");
  git_->Push("staging");
  ASSERT_TRUE(lines_->SyncNow().ok());
  git_->Write("plumb.yaml", "version: 1\ntargets: [\n");
  std::string broken = git_->CommitTo("staging", "broken");
  auto rev = staging().poller->SyncNow();
  ASSERT_TRUE(rev.ok()) << rev.status();
  EXPECT_EQ(rev->status(), v1::REVISION_FAILED);
  EXPECT_EQ(rev->environment(), "staging");
  EXPECT_EQ(*store_->ServingRevision("staging"), good);
  EXPECT_EQ(*store_->ServingRevision("main"), good);
  EXPECT_EQ(store_->GetRevision("main", good)->status(), v1::REVISION_OK);
  EXPECT_TRUE(absl::IsNotFound(store_->GetRevision("main", broken).status()));
  EXPECT_TRUE(lines_->FetchStatus().ok());
}

// A webhook names the pushed branch: only the line following it fetches (the pollers here wait
// an hour between polls, so nothing else fetches).
TEST_F(RevisionLinesTest, ASyncRequestForOneBranchFetchesThatLineOnly) {
  WriteApp(*git_, "one");
  std::string first = git_->Commit("one");
  git_->Push("staging");
  lines_->Start();
  auto serving = [this](const std::string& line) {
    absl::StatusOr<std::string> sha = store_->ServingRevision(line);
    return sha.ok() ? *sha : std::string();
  };
  ASSERT_TRUE(WaitFor([&] { return serving("main") == first && serving("staging") == first; }));
  WriteApp(*git_, "two");
  std::string main_two = git_->Commit("two");
  WriteApp(*git_, "two staging");
  std::string staging_two = git_->CommitTo("staging", "two staging");
  EXPECT_FALSE(lines_->RequestSync("feature-x"));
  ASSERT_TRUE(lines_->RequestSync("staging"));
  EXPECT_TRUE(WaitFor([&] { return serving("staging") == staging_two; }));
  lines_->Stop();  // joins the pollers: whatever main fetched has been recorded
  EXPECT_EQ(serving("main"), first);
  EXPECT_NE(main_two, first);
}

TEST_F(RevisionLinesTest, ANamedLinesRolloutStateIsItsOwnRow) {
  v1::RolloutState state;
  state.set_target("t");
  ASSERT_TRUE(staging().rollout_store->PutRolloutState(state).ok());
  EXPECT_EQ(store_->GetRolloutState("staging")->target(), "t");
  EXPECT_TRUE(absl::IsNotFound(store_->GetRolloutState().status()));
  EXPECT_TRUE(absl::IsNotFound(main_line().rollout_store->GetRolloutState().status()));
}

TEST(RevisionLinesSingleTest, WithoutEnvironmentsOneLineUsesTheGivenMirrorAndNoMatcher) {
  TempDir dir;
  GitFixture git(dir.path());
  WriteApp(git, "only");
  std::string sha = git.Commit("only");
  auto store = SqliteStore::Open(dir.Sub("plumb.db"));
  ASSERT_TRUE(store.ok());
  auto source = GitSource::Open(git.bare(), "main", dir.Sub("mirror.git"));
  ASSERT_TRUE(source.ok());
  ManualClock clock;
  auto lines = RevisionLines::Open(Environments::Single("main"),
                                   {git.bare(), dir.path(), absl::Seconds(10), absl::Hours(1)},
                                   source->get(), store->get(), &clock, nullptr, nullptr,
                                   nullptr, [] {});
  ASSERT_TRUE(lines.ok()) << lines.status();
  EXPECT_FALSE((*lines)->Matcher());
  EXPECT_EQ((*lines)->line(0).git, source->get());
  auto rev = (*lines)->SyncNow();
  ASSERT_TRUE(rev.ok()) << rev.status();
  EXPECT_EQ(rev->environment(), "");
  EXPECT_EQ(*(*store)->ServingRevision(), sha);
}

}  // namespace
}  // namespace plumb
