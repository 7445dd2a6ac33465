#pragma once

// Where the agent's connections to the server come from: one gRPC channel per connection
// attempt. Production dials `server` with the configured credentials; tests point the agent
// at an in-process or loopback server.

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "agent/agent_config.h"
#include "grpcpp/grpcpp.h"

namespace plumb {

// Thread-compatible: the agent asks from its connecting thread only.
class ChannelFactory {
 public:
  virtual ~ChannelFactory() = default;
  // A new channel for the next connection attempt. An error means no connection can be
  // attempted at all (no usable credentials); the agent then enforces its cached catalog only.
  virtual absl::StatusOr<std::shared_ptr<grpc::Channel>> NewChannel() = 0;
  // Where the channels lead, for logs.
  virtual std::string target() const = 0;
};

// Channels to `config.server` (DefaultChannelArguments); with several addresses, each new
// channel after the first goes to the next one in the list (round robin). TLS files are read afresh for every
// channel, so a renewed certificate (cert_renewer.h) is presented from the next connection on;
// if they cannot be read, the credentials of the previous channel are reused with a warning.
// Fails only when no credentials were ever readable.
std::unique_ptr<ChannelFactory> NewServerChannelFactory(const AgentConfig& config);

}  // namespace plumb
