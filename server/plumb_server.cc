#include "server/plumb_server.h"

#include <sys/stat.h>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "common/logging.h"
#include "common/secure_files.h"
#include "common/status_macros.h"
#include "common/wire_limits.h"
#include "grpcpp/ext/proto_server_reflection_plugin.h"
#include "grpcpp/health_check_service_interface.h"
#include "server/store/open_store.h"

namespace plumb {
namespace {

constexpr const char* kGrpcServices[] = {"plumb.v1.AgentService", "plumb.v1.FleetService"};

}  // namespace

absl::StatusOr<std::unique_ptr<PlumbServer>> PlumbServer::Start(const ServerConfig& config,
                                                                 MetricsRegistry* metrics) {
  std::unique_ptr<PlumbServer> s(new PlumbServer());
  if (metrics == nullptr) {
    s->own_registry_ = std::make_unique<MetricsRegistry>();
    metrics = s->own_registry_.get();
  }
  s->registry_ = metrics;
  s->metrics_ = std::make_unique<ServerMetrics>(metrics);
  s->events_ = std::make_unique<EventBus>(&s->clock_);
  PLUMB_RETURN_IF_ERROR(MakeDirectories(config.state_dir, 0750));
  StoreSettings store_settings{config.store_url, config.store_password_file,
                               config.state_dir + "/plumb.db", /*replicas=*/true};
  PLUMB_ASSIGN_OR_RETURN(s->store_, OpenStore(store_settings));
  PLUMB_ASSIGN_OR_RETURN(s->replica_link_, OpenReplicaLink(store_settings));
  PLUMB_ASSIGN_OR_RETURN(s->leadership_, OpenLeadership(store_settings));
  PLUMB_ASSIGN_OR_RETURN(s->git_, GitSource::Open(config.repo_url, config.repo_branch,
                                                  config.state_dir + "/mirror.git",
                                                  config.repo_timeout));
  PlumbServer* server = s.get();
  RevisionLineSettings line_settings{config.repo_url, config.state_dir, config.repo_timeout,
                                     config.repo_poll, config.nodes_stale_after};
  Environments envs = config.environments.all().empty()
                          ? Environments::Single(config.repo_branch)
                          : config.environments;
  PLUMB_ASSIGN_OR_RETURN(
      s->lines_, RevisionLines::Open(envs, line_settings, s->git_.get(), s->store_.get(),
                                     &s->clock_, s->events_.get(), s->metrics_.get(),
                                     s->leadership_.get(), [server] { server->hub_->OnNewRevision(); }));
  RevisionLine& main_line = s->lines_->default_line();
  s->hub_ = std::make_unique<StreamHub>(s->store_.get(), main_line.builder.get(), &s->runs_,
                                        &s->clock_, s->events_.get(), s->metrics_.get());
  StreamHub* hub = s->hub_.get();
  s->lines_->Restore();
  hub->SetLines(s->lines_->ServingLines(), s->lines_->Matcher());

  if (!config.insecure) {
    PLUMB_ASSIGN_OR_RETURN(s->security_,
                           ServerSecurity::Open(config, config.state_dir + "/plumb.db", &s->clock_,
                                                [hub](const std::string& node) {
                                                  hub->SetRevoked(node, false);
                                                }));
    // Replicas on one database: what another replica enrolls or revokes reaches this one's
    // streams within a second, through the same path as a local revocation.
    EventBus* events = s->events_.get();
    s->security_->ShareIdentities(
        &s->clock_,
        {[hub](const std::string& node) { hub->SetRevoked(node, true); },
         [hub](const std::string& node) { hub->SetRevoked(node, false); },
         [events] {
           events->Publish(MakeEvent(v1::EVENT_CREDENTIAL_REVOKED, "", "",
                                     "operator certificates revoked through another server"));
         }});
  }
  RevisionLines* lines = s->lines_.get();
  s->agent_service_ = std::make_unique<AgentServiceImpl>(
      s->hub_.get(), main_line.builder.get(), s->security_.get(), &s->clock_);
  s->agent_service_->set_blob_source(
      [lines](const std::string& digest) { return lines->Blob(digest); });
  s->fleet_service_ = std::make_unique<FleetServiceImpl>(
      s->store_.get(), main_line.poller.get(), s->hub_.get(), &s->runs_, s->events_.get());
  s->fleet_service_->set_security(s->security_.get());
  s->fleet_service_->set_rollout(main_line.rollout.get(), main_line.live.get());
  s->fleet_service_->set_rollout_lookup([lines](const std::string& environment) {
    RevisionLine* line = environment.empty() ? &lines->default_line() : lines->Find(environment);
    return line == nullptr ? std::make_pair<RolloutController*, LiveRevisions*>(nullptr, nullptr)
                           : std::make_pair(line->rollout.get(), line->live.get());
  });
  s->fleet_service_->set_sync([lines] { return lines->SyncNow(); });
  std::vector<RolloutController*> all_rollouts;
  for (size_t i = 0; i < lines->size(); ++i) all_rollouts.push_back(lines->line(i).rollout.get());
  s->fleet_service_->set_all_rollouts(std::move(all_rollouts));
  s->planner_ = std::make_unique<Planner>(s->git_.get(), s->store_.get(), &s->clock_,
                                          config.nodes_stale_after);
  s->noop_sampler_ = std::make_unique<NoopSampler>(s->hub_.get(), &s->clock_);
  s->planner_->set_noop_sampler(s->noop_sampler_.get());
  if (!config.environments.all().empty()) s->planner_->set_line_trees(
      [lines](const std::string& environment,
              const std::string& sha) -> absl::StatusOr<std::unique_ptr<RepoTree>> {
        RevisionLine* line = lines->Find(environment);
        if (line == nullptr) return absl::NotFoundError("no environment " + environment);
        return line->git->TreeAt(sha);
      });
  s->fleet_service_->set_planner(s->planner_.get());
  if (s->replica_link_ != nullptr) {
    s->relay_ = std::make_unique<ReplicaRelay>(s->replica_link_.get(), hub, &s->runs_,
                                               s->events_.get());
    // Operators' rollout actions on a follower go to the leader (docs/scale-out.md).
    s->rollout_forwarding_ =
        std::make_unique<RolloutForwarding>(s->replica_link_.get(), &s->clock_);
    s->fleet_service_->set_rollout_forwarding(s->rollout_forwarding_.get());
    s->relay_->set_rollout_forwarding(s->rollout_forwarding_.get());
    s->relay_->Start();
    s->fleet_service_->set_replicas(s->relay_.get());
    hub->EnableReplicas();
  }
  PLUMB_ASSIGN_OR_RETURN(
      auto creds,
      MakeServerCredentials(config.insecure, config.tls,
                            s->security_ != nullptr ? s->security_->authorizer() : nullptr));
  // Both are process-wide switches of gRPC (read by every ServerBuilder); setting them again
  // for a second server in the same process (tests) is harmless.
  grpc::EnableDefaultHealthCheckService(true);
  grpc::reflection::InitProtoReflectionServerBuilderPlugin();
  grpc::ServerBuilder builder;
  builder.AddListeningPort(config.listen, creds, &s->grpc_port_);
  builder.RegisterService(s->agent_service_.get());
  builder.RegisterService(s->fleet_service_.get());
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_PERMIT_WITHOUT_CALLS, 1);
  // A port already taken is a startup error, not a silently shared listener.
  builder.AddChannelArgument(GRPC_ARG_ALLOW_REUSEPORT, 0);
  builder.AddChannelArgument(GRPC_ARG_HTTP2_MIN_RECV_PING_INTERVAL_WITHOUT_DATA_MS, 10000);
  // TLS records of at most 4 KiB instead of 16: each connection's frame protector buffers
  // shrink with them, about 24 KiB less per agent (docs/benchmarks.md, mutual TLS).
  builder.AddChannelArgument(GRPC_ARG_TSI_MAX_FRAME_SIZE, kTlsMaxFrameBytes);
  // An agent's Hello lists every resource it holds: 100,000 fit (docs/protocol.md, limits).
  builder.SetMaxReceiveMessageSize(static_cast<int>(wire::kMaxAgentMessageBytes));
  s->grpc_ = builder.BuildAndStart();
  if (s->grpc_ == nullptr || s->grpc_port_ == 0) {
    return absl::UnavailableError(absl::StrCat("cannot listen on ", config.listen));
  }
  grpc::HealthCheckServiceInterface* health = s->grpc_->GetHealthCheckService();
  if (health != nullptr) {
    // The services themselves always serve (agents keep the last good revision); the server as
    // a whole ("") is as ready as /readyz says, so gRPC health checks see a broken repository.
    for (const char* service : kGrpcServices) health->SetServingStatus(service, true);
    health->SetServingStatus("", s->Ready().ok());
    for (size_t i = 0; i < s->lines_->size(); ++i) {
      s->lines_->line(i).poller->set_on_fetch_result(
          [server, health](bool) { health->SetServingStatus("", server->Ready().ok()); });
    }
  }
  LogInfo("plumb-server listening", {{"listen", config.listen}, {"port", s->grpc_port_},
                                     {"repo", RedactUrl(config.repo_url)},
                                     {"branches", s->lines_->size()},
                                     {"branch", main_line.env.branch}});
  s->RegisterCallbackMetrics();
  PLUMB_RETURN_IF_ERROR(s->StartHttp(config));
  PLUMB_RETURN_IF_ERROR(s->StartConsole(config));
  s->retention_ = std::make_unique<RetentionPruner>(
      s->store_.get(), &s->clock_,
      RetentionPolicy{config.retention_reports_per_node, config.retention_max_age});
  s->retention_->Start();
  s->leadership_->Start([lines] { lines->RequestSync(); });
  s->lines_->Start();
  return s;
}

