#pragma once

// Where plumbctl connects and with which credential: flags first, then the environment
// (PLUMB_SERVER, PLUMB_TOKEN), then the config file (--config, else $PLUMBCTL_CONFIG, else
// ~/.config/plumb/plumbctl.yaml with keys server, ca, cert, key, token, insecure).

#include <string>

#include "absl/status/statusor.h"
#include "common/command_line.h"
#include "common/grpc_credentials.h"

namespace plumb {

// Thread-compatible value type.
struct CtlConnection {
  std::string server = "127.0.0.1:7443";
  bool insecure = false;
  TlsFiles tls;
  std::string token;
  std::string config_path;  // the file read, empty if none
};

// InvalidArgument for a bad config file; NotFound if --config names a missing file.
absl::StatusOr<CtlConnection> ResolveConnection(const CommandLine& flags);

// FailedPrecondition naming the ways to give one, when `c` carries no credential at all.
absl::Status CheckHasCredential(const CtlConnection& c);

}  // namespace plumb
