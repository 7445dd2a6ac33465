#pragma once

// The one place where gRPC channel and server credentials are chosen. `--insecure` gives
// plaintext for local development and tests; TLS files (ca/cert/key) give (mutual) TLS; an
// operator's bearer token rides on TLS as call credentials; an enrolling agent without a CA
// file trusts the server by the CA's fingerprint (ca_pin_verifier.h).

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "grpcpp/grpcpp.h"
#include "grpcpp/security/auth_metadata_processor.h"

namespace plumb {

struct TlsFiles {
  std::string ca;
  std::string cert;
  std::string key;
  bool empty() const { return ca.empty() && cert.empty() && key.empty(); }
};

// FailedPrecondition when neither insecure nor TLS files are given; NotFound naming an
// unreadable file. With TLS, `bearer_token` (if not empty) is sent as
// `authorization: Bearer <token>` on every call; a client certificate is then optional.
absl::StatusOr<std::shared_ptr<grpc::ChannelCredentials>> MakeChannelCredentials(
    bool insecure, const TlsFiles& tls, const std::string& bearer_token = "");

// TLS that trusts the server if its chain holds a CA with SHA-256 fingerprint `ca_pin` (any
// spelling NormalizeFingerprint accepts) that signed the server's certificate. No client
// certificate. InvalidArgument for a malformed pin.
absl::StatusOr<std::shared_ptr<grpc::ChannelCredentials>> MakePinnedChannelCredentials(
    const std::string& ca_pin);

// With TLS and tls.ca, clients may present certificates signed by tls.ca (verified when
// presented, not required: enrollment and token-carrying operators come without one);
// `authorizer` (may be null) then decides per call who may call what.
absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> MakeServerCredentials(
    bool insecure, const TlsFiles& tls,
    std::shared_ptr<grpc::AuthMetadataProcessor> authorizer = nullptr);

// The largest TLS record either side sends (GRPC_ARG_TSI_MAX_FRAME_SIZE). gRPC's default is
// 16 KiB; every connection holds buffers of that size, so smaller records save memory per
// connection (~24 KiB at 4 KiB on the server, measured) for a record overhead under 1%.
inline constexpr int kTlsMaxFrameBytes = 4096;

// Channel arguments every Plumb client uses (keepalive, message size, reconnect backoff).
grpc::ChannelArguments DefaultChannelArguments();

}  // namespace plumb
