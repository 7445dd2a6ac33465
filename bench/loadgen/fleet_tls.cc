#include "bench/loadgen/fleet_tls.h"

#include <fstream>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/pki/pki.h"
#include "common/status_macros.h"

namespace plumb {
namespace bench {
namespace {

absl::StatusOr<std::string> ReadAll(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(absl::StrCat("cannot read ", path));
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

}  // namespace

absl::StatusOr<std::unique_ptr<FleetTls>> FleetTls::Load(const std::string& ca_dir) {
  PLUMB_ASSIGN_OR_RETURN(std::string ca_pem, ReadAll(ca_dir + "/ca.pem"));
  PLUMB_ASSIGN_OR_RETURN(std::string ca_key, ReadAll(ca_dir + "/ca.key"));
  return std::unique_ptr<FleetTls>(new FleetTls(std::move(ca_pem), std::move(ca_key)));
}

absl::StatusOr<std::shared_ptr<grpc::ChannelCredentials>> FleetTls::Credentials(
    const std::string& name, const std::string& role) const {
  PLUMB_ASSIGN_OR_RETURN(std::string key, GenerateKeyPem());
  PLUMB_ASSIGN_OR_RETURN(std::string public_key, PublicKeyPem(key));
  CertSpec spec;
  spec.common_name = name;
  spec.role = role;
  spec.not_before = absl::Now() - absl::Minutes(5);
  spec.lifetime = absl::Hours(24);
  PLUMB_ASSIGN_OR_RETURN(std::string cert, IssueCertificate(ca_pem_, ca_key_, public_key, spec));
  grpc::SslCredentialsOptions options;
  options.pem_root_certs = ca_pem_;
  options.pem_private_key = key;
  options.pem_cert_chain = cert;
  return grpc::SslCredentials(options);
}

}  // namespace bench
}  // namespace plumb
