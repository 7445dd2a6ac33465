#include "server/store/token_store.h"

#include <fnmatch.h>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/digest.h"
#include "common/pki/pki.h"
#include "common/status_macros.h"
#include "plumb/v1/agent.pb.h"
#include "server/security/label_policy.h"
#include "server/store/sqlite/sqlite_token_table.h"

namespace plumb {
namespace {

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
  PLUMB_ASSIGN_OR_RETURN(std::unique_ptr<SqliteTokenTable> table, SqliteTokenTable::Open(path));
  return std::make_unique<TokenStore>(std::move(table), clock);
}

TokenStore::TokenStore(std::unique_ptr<TokenTable> table, Clock* clock)
    : clock_(clock), table_(std::move(table)) {}
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
  TokenRow row;
  row.hash = Hash(out.token);
  row.created_ms = absl::ToUnixMillis(clock_->Now());
  row.expires_ms = absl::ToUnixMillis(out.expires);
  row.uses_left = spec.uses;
  row.labels = labels.SerializeAsString();
  row.node_glob = spec.node_glob;
  PLUMB_RETURN_IF_ERROR(table_->Insert(row));
  return out;
}

absl::StatusOr<TokenGrant> TokenStore::Redeem(const std::string& token, const std::string& node,
                                              bool consume) {
  if (token.empty() || token.size() > 256) {
    return absl::PermissionDeniedError("join token is missing or malformed");
  }
  const std::string hash = Hash(token);
  PLUMB_ASSIGN_OR_RETURN(std::optional<TokenRow> row, table_->Find(hash));
  if (!row.has_value()) return absl::PermissionDeniedError("unknown join token");
  absl::Time expires = absl::FromUnixMillis(row->expires_ms);
  v1::LabelSet labels;
  labels.ParseFromString(row->labels);
  if (clock_->Now() >= expires) {
    return absl::PermissionDeniedError(
        absl::StrCat("join token expired at ", UtcText(expires), "; create a new one"));
  }
  if (row->uses_left <= 0) {
    return absl::PermissionDeniedError("join token has no uses left; create a new one");
  }
  if (!NameMatchesGlob(node, row->node_glob)) {
    return absl::PermissionDeniedError(absl::StrCat(
        "node name \"", node, "\" is outside the token's node glob \"", row->node_glob, "\""));
  }
  if (consume) {
    PLUMB_ASSIGN_OR_RETURN(bool consumed, table_->ConsumeUse(hash));
    if (!consumed) {
      return absl::PermissionDeniedError("join token has no uses left; create a new one");
    }
  }
  TokenGrant grant;
  grant.labels = {labels.labels().begin(), labels.labels().end()};
  grant.allowed_label_keys = {labels.allowed_keys().begin(), labels.allowed_keys().end()};
  return grant;
}

}  // namespace plumb
