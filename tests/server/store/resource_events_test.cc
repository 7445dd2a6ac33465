// Fleet-wide resource queries over a real store (SQLite and PostgreSQL): PutReport records one
// event per non-unchanged result (once, even when a report is re-sent), and ListResourceEvents
// filters by resource id (exact or glob), outcome, drift, time and node, newest first.

#include <set>

#include "gtest/gtest.h"
#include "tests/testing/sqlite_old_schema.h"
#include "server/store/sqlite/sqlite_db.h"
#include "server/store/sqlite/sqlite_store.h"
#include "server/store/store.h"
#include "tests/testing/store_backends.h"
#include "tests/testing/test_util.h"

namespace plumb {
namespace {

using testing::TempDir;

class ResourceEventsTest : public ::testing::TestWithParam<testing::StoreBackend> {
 protected:
  void SetUp() override {
    auto store = db_.Open();
    ASSERT_TRUE(store.ok()) << store.status();
    store_ = std::move(*store);
    // web-1 repaired sshd_config by drift; web-2 got it from a new catalog and failed nginx;
    // db-1 found drift in noop.
    Put("r1", "web-1", 1000, v1::DRIFT, false,
        {{"file:/etc/ssh/sshd_config", v1::CHANGED}, {"package:nginx", v1::UNCHANGED}});
    Put("r2", "web-2", 2000, v1::CATALOG, false,
        {{"file:/etc/ssh/sshd_config", v1::CHANGED}, {"service:nginx", v1::FAILED},
         {"exec:reload", v1::SKIPPED}});
    Put("r3", "db-1", 3000, v1::INTERVAL, true, {{"file:/etc/ssh/sshd_config", v1::WOULD_CHANGE}});
  }

  void Put(const std::string& id, const std::string& node, int64_t ms, v1::RunTrigger trigger,
           bool noop, const std::vector<std::pair<std::string, v1::ResourceOutcome>>& results) {
    v1::Report r;
    r.set_id(id);
    r.set_node(node);
    r.set_revision("rev-" + id);
    r.set_trigger(trigger);
    r.set_noop(noop);
    r.set_started_unix_ms(ms);
    for (const auto& [rid, outcome] : results) {
      v1::ResourceResult* res = r.add_results();
      res->set_id(rid);
      res->set_outcome(outcome);
      res->set_message(rid + " message");
    }
    auto stored = store_->PutReport(r);
    ASSERT_TRUE(stored.ok()) << stored.status();
  }

  // "node resource" for each event, in the order returned.
  std::vector<std::string> Query(const v1::ListResourceEventsRequest& req) {
    auto events = store_->ListResourceEvents(req);
    EXPECT_TRUE(events.ok()) << events.status();
    std::vector<std::string> out;
    if (!events.ok()) return out;
    for (const auto& e : *events) out.push_back(e.node() + " " + e.resource_id());
    return out;
  }

