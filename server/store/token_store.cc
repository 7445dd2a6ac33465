#include "server/store/token_store.h"

#include <fnmatch.h>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/digest.h"
#include "common/pki/pki.h"
#include "common/status_macros.h"
#include "plumb/v1/agent.pb.h"
#include "server/security/label_policy.h"
#include "server/store/sqlite/sqlite_db.h"

namespace plumb {
namespace {

constexpr char kSchema[] = R"sql(
CREATE TABLE IF NOT EXISTS join_tokens (
  hash TEXT PRIMARY KEY,
  created_ms INTEGER NOT NULL,
  expires_ms INTEGER NOT NULL,
  uses_left INTEGER NOT NULL,
  labels BLOB NOT NULL,
  node_glob TEXT NOT NULL
);
)sql";

// Tokens read "plumb-join-" + 64 hex digits: recognisable in a leaked log or a paste.
constexpr char kTokenPrefix[] = "plumb-join-";

std::string UtcText(absl::Time t) {
  return absl::FormatTime("%Y-%m-%d %H:%M:%S UTC", t, absl::UTCTimeZone());
}

}  // namespace

bool NameMatchesGlob(const std::string& name, const std::string& glob) {
  return glob.empty() || fnmatch(glob.c_str(), name.c_str(), 0) == 0;
}

std::string TokenStore::Hash(const std::string& token) { return Sha256Hex(token); }

absl::StatusOr<std::unique_ptr<TokenStore>> TokenStore::Open(const std::string& path,
                                                             Clock* clock) {
  PLUMB_ASSIGN_OR_RETURN(std::unique_ptr<SqliteDb> db, SqliteDb::Open(path));
  PLUMB_RETURN_IF_ERROR(db->Exec(kSchema));
  return std::unique_ptr<TokenStore>(new TokenStore(std::move(db), clock));
}

TokenStore::TokenStore(std::unique_ptr<SqliteDb> db, Clock* clock)
    : clock_(clock), db_(std::move(db)) {}
TokenStore::~TokenStore() = default;

absl::StatusOr<NewToken> TokenStore::Create(const TokenSpec& spec) {
  if (spec.ttl <= absl::ZeroDuration()) return absl::InvalidArgumentError("--ttl must be positive");
  if (spec.uses <= 0) return absl::InvalidArgumentError("--uses must be at least 1");
  if (spec.node_glob.size() > 256) return absl::InvalidArgumentError("--node-glob is too long");
  PLUMB_RETURN_IF_ERROR(CheckAllowedLabelKeys(
      {spec.allowed_label_keys.begin(), spec.allowed_label_keys.end()}));
  PLUMB_ASSIGN_OR_RETURN(std::string secret, RandomHex(32));
  NewToken out{absl::StrCat(kTokenPrefix, secret), clock_->Now() + spec.ttl};
  v1::LabelSet labels;
  labels.mutable_labels()->insert(spec.labels.begin(), spec.labels.end());
  for (const std::string& key : spec.allowed_label_keys) labels.add_allowed_keys(key);
  absl::MutexLock lock(&mu_);
  PLUMB_ASSIGN_OR_RETURN(auto stmt, db_->Prepare(
      "INSERT INTO join_tokens (hash, created_ms, expires_ms, uses_left, labels, node_glob)"
      " VALUES (?1, ?2, ?3, ?4, ?5, ?6)"));
  PLUMB_RETURN_IF_ERROR(stmt->BindText(1, Hash(out.token)));
  PLUMB_RETURN_IF_ERROR(stmt->BindInt64(2, absl::ToUnixMillis(clock_->Now())));
  PLUMB_RETURN_IF_ERROR(stmt->BindInt64(3, absl::ToUnixMillis(out.expires)));
  PLUMB_RETURN_IF_ERROR(stmt->BindInt64(4, spec.uses));
  PLUMB_RETURN_IF_ERROR(stmt->BindBlob(5, labels.SerializeAsString()));
  PLUMB_RETURN_IF_ERROR(stmt->BindText(6, spec.node_glob));
  PLUMB_RETURN_IF_ERROR(stmt->Run());
  return out;
}

absl::StatusOr<TokenGrant> TokenStore::Redeem(const std::string& token, const std::string& node,
                                              bool consume) {
  if (token.empty() || token.size() > 256) {
    return absl::PermissionDeniedError("join token is missing or malformed");
  }
  const std::string hash = Hash(token);
  absl::MutexLock lock(&mu_);
  PLUMB_ASSIGN_OR_RETURN(auto stmt, db_->Prepare(
      "SELECT expires_ms, uses_left, labels, node_glob FROM join_tokens WHERE hash = ?1"));
  PLUMB_RETURN_IF_ERROR(stmt->BindText(1, hash));
  PLUMB_ASSIGN_OR_RETURN(bool found, stmt->Step());
  if (!found) return absl::PermissionDeniedError("unknown join token");
  absl::Time expires = absl::FromUnixMillis(stmt->ColumnInt64(0));
  int64_t uses_left = stmt->ColumnInt64(1);
  v1::LabelSet labels;
  labels.ParseFromString(stmt->ColumnBlob(2));
  std::string glob = stmt->ColumnText(3);
  stmt.reset();
  if (clock_->Now() >= expires) {
    return absl::PermissionDeniedError(
        absl::StrCat("join token expired at ", UtcText(expires), "; create a new one"));
  }
  if (uses_left <= 0) {
    return absl::PermissionDeniedError("join token has no uses left; create a new one");
  }
  if (!NameMatchesGlob(node, glob)) {
    return absl::PermissionDeniedError(absl::StrCat(
        "node name \"", node, "\" is outside the token's node glob \"", glob, "\""));
  }
  if (consume) {
    PLUMB_ASSIGN_OR_RETURN(auto update, db_->Prepare(
        "UPDATE join_tokens SET uses_left = uses_left - 1 WHERE hash = ?1 AND uses_left > 0"));
    PLUMB_RETURN_IF_ERROR(update->BindText(1, hash));
    PLUMB_RETURN_IF_ERROR(update->Run());
    if (db_->Changes() != 1) {
      return absl::PermissionDeniedError("join token has no uses left; create a new one");
    }
  }
  TokenGrant grant;
  grant.labels = {labels.labels().begin(), labels.labels().end()};
  grant.allowed_label_keys = {labels.allowed_keys().begin(), labels.allowed_keys().end()};
  return grant;
}

}  // namespace plumb
