#include "common/grpc_credentials.h"

#include <fstream>
#include <sstream>

#include "absl/strings/str_cat.h"

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

}  // namespace

absl::StatusOr<std::shared_ptr<grpc::ChannelCredentials>> MakeChannelCredentials(
    bool insecure, const TlsFiles& tls) {
  if (insecure) return grpc::InsecureChannelCredentials();
  if (tls.empty()) {
    return absl::FailedPreconditionError("no TLS configured: set tls.ca/cert/key or pass --insecure");
  }
  grpc::SslCredentialsOptions opts;
  auto ca = ReadPem(tls.ca);
  if (!ca.ok()) return ca.status();
  auto cert = ReadPem(tls.cert);
  if (!cert.ok()) return cert.status();
  auto key = ReadPem(tls.key);
  if (!key.ok()) return key.status();
  opts.pem_root_certs = *ca;
  opts.pem_cert_chain = *cert;
  opts.pem_private_key = *key;
  return grpc::SslCredentials(opts);
}

absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> MakeServerCredentials(
    bool insecure, const TlsFiles& tls) {
  if (insecure) return grpc::InsecureServerCredentials();
  if (tls.cert.empty() || tls.key.empty()) {
    return absl::FailedPreconditionError(
        "no TLS configured: set tls.cert and tls.key (and tls.ca for client certificates) or "
        "pass --insecure");
  }
  auto ca = ReadPem(tls.ca);
  if (!ca.ok()) return ca.status();
  auto cert = ReadPem(tls.cert);
  if (!cert.ok()) return cert.status();
  auto key = ReadPem(tls.key);
  if (!key.ok()) return key.status();
  grpc::SslServerCredentialsOptions opts(
      ca->empty() ? GRPC_SSL_DONT_REQUEST_CLIENT_CERTIFICATE
                  : GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY);
  opts.pem_root_certs = *ca;
  opts.pem_key_cert_pairs.push_back({*key, *cert});
  return grpc::SslServerCredentials(opts);
}

grpc::ChannelArguments DefaultChannelArguments() {
  grpc::ChannelArguments args;
  args.SetInt(GRPC_ARG_KEEPALIVE_TIME_MS, 60 * 1000);
  args.SetInt(GRPC_ARG_KEEPALIVE_TIMEOUT_MS, 20 * 1000);
  args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 500);
  args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 5000);
  args.SetMaxReceiveMessageSize(4 * 1024 * 1024);
  return args;
}

}  // namespace plumb
