#pragma once

// Join token rows in the server's SQLite database (the `join_tokens` table of plumb.db).

#include <memory>
#include <string>

#include "absl/synchronization/mutex.h"
#include "server/store/token_table.h"

namespace plumb {

class SqliteDb;

// Thread-safe: every method takes the table's mutex (its own SQLite connection).
class SqliteTokenTable : public TokenTable {
 public:
  // Opens the database at `path` and creates the table if needed.
  static absl::StatusOr<std::unique_ptr<SqliteTokenTable>> Open(const std::string& path);
  ~SqliteTokenTable() override;

  absl::Status Insert(const TokenRow& row) override;
  absl::StatusOr<std::optional<TokenRow>> Find(const std::string& hash) override;
  absl::StatusOr<bool> ConsumeUse(const std::string& hash) override;

 private:
  explicit SqliteTokenTable(std::unique_ptr<SqliteDb> db);
  absl::Mutex mu_;
  std::unique_ptr<SqliteDb> db_ ABSL_GUARDED_BY(mu_);
};

}  // namespace plumb
