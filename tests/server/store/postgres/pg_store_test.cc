// What only the PostgreSQL store has: the schema version table, migrations that are idempotent
// and safe when replicas start at once, refusal of a newer schema, reconnecting after the
// connection is lost, and the libpq wrapper's errors. The Store contract itself is tested on
// both backends by store_test, resource_events_test and retention_test.

#include "server/store/postgres/pg_store.h"

#include <thread>
#include <vector>

#include "gtest/gtest.h"
#include "server/store/postgres/pg_conn.h"
#include "server/store/postgres/pg_schema.h"
#include "tests/testing/pg_cluster.h"

namespace plumb {
namespace {

using testing::PgCluster;

std::unique_ptr<PgConn> Admin(const std::string& url) {
  auto conn = PgConn::Connect(url, "");
  EXPECT_TRUE(conn.ok()) << conn.status();
  return conn.ok() ? std::move(*conn) : nullptr;
}

std::vector<int64_t> SchemaVersions(PgConn& conn) {
  auto result = conn.Query("SELECT version FROM plumb_schema_version ORDER BY version");
  EXPECT_TRUE(result.ok()) << result.status();
  std::vector<int64_t> versions;
  for (int row = 0; result.ok() && row < result->rows(); ++row) {
    versions.push_back(result->Int(row, 0));
  }
  return versions;
}

TEST(PgStoreTest, MigrationRecordsEachVersionOnceAndIsIdempotent) {
  std::string url = PgCluster::Shared().NewDatabaseUrl();
  for (int i = 0; i < 2; ++i) {
    auto store = PgStore::Open(url);
    ASSERT_TRUE(store.ok()) << store.status();
  }
  auto admin = Admin(url);
  ASSERT_NE(admin, nullptr);
  std::vector<int64_t> want;
  for (int v = 1; v <= PgSchemaVersion(); ++v) want.push_back(v);
  EXPECT_EQ(SchemaVersions(*admin), want);
}

// Replicas starting together: every one opens, and the schema is applied exactly once (without
// the advisory lock, concurrent CREATE TABLEs fail with unique violations on pg_type).
TEST(PgStoreTest, ReplicasStartingAtOnceAllOpen) {
  std::string url = PgCluster::Shared().NewDatabaseUrl();
  constexpr int kReplicas = 6;
  std::vector<absl::Status> results(kReplicas);
  std::vector<std::thread> threads;
  for (int i = 0; i < kReplicas; ++i) {
    threads.emplace_back([&, i] { results[i] = PgStore::Open(url).status(); });
  }
  for (auto& t : threads) t.join();
  for (const absl::Status& status : results) EXPECT_TRUE(status.ok()) << status;
  auto admin = Admin(url);
  ASSERT_NE(admin, nullptr);
  EXPECT_EQ(SchemaVersions(*admin).size(), static_cast<size_t>(PgSchemaVersion()));
}

TEST(PgStoreTest, RefusesNewerSchema) {
  std::string url = PgCluster::Shared().NewDatabaseUrl();
  ASSERT_TRUE(PgStore::Open(url).ok());
  auto admin = Admin(url);
  ASSERT_NE(admin, nullptr);
  ASSERT_TRUE(admin->ExecScript("INSERT INTO plumb_schema_version (version) VALUES (99)").ok());
  auto store = PgStore::Open(url);
  EXPECT_EQ(store.status().code(), absl::StatusCode::kFailedPrecondition) << store.status();
  EXPECT_NE(store.status().message().find("upgrade plumb-server"), absl::string_view::npos);
}

// The database restarts or a proxy drops the session: the call in flight fails, the store
// reconnects on the next one (and re-prepares its statements).
TEST(PgStoreTest, ReconnectsAfterTheConnectionIsLost) {
  std::string url = PgCluster::Shared().NewDatabaseUrl();
  auto store = PgStore::Open(url);
  ASSERT_TRUE(store.ok()) << store.status();
  ASSERT_TRUE((*store)->ServingRevision().ok());
  auto admin = Admin(url);
  ASSERT_NE(admin, nullptr);
  ASSERT_TRUE(admin
                  ->ExecScript("SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                               " WHERE application_name = 'plumb-server'"
                               " AND pid <> pg_backend_pid()")
                  .ok());
  absl::Status first = (*store)->ServingRevision().status();
  if (!first.ok()) {
    EXPECT_EQ(first.code(), absl::StatusCode::kUnavailable) << first;
  }
  auto again = (*store)->ServingRevision();
  EXPECT_TRUE(again.ok()) << again.status();
  EXPECT_TRUE((*store)->Ping().ok());
}

TEST(PgStoreTest, ConnectErrorsAreUnavailableAndNameTheCause) {
  auto store =
      PgStore::Open("postgresql://plumb@/nosuchdb?host=" + PgCluster::Shared().socket_dir());
  EXPECT_EQ(store.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_NE(store.status().message().find("nosuchdb"), absl::string_view::npos) << store.status();
}

TEST(PgConnTest, ErrorsNameTheSqlAndUniqueViolationsAreAlreadyExists) {
  auto conn = Admin(PgCluster::Shared().NewDatabaseUrl());
  ASSERT_NE(conn, nullptr);
  absl::Status missing = conn->Query("SELECT * FROM no_such_table").status();
  EXPECT_EQ(missing.code(), absl::StatusCode::kInternal);
  EXPECT_NE(missing.message().find("no_such_table"), absl::string_view::npos) << missing;
  ASSERT_TRUE(conn->ExecScript("CREATE TABLE t (k text PRIMARY KEY)").ok());
  ASSERT_TRUE(conn->Query("INSERT INTO t VALUES ($1)", {PgParam::Text("a")}).ok());
  EXPECT_EQ(conn->Query("INSERT INTO t VALUES ($1)", {PgParam::Text("a")}).status().code(),
            absl::StatusCode::kAlreadyExists);
  // A failed transaction rolls back whole.
  absl::Status tx = conn->InTransaction([&]() -> absl::Status {
    if (auto s = conn->Query("INSERT INTO t VALUES ($1)", {PgParam::Text("b")}).status(); !s.ok()) {
      return s;
    }
    return conn->Query("INSERT INTO t VALUES ($1)", {PgParam::Text("a")}).status();
  });
  EXPECT_FALSE(tx.ok());
  auto count = conn->Query("SELECT count(*) FROM t");
  ASSERT_TRUE(count.ok()) << count.status();
  EXPECT_EQ(count->Int(0, 0), 1);
  // Binary results: negative and wide integers, bytes with NULs.
  auto values = conn->Query(
      "SELECT $1::bigint, $2::integer, $3::bytea, true",
      {PgParam::Int(-5000000000), PgParam::Int(-7), PgParam::Bytes(std::string("a\0b", 3))});
  ASSERT_TRUE(values.ok()) << values.status();
  EXPECT_EQ(values->Int(0, 0), -5000000000);
  EXPECT_EQ(values->Int(0, 1), -7);
  EXPECT_EQ(values->Bytes(0, 2), std::string("a\0b", 3));
  EXPECT_EQ(values->Int(0, 3), 1);
}

// Arrays carry whole batches (PutReports): every text and byte survives the literal form.
TEST(PgConnTest, ArraysRoundTripAwkwardTextAndEveryByte) {
  auto conn = Admin(PgCluster::Shared().NewDatabaseUrl());
  ASSERT_NE(conn, nullptr);
  std::vector<std::string> texts = {"",         "NULL",       "a,b",
                                    "{x}",      "say \"hi\"", "back\\slash",
                                    " spaced ", "ünïcødé ✓",  "line\nbreak"};
  std::string bytes;
  for (int c = 0; c < 256; ++c) bytes.push_back(static_cast<char>(c));
  PgArray text_array, int_array, byte_array;
  for (const std::string& t : texts) text_array.AddText(t);
  for (int64_t v : {INT64_MIN, int64_t{-1}, int64_t{0}, INT64_MAX}) int_array.AddInt(v);
  byte_array.AddBytes(bytes);
  byte_array.AddBytes("");
  auto got = conn->Query("SELECT t FROM unnest($1::text[]) WITH ORDINALITY AS a(t, i) ORDER BY i",
                         {text_array.Param()});
  ASSERT_TRUE(got.ok()) << got.status();
  ASSERT_EQ(got->rows(), static_cast<int>(texts.size()));
  for (size_t i = 0; i < texts.size(); ++i) EXPECT_EQ(got->Bytes(i, 0), texts[i]);
  auto ints =
      conn->Query("SELECT v FROM unnest($1::bigint[]) WITH ORDINALITY AS a(v, i) ORDER BY i",
                  {int_array.Param()});
  ASSERT_TRUE(ints.ok()) << ints.status();
  ASSERT_EQ(ints->rows(), 4);
  EXPECT_EQ(ints->Int(0, 0), INT64_MIN);
  EXPECT_EQ(ints->Int(3, 0), INT64_MAX);
  auto blobs =
      conn->Query("SELECT b FROM unnest($1::bytea[]) WITH ORDINALITY AS a(b, i) ORDER BY i",
                  {byte_array.Param()});
  ASSERT_TRUE(blobs.ok()) << blobs.status();
  ASSERT_EQ(blobs->rows(), 2);
  EXPECT_EQ(blobs->Bytes(0, 0), bytes);
  EXPECT_EQ(blobs->Bytes(1, 0), "");
}

}  // namespace
}  // namespace plumb
