#pragma once

// Mutual TLS for the simulated fleet (bench only): every simulated agent gets its own key and
// an agent certificate (CN = its node name) minted from the server's built-in CA directory,
// and the commit phase's FleetService calls use a minted operator certificate. So a fleet run
// exercises the same TLS handshakes, certificate checks and per-call authorization a real
// fleet does, without 10,000 enrollments.

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "grpcpp/grpcpp.h"

namespace plumb {
namespace bench {

// Thread-compatible; immutable after Load.
class FleetTls {
 public:
  // `ca_dir`: the server's CA directory (state_dir/ca: ca.pem, ca.key). NotFound naming the
  // file when either is missing.
  static absl::StatusOr<std::unique_ptr<FleetTls>> Load(const std::string& ca_dir);

  // A fresh P-256 key and a one-day certificate with role `role` (pki.h kRole*) for `name`,
  // as gRPC channel credentials that trust only this CA.
  absl::StatusOr<std::shared_ptr<grpc::ChannelCredentials>> Credentials(
      const std::string& name, const std::string& role) const;

 private:
  FleetTls(std::string ca_pem, std::string ca_key)
      : ca_pem_(std::move(ca_pem)), ca_key_(std::move(ca_key)) {}
  const std::string ca_pem_;
  const std::string ca_key_;
};

}  // namespace bench
}  // namespace plumb
