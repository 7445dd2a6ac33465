#include "server/plumb_server.h"

#include <sys/stat.h>

#include "absl/strings/str_cat.h"
#include "common/logging.h"
#include "common/status_macros.h"

namespace plumb {
namespace {

absl::Status MakeDirs(const std::string& path, mode_t mode) {
  std::string partial;
  for (size_t i = 0; i <= path.size(); ++i) {
    if (i == path.size() || (path[i] == '/' && i > 0)) {
      partial = path.substr(0, i);
      if (mkdir(partial.c_str(), mode) != 0 && errno != EEXIST) {
        return absl::PermissionDeniedError(absl::StrCat("cannot create ", partial, ": ", strerror(errno)));
      }
    }
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::unique_ptr<PlumbServer>> PlumbServer::Start(const ServerConfig& config) {
  std::unique_ptr<PlumbServer> s(new PlumbServer());
  PLUMB_RETURN_IF_ERROR(MakeDirs(config.state_dir, 0750));
  PLUMB_ASSIGN_OR_RETURN(s->store_, Store::Open(config.state_dir + "/plumb.db"));
  PLUMB_ASSIGN_OR_RETURN(s->git_, GitSource::Open(config.repo_url, config.repo_branch,
                                                  config.state_dir + "/mirror.git"));
  s->hub_ = std::make_unique<StreamHub>(s->store_.get(), &s->builder_, &s->runs_, &s->clock_);
  StreamHub* hub = s->hub_.get();
  s->poller_ = std::make_unique<RevisionPoller>(s->git_.get(), s->store_.get(), &s->builder_,
                                                &s->clock_, config.repo_poll,
                                                [hub] { hub->OnNewRevision(); });
  absl::Status restored = s->poller_->Restore();
  if (!restored.ok()) LogWarning("cannot restore serving revision", {{"error", restored.message()}});

  s->agent_service_ = std::make_unique<AgentServiceImpl>(s->hub_.get(), &s->builder_);
  s->fleet_service_ = std::make_unique<FleetServiceImpl>(s->store_.get(), s->poller_.get(),
                                                         s->hub_.get(), &s->runs_);
  PLUMB_ASSIGN_OR_RETURN(auto creds, MakeServerCredentials(config.insecure, config.tls));
  grpc::ServerBuilder builder;
  builder.AddListeningPort(config.listen, creds, &s->grpc_port_);
  builder.RegisterService(s->agent_service_.get());
  builder.RegisterService(s->fleet_service_.get());
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_PERMIT_WITHOUT_CALLS, 1);
  builder.AddChannelArgument(GRPC_ARG_HTTP2_MIN_RECV_PING_INTERVAL_WITHOUT_DATA_MS, 10000);
  s->grpc_ = builder.BuildAndStart();
  if (s->grpc_ == nullptr || s->grpc_port_ == 0) {
    return absl::UnavailableError(absl::StrCat("cannot listen on ", config.listen));
  }
  LogInfo("plumb-server listening", {{"listen", config.listen}, {"port", s->grpc_port_},
                                     {"repo", config.repo_url}, {"branch", config.repo_branch}});
  s->poller_->Start();
  return s;
}

PlumbServer::~PlumbServer() { Shutdown(); }

void PlumbServer::Wait() {
  if (grpc_ != nullptr) grpc_->Wait();
}

void PlumbServer::Shutdown() {
  if (poller_ != nullptr) poller_->Stop();
  if (grpc_ != nullptr) {
    // Open Sync streams are cancelled after the deadline; agents reconnect with backoff.
    grpc_->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(2));
  }
  if (hub_ != nullptr) hub_->Drain();
}

}  // namespace plumb