void PlumbServer::RegisterCallbackMetrics() {
  MetricsRegistry* r = registry_;
  StreamHub* hub = hub_.get();
  Store* store = store_.get();
  RevisionPoller* poller = lines_->default_line().poller.get();
  RevisionLines* lines = lines_.get();
  EventBus* events = events_.get();
  Clock* clock = &clock_;
  r->AddGaugeCallback("plumb_connected_agents", "Agents with an open, greeted Sync stream.",
                      [hub] { return hub->connected(); });
  r->AddGaugeFamilyCallback("plumb_nodes", "Known nodes by status.", "status", [store] {
    std::map<std::string, double> out;
    for (int i = v1::NODE_UNKNOWN; i <= v1::NODE_OFFLINE; ++i) {
      if (!v1::NodeStatus_IsValid(i)) continue;
      out[absl::AsciiStrToLower(v1::NodeStatus_Name(static_cast<v1::NodeStatus>(i)).substr(5))] =
          0;
    }
    auto counts = store->CountNodesByStatus();
    if (counts.ok()) {
      for (const auto& [status, n] : *counts) {
        if (status == v1::NODE_STATUS_UNSPECIFIED) continue;
        out[absl::AsciiStrToLower(v1::NodeStatus_Name(status).substr(5))] += n;
      }
    }
    return out;
  });
  RolloutController* rollout = lines_->default_line().rollout.get();
  r->AddGaugeCallback("plumb_rollout_wave",
                      "1-based wave of the rollout in progress or paused (0 when none runs).",
                      [rollout] {
                        v1::RolloutStatus s = rollout->Status({});
                        bool running = s.phase() == v1::ROLLOUT_PROGRESSING ||
                                       s.phase() == v1::ROLLOUT_PAUSED;
                        return running ? static_cast<double>(s.wave() + 1) : 0.0;
                      });
  r->AddGaugeCallback("plumb_rollouts_halted",
                      "1 while the last rollout is halted or rolled back, else 0.", [rollout] {
                        v1::RolloutPhase p = rollout->Status({}).phase();
                        return p == v1::ROLLOUT_HALTED || p == v1::ROLLOUT_ROLLED_BACK ? 1.0 : 0.0;
                      });
  r->AddGaugeCallback("plumb_revision_age_seconds",
                      "Seconds since the serving revision was fetched (0 before any is served).",
                      [poller, clock] {
                        absl::Time fetched = poller->serving_fetched();
                        if (fetched == absl::InfinitePast()) return 0.0;
                        return absl::ToDoubleSeconds(clock->Now() - fetched);
                      });
  r->AddGaugeCallback("plumb_repository_fetch_ok",
                      "1 if the last fetch of the repository succeeded, else 0.",
                      [lines] { return lines->FetchStatus().ok() ? 1.0 : 0.0; });
  r->AddCounterCallback("plumb_catalog_resources_sent_total",
                        "Upserted resources sent to agents in catalog updates.",
                        [hub] { return static_cast<double>(hub->resources_sent()); });
  r->AddGaugeCallback("plumb_event_watchers", "Open FleetService.WatchEvents streams.",
                      [events] { return events->subscribers(); });
  r->AddCounterCallback("plumb_events_published_total", "Events published to watchers.",
                        [events] { return static_cast<double>(events->published()); });
}

