#include "agent/channel_factory.h"

#include "common/grpc_credentials.h"
#include "common/logging.h"

namespace plumb {
namespace {

// Dials the configured servers in turn, re-reading TLS files per channel.
class ServerChannelFactory : public ChannelFactory {
 public:
  explicit ServerChannelFactory(const AgentConfig& config)
      : servers_(ServerList(config.server)), insecure_(config.insecure), tls_(config.tls) {
    if (servers_.empty()) servers_.push_back(config.server);
  }

  absl::StatusOr<std::shared_ptr<grpc::Channel>> NewChannel() override {
    auto fresh = MakeChannelCredentials(insecure_, tls_);
    if (fresh.ok()) {
      last_ = *fresh;
    } else if (last_ == nullptr) {
      return fresh.status();
    } else {
      LogWarning("cannot read TLS files; using the previous ones",
                 {{"error", fresh.status().message()}});
    }
    // Each attempt after the first goes to the next server: one that died (its stream ended,
    // or it cannot be reached) is left for the next, with the agent's jittered backoff between.
    if (attempts_++ > 0) current_ = (current_ + 1) % servers_.size();
    return grpc::CreateCustomChannel(servers_[current_], last_, DefaultChannelArguments());
  }

  std::string target() const override { return servers_[current_]; }

 private:
  std::vector<std::string> servers_;
  const bool insecure_;
  const TlsFiles tls_;
  size_t current_ = 0;   // the server of the latest channel
  int64_t attempts_ = 0;
  std::shared_ptr<grpc::ChannelCredentials> last_;  // of the previous channel
};

}  // namespace

std::unique_ptr<ChannelFactory> NewServerChannelFactory(const AgentConfig& config) {
  return std::make_unique<ServerChannelFactory>(config);
}

}  // namespace plumb
