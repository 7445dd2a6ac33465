#include "server/store/sqlite/sqlite_store.h"
#include "server/store/store.h"

#include <sys/stat.h>

#include <string>

#include "gtest/gtest.h"
#include "server/store/sqlite/sqlite_db.h"
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

v1::Revision MakeRevision(const std::string& sha, int64_t fetched_ms,
                          v1::RevisionStatus status = v1::REVISION_OK) {
  v1::Revision revision;
  revision.set_sha(sha);
  revision.set_status(status);
  revision.set_fetched_unix_ms(fetched_ms);
  revision.set_summary("commit " + sha.substr(0, 6));
  return revision;
}

v1::Node MakeNode(const std::string& name, v1::NodeStatus status,
                  std::map<std::string, std::string> labels) {
  v1::Node node;
  node.set_name(name);
  node.set_status(status);
  for (const auto& [k, v] : labels) (*node.mutable_labels())[k] = v;
  node.set_applied_revision("abc");
  return node;
}

v1::Report MakeReport(const std::string& id, const std::string& node, int64_t started_ms) {
  v1::Report report;
  report.set_id(id);
  report.set_node(node);
  report.set_revision("aaaa1111");
  report.set_trigger(v1::CATALOG);
  report.set_started_unix_ms(started_ms);
  report.set_duration_us(1234);
  auto add = [&](const std::string& rid, v1::ResourceOutcome outcome) {
    v1::ResourceResult* r = report.add_results();
    r->set_id(rid);
    r->set_outcome(outcome);
    r->set_message("m " + rid);
  };
  add("file:/a", v1::CHANGED);
  add("file:/b", v1::CHANGED);
  add("file:/c", v1::UNCHANGED);
  add("file:/d", v1::FAILED);
  add("directory:/e", v1::SKIPPED);
  add("symlink:/f", v1::WOULD_CHANGE);
  return report;
}

std::vector<std::string> Names(const std::vector<v1::Node>& nodes) {
  std::vector<std::string> names;
  for (const auto& n : nodes) names.push_back(n.name());
  return names;
}

const std::string kShaA = "aaaa1111aaaa1111aaaa1111aaaa1111aaaa1111";
const std::string kShaA2 = "aaaa2222aaaa2222aaaa2222aaaa2222aaaa2222";
const std::string kShaB = "bbbb1111bbbb1111bbbb1111bbbb1111bbbb1111";

// The backend-independent contract, run on SQLite and on PostgreSQL.
class StoreTest : public ::testing::TestWithParam<testing::StoreBackend> {};

TEST(SqliteStoreTest, ANewDatabaseIsNotWorldReadable) {
  TempDir dir;
  mode_t old = umask(0);  // the most permissive umask: the mode must not depend on it
  auto store = SqliteStore::Open(dir.Sub("plumb.db"));
  umask(old);
  ASSERT_TRUE(store.ok()) << store.status();
  for (const char* name : {"plumb.db", "plumb.db-wal"}) {
    struct stat st;
    if (stat(dir.Sub(name).c_str(), &st) != 0) continue;  // -wal appears with the first write
    EXPECT_EQ(st.st_mode & 0777, 0640u) << name;
  }
}

TEST_P(StoreTest, RevisionRoundTripWithErrors) {
  testing::StoreTestDb db(GetParam());
  auto store = db.OpenOrDie();
  ASSERT_NE(store, nullptr);
  v1::Revision bad = MakeRevision(kShaA, 100, v1::REVISION_FAILED);
  v1::CompileError* error = bad.add_errors();
  error->set_location("modules/x/module.yaml:3:5");
  error->set_message("unknown type frobnicate");
  ASSERT_TRUE(store->PutRevision(bad).ok());

  auto got = store->GetRevision(kShaA);
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(got->sha(), kShaA);
  EXPECT_EQ(got->status(), v1::REVISION_FAILED);
  EXPECT_EQ(got->fetched_unix_ms(), 100);
  EXPECT_EQ(got->summary(), "commit aaaa11");
  ASSERT_EQ(got->errors_size(), 1);
  EXPECT_EQ(got->errors(0).location(), "modules/x/module.yaml:3:5");
  EXPECT_FALSE(got->serving());

  // PutRevision replaces by sha (e.g. a recompile).
  ASSERT_TRUE(store->PutRevision(MakeRevision(kShaA, 100, v1::REVISION_OK)).ok());
  got = store->GetRevision(kShaA);
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(got->status(), v1::REVISION_OK);
  EXPECT_EQ(got->errors_size(), 0);
}

