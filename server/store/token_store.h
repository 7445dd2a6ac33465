#pragma once

// Join tokens for `plumb-agent enroll`, kept in a TokenTable (the server's SQLite database, or
// PostgreSQL with store.url). A token is shown
// once when created; only its SHA-256 is stored, with its expiry, remaining uses, the labels
// it binds to nodes, the label keys those nodes' Hello may add, and the glob node names must
// match.

#include <map>
#include <memory>
#include <set>
#include <string>

#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/clock.h"
#include "server/store/token_table.h"

namespace plumb {

// What a new token allows.
struct TokenSpec {
  absl::Duration ttl = absl::Hours(1);
  int uses = 1;
  std::map<std::string, std::string> labels;
  // Keys an enrolled node's Hello may set besides `labels` ("*": any); see label_policy.h.
  std::set<std::string> allowed_label_keys;
  std::string node_glob;  // empty: any name
};

// What redeeming a token grants the node: its labels and the keys its Hello may add.
struct TokenGrant {
  std::map<std::string, std::string> labels;
  std::set<std::string> allowed_label_keys;
};

// A freshly created token: the secret itself (never stored) and when it expires.
struct NewToken {
  std::string token;
  absl::Time expires;
};

// Thread-safe (the table is).
class TokenStore {
 public:
  // Opens the SQLite database at `path` (normally the server's plumb.db) and creates the
  // table. `clock` is not owned and must outlive the store.
  static absl::StatusOr<std::unique_ptr<TokenStore>> Open(const std::string& path, Clock* clock);
  // Over any table (PgTokenTable with store.url). `clock` as above.
  TokenStore(std::unique_ptr<TokenTable> table, Clock* clock);
  ~TokenStore();

  // InvalidArgument for a non-positive ttl or uses, a bad glob or bad allowed label keys.
  absl::StatusOr<NewToken> Create(const TokenSpec& spec);

  // Checks that `token` may enroll `node` now and returns what it grants. Consumes one
  // use only if `consume`. PermissionDenied, with a message for the enrolling user, for an
  // unknown, expired or used-up token or a name outside the token's glob.
  absl::StatusOr<TokenGrant> Redeem(const std::string& token, const std::string& node,
                                    bool consume);

  // The hash a token is stored under (sha256 hex).
  static std::string Hash(const std::string& token);

 private:
  Clock* const clock_;
  const std::unique_ptr<TokenTable> table_;
};

// True if `name` matches the shell glob `glob` (fnmatch, no special meaning for '/').
bool NameMatchesGlob(const std::string& name, const std::string& glob);

}  // namespace plumb
