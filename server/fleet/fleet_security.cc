// FleetService's security calls: join tokens for enrollment, node revocation, and operator
// certificates (listing, revocation). Only operators get here (CallAuthorizer).

#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "common/grpc_status.h"
#include "server/fleet/fleet_service.h"

namespace plumb {
namespace {

grpc::Status NoSecurity() {
  return grpc::Status(grpc::StatusCode::UNIMPLEMENTED,
                      "this server runs with --insecure: enrollment and revocation need TLS");
}

constexpr int64_t kMaxTtlSeconds = 365LL * 24 * 3600;
constexpr int kMaxUses = 100000;

}  // namespace

grpc::Status FleetServiceImpl::CreateToken(grpc::ServerContext*,
                                           const v1::CreateTokenRequest* req,
                                           v1::CreateTokenResponse* resp) {
  if (security_ == nullptr) return NoSecurity();
  if (req->ttl_seconds() < 0 || req->ttl_seconds() > kMaxTtlSeconds) {
    return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "ttl must be between 1s and 365d");
  }
  if (req->uses() < 0 || req->uses() > kMaxUses) {
    return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "uses must be between 1 and 100000");
  }
  TokenSpec spec;
  if (req->ttl_seconds() > 0) spec.ttl = absl::Seconds(req->ttl_seconds());
  if (req->uses() > 0) spec.uses = req->uses();
  spec.labels = {req->labels().begin(), req->labels().end()};
  spec.allowed_label_keys = {req->allow_labels().begin(), req->allow_labels().end()};
  spec.node_glob = req->node_glob();
  auto token = security_->tokens()->Create(spec);
  if (!token.ok()) return ToGrpcStatus(token.status());
  resp->set_token(token->token);
  resp->set_expires_unix_ms(absl::ToUnixMillis(token->expires));
  resp->set_uses(spec.uses);
  return grpc::Status::OK;
}

grpc::Status FleetServiceImpl::RevokeNode(grpc::ServerContext*, const v1::RevokeNodeRequest* req,
                                          v1::RevokeNodeResponse* resp) {
  if (security_ == nullptr) return NoSecurity();
  auto revoked = security_->identities()->Revoke(req->name(), absl::Now());
  if (!revoked.ok()) return ToGrpcStatus(revoked.status());
  hub_->SetRevoked(req->name(), true);
  resp->set_certificates_revoked(*revoked);
  if (events_ != nullptr) {
    events_->Publish(MakeEvent(v1::EVENT_CREDENTIAL_REVOKED, req->name(), "",
                               absl::StrCat("node ", req->name(), ": ", *revoked,
                                            " certificate(s) revoked")));
  }
  return grpc::Status::OK;
}

grpc::Status FleetServiceImpl::ForgetNode(grpc::ServerContext*, const v1::ForgetNodeRequest* req,
                                          v1::ForgetNodeResponse* resp) {
  if (req->name().empty()) {
    return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "ForgetNode needs a node name");
  }
  // Revoked first, so an agent that still runs cannot simply connect and come back. Without a
  // CA (--insecure, or a node enrolled elsewhere) there is nothing to revoke.
  if (security_ != nullptr) {
    auto revoked = security_->identities()->Revoke(req->name(), absl::Now());
    if (revoked.ok()) {
      hub_->SetRevoked(req->name(), true);
      resp->set_certificates_revoked(*revoked);
    } else if (!absl::IsNotFound(revoked.status())) {
      return ToGrpcStatus(revoked.status());
    }
  }
  absl::Notification done;
  absl::Status forgotten;
  hub_->ForgetNode(req->name(), [&](absl::Status s) {
    forgotten = std::move(s);
    done.Notify();
  });
  done.WaitForNotification();
  // A node revoked just now but never connected has no row: forgetting it still succeeded.
  if (!forgotten.ok() && !(absl::IsNotFound(forgotten) && resp->certificates_revoked() > 0)) {
    return ToGrpcStatus(forgotten);
  }
  if (events_ != nullptr) {
    events_->Publish(MakeEvent(v1::EVENT_CREDENTIAL_REVOKED, req->name(), "",
                               absl::StrCat("node ", req->name(), " forgotten (",
                                            resp->certificates_revoked(),
                                            " certificate(s) revoked)")));
  }
  return grpc::Status::OK;
}

grpc::Status FleetServiceImpl::ListOperators(grpc::ServerContext*, const v1::ListOperatorsRequest*,
                                             v1::ListOperatorsResponse* resp) {
  if (security_ == nullptr) return NoSecurity();
  auto certs = security_->identities()->ListOperatorCerts();
  if (!certs.ok()) return ToGrpcStatus(certs.status());
  for (const OperatorCert& c : *certs) {
    v1::OperatorCertificate* out = resp->add_certificates();
    out->set_name(c.name);
    out->set_serial(c.serial_hex);
    out->set_fingerprint(c.fingerprint);
    out->set_issued_unix_ms(absl::ToUnixMillis(c.issued));
    out->set_expires_unix_ms(absl::ToUnixMillis(c.not_after));
    if (c.is_revoked()) out->set_revoked_unix_ms(absl::ToUnixMillis(c.revoked));
  }
  return grpc::Status::OK;
}

grpc::Status FleetServiceImpl::RevokeOperator(grpc::ServerContext*,
                                              const v1::RevokeOperatorRequest* req,
                                              v1::RevokeOperatorResponse* resp) {
  if (security_ == nullptr) return NoSecurity();
  if (req->name().empty()) {
    return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "name the operator to revoke");
  }
  auto revoked = security_->identities()->RevokeOperator(req->name(), absl::Now());
  if (!revoked.ok()) return ToGrpcStatus(revoked.status());
  resp->set_certificates_revoked(*revoked);
  // Also wakes every watcher: a watch opened with a now revoked certificate ends on it.
  if (events_ != nullptr) {
    events_->Publish(MakeEvent(v1::EVENT_CREDENTIAL_REVOKED, "", "",
                               absl::StrCat("operator ", req->name(), ": ", *revoked,
                                            " certificate(s) revoked")));
  }
  return grpc::Status::OK;
}

}  // namespace plumb
