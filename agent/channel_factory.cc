#include "agent/channel_factory.h"

#include "common/grpc_credentials.h"
#include "common/logging.h"

namespace plumb {
namespace {

// Dials the configured server, re-reading TLS files per channel.
class ServerChannelFactory : public ChannelFactory {
 public:
  explicit ServerChannelFactory(const AgentConfig& config)
      : server_(config.server), insecure_(config.insecure), tls_(config.tls) {}

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
    return grpc::CreateCustomChannel(server_, last_, DefaultChannelArguments());
  }
  std::string target() const override { return server_; }

 private:
  const std::string server_;
  const bool insecure_;
  const TlsFiles tls_;
  std::shared_ptr<grpc::ChannelCredentials> last_;  // of the previous channel
};

}  // namespace

std::unique_ptr<ChannelFactory> NewServerChannelFactory(const AgentConfig& config) {
  return std::make_unique<ServerChannelFactory>(config);
}

}  // namespace plumb
