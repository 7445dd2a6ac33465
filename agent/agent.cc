#include "agent/agent.h"

#include <malloc.h>

#include <set>
#include <thread>

#include "absl/random/random.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "agent/backoff.h"
#include "agent/engine/enum_names.h"
#include "agent/facts.h"
#include "agent/health_check.h"
#include "agent/noop_runner.h"
#include "agent/report_fit.h"
#include "agent/state_files.h"
#include "common/catalog.h"
#include "common/logging.h"
#include "common/status_macros.h"
#include "common/wire_limits.h"
#include "common/version.h"

namespace plumb {
namespace {

std::string NewReportId(absl::Time now) {
  absl::BitGen gen;
  return absl::StrFormat("%d-%016x%016x", absl::ToUnixMillis(now), absl::Uniform<uint64_t>(gen),
                         absl::Uniform<uint64_t>(gen));
}

// Gives the pages of freed memory back to the system: after a run, an update or a noop sample
// of thousands of resources that is megabytes, which glibc would keep resident until the next.
void ReleaseFreedMemory() { malloc_trim(0); }

int CountOutcome(const v1::Report& r, v1::ResourceOutcome outcome) {
  int n = 0;
  for (const auto& res : r.results()) n += res.outcome() == outcome;
  return n;
}

}  // namespace

absl::StatusOr<std::unique_ptr<Agent>> Agent::Create(const AgentConfig& config,
                                                     CommandRunner* runner, Clock* clock,
                                                     ChannelFactory* channels,
                                                     AgentTiming timing) {
  std::unique_ptr<Agent> agent(new Agent(config, clock, channels, timing));
  PLUMB_RETURN_IF_ERROR(MakeStateDirs(config.state_dir));
  PLUMB_ASSIGN_OR_RETURN(agent->blobs_, BlobCache::Open(config.state_dir + "/blobs"));
  agent->fs_ = NewRootedFilesystem(config.root);
  agent->engine_ = std::make_unique<ApplyEngine>(agent->fs_.get(), config.root,
                                                 agent->blobs_.get(), runner, clock);
  PLUMB_ASSIGN_OR_RETURN(agent->reports_, ReportQueue::Open(config.state_dir + "/reports"));
  agent->runner_ = runner;
  absl::MutexLock lock(&agent->run_mu_);
  auto cached = ReadStateFile(config.state_dir + "/catalog.pb");
  if (cached.ok() && !agent->held_.SetSerialized(std::move(*cached))) {
    LogWarning("cached catalog is unreadable; waiting for the server", {{"dir", config.state_dir}});
  }
  auto inventory = Inventory::Load(config.state_dir + "/inventory.pb");
  if (!inventory.ok()) return inventory.status();
  agent->inventory_ = std::make_unique<Inventory>(std::move(*inventory));
  agent->inventory_->Compact();
  auto applied = ReadStateFile(config.state_dir + "/applied_revision");
  if (applied.ok()) agent->applied_revision_ = *applied;
  agent->health_ = LoadHealthCheck(config.state_dir, agent->held_.digest());
  return agent;
}

Agent::Agent(AgentConfig config, Clock* clock, ChannelFactory* channels, AgentTiming timing)
    : config_(std::move(config)), clock_(clock), channels_(channels), timing_(timing) {}

void Agent::Stop() {
  absl::MutexLock lock(&mu_);
  stopping_ = true;
  if (current_ != nullptr) current_->Cancel();
}

v1::Hello Agent::MakeHello(bool once) {
  v1::Hello hello;
  hello.set_run_once(once);
  hello.set_node(config_.node);
  hello.mutable_labels()->insert(config_.labels.begin(), config_.labels.end());
  for (const auto& [k, v] : GatherFacts("/etc/os-release", config_.facts)) {
    (*hello.mutable_facts())[k] = v;
  }
  hello.set_agent_version(kVersion);
  absl::MutexLock lock(&run_mu_);
  hello.set_applied_revision(applied_revision_);
  hello.set_catalog_digest(held_.digest());
  const v1::Catalog held = held_.Parse();
  for (const v1::Resource& r : held.resources()) (*hello.mutable_resource_versions())[r.id()] = r.version();
  return hello;
}

absl::Status Agent::AcceptUpdate(SyncClient* client, const v1::CatalogUpdate& update,
                                 bool* changed) {
  v1::Catalog next;
  {
    absl::MutexLock lock(&run_mu_);
    next = held_.Parse();
  }
  const std::string before = next.digest();
  // The previous catalog's blobs stay: a run may still be applying it.
  std::set<std::string> keep;
  for (const v1::Resource& r : next.resources()) keep.insert(r.content_digest());
  if (!ApplyUpdate(update, &next)) {
    return absl::FailedPreconditionError("update names resources this agent does not hold");
  }
  if (ComputeCatalogDigest(next) != update.catalog_digest()) {
    return absl::DataLossError("catalog digest mismatch after applying the update");
  }
  std::vector<std::string> digests;
  for (const v1::Resource& r : next.resources()) {
    if (!r.content_digest().empty()) digests.push_back(r.content_digest());
  }
  PLUMB_RETURN_IF_ERROR(client->FetchBlobs(digests, blobs_.get()));
  // The health check first: a crash between the two leaves the old catalog with a check that
  // names the new digest (so none is run, and the server re-sends the update with its check),
  // never the new catalog without its check.
  PLUMB_RETURN_IF_ERROR(SaveHealthCheck(config_.state_dir, next.digest(), update.health()));
  HeldCatalog next_held;
  next_held.Set(next);
  PLUMB_RETURN_IF_ERROR(WriteStateFile(config_.state_dir + "/catalog.pb", next_held.serialized()));
  keep.insert(digests.begin(), digests.end());
  *changed = next.digest() != before;
  next = v1::Catalog();  // before the blob sweep: the run parses its own copy
  {
    absl::MutexLock lock(&run_mu_);
    held_ = std::move(next_held);
    health_ = update.health();
  }
  absl::StatusOr<int> dropped = blobs_->Retain(keep);
  if (!dropped.ok()) {
    LogWarning("cannot drop unused blobs", {{"error", dropped.status().message()}});
  } else if (*dropped > 0) {
    LogInfo("dropped blobs no catalog names", {{"blobs", *dropped}});
  }
  return absl::OkStatus();
}

v1::Report Agent::ApplyHeld(v1::RunTrigger trigger, bool noop, const std::string& request_id) {
  absl::MutexLock lock(&run_mu_);
  // Parsed for this run only: between runs the catalog is held serialized.
  const HeldCatalog::OnArena parsed = held_.ParseOnArena();
  const v1::Catalog& held = *parsed.catalog;
  RunOptions options;
  options.noop = noop;
  options.trigger = trigger;
  v1::Report report = engine_->Run(held, options);
  if (!noop) inventory_->RecordCreated(held, report);
  HandleOrphans(fs_.get(), held.prune(), noop, inventory_.get(), inventory_->Orphans(held),
                &report);
  if (!noop) {
    absl::Status saved = inventory_->Save();
    if (!saved.ok()) LogWarning("cannot save inventory", {{"error", saved.message()}});
  }
  inventory_->Compact();  // until the next run
  if (drift_ != nullptr) {
    // Our own writes are queued as inotify events by now: they are not drift.
    drift_->DiscardPending();
    drift_->Watch(held);
  }
  report.set_id(NewReportId(clock_->Now()));
  report.set_node(config_.node);
  report.set_request_id(request_id);
  if (!noop && !health_.exec().empty() && CountOutcome(report, v1::FAILED) == 0) {
    *report.mutable_health() = RunHealthCheck(runner_, health_);
    if (report.health().exit_status() != 0) {
      LogWarning("health check failed", {{"exit", report.health().exit_status()},
                                         {"output", report.health().output()}});
    }
  }
  if (!noop && CountOutcome(report, v1::FAILED) == 0 && !held.revision().empty()) {
    applied_revision_ = held.revision();
    absl::Status s = WriteStateFile(config_.state_dir + "/applied_revision", applied_revision_);
    if (!s.ok()) LogWarning("cannot record applied revision", {{"error", s.message()}});
  }
  return report;
}

Agent::RunSummary Agent::RunCatalog(v1::RunTrigger trigger, bool noop,
                                    const std::string& request_id) {
  RunSummary summary;
  {
    v1::Report report = ApplyHeld(trigger, noop, request_id);
    summary.report_id = report.id();
    summary.failed = CountOutcome(report, v1::FAILED);
    QueueAndSend(std::move(report), trigger, noop);
  }
  // After the run's copy of the catalog, its report and what the providers read are freed.
  ReleaseFreedMemory();
  return summary;
}

void Agent::QueueAndSend(v1::Report report, v1::RunTrigger trigger, bool noop) {
  LogInfo("run finished", {{"report", report.id()}, {"trigger", RunTriggerName(trigger)},
                           {"noop", noop},
                           {"rev", report.revision().substr(0, 12)},
                           {"changed", CountOutcome(report, v1::CHANGED)},
                           {"would_change", CountOutcome(report, v1::WOULD_CHANGE)},
                           {"failed", CountOutcome(report, v1::FAILED)},
                           {"skipped", CountOutcome(report, v1::SKIPPED)}});
  for (const auto& r : report.results()) {
    if (r.outcome() == v1::FAILED) LogWarning("resource failed", {{"id", r.id()}, {"error", r.message()}});
  }
  // Cut to the wire limits before it is queued: a report the server refuses would be re-sent
  // on every reconnect, forever.
  if (FitReport(&report)) LogWarning("report cut to fit", {{"note", report.truncated()}});
  absl::Status queued = reports_->Enqueue(report);
  if (!queued.ok()) LogError("cannot queue report", {{"error", queued.message()}});
  absl::MutexLock lock(&mu_);
  if (current_ != nullptr) {
    v1::AgentMessage msg;
    *msg.mutable_report() = std::move(report);
    current_->Send(msg);
  }
}

void Agent::SendPendingReports(SyncClient* client) {
  for (v1::Report& r : reports_->Pending()) {
    FitReport(&r);  // queued by an agent that did not cut reports yet
    v1::AgentMessage msg;
    *msg.mutable_report() = std::move(r);
    if (!client->Send(msg)) return;
  }
}

void Agent::AnswerNoop(SyncClient* client, const v1::NoopRequest& request) {
  NoopRunContext context;
  context.fetch_blobs = [&](const std::vector<std::string>& digests) {
    return client->FetchBlobs(digests, blobs_.get());
  };
  context.engine = engine_.get();
  context.fs = fs_.get();
  context.node = config_.node;
  v1::AgentMessage answer;
  absl::Status prepared = FetchNoopBlobs(request, context);
  if (!prepared.ok()) {
    LogWarning("noop sample not run", {{"error", prepared.message()}});
    *answer.mutable_noop_result() = NoopFailure(request, prepared);
  } else {
    absl::MutexLock lock(&run_mu_);  // one run at a time: after a run in progress
    context.inventory = inventory_.get();
    *answer.mutable_noop_result() = RunNoopRequest(request, context);
    inventory_->Compact();
  }
  client->Send(answer);
}

bool Agent::ServeStream(SyncClient* client, bool once, int* exit_code) {
  v1::AgentMessage hello;
  *hello.mutable_hello() = MakeHello(once);
  if (!client->Send(hello)) return false;
  SendPendingReports(client);
  bool got_message = false;
  std::string once_report_id;
  v1::ServerMessage msg;
  while (client->Read(&msg)) {
    got_message = true;
    switch (msg.kind_case()) {
      case v1::ServerMessage::kUpdate: {
        bool changed = false;
        absl::Status accepted = AcceptUpdate(client, msg.update(), &changed);
        v1::AgentMessage ack;
        ack.mutable_ack()->set_nonce(msg.update().nonce());
        if (!accepted.ok()) {
          LogWarning("catalog update rejected", {{"error", accepted.message()}});
          ack.mutable_ack()->set_error(FitText(accepted.message(), wire::kMaxAckErrorBytes));
        }
        client->Send(ack);
        if (!accepted.ok()) {
          if (once) *exit_code = 1;
          if (once) return got_message;
          break;
        }
        const v1::RunTrigger trigger = msg.update().rollback() ? v1::ROLLBACK : v1::CATALOG;
        // The update's resources are in held_ now (serialized): do not keep a parsed copy
        // through the run (and after it, until the next message arrives).
        msg.Clear();
        if (changed || once) {
          RunSummary run = RunCatalog(trigger, config_.noop);
          if (once) {
            once_report_id = run.report_id;
            *exit_code = run.failed > 0 ? 1 : 0;
          }
        } else {
          ReleaseFreedMemory();  // the update and the parsed copies AcceptUpdate made
        }
        break;
      }
      case v1::ServerMessage::kReportAck: {
        absl::Status s = reports_->Remove(msg.report_ack().report_id());
        if (!s.ok()) LogWarning("cannot dequeue report", {{"error", s.message()}});
        if (once && msg.report_ack().report_id() == once_report_id) return got_message;
        break;
      }
      case v1::ServerMessage::kRun:
        RunCatalog(v1::REQUEST, msg.run().noop() || config_.noop, msg.run().request_id());
        break;
      case v1::ServerMessage::kNoop:
        AnswerNoop(client, msg.noop());
        msg.Clear();  // the sample's catalog: not kept until the next message
        ReleaseFreedMemory();
        break;
      case v1::ServerMessage::kHeartbeat:
      default:
        break;
    }
  }
  return got_message;
}

int Agent::RunOnce() {
  auto channel = channels_->NewChannel();
  if (!channel.ok()) {
    LogError("cannot set up credentials", {{"error", channel.status().message()}});
    return 1;
  }
  SyncClient client(*channel);
  absl::Status opened = client.Open(absl::Seconds(10), absl::Seconds(120));
  int exit_code = 1;
  if (opened.ok()) {
    {
      absl::MutexLock lock(&mu_);
      current_ = &client;
    }
    bool served = ServeStream(&client, /*once=*/true, &exit_code);
    {
      absl::MutexLock lock(&mu_);
      current_ = nullptr;
    }
    absl::Status finished = client.Finish();
    if (served) return exit_code;
    // Why the server ended the stream before a catalog came (refused identity, revoked...).
    if (!finished.ok()) LogError("stream closed", {{"status", finished.ToString()}});
  }
  LogError("server unreachable; applying the cached catalog", {{"server", channels_->target()}});
  bool has_catalog;
  {
    absl::MutexLock lock(&run_mu_);
    has_catalog = !held_.digest().empty();
  }
  if (has_catalog) RunCatalog(v1::INTERVAL, config_.noop);
  return 1;
}

bool Agent::WaitUnlessStopping(absl::Duration d) {
  absl::MutexLock lock(&mu_);
  auto stopping = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return stopping_; };
  clock_->AwaitWithTimeout(&mu_, absl::Condition(&stopping), d);
  return !stopping_;
}

