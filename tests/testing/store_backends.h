#pragma once

// Store tests over both backends: a parameterised GoogleTest takes a StoreBackend and opens its
// store through a StoreTestDb (a temp-dir SQLite file, or a fresh database in the process's
// throwaway PostgreSQL cluster). Header-only: only the server's tests include it (plumb_testing
// does not link the server).

#include <memory>
#include <string>

#include "gtest/gtest.h"
#include "server/store/postgres/pg_store.h"
#include "server/store/sqlite/sqlite_store.h"
#include "tests/testing/pg_cluster.h"
#include "tests/testing/test_util.h"

namespace plumb::testing {

enum class StoreBackend { kSqlite, kPostgres };

inline std::string StoreBackendName(const ::testing::TestParamInfo<StoreBackend>& info) {
  return info.param == StoreBackend::kSqlite ? "Sqlite" : "Postgres";
}

// One test's database on one backend. Open() can be called again to reopen the same data.
// Thread-compatible.
class StoreTestDb {
 public:
  explicit StoreTestDb(StoreBackend backend) : backend_(backend) {
    if (backend_ == StoreBackend::kPostgres) url_ = PgCluster::Shared().NewDatabaseUrl();
  }

  absl::StatusOr<std::unique_ptr<Store>> Open() {
    if (backend_ == StoreBackend::kPostgres) {
      auto store = PgStore::Open(url_);
      if (!store.ok()) return store.status();
      return std::unique_ptr<Store>(std::move(*store));
    }
    auto store = SqliteStore::Open(dir_.Sub("plumb.db"));
    if (!store.ok()) return store.status();
    return std::unique_ptr<Store>(std::move(*store));
  }

  // Aborts the test (returns null after a failure) when the store cannot open.
  std::unique_ptr<Store> OpenOrDie() {
    auto store = Open();
    EXPECT_TRUE(store.ok()) << store.status();
    return store.ok() ? std::move(*store) : nullptr;
  }

  // The PostgreSQL URL (empty for SQLite).
  const std::string& url() const { return url_; }

 private:
  StoreBackend backend_;
  TempDir dir_;
  std::string url_;
};

}  // namespace plumb::testing

// Runs a TEST_P suite once per backend: Suite/Backends.Test/Sqlite and .../Postgres.
#define PLUMB_INSTANTIATE_STORE_BACKENDS(suite)                                          \
  INSTANTIATE_TEST_SUITE_P(Backends, suite,                                              \
                           ::testing::Values(::plumb::testing::StoreBackend::kSqlite,    \
                                             ::plumb::testing::StoreBackend::kPostgres), \
                           ::plumb::testing::StoreBackendName)
