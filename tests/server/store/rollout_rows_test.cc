// The Store's rollout rows: the controller's header (one row), its node outcomes (one row each,
// by rollout id) and node pins, on both backends (SQLite, PostgreSQL), surviving a reopen of the
// database; SQLite's schema 2 -> 4 and 3 -> 4 migrations.

#include <memory>
#include <string>

#include "gtest/gtest.h"
#include "server/store/sqlite/sqlite_db.h"
#include "server/store/sqlite/sqlite_store.h"
#include "tests/testing/sqlite_old_schema.h"
#include "tests/testing/store_backends.h"
#include "tests/testing/test_util.h"

namespace plumb {
namespace {

using ::plumb::testing::TempDir;

std::unique_ptr<Store> OpenOrDie(const std::string& path) {
  auto store = SqliteStore::Open(path);
  EXPECT_TRUE(store.ok()) << store.status();
  return store.ok() ? std::move(*store) : nullptr;
}

// Both backends.
class RolloutRowsBackendTest : public ::testing::TestWithParam<testing::StoreBackend> {
 protected:
  testing::StoreTestDb db_{GetParam()};
};
PLUMB_INSTANTIATE_STORE_BACKENDS(RolloutRowsBackendTest);

TEST_P(RolloutRowsBackendTest, StateIsNotFoundUntilPutThenReplacedAndKeptAcrossReopen) {
  {
    auto store = db_.OpenOrDie();
    ASSERT_NE(store, nullptr);
    EXPECT_TRUE(absl::IsNotFound(store->GetRolloutState().status()));
    v1::RolloutState state;
    state.set_target("aaaa");
    state.set_phase(v1::ROLLOUT_PROGRESSING);
    (*state.mutable_nodes())["n1"].set_outcome(v1::ROLLOUT_NODE_FAILED);
    ASSERT_TRUE(store->PutRolloutState(state).ok());
    state.set_target("bbbb");
    state.set_wave(2);
    ASSERT_TRUE(store->PutRolloutState(state).ok());
  }
  auto store = db_.OpenOrDie();
  ASSERT_NE(store, nullptr);
  auto got = store->GetRolloutState();
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(got->target(), "bbbb");
  EXPECT_EQ(got->wave(), 2u);
  EXPECT_EQ(got->nodes().at("n1").outcome(), v1::ROLLOUT_NODE_FAILED);
}

v1::RolloutNodeResult Outcome(v1::RolloutOutcome outcome, uint32_t wave,
                              const std::string& error = "") {
  v1::RolloutNodeResult r;
  r.set_outcome(outcome);
  r.set_wave(wave);
  r.set_error(error);
  r.set_unix_ms(1700000000000 + wave);
  return r;
}

TEST_P(RolloutRowsBackendTest, NodeRowsAreUpsertedByRolloutAndReadWithTheirHeader) {
  {
    auto store = db_.OpenOrDie();
    ASSERT_NE(store, nullptr);
    v1::RolloutState header;
    header.set_id(3);
    header.set_target("cccc");
    ASSERT_TRUE(store->PutRolloutState(header).ok());
    ASSERT_TRUE(store->PutRolloutNodes(3, {{"web-1", Outcome(v1::ROLLOUT_NODE_SERVED, 0)},
                                           {"web-2", Outcome(v1::ROLLOUT_NODE_SERVED, 1)}})
                    .ok());
    // A later batch replaces a node's row; rows of another rollout are not this one's.
    ASSERT_TRUE(store->PutRolloutNodes(
                         3, {{"web-1", Outcome(v1::ROLLOUT_NODE_FAILED, 0, "exec:x: exit 7")}})
                    .ok());
    ASSERT_TRUE(store->PutRolloutNodes(2, {{"old", Outcome(v1::ROLLOUT_NODE_SERVED, 0)}}).ok());
    ASSERT_TRUE(store->PutRolloutNodes(3, {}).ok());
    EXPECT_TRUE(absl::IsInvalidArgument(
        store->PutRolloutNodes(3, {{"", Outcome(v1::ROLLOUT_NODE_SERVED, 0)}})));
  }
  auto store = db_.OpenOrDie();
  ASSERT_NE(store, nullptr);
  auto got = store->GetRolloutState();
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(got->id(), 3u);
  ASSERT_EQ(got->nodes_size(), 2);
  const v1::RolloutNodeResult& web1 = got->nodes().at("web-1");
  EXPECT_EQ(web1.outcome(), v1::ROLLOUT_NODE_FAILED);
  EXPECT_EQ(web1.error(), "exec:x: exit 7");
  EXPECT_EQ(web1.unix_ms(), 1700000000000);
  EXPECT_EQ(got->nodes().at("web-2").wave(), 1u);
  // The next rollout's header drops every other rollout's rows.
  v1::RolloutState next;
  next.set_id(4);
  next.set_target("dddd");
  ASSERT_TRUE(store->PutRolloutState(next).ok());
  got = store->GetRolloutState();
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(got->nodes_size(), 0);
  ASSERT_TRUE(store->PutRolloutState([] {
    v1::RolloutState s;
    s.set_id(3);
    return s;
  }()).ok());
  got = store->GetRolloutState();
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(got->nodes_size(), 0);  // deleted, not hidden
}

// Issue 16: after a failover, the replica a node left may store its batch late (a retry), after
// the replica the node moved to stored a newer outcome. The older row must not win.
TEST_P(RolloutRowsBackendTest, AnOlderOutcomeStoredLateNeverReplacesANewerOne) {
  auto store = db_.OpenOrDie();
  ASSERT_NE(store, nullptr);
  v1::RolloutState header;
  header.set_id(5);
  header.set_target("eeee");
  ASSERT_TRUE(store->PutRolloutState(header).ok());
  auto at = [](v1::RolloutOutcome outcome, int64_t ms, const std::string& error = "") {
    v1::RolloutNodeResult r;
    r.set_outcome(outcome);
    r.set_unix_ms(1700000000000 + ms);
    r.set_error(error);
    return r;
  };
  // Replica B (where the nodes are now) stores their newer outcomes first.
  ASSERT_TRUE(store->PutRolloutNodes(5, {{"moved", at(v1::ROLLOUT_NODE_SUCCEEDED, 20)},
                                         {"failed", at(v1::ROLLOUT_NODE_FAILED, 20, "exit 7")},
                                         {"served", at(v1::ROLLOUT_NODE_SERVED, 20)}})
                  .ok());
  // Replica A's late batch: what it noted before the nodes left.
  ASSERT_TRUE(store->PutRolloutNodes(5, {{"moved", at(v1::ROLLOUT_NODE_SERVED, 10)},
                                         {"failed", at(v1::ROLLOUT_NODE_SUCCEEDED, 10)},
                                         {"served", at(v1::ROLLOUT_NODE_SERVED, 10)}})
                  .ok());
  auto got = store->GetRolloutState();
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(got->nodes().at("moved").outcome(), v1::ROLLOUT_NODE_SUCCEEDED);
  EXPECT_EQ(got->nodes().at("moved").unix_ms(), 1700000000020);
  EXPECT_EQ(got->nodes().at("failed").outcome(), v1::ROLLOUT_NODE_FAILED);
  EXPECT_EQ(got->nodes().at("failed").error(), "exit 7");
  EXPECT_EQ(got->nodes().at("served").unix_ms(), 1700000000020);
  // Newer outcomes still move a row forward: a later success, then a failure.
  ASSERT_TRUE(store->PutRolloutNodes(5, {{"served", at(v1::ROLLOUT_NODE_SUCCEEDED, 30)}}).ok());
  ASSERT_TRUE(
      store->PutRolloutNodes(5, {{"moved", at(v1::ROLLOUT_NODE_FAILED, 30, "health")}}).ok());
  got = store->GetRolloutState();
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(got->nodes().at("served").outcome(), v1::ROLLOUT_NODE_SUCCEEDED);
  EXPECT_EQ(got->nodes().at("moved").outcome(), v1::ROLLOUT_NODE_FAILED);
  EXPECT_EQ(got->nodes().at("moved").error(), "health");
}

TEST_P(RolloutRowsBackendTest, PinsReplaceByNodeListSortedAndDelete) {
  {
    auto store = db_.OpenOrDie();
    ASSERT_NE(store, nullptr);
    for (const char* node : {"web-2", "web-1"}) {
      v1::Pin pin;
      pin.set_node(node);
      pin.set_revision("old");
      ASSERT_TRUE(store->PutPin(pin).ok());
    }
    v1::Pin again;
    again.set_node("web-2");
    again.set_revision("new");
    ASSERT_TRUE(store->PutPin(again).ok());
    EXPECT_TRUE(absl::IsInvalidArgument(store->PutPin(v1::Pin())));
  }
  auto store = db_.OpenOrDie();
  ASSERT_NE(store, nullptr);
  auto pins = store->ListPins();
  ASSERT_TRUE(pins.ok()) << pins.status();
  ASSERT_EQ(pins->size(), 2u);
  EXPECT_EQ((*pins)[0].node(), "web-1");
  EXPECT_EQ((*pins)[1].revision(), "new");
  ASSERT_TRUE(store->DeletePin("web-1").ok());
  ASSERT_TRUE(store->DeletePin("never-pinned").ok());
  pins = store->ListPins();
  ASSERT_TRUE(pins.ok());
  ASSERT_EQ(pins->size(), 1u);
  EXPECT_EQ((*pins)[0].node(), "web-2");
}

TEST(RolloutRowsTest, ASchemaTwoDatabaseMigrates) {
  TempDir dir;
  std::string path = dir.path() + "/plumb.db";
  { ASSERT_NE(OpenOrDie(path), nullptr); }
  {
    auto db = SqliteDb::Open(path);
    ASSERT_TRUE(db.ok());
    ASSERT_TRUE((*db)->Exec(testing::kSqliteUndoRevisionLines).ok());
    ASSERT_TRUE(
        (*db)->Exec("DROP TABLE rollout_state; DROP TABLE pins; DROP TABLE rollout_nodes;"
                    " PRAGMA user_version = 2;")
            .ok());
  }
  auto store = OpenOrDie(path);
  ASSERT_NE(store, nullptr);
  v1::Pin pin;
  pin.set_node("n");
  EXPECT_TRUE(store->PutPin(pin).ok());
  EXPECT_TRUE(absl::IsNotFound(store->GetRolloutState().status()));
}

TEST(RolloutRowsTest, ASchemaThreeDatabaseKeepsItsRolloutAndGetsNodeRows) {
  TempDir dir;
  std::string path = dir.path() + "/plumb.db";
  {
    auto store = OpenOrDie(path);
    ASSERT_NE(store, nullptr);
    // Schema 3 stored the whole state, node outcomes included, in the one row.
    v1::RolloutState state;
    state.set_target("aaaa");
    (*state.mutable_nodes())["n1"].set_outcome(v1::ROLLOUT_NODE_SUCCEEDED);
    ASSERT_TRUE(store->PutRolloutState(state).ok());
  }
  {
    auto db = SqliteDb::Open(path);
    ASSERT_TRUE(db.ok());
    ASSERT_TRUE((*db)->Exec(testing::kSqliteUndoRevisionLines).ok());
    ASSERT_TRUE((*db)->Exec("DROP TABLE rollout_nodes; PRAGMA user_version = 3;").ok());
  }
  auto store = OpenOrDie(path);
  ASSERT_NE(store, nullptr);
  auto got = store->GetRolloutState();
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(got->nodes().at("n1").outcome(), v1::ROLLOUT_NODE_SUCCEEDED);
  ASSERT_TRUE(store->PutRolloutNodes(0, {{"n2", v1::RolloutNodeResult()}}).ok());
  got = store->GetRolloutState();
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(got->nodes_size(), 2);
}

}  // namespace
}  // namespace plumb