absl::Status PlumbServer::Ready() {
  absl::Status db = store_->Ping();
  if (!db.ok()) return absl::UnavailableError(absl::StrCat("database: ", db.message()));
  if (absl::Status fetch = lines_->FetchStatus(); !fetch.ok()) {
    return absl::UnavailableError(absl::StrCat("last fetch failed: ", fetch.message()));
  }
  return absl::OkStatus();
}

absl::Status PlumbServer::StartHttp(const ServerConfig& config) {
  if (config.http_listen.empty()) return absl::OkStatus();
  HttpHandlers h;
  MetricsRegistry* registry = registry_;
  RevisionLines* lines = lines_.get();
  ServerMetrics* metrics = metrics_.get();
  h.metrics = [registry] { return registry->RenderText(); };
  h.ready = [this] { return Ready(); };
  Leadership* leadership = leadership_.get();
  h.on_webhook = [lines, leadership](const WebhookPush& push) {
    switch (push.kind) {
      case WebhookPush::Kind::kBranch:
        if (!lines->RequestSync(push.branch)) return false;
        break;
      case WebhookPush::Kind::kOtherRef:
        return false;  // a tag or another ref: no line follows it
      case WebhookPush::Kind::kUnknown:
        lines->RequestSync();  // no ref in the body: every line
        break;
    }
    // A follower fetches its own mirror; the leader, which records, must fetch too (every
    // line: the request carries no branch).
    if (!leadership->IsLeader()) leadership->RequestLeaderSync();
    return true;
  };
  h.count_webhook = [metrics](const std::string& result) { metrics->WebhookRequest(result); };
  h.webhook_secret = config.webhook_secret;
  PLUMB_ASSIGN_OR_RETURN(http_, HttpServer::Start(config.http_listen, std::move(h)));
  return absl::OkStatus();
}

