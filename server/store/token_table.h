#pragma once

// Where join tokens are kept: the rows behind TokenStore (which holds the rules: hashing,
// expiry, uses, globs). SQLite (server/store/sqlite/) by default; PostgreSQL
// (server/store/postgres/) with store.url, so every server on the database shares the tokens.

#include <cstdint>
#include <optional>
#include <string>

#include "absl/status/statusor.h"

namespace plumb {

// One join token as stored: never the token itself, only its hash.
struct TokenRow {
  std::string hash;  // sha256 hex of the token
  int64_t created_ms = 0;
  int64_t expires_ms = 0;
  int64_t uses_left = 0;
  std::string labels;  // v1.LabelSet: bound labels and allowed label keys
  std::string node_glob;
};

// Thread-safe in every implementation.
class TokenTable {
 public:
  virtual ~TokenTable() = default;
  virtual absl::Status Insert(const TokenRow& row) = 0;
  // nullopt when no token has this hash.
  virtual absl::StatusOr<std::optional<TokenRow>> Find(const std::string& hash) = 0;
  // Takes one use atomically (also against other servers on the same database): false when
  // the token has none left or does not exist.
  virtual absl::StatusOr<bool> ConsumeUse(const std::string& hash) = 0;
};

}  // namespace plumb
