#include "common/grpc_credentials.h"

#include <fstream>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "common/pki/ca_pin_verifier.h"
#include "common/pki/pki.h"
#include "common/status_macros.h"
#include "common/wire_limits.h"
#include "grpcpp/security/tls_certificate_provider.h"
#include "grpcpp/security/tls_credentials_options.h"

namespace plumb {
namespace {

absl::StatusOr<std::string> ReadPem(const std::string& path) {
  if (path.empty()) return std::string();
  std::ifstream in(path);
  if (!in) return absl::NotFoundError(absl::StrCat(path, ": cannot read TLS file"));
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// Adds `authorization: Bearer <token>` to every call.
class BearerTokenPlugin : public grpc::MetadataCredentialsPlugin {
 public:
  explicit BearerTokenPlugin(std::string token) : header_(absl::StrCat("Bearer ", token)) {}
  bool IsBlocking() const override { return false; }
  grpc::Status GetMetadata(grpc::string_ref, grpc::string_ref, const grpc::AuthContext&,
                           std::multimap<grpc::string, grpc::string>* metadata) override {
    metadata->insert({"authorization", header_});
    return grpc::Status::OK;
  }

 private:
  const std::string header_;
};

}  // namespace

absl::StatusOr<std::shared_ptr<grpc::ChannelCredentials>> MakeChannelCredentials(
    bool insecure, const TlsFiles& tls, const std::string& bearer_token) {
  if (insecure) return grpc::InsecureChannelCredentials();
  if (tls.empty() && bearer_token.empty()) {
    return absl::FailedPreconditionError("no TLS configured: set tls.ca/cert/key or pass --insecure");
  }
  if (tls.cert.empty() != tls.key.empty()) {
    return absl::InvalidArgumentError("a client certificate needs both a cert and a key file");
  }
  grpc::SslCredentialsOptions opts;
  PLUMB_ASSIGN_OR_RETURN(opts.pem_root_certs, ReadPem(tls.ca));
  PLUMB_ASSIGN_OR_RETURN(opts.pem_cert_chain, ReadPem(tls.cert));
  PLUMB_ASSIGN_OR_RETURN(opts.pem_private_key, ReadPem(tls.key));
  std::shared_ptr<grpc::ChannelCredentials> creds = grpc::SslCredentials(opts);
  if (bearer_token.empty()) return creds;
  return grpc::CompositeChannelCredentials(
      creds, grpc::MetadataCredentialsFromPlugin(std::make_unique<BearerTokenPlugin>(bearer_token)));
}

absl::StatusOr<std::shared_ptr<grpc::ChannelCredentials>> MakePinnedChannelCredentials(
    const std::string& ca_pin) {
  PLUMB_ASSIGN_OR_RETURN(std::string pin, NormalizeFingerprint(ca_pin));
  grpc::experimental::TlsChannelCredentialsOptions opts;
  // gRPC's own checks need a root to chain to, which we only learn by enrolling: the pin
  // verifier does the chain check itself (leaf signed by the pinned CA).
  opts.set_verify_server_certs(false);
  opts.set_check_call_host(false);
  opts.set_certificate_verifier(
      grpc::experimental::ExternalCertificateVerifier::Create<CaPinVerifier>(pin));
  // Without a root of its own, gRPC loads the system's roots to build its TLS handshaker, and a
  // host without ca-certificates (a minimal Debian) fails every handshake ("Could not get
  // default pem root certs"). An ephemeral self-signed certificate fills that slot; it never
  // verifies anything (server verification is off, the pin verifier decides).
  PLUMB_ASSIGN_OR_RETURN(std::string placeholder_key, GenerateKeyPem());
  CertSpec placeholder;
  placeholder.common_name = "plumb enrollment placeholder root";
  placeholder.role = kRoleCa;
  placeholder.not_before = absl::Now() - absl::Minutes(5);
  placeholder.lifetime = absl::Hours(1);
  PLUMB_ASSIGN_OR_RETURN(std::string placeholder_root,
                         MakeCaCertificate(placeholder_key, placeholder));
  opts.set_certificate_provider(
      std::make_shared<grpc::experimental::StaticDataCertificateProvider>(placeholder_root));
  opts.watch_root_certs();
  std::shared_ptr<grpc::ChannelCredentials> creds = grpc::experimental::TlsCredentials(opts);
  if (creds == nullptr) return absl::InternalError("cannot create pinned TLS credentials");
  return creds;
}

absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> MakeServerCredentials(
    bool insecure, const TlsFiles& tls, std::shared_ptr<grpc::AuthMetadataProcessor> authorizer) {
  if (insecure) return grpc::InsecureServerCredentials();
  if (tls.cert.empty() || tls.key.empty()) {
    return absl::FailedPreconditionError(
        "no TLS configured: run `plumb-server ca init` or set tls.cert and tls.key (and tls.ca "
        "for client certificates), or pass --insecure for local development");
  }
  PLUMB_ASSIGN_OR_RETURN(std::string ca, ReadPem(tls.ca));
  PLUMB_ASSIGN_OR_RETURN(std::string cert, ReadPem(tls.cert));
  PLUMB_ASSIGN_OR_RETURN(std::string key, ReadPem(tls.key));
  grpc::SslServerCredentialsOptions opts(ca.empty()
                                             ? GRPC_SSL_DONT_REQUEST_CLIENT_CERTIFICATE
                                             : GRPC_SSL_REQUEST_CLIENT_CERTIFICATE_AND_VERIFY);
  opts.pem_root_certs = ca;
  opts.pem_key_cert_pairs.push_back({key, cert});
  std::shared_ptr<grpc::ServerCredentials> creds = grpc::SslServerCredentials(opts);
  if (authorizer != nullptr) creds->SetAuthMetadataProcessor(authorizer);
  return creds;
}

grpc::ChannelArguments DefaultChannelArguments() {
  grpc::ChannelArguments args;
  args.SetInt(GRPC_ARG_KEEPALIVE_TIME_MS, 60 * 1000);
  args.SetInt(GRPC_ARG_KEEPALIVE_TIMEOUT_MS, 20 * 1000);
  args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 500);
  args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 5000);
  // A CatalogUpdate of a large catalog (20,000 resources is about 5 MB): the server sends none
  // over wire::kMaxCatalogUpdateBytes.
  args.SetMaxReceiveMessageSize(static_cast<int>(wire::kMaxServerMessageBytes));
  args.SetInt(GRPC_ARG_TSI_MAX_FRAME_SIZE, kTlsMaxFrameBytes);
  return args;
}

}  // namespace plumb
