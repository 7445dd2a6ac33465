#pragma once

// The listening sockets of the server's own HTTP listeners (/metrics and the webhook, the
// console): bound, listening, SO_REUSEADDR but never SO_REUSEPORT, which would let a second
// server share the port.

#include <string>

#include "absl/status/statusor.h"

namespace plumb {

// A listening socket on host:port (port 0: any free port), close-on-exec, non-blocking when
// asked. Unavailable naming `config_key` (e.g. "http_listen") and the reason on failure.
absl::StatusOr<int> BindListenSocket(const std::string& config_key, const std::string& host,
                                     int port, bool nonblocking);

// The port a bound socket listens on; -1 if it cannot be read.
int BoundPort(int fd);

}  // namespace plumb
