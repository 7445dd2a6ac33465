// The store the configuration picks: SQLite under state_dir by default, PostgreSQL for a URL,
// with the password from store.password_file (checked against a role that must authenticate).

#include "server/store/open_store.h"

#include <sys/stat.h>

#include "gtest/gtest.h"
#include "server/store/postgres/pg_conn.h"
#include "tests/testing/pg_cluster.h"
#include "tests/testing/test_util.h"

namespace plumb {
namespace {

using testing::PgCluster;
using testing::TempDir;

TEST(OpenStoreTest, DefaultIsSqliteAtThePath) {
  TempDir dir;
  auto store = OpenStore({"", "", dir.Sub("plumb.db")});
  ASSERT_TRUE(store.ok()) << store.status();
  EXPECT_TRUE((*store)->Ping().ok());
  struct stat st;
  EXPECT_EQ(stat(dir.Sub("plumb.db").c_str(), &st), 0);
}

// pg_cluster.sh makes role plumb_pw authenticate with scram-sha-256 (everyone else is trusted).
TEST(OpenStoreTest, PostgresPasswordComesFromTheFile) {
  PgCluster& cluster = PgCluster::Shared();
  std::string url = cluster.NewDatabaseUrl();
  {
    auto admin = PgConn::Connect(url, "");
    ASSERT_TRUE(admin.ok()) << admin.status();
    ASSERT_TRUE((*admin)
                    ->ExecScript("DO $$ BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE"
                                 " rolname = 'plumb_pw') THEN CREATE ROLE plumb_pw LOGIN"
                                 " PASSWORD 's3cret'; END IF; END $$;"
                                 " GRANT ALL ON SCHEMA public TO plumb_pw")
                    .ok());
  }
  size_t start = url.find("@/") + 2;
  std::string db = url.substr(start, url.find('?') - start);
  std::string pw_url = "postgresql://plumb_pw@/" + db + "?host=" + cluster.socket_dir();
  TempDir dir;
  testing::WriteFileOrDie(dir.Sub("right"), "s3cret\n");
  testing::WriteFileOrDie(dir.Sub("wrong"), "nope\n");
  testing::WriteFileOrDie(dir.Sub("empty"), "");

  auto store = OpenStore({pw_url, dir.Sub("right"), dir.Sub("unused.db")});
  ASSERT_TRUE(store.ok()) << store.status();
  EXPECT_TRUE((*store)->Ping().ok());
  EXPECT_EQ(OpenStore({pw_url, dir.Sub("wrong"), ""}).status().code(),
            absl::StatusCode::kUnavailable);
  EXPECT_EQ(OpenStore({pw_url, "", ""}).status().code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(OpenStore({pw_url, dir.Sub("empty"), ""}).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(OpenStore({pw_url, dir.Sub("missing"), ""}).status().code(),
            absl::StatusCode::kInvalidArgument);
  struct stat st;
  EXPECT_NE(stat(dir.Sub("unused.db").c_str(), &st), 0);  // no SQLite file with a URL
}

}  // namespace
}  // namespace plumb
