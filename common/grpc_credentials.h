#pragma once

// The one place where gRPC channel and server credentials are chosen. `--insecure` gives
// plaintext for local development and tests; TLS files (ca/cert/key) give (mutual) TLS.

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "grpcpp/grpcpp.h"

namespace plumb {

struct TlsFiles {
  std::string ca;
  std::string cert;
  std::string key;
  bool empty() const { return ca.empty() && cert.empty() && key.empty(); }
};

// FailedPrecondition when neither insecure nor TLS files are given; NotFound naming an
// unreadable file.
absl::StatusOr<std::shared_ptr<grpc::ChannelCredentials>> MakeChannelCredentials(
    bool insecure, const TlsFiles& tls);
absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> MakeServerCredentials(
    bool insecure, const TlsFiles& tls);

// Channel arguments every Plumb client uses (keepalive, message size, reconnect backoff).
grpc::ChannelArguments DefaultChannelArguments();

}  // namespace plumb
