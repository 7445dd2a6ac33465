#pragma once

// The server's security parts, assembled from its config when TLS is on: the built-in CA (if
// `ca init` made one), join tokens, enrolled identities, enrollment, and the per-call
// authorizer installed on the gRPC credentials. PlumbServer owns one; --insecure has none.

#include <functional>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "common/clock.h"
#include "server/security/call_authorizer.h"
#include "server/security/certificate_authority.h"
#include "server/security/enrollment.h"
#include "server/security/identity_poller.h"
#include "server/store/identity_store.h"
#include "server/server_config.h"
#include "server/store/token_store.h"

namespace plumb {

// Thread-safe (its parts are).
class ServerSecurity {
 public:
  // Opens the token and identity tables (in PostgreSQL with store.url, else in `db_path`),
  // loads the built-in CA if there is one (with store.url: FailedPrecondition if the database
  // records another CA).
  // `clock` is not owned and must outlive this; `on_enrolled` is called after each enrollment.
  static absl::StatusOr<std::unique_ptr<ServerSecurity>> Open(
      const ServerConfig& config, const std::string& db_path, Clock* clock,
      std::function<void(const std::string& node)> on_enrolled);

  // With identities shared by several servers (PostgreSQL), polls them every second and calls
  // `callbacks` for what other servers changed; nothing with SQLite. `clock` as for Open.
  void ShareIdentities(Clock* clock, IdentityPollerCallbacks callbacks);
  void StopSharing();

  std::shared_ptr<CallAuthorizer> authorizer() const { return authorizer_; }
  Enrollment* enrollment() { return enrollment_.get(); }
  TokenStore* tokens() { return tokens_.get(); }
  IdentityStore* identities() { return identities_.get(); }

 private:
  ServerSecurity() = default;

  std::unique_ptr<CertificateAuthority> ca_;  // null with an outside PKI
  std::unique_ptr<TokenStore> tokens_;
  std::unique_ptr<IdentityStore> identities_;
  std::unique_ptr<Enrollment> enrollment_;
  std::shared_ptr<CallAuthorizer> authorizer_;
  std::unique_ptr<IdentityPoller> identity_poller_;  // with shared identities only
};

}  // namespace plumb