PlumbServer::~PlumbServer() { Shutdown(); }

void PlumbServer::Wait() {
  if (grpc_ != nullptr) grpc_->Wait();
}

void PlumbServer::Shutdown() {
  if (console_ != nullptr) console_->Stop();
  if (http_ != nullptr) http_->Stop();
  if (retention_ != nullptr) retention_->Stop();
  if (lines_ != nullptr) lines_->Stop();
  if (leadership_ != nullptr) leadership_->Stop();
  if (security_ != nullptr) security_->StopSharing();
  if (replica_link_ != nullptr) {
    // Hands this replica's nodes over at once; nothing calls into the relay after this.
    replica_link_->Stop();
    events_->set_relay(nullptr);
    runs_.set_forward(nullptr);
    // Operators waiting on the leader's answer get UNAVAILABLE; executions queued here finish
    // while the fleet service they call is still there.
    if (rollout_forwarding_ != nullptr) rollout_forwarding_->Stop();
  }
  // Watchers end now rather than at the gRPC shutdown deadline.
  if (events_ != nullptr) events_->Shutdown();
  if (grpc_ != nullptr) {
    if (grpc_->GetHealthCheckService() != nullptr) grpc_->GetHealthCheckService()->Shutdown();
    // Open Sync streams are cancelled after the deadline; agents reconnect with backoff.
    grpc_->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(2));
  }
  if (hub_ != nullptr) hub_->Drain();
}

}  // namespace plumb
