// The Store's revision lines (server.yaml `environments:`), on both backends: one row per
// (environment, sha), a serving revision and a rollout state per line, listing one line or all;
// and SQLite's migration of a single-line database into line "".

#include <memory>
#include <string>

#include "absl/strings/escaping.h"
#include "gtest/gtest.h"
#include "server/store/sqlite/sqlite_db.h"
#include "server/store/sqlite/sqlite_store.h"
#include "tests/testing/sqlite_old_schema.h"
#include "tests/testing/store_backends.h"
#include "tests/testing/test_util.h"

namespace plumb {
namespace {

const std::string kShaA(40, 'a');
const std::string kShaB(40, 'b');

v1::Revision Rev(const std::string& env, const std::string& sha, int64_t fetched,
                 v1::RevisionStatus status = v1::REVISION_OK) {
  v1::Revision r;
  r.set_environment(env);
  r.set_sha(sha);
  r.set_status(status);
  r.set_fetched_unix_ms(fetched);
  r.set_summary(env + " " + sha.substr(0, 1));
  return r;
}

class RevisionLinesStoreTest : public ::testing::TestWithParam<testing::StoreBackend> {
 protected:
  testing::StoreTestDb db_{GetParam()};
};
PLUMB_INSTANTIATE_STORE_BACKENDS(RevisionLinesStoreTest);

TEST_P(RevisionLinesStoreTest, OneCommitInTwoLinesIsTwoRowsEachWithItsServing) {
  auto store = db_.OpenOrDie();
  ASSERT_NE(store, nullptr);
  ASSERT_TRUE(store->PutRevision(Rev("main", kShaA, 1)).ok());
  ASSERT_TRUE(store->PutRevision(Rev("staging", kShaA, 2)).ok());
  ASSERT_TRUE(store->PutRevision(Rev("staging", kShaB, 3, v1::REVISION_FAILED)).ok());
  ASSERT_TRUE(store->SetServingRevision("main", kShaA).ok());
  ASSERT_TRUE(store->SetServingRevision("staging", kShaA).ok());
  // A failed revision is never served; a sha unknown in the line cannot be served there.
  EXPECT_TRUE(absl::IsFailedPrecondition(store->SetServingRevision("staging", kShaB)));
  EXPECT_TRUE(absl::IsNotFound(store->SetServingRevision("main", kShaB)));
  EXPECT_EQ(*store->ServingRevision("main"), kShaA);
  EXPECT_EQ(*store->ServingRevision("staging"), kShaA);
  EXPECT_EQ(*store->ServingRevision(""), "");
  EXPECT_EQ(*store->ServingRevision(), "");

  auto staging = store->ListRevisions("staging", 0);
  ASSERT_TRUE(staging.ok()) << staging.status();
  ASSERT_EQ(staging->size(), 2u);
  EXPECT_EQ((*staging)[0].sha(), kShaB);
  EXPECT_FALSE((*staging)[0].serving());
  EXPECT_EQ((*staging)[1].environment(), "staging");
  EXPECT_TRUE((*staging)[1].serving());
  auto all = store->ListRevisions(0);
  ASSERT_TRUE(all.ok());
  ASSERT_EQ(all->size(), 3u);
  EXPECT_EQ((*all)[2].environment(), "main");
  EXPECT_TRUE((*all)[2].serving());

  // A sha in two lines is not ambiguous: any line gives the newest row, a line its own.
  auto any = store->GetRevision("aaaa");
  ASSERT_TRUE(any.ok()) << any.status();
  EXPECT_EQ(any->environment(), "staging");
  auto in_main = store->GetRevision("main", "aaaa");
  ASSERT_TRUE(in_main.ok()) << in_main.status();
  EXPECT_EQ(in_main->environment(), "main");
  EXPECT_TRUE(in_main->serving());
  EXPECT_TRUE(absl::IsNotFound(store->GetRevision("main", "bbbb").status()));
  ASSERT_TRUE(store->PutRevision(Rev("main", "aaaa" + std::string(36, 'c'), 4)).ok());
  EXPECT_TRUE(absl::IsInvalidArgument(store->GetRevision("aaaa").status()));  // two shas

  // Replacing by (environment, sha) leaves the other line's row alone.
  v1::Revision failed = Rev("main", kShaA, 5, v1::REVISION_FAILED);
  ASSERT_TRUE(store->PutRevision(failed).ok());
  EXPECT_EQ(store->GetRevision("staging", kShaA)->status(), v1::REVISION_OK);
}

TEST_P(RevisionLinesStoreTest, EachNamedLineHasItsOwnRolloutState) {
  auto row = [](const std::string& node, v1::RolloutOutcome outcome) {
    Store::RolloutNodeRow r;
    r.node = node;
    r.result.set_wave(1);
    r.result.set_outcome(outcome);
    return r;
  };
  {
    auto store = db_.OpenOrDie();
    ASSERT_NE(store, nullptr);
    EXPECT_TRUE(absl::IsNotFound(store->GetRolloutState("staging").status()));
    v1::RolloutState state;
    state.set_id(1);
    state.set_target("staging-target");
    ASSERT_TRUE(store->PutRolloutState("staging", state).ok());
    ASSERT_TRUE(store->PutRolloutNodes("staging", 1, {row("s1", v1::ROLLOUT_NODE_SUCCEEDED)}).ok());
    state.set_target("single-target");
    ASSERT_TRUE(store->PutRolloutState(state).ok());
    ASSERT_TRUE(store->PutRolloutNodes(1, {row("m1", v1::ROLLOUT_NODE_FAILED)}).ok());
    // A new rollout of the single line (another id) drops that line's old node rows only.
    state.set_id(2);
    ASSERT_TRUE(store->PutRolloutState(state).ok());
  }
  auto store = db_.OpenOrDie();
  ASSERT_NE(store, nullptr);
  absl::StatusOr<v1::RolloutState> staging = store->GetRolloutState("staging");
  ASSERT_TRUE(staging.ok()) << staging.status();
  EXPECT_EQ(staging->target(), "staging-target");
  ASSERT_EQ(staging->nodes().size(), 1u);
  EXPECT_EQ(staging->nodes().at("s1").outcome(), v1::ROLLOUT_NODE_SUCCEEDED);
  absl::StatusOr<v1::RolloutState> single = store->GetRolloutState();
  ASSERT_TRUE(single.ok()) << single.status();
  EXPECT_EQ(single->target(), "single-target");
  EXPECT_TRUE(single->nodes().empty());
  EXPECT_TRUE(absl::IsNotFound(store->GetRolloutState("main").status()));
}

TEST(RevisionLinesMigrationTest, ASingleLineDatabaseKeepsItsRevisionsAndServingInLineEmpty) {
  testing::TempDir dir;
  std::string path = dir.Sub("plumb.db");
  { ASSERT_TRUE(SqliteStore::Open(path).ok()); }
  {
    auto db = SqliteDb::Open(path);
    ASSERT_TRUE(db.ok());
    ASSERT_TRUE((*db)->Exec(testing::kSqliteUndoRevisionLines).ok());
    v1::Revision old = Rev("", kShaA, 7);
    ASSERT_TRUE((*db)->Exec("INSERT INTO revisions VALUES ('" + kShaA + "', 1, 7, 's', X'" +
                            absl::BytesToHexString(old.SerializeAsString()) + "');"
                            "INSERT INTO serving VALUES (1, '" + kShaA + "');"
                            "PRAGMA user_version = 4;")
                    .ok());
  }
  auto store = SqliteStore::Open(path);
  ASSERT_TRUE(store.ok()) << store.status();
  EXPECT_EQ(*(*store)->ServingRevision(), kShaA);
  auto rev = (*store)->GetRevision("", kShaA);
  ASSERT_TRUE(rev.ok()) << rev.status();
  EXPECT_TRUE(rev->serving());
  EXPECT_EQ(rev->fetched_unix_ms(), 7);
  EXPECT_TRUE((*store)->Ping().ok());
}

}  // namespace
}  // namespace plumb