void Agent::IntervalLoop() {
  absl::BitGen gen;
  while (true) {
    absl::Duration wait =
        config_.interval +
        absl::Milliseconds(absl::Uniform<int64_t>(gen, 0, absl::ToInt64Milliseconds(config_.splay) + 1));
    if (!WaitUnlessStopping(wait)) return;
    bool has_catalog;
    {
      absl::MutexLock lock(&run_mu_);
      has_catalog = !held_.digest().empty();
    }
    if (has_catalog) RunCatalog(v1::INTERVAL, config_.noop);
  }
}

void Agent::HeartbeatLoop() {
  while (WaitUnlessStopping(timing_.heartbeat)) {
    absl::MutexLock lock(&mu_);
    if (current_ != nullptr) {
      v1::AgentMessage hb;
      hb.mutable_heartbeat()->set_unix_ms(absl::ToUnixMillis(clock_->Now()));
      current_->Send(hb);
    }
  }
}

void Agent::ConnectLoop() {
  Backoff backoff(timing_.backoff_initial, timing_.backoff_max);
  while (true) {
    {
      absl::MutexLock lock(&mu_);
      if (stopping_) return;
    }
    auto channel = channels_->NewChannel();
    if (!channel.ok()) {
      LogError("cannot set up credentials; enforcing the cached catalog only",
               {{"error", channel.status().message()}});
      return;
    }
    SyncClient client(*channel);
    absl::Status opened = client.Open(timing_.connect_timeout);
    if (opened.ok()) {
      {
        absl::MutexLock lock(&mu_);
        current_ = &client;
        if (stopping_) client.Cancel();
      }
      int unused = 0;
      if (ServeStream(&client, /*once=*/false, &unused)) backoff.Reset();
      {
        absl::MutexLock lock(&mu_);
        current_ = nullptr;
      }
      absl::Status finished = client.Finish();
      LogInfo("stream closed", {{"status", finished.ToString()}});
    }
    absl::Duration wait = backoff.Next();
    LogInfo("reconnecting", {{"server", channels_->target()}, {"in", absl::FormatDuration(wait)}});
    if (!WaitUnlessStopping(wait)) return;
  }
}

void Agent::RunDaemon() {
  drift_ = std::make_unique<DriftWatch>(config_.root, [this] { RunCatalog(v1::DRIFT, config_.noop); });
  absl::Status watching = drift_->Start();
  if (!watching.ok()) {
    LogWarning("drift watch unavailable; repairing at intervals only", {{"error", watching.message()}});
  } else {
    absl::MutexLock lock(&run_mu_);
    drift_->Watch(held_.Parse());
  }
  std::thread interval([this] { IntervalLoop(); });
  std::thread heartbeat([this] { HeartbeatLoop(); });
  ConnectLoop();
  {
    absl::MutexLock lock(&mu_);
    auto stopping = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return stopping_; };
    mu_.Await(absl::Condition(&stopping));
  }
  interval.join();
  heartbeat.join();
  drift_->Stop();
}

}  // namespace plumb