TEST_P(StoreTest, RevisionPrefixLookup) {
  testing::StoreTestDb db(GetParam());
  auto store = db.OpenOrDie();
  ASSERT_NE(store, nullptr);
  ASSERT_TRUE(store->PutRevision(MakeRevision(kShaA, 1)).ok());
  ASSERT_TRUE(store->PutRevision(MakeRevision(kShaA2, 2)).ok());
  ASSERT_TRUE(store->PutRevision(MakeRevision(kShaB, 3)).ok());

  auto unique = store->GetRevision("aaaa2");
  ASSERT_TRUE(unique.ok()) << unique.status();
  EXPECT_EQ(unique->sha(), kShaA2);
  auto upper = store->GetRevision("BBBB");
  ASSERT_TRUE(upper.ok()) << upper.status();
  EXPECT_EQ(upper->sha(), kShaB);

  EXPECT_EQ(store->GetRevision("aaaa").status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(store->GetRevision("cccc").status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(store->GetRevision("bbb").status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(store->GetRevision("bbbb*").status().code(), absl::StatusCode::kInvalidArgument);
}

TEST_P(StoreTest, ListRevisionsNewestFirstWithServing) {
  testing::StoreTestDb db(GetParam());
  auto store = db.OpenOrDie();
  ASSERT_NE(store, nullptr);
  EXPECT_EQ(*store->ServingRevision(), "");
  ASSERT_TRUE(store->PutRevision(MakeRevision(kShaB, 300)).ok());
  ASSERT_TRUE(store->PutRevision(MakeRevision(kShaA, 100)).ok());
  ASSERT_TRUE(store->PutRevision(MakeRevision(kShaA2, 200, v1::REVISION_FAILED)).ok());
  ASSERT_TRUE(store->SetServingRevision(kShaA).ok());

  auto list = store->ListRevisions(10);
  ASSERT_TRUE(list.ok()) << list.status();
  ASSERT_EQ(list->size(), 3u);
  EXPECT_EQ((*list)[0].sha(), kShaB);
  EXPECT_EQ((*list)[1].sha(), kShaA2);
  EXPECT_EQ((*list)[2].sha(), kShaA);
  EXPECT_FALSE((*list)[0].serving());
  EXPECT_TRUE((*list)[2].serving());
  EXPECT_EQ(store->ListRevisions(2)->size(), 2u);
  EXPECT_TRUE(store->GetRevision(kShaA)->serving());

  ASSERT_TRUE(store->SetServingRevision(kShaB).ok());
  EXPECT_EQ(*store->ServingRevision(), kShaB);
  EXPECT_FALSE(store->GetRevision(kShaA)->serving());
  // A failed revision is never served; an unknown one cannot be.
  EXPECT_EQ(store->SetServingRevision(kShaA2).code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(store->SetServingRevision("ffff").code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(*store->ServingRevision(), kShaB);
}

TEST_P(StoreTest, NodesPutGetList) {
  testing::StoreTestDb db(GetParam());
  auto store = db.OpenOrDie();
  ASSERT_NE(store, nullptr);
  ASSERT_TRUE(store->PutNode(MakeNode("web-02", v1::NODE_CONVERGED, {{"role", "web"}})).ok());
  ASSERT_TRUE(store->PutNode(MakeNode("db-01", v1::NODE_FAILED, {{"role", "db"}})).ok());
  ASSERT_TRUE(store
                  ->PutNode(MakeNode("web-01", v1::NODE_PENDING,
                                     {{"role", "web"}, {"env", "prod"}}))
                  .ok());

  auto web1 = store->GetNode("web-01");
  ASSERT_TRUE(web1.ok()) << web1.status();
  EXPECT_EQ(web1->status(), v1::NODE_PENDING);
  EXPECT_EQ(web1->labels().at("env"), "prod");
  EXPECT_EQ(web1->applied_revision(), "abc");
  EXPECT_EQ(store->GetNode("nope").status().code(), absl::StatusCode::kNotFound);

  auto all = store->ListNodes({}, v1::NODE_STATUS_UNSPECIFIED);
  ASSERT_TRUE(all.ok()) << all.status();
  EXPECT_EQ(Names(*all), (std::vector<std::string>{"db-01", "web-01", "web-02"}));
  EXPECT_EQ(Names(*store->ListNodes({{"role", "web"}}, v1::NODE_STATUS_UNSPECIFIED)),
            (std::vector<std::string>{"web-01", "web-02"}));
  EXPECT_EQ(Names(*store->ListNodes({{"role", "web"}, {"env", "prod"}},
                                    v1::NODE_STATUS_UNSPECIFIED)),
            (std::vector<std::string>{"web-01"}));
  EXPECT_EQ(Names(*store->ListNodes({{"role", "web"}}, v1::NODE_CONVERGED)),
            (std::vector<std::string>{"web-02"}));
  EXPECT_TRUE(store->ListNodes({{"role", "web"}}, v1::NODE_FAILED)->empty());
  EXPECT_TRUE(store->ListNodes({{"env", "dev"}}, v1::NODE_STATUS_UNSPECIFIED)->empty());

  // PutNode replaces by name, and the status column follows.
  ASSERT_TRUE(store->PutNode(MakeNode("db-01", v1::NODE_CONVERGED, {{"role", "db"}})).ok());
  EXPECT_EQ(Names(*store->ListNodes({}, v1::NODE_CONVERGED)),
            (std::vector<std::string>{"db-01", "web-02"}));
  EXPECT_EQ(store->ListNodes({}, v1::NODE_STATUS_UNSPECIFIED)->size(), 3u);
}

TEST(StoreSummaryTest, SummarizeCountsOutcomes) {
  v1::ReportSummary summary = Store::Summarize(MakeReport("r1", "web-01", 5));
  EXPECT_EQ(summary.id(), "r1");
  EXPECT_EQ(summary.node(), "web-01");
  EXPECT_EQ(summary.revision(), "aaaa1111");
  EXPECT_EQ(summary.trigger(), v1::CATALOG);
  EXPECT_EQ(summary.started_unix_ms(), 5);
  EXPECT_EQ(summary.duration_us(), 1234);
  EXPECT_EQ(summary.changed(), 2);
  EXPECT_EQ(summary.unchanged(), 1);
  EXPECT_EQ(summary.failed(), 1);
  EXPECT_EQ(summary.skipped(), 1);
  EXPECT_EQ(summary.would_change(), 1);
}

TEST_P(StoreTest, PutReportIsIdempotent) {
  testing::StoreTestDb db(GetParam());
  auto store = db.OpenOrDie();
  ASSERT_NE(store, nullptr);
  v1::Report report = MakeReport("r1", "web-01", 1000);
  auto first = store->PutReport(report);
  ASSERT_TRUE(first.ok()) << first.status();
  EXPECT_TRUE(*first);
  // A re-send (even with altered content) is ignored and keeps the first copy.
  v1::Report resend = report;
  resend.set_duration_us(9);
  auto second = store->PutReport(resend);
  ASSERT_TRUE(second.ok()) << second.status();
  EXPECT_FALSE(*second);

  auto listed = store->ListReports("web-01", 0);
  ASSERT_TRUE(listed.ok());
  EXPECT_EQ(listed->size(), 1u);
  auto got = store->GetReport("r1");
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(got->duration_us(), 1234);
  EXPECT_EQ(got->SerializeAsString(), report.SerializeAsString());
  EXPECT_EQ(store->GetReport("r2").status().code(), absl::StatusCode::kNotFound);
}

TEST_P(StoreTest, ListReportsNewestFirstWithCounts) {
  testing::StoreTestDb db(GetParam());
  auto store = db.OpenOrDie();
  ASSERT_NE(store, nullptr);
  ASSERT_TRUE(store->PutReport(MakeReport("w1-old", "web-01", 1000)).ok());
  ASSERT_TRUE(store->PutReport(MakeReport("w2", "web-02", 1500)).ok());
  ASSERT_TRUE(store->PutReport(MakeReport("w1-new", "web-01", 3000)).ok());
  ASSERT_TRUE(store->PutReport(MakeReport("w1-mid", "web-01", 2000)).ok());

  auto web1 = store->ListReports("web-01", 10);
  ASSERT_TRUE(web1.ok()) << web1.status();
  ASSERT_EQ(web1->size(), 3u);
  EXPECT_EQ((*web1)[0].id(), "w1-new");
  EXPECT_EQ((*web1)[1].id(), "w1-mid");
  EXPECT_EQ((*web1)[2].id(), "w1-old");
  EXPECT_EQ((*web1)[0].changed(), 2);
  EXPECT_EQ((*web1)[0].failed(), 1);
  EXPECT_EQ((*web1)[0].node(), "web-01");

  auto all = store->ListReports("", 2);
  ASSERT_TRUE(all.ok());
  ASSERT_EQ(all->size(), 2u);
  EXPECT_EQ((*all)[0].id(), "w1-new");
  EXPECT_EQ((*all)[1].id(), "w1-mid");
  EXPECT_EQ(store->ListReports("", 0)->size(), 4u);
  EXPECT_TRUE(store->ListReports("db-01", 0)->empty());

  for (int i = 0; i < 25; ++i) {
    ASSERT_TRUE(store->PutReport(MakeReport("bulk" + std::to_string(i), "bulk", i)).ok());
  }
  EXPECT_EQ(store->ListReports("bulk", 0)->size(), 20u);  // limit <= 0 means 20
}

TEST_P(StoreTest, SurvivesReopen) {
  testing::StoreTestDb db(GetParam());
  {
    auto store = db.OpenOrDie();
    ASSERT_NE(store, nullptr);
    ASSERT_TRUE(store->PutRevision(MakeRevision(kShaA, 1)).ok());
    ASSERT_TRUE(store->SetServingRevision(kShaA).ok());
    ASSERT_TRUE(store->PutNode(MakeNode("web-01", v1::NODE_CONVERGED, {{"role", "web"}})).ok());
    ASSERT_TRUE(store->PutReport(MakeReport("r1", "web-01", 1)).ok());
  }
  auto store = db.OpenOrDie();
  ASSERT_NE(store, nullptr);
  EXPECT_EQ(*store->ServingRevision(), kShaA);
  EXPECT_EQ(store->GetRevision("aaaa1")->sha(), kShaA);
  EXPECT_EQ(store->GetNode("web-01")->labels().at("role"), "web");
  EXPECT_TRUE(store->GetReport("r1").ok());
  EXPECT_FALSE(*store->PutReport(MakeReport("r1", "web-01", 1)));
}

TEST(SqliteStoreTest, UsesWalAndRecordsSchemaVersion) {
  TempDir dir;
  std::string path = dir.Sub("plumb.db");
  auto store = OpenOrDie(path);
  ASSERT_TRUE(store->PutNode(MakeNode("n", v1::NODE_UNKNOWN, {})).ok());
  // A second connection sees the persistent journal mode of the file.
  auto db = SqliteDb::Open(path);
  ASSERT_TRUE(db.ok()) << db.status();
  EXPECT_EQ(*(*db)->QueryText("PRAGMA journal_mode"), "wal");
  EXPECT_EQ(*(*db)->QueryText("PRAGMA user_version"), "7");
  EXPECT_EQ(*(*db)->QueryText("SELECT count(*) FROM nodes"), "1");
}

TEST(SqliteStoreTest, RefusesNewerSchema) {
  TempDir dir;
  std::string path = dir.Sub("plumb.db");
  OpenOrDie(path).reset();
  {
    auto db = SqliteDb::Open(path);
    ASSERT_TRUE(db.ok());
    ASSERT_TRUE((*db)->Exec("PRAGMA user_version = 99").ok());
  }
  auto store = SqliteStore::Open(path);
  EXPECT_EQ(store.status().code(), absl::StatusCode::kFailedPrecondition);
}

TEST_P(StoreTest, DeleteNodeAndCountByStatus) {
  testing::StoreTestDb db(GetParam());
  auto store = db.OpenOrDie();
  ASSERT_NE(store, nullptr);
  ASSERT_TRUE(store
                  ->PutNodes({MakeNode("a", v1::NODE_CONVERGED, {}),
                              MakeNode("b", v1::NODE_CONVERGED, {}),
                              MakeNode("c", v1::NODE_FAILED, {})})
                  .ok());
  auto counts = store->CountNodesByStatus();
  ASSERT_TRUE(counts.ok()) << counts.status();
  EXPECT_EQ(*counts, (std::map<v1::NodeStatus, int64_t>{{v1::NODE_CONVERGED, 2},
                                                         {v1::NODE_FAILED, 1}}));
  ASSERT_TRUE(store->DeleteNode("b").ok());
  EXPECT_EQ(store->DeleteNode("b").code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(store->GetNode("b").status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ((*store->CountNodesByStatus())[v1::NODE_CONVERGED], 1);
  EXPECT_TRUE(store->Ping().ok());
}

// PostgreSQL writes a batch of node rows in one statement: a name twice is the last row.
TEST_P(StoreTest, PutNodesTwiceInABatchKeepsTheLast) {
  testing::StoreTestDb db(GetParam());
  auto store = db.OpenOrDie();
  ASSERT_NE(store, nullptr);
  ASSERT_TRUE(store
                  ->PutNodes({MakeNode("a", v1::NODE_CONVERGED, {{"k", "1"}}),
                              MakeNode("b", v1::NODE_OFFLINE, {}),
                              MakeNode("a", v1::NODE_FAILED, {{"k", "2"}})})
                  .ok());
  auto a = store->GetNode("a");
  ASSERT_TRUE(a.ok()) << a.status();
  EXPECT_EQ(a->status(), v1::NODE_FAILED);
  EXPECT_EQ(a->labels().at("k"), "2");
  EXPECT_EQ((*store->CountNodesByStatus())[v1::NODE_FAILED], 1);
  EXPECT_EQ(store->GetNode("b")->status(), v1::NODE_OFFLINE);
}

// A batch with an invalid member stores nothing (all or none).
TEST_P(StoreTest, BatchesAreAllOrNone) {
  testing::StoreTestDb db(GetParam());
  auto store = db.OpenOrDie();
  ASSERT_NE(store, nullptr);
  EXPECT_FALSE(store->PutNodes({MakeNode("a", v1::NODE_CONVERGED, {}), MakeNode("", {}, {})}).ok());
  EXPECT_EQ(store->GetNode("a").status().code(), absl::StatusCode::kNotFound);
  v1::Report good = MakeReport("r1", "n", 1);
  v1::Report bad = MakeReport("", "n", 2);
  EXPECT_FALSE(store->PutReports({&good, &bad}).ok());
  EXPECT_EQ(store->GetReport("r1").status().code(), absl::StatusCode::kNotFound);
  auto stored = store->PutReports({&good, &good});
  ASSERT_TRUE(stored.ok()) << stored.status();
  EXPECT_EQ(*stored, (std::vector<bool>{true, false}));  // the second is a re-send
}

// Messages and ids with quotes, backslashes, braces and commas are stored as sent (PostgreSQL
// inserts a batch's events as array literals).
TEST_P(StoreTest, AwkwardTextInABatchRoundTrips) {
  testing::StoreTestDb db(GetParam());
  auto store = db.OpenOrDie();
  ASSERT_NE(store, nullptr);
  v1::Report a = MakeReport("r,\"1\"", "node {x}", 1);
  a.mutable_results(0)->set_message("said \"hi\", back\\slash {NULL}\n");
  v1::Report b = MakeReport("r2", "n", 2);
  auto stored = store->PutReports({&a, &b});
  ASSERT_TRUE(stored.ok()) << stored.status();
  EXPECT_EQ(*stored, (std::vector<bool>{true, true}));
  v1::ListResourceEventsRequest filter;
  filter.set_node("node {x}");
  filter.set_resource_id("file:/a");
  auto events = store->ListResourceEvents(filter);
  ASSERT_TRUE(events.ok()) << events.status();
  ASSERT_EQ(events->size(), 1u);
  EXPECT_EQ((*events)[0].message(), "said \"hi\", back\\slash {NULL}\n");
  EXPECT_EQ((*events)[0].report_id(), "r,\"1\"");
  EXPECT_EQ(store->GetReport("r,\"1\"")->SerializeAsString(), a.SerializeAsString());
}

PLUMB_INSTANTIATE_STORE_BACKENDS(StoreTest);

}  // namespace
}  // namespace plumb
