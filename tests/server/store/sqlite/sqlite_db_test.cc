// The SQLite wrapper (SqliteDb): errors name the SQL, reused statements start fresh and
// survive schema changes, a garbage file is refused. Moved from store_test.cc when that file
// gained the PostgreSQL backend.

#include "server/store/sqlite/sqlite_db.h"

#include <string>

#include "gtest/gtest.h"
#include "server/store/sqlite/sqlite_store.h"
#include "tests/testing/test_util.h"

namespace plumb {
namespace {

using ::plumb::testing::TempDir;

TEST(SqliteDbTest, ErrorsNameTheSqlAndMessage) {
  TempDir dir;
  auto db = SqliteDb::Open(dir.Sub("x.db"));
  ASSERT_TRUE(db.ok());
  absl::Status status = (*db)->Exec("SELECT * FROM no_such_table");
  EXPECT_FALSE(status.ok());
  EXPECT_NE(status.message().find("no such table"), absl::string_view::npos) << status;
  EXPECT_NE(status.message().find("SELECT * FROM no_such_table"), absl::string_view::npos);

  auto bad_open = SqliteDb::Open(dir.Sub("missing/dir/x.db"));
  EXPECT_FALSE(bad_open.ok());
}

TEST(SqliteDbTest, ReusedStatementsStartFreshAndSurviveSchemaChanges) {
  TempDir dir;
  auto db = SqliteDb::Open(dir.Sub("t.db"));
  ASSERT_TRUE(db.ok()) << db.status();
  ASSERT_TRUE((*db)->Exec("CREATE TABLE t (a INTEGER)").ok());
  const char* kInsert = "INSERT INTO t (a) VALUES (?1)";
  for (int i = 0; i < 3; ++i) {
    auto stmt = (*db)->Prepare(kInsert);
    ASSERT_TRUE(stmt.ok());
    if (i != 1) {  // i == 1: binds nothing
      ASSERT_TRUE((*stmt)->BindInt64(1, 10 + i).ok());
    }
    ASSERT_TRUE((*stmt)->Run().ok());
  }
  {
    // Two at once: the second is its own statement, not the cached one in use.
    auto a = (*db)->Prepare("SELECT a FROM t ORDER BY rowid");
    auto b = (*db)->Prepare("SELECT a FROM t ORDER BY rowid");
    ASSERT_TRUE(a.ok() && b.ok());
    ASSERT_TRUE(*(*a)->Step());
    ASSERT_TRUE(*(*b)->Step());
    ASSERT_TRUE(*(*b)->Step());
    EXPECT_EQ((*a)->ColumnInt64(0), 10);
    EXPECT_TRUE((*b)->ColumnIsNull(0));  // the reused INSERT did not keep the old binding
  }
  // A statement left mid-result is rewound when reused.
  auto again = (*db)->Prepare("SELECT a FROM t ORDER BY rowid");
  ASSERT_TRUE(again.ok());
  ASSERT_TRUE(*(*again)->Step());
  EXPECT_EQ((*again)->ColumnInt64(0), 10);
  again->reset();
  ASSERT_TRUE((*db)->Exec("ALTER TABLE t ADD COLUMN b TEXT DEFAULT 'x'").ok());
  auto after = (*db)->Prepare("SELECT a FROM t ORDER BY rowid");
  ASSERT_TRUE(after.ok());
  int rows = 0;
  while (*(*after)->Step()) ++rows;
  EXPECT_EQ(rows, 3);
}

TEST(SqliteDbTest, OpenRefusesGarbageFile) {
  TempDir dir;
  plumb::testing::WriteFileOrDie(dir.Sub("junk.db"), std::string(8192, 'x'));
  auto store = SqliteStore::Open(dir.Sub("junk.db"));
  EXPECT_FALSE(store.ok());
}

}  // namespace
}  // namespace plumb
