#pragma once

// Join token rows in PostgreSQL (`join_tokens`, created by the store's migrations), shared by
// every server on the database: a token made through one is redeemed through any, and its uses
// are counted once.

#include <memory>
#include <string>

#include "absl/synchronization/mutex.h"
#include "server/store/token_table.h"

namespace plumb {

class PgConn;

// Thread-safe: one connection under the table's mutex (see PgStore for why one).
class PgTokenTable : public TokenTable {
 public:
  // Connects as PgStore::Open does and migrates the schema (idempotent).
  static absl::StatusOr<std::unique_ptr<PgTokenTable>> Open(const std::string& url,
                                                            const std::string& password);
  ~PgTokenTable() override;

  absl::Status Insert(const TokenRow& row) override;
  absl::StatusOr<std::optional<TokenRow>> Find(const std::string& hash) override;
  absl::StatusOr<bool> ConsumeUse(const std::string& hash) override;

 private:
  explicit PgTokenTable(std::unique_ptr<PgConn> conn);
  absl::Mutex mu_;
  std::unique_ptr<PgConn> conn_ ABSL_GUARDED_BY(mu_);
};

}  // namespace plumb