  testing::StoreTestDb db_{GetParam()};
  std::unique_ptr<Store> store_;
};

TEST_P(ResourceEventsTest, UnchangedIsNotStoredAndNewestComeFirst) {
  EXPECT_EQ(Query({}), (std::vector<std::string>{
                           "db-1 file:/etc/ssh/sshd_config", "web-2 exec:reload",
                           "web-2 service:nginx", "web-2 file:/etc/ssh/sshd_config",
                           "web-1 file:/etc/ssh/sshd_config"}));
}

TEST_P(ResourceEventsTest, EventCarriesReportFields) {
  v1::ListResourceEventsRequest req;
  req.set_outcome(v1::FAILED);
  auto events = store_->ListResourceEvents(req);
  ASSERT_TRUE(events.ok());
  ASSERT_EQ(events->size(), 1u);
  const v1::ResourceEvent& e = (*events)[0];
  EXPECT_EQ(e.node(), "web-2");
  EXPECT_EQ(e.report_id(), "r2");
  EXPECT_EQ(e.resource_id(), "service:nginx");
  EXPECT_EQ(e.message(), "service:nginx message");
  EXPECT_EQ(e.unix_ms(), 2000);
  EXPECT_EQ(e.revision(), "rev-r2");
  EXPECT_EQ(e.trigger(), v1::CATALOG);
  EXPECT_FALSE(e.noop());
}

TEST_P(ResourceEventsTest, FiltersByIdOutcomeTimeAndNode) {
  v1::ListResourceEventsRequest req;
  req.set_resource_id("file:/etc/ssh/sshd_config");
  EXPECT_EQ(Query(req).size(), 3u);
  req.set_outcome(v1::CHANGED);
  EXPECT_EQ(Query(req), (std::vector<std::string>{"web-2 file:/etc/ssh/sshd_config",
                                                  "web-1 file:/etc/ssh/sshd_config"}));
  req.set_since_unix_ms(1500);
  EXPECT_EQ(Query(req), (std::vector<std::string>{"web-2 file:/etc/ssh/sshd_config"}));
  req.set_since_unix_ms(0);
  req.set_node("web-1");
  EXPECT_EQ(Query(req), (std::vector<std::string>{"web-1 file:/etc/ssh/sshd_config"}));
  req.set_node("nope");
  EXPECT_TRUE(Query(req).empty());
}

TEST_P(ResourceEventsTest, DriftOnlyExcludesCatalogChanges) {
  v1::ListResourceEventsRequest req;
  req.set_resource_id("file:/etc/ssh/sshd_config");
  req.set_drift_only(true);
  EXPECT_EQ(Query(req), (std::vector<std::string>{"db-1 file:/etc/ssh/sshd_config",
                                                  "web-1 file:/etc/ssh/sshd_config"}));
}

TEST_P(ResourceEventsTest, GlobAndLimit) {
  v1::ListResourceEventsRequest req;
  req.set_resource_id("*nginx");
  EXPECT_EQ(Query(req), (std::vector<std::string>{"web-2 service:nginx"}));
  req.set_resource_id("file:*");
  req.set_limit(2);
  EXPECT_EQ(Query(req), (std::vector<std::string>{"db-1 file:/etc/ssh/sshd_config",
                                                  "web-2 file:/etc/ssh/sshd_config"}));
}

TEST_P(ResourceEventsTest, ResentReportAddsNoEvents) {
  Put("r2", "web-2", 2000, v1::CATALOG, false, {{"service:nginx", v1::FAILED}});
  v1::ListResourceEventsRequest req;
  req.set_outcome(v1::FAILED);
  EXPECT_EQ(Query(req).size(), 1u);
}

TEST_P(ResourceEventsTest, SurvivesReopen) {
  store_.reset();
  auto store = db_.Open();
  ASSERT_TRUE(store.ok()) << store.status();
  store_ = std::move(*store);
  EXPECT_EQ(Query({}).size(), 5u);
}

PLUMB_INSTANTIATE_STORE_BACKENDS(ResourceEventsTest);

}  // namespace
}  // namespace plumb

namespace plumb {
namespace {

// A database from before resource events (schema 1) gains the table on open; reports stored
// from then on record events.
TEST(ResourceEventsMigrationTest, SchemaOneDatabaseMigrates) {
  testing::TempDir dir;
  std::string path = dir.Sub("plumb.db");
  {
    auto store = SqliteStore::Open(path);
    ASSERT_TRUE(store.ok());
  }
  {
    auto db = SqliteDb::Open(path);
    ASSERT_TRUE(db.ok());
    ASSERT_TRUE((*db)->Exec(testing::kSqliteUndoRevisionLines).ok());
    ASSERT_TRUE((*db)->Exec("DROP TABLE resource_events; DROP TABLE rollout_state; DROP TABLE pins;"
                            " DROP TABLE rollout_nodes; PRAGMA user_version = 1;").ok());
  }
  auto store = SqliteStore::Open(path);
  ASSERT_TRUE(store.ok()) << store.status();
  v1::Report r;
  r.set_id("r");
  r.set_node("n");
  r.add_results()->set_outcome(v1::FAILED);
  ASSERT_TRUE((*store)->PutReport(r).ok());
  auto events = (*store)->ListResourceEvents({});
  ASSERT_TRUE(events.ok()) << events.status();
  EXPECT_EQ(events->size(), 1u);
}

}  // namespace
}  // namespace plumb
