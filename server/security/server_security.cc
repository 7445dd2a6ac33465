#include "server/security/server_security.h"

#include "common/logging.h"
#include "common/status_macros.h"
#include "server/store/open_store.h"
#include "server/store/postgres/pg_token_table.h"

namespace plumb {
namespace {

// Join tokens live with the fleet state: in PostgreSQL with store.url (shared by every server
// on the database), else in plumb.db. So do enrolled identities (OpenIdentityStore).
absl::StatusOr<std::unique_ptr<TokenStore>> OpenTokenStore(const ServerConfig& config,
                                                           const std::string& db_path,
                                                           Clock* clock) {
  if (config.store_url.empty()) return TokenStore::Open(db_path, clock);
  std::string password;
  if (!config.store_password_file.empty()) {
    PLUMB_ASSIGN_OR_RETURN(password, ReadPasswordFile(config.store_password_file));
  }
  PLUMB_ASSIGN_OR_RETURN(std::unique_ptr<PgTokenTable> table,
                         PgTokenTable::Open(config.store_url, password));
  return std::make_unique<TokenStore>(std::move(table), clock);
}

}  // namespace

absl::StatusOr<std::unique_ptr<ServerSecurity>> ServerSecurity::Open(
    const ServerConfig& config, const std::string& db_path, Clock* clock,
    std::function<void(const std::string&)> on_enrolled) {
  std::unique_ptr<ServerSecurity> s(new ServerSecurity());
  auto ca = CertificateAuthority::Load(config.security.ca_dir);
  if (ca.ok()) {
    s->ca_ = std::move(*ca);
  } else if (!absl::IsNotFound(ca.status())) {
    return ca.status();
  } else {
    LogInfo("no built-in CA: enrollment is off (tls: comes from another PKI)",
            {{"ca_dir", config.security.ca_dir}});
  }
  PLUMB_ASSIGN_OR_RETURN(s->tokens_, OpenTokenStore(config, db_path, clock));
  PLUMB_ASSIGN_OR_RETURN(
      s->identities_,
      OpenIdentityStore({config.store_url, config.store_password_file, db_path}));
  // Replicas on one database must issue from one CA, or an agent enrolled through one is
  // refused by another (docs/postgresql.md, "CA").
  if (s->ca_ != nullptr) PLUMB_RETURN_IF_ERROR(s->identities_->AgreeOnCa(s->ca_->fingerprint()));
  s->enrollment_ = std::make_unique<Enrollment>(s->ca_.get(), s->tokens_.get(),
                                                s->identities_.get(), clock,
                                                config.security.agent_cert_lifetime,
                                                std::move(on_enrolled));
  PLUMB_ASSIGN_OR_RETURN(std::vector<std::string> hashes,
                         HashOperatorTokens(config.security.operator_tokens));
  s->authorizer_ = std::make_shared<CallAuthorizer>(std::move(hashes), s->identities_.get());
  return s;
}

void ServerSecurity::ShareIdentities(Clock* clock, IdentityPollerCallbacks callbacks) {
  if (!identities_->shared() || identity_poller_ != nullptr) return;
  identity_poller_ =
      std::make_unique<IdentityPoller>(identities_.get(), clock, std::move(callbacks));
  identity_poller_->Start();
}

void ServerSecurity::StopSharing() {
  if (identity_poller_ != nullptr) identity_poller_->Stop();
}

}  // namespace plumb
