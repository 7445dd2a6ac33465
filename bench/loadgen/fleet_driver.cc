#include "bench/loadgen/fleet_driver.h"

#include <unistd.h>

#include <cstdlib>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "bench/loadgen/fleet_tls.h"
#include "common/parallel_for.h"
#include "common/pki/pki.h"

namespace plumb {
namespace bench {
namespace {

std::shared_ptr<grpc::Channel> NewChannel(
    const std::string& server, int id,
    std::shared_ptr<grpc::ChannelCredentials> credentials = nullptr) {
  grpc::ChannelArguments args;
  // A distinct argument and a local subchannel pool: every channel gets its own connection
  // instead of gRPC sharing one HTTP/2 connection among equal channels.
  args.SetInt("plumb.loadgen.channel", id);
  args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
  args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 200);
  args.SetMaxReceiveMessageSize(16 * 1024 * 1024);
  if (credentials == nullptr) credentials = grpc::InsecureChannelCredentials();
  return grpc::CreateCustomChannel(server, credentials, args);
}

std::string Mib(int64_t kb) { return absl::StrFormat("%.1f MiB", kb / 1024.0); }

void SpreadRow(std::ostream& out, const std::string& what, const std::vector<absl::Duration>& v,
               int expected) {
  Spread s = SpreadOf(v);
  out << "| " << what << " | " << s.count << "/" << expected << " | " << FormatSeconds(s.p50)
      << " | " << FormatSeconds(s.p99) << " | " << FormatSeconds(s.max) << " |\n";
}

}  // namespace

FleetDriver::FleetDriver(LoadgenOptions options, std::ostream* out)
    : options_(std::move(options)), out_(out), recorder_(options_.agents) {}

FleetDriver::~FleetDriver() = default;

int FleetDriver::Run() {
  if (!options_.tls_ca_dir.empty()) {
    absl::Status minted = MintCredentials();
    if (!minted.ok()) {
      *out_ << "loadgen: --tls-ca-dir: " << minted.message() << "\n";
      return 1;
    }
  }
  run_start_ = absl::Now();
  deadline_ = run_start_ + options_.duration;
  server_idle_ = SampleProcess(options_.server_pid);
  scheduler_ = std::make_unique<Scheduler>();
  StartAgents();
  bool ok = ConnectPhase();
  server_connected_ = SampleProcess(options_.server_pid);
  self_connected_ = SampleProcess(getpid());
  if (ok && !options_.commit_cmd.empty()) {
    ok = CommitPhase();
    server_committed_ = SampleProcess(options_.server_pid);
  } else if (ok && options_.hold > absl::ZeroDuration()) {
    absl::SleepFor(std::min(options_.hold, deadline_ - absl::Now()));
  }
  self_end_ = SampleProcess(getpid());
  PrintResults();
  StopAgents();
  return ok && problems_.empty() ? 0 : 1;
}

absl::Status FleetDriver::MintCredentials() {
  absl::Time start = absl::Now();
  auto tls = FleetTls::Load(options_.tls_ca_dir);
  if (!tls.ok()) return tls.status();
  auto op = (*tls)->Credentials("loadgen", kRoleOperator);
  if (!op.ok()) return op.status();
  operator_credentials_ = *op;
  agent_credentials_.resize(options_.channels);
  std::vector<absl::Status> failed(options_.channels);
  ParallelFor(agent_credentials_.size(), [&](size_t c) {
    auto creds = (*tls)->Credentials(NodeName(options_, static_cast<int>(c)), kRoleAgent);
    if (creds.ok()) {
      agent_credentials_[c] = *creds;
    } else {
      failed[c] = creds.status();
    }
  });
  for (const absl::Status& s : failed) {
    if (!s.ok()) return s;
  }
  *out_ << "mutual TLS: minted " << agent_credentials_.size() << " agent certificates in "
        << FormatSeconds(absl::Now() - start) << "\n\n";
  return absl::OkStatus();
}

void FleetDriver::StartAgents() {
  // A list of servers (replicas): connection c goes to the (c mod n)th.
  std::vector<std::string> servers = absl::StrSplit(options_.server, ',');
  for (int c = 0; c < options_.channels; ++c) {
    channels_.push_back(NewChannel(servers[c % servers.size()], c,
                                   agent_credentials_.empty() ? nullptr : agent_credentials_[c]));
    stubs_.push_back(v1::AgentService::NewStub(channels_.back()));
  }
  agents_.reserve(options_.agents);
  for (int i = 0; i < options_.agents; ++i) {
    SimulatedAgentSpec spec;
    spec.index = i;
    spec.node = NodeName(options_, i);
    spec.labels = LabelsOf(options_, i);
    spec.facts = {{"os.id", "debian"}, {"os.version", "12"}, {"arch", "x86_64"}};
    spec.apply_delay = options_.apply_delay;
    agents_.push_back(std::make_unique<SimulatedAgent>(
        std::move(spec), stubs_[i % options_.channels].get(), scheduler_.get(), &recorder_));
  }
  for (int i = 0; i < options_.agents; ++i) {
    if (options_.ramp > 0) {
      absl::Time due = run_start_ + absl::Seconds(i / options_.ramp);
      if (due > absl::Now()) absl::SleepFor(due - absl::Now());
    }
    agents_[i]->Start();
  }
}

bool FleetDriver::ConnectPhase() {
  int n = options_.agents;
  if (recorder_.WaitFirstCatalogs(n, deadline_) < n) {
    problems_.push_back("not every agent received its first catalog before --duration");
    return false;
  }
  connected_at_ = absl::Now();
  if (recorder_.WaitFirstAcks(n, deadline_) < n) {
    problems_.push_back("not every agent's first report was acknowledged before --duration");
    return false;
  }
  reported_at_ = absl::Now();
  absl::SleepFor(std::min(options_.settle, deadline_ - absl::Now()));
  return recorder_.broken() == 0;
}

bool FleetDriver::CommitPhase() {
  // The first server: with replicas, the leader (it fetches when asked to Sync).
  std::vector<std::string> servers = absl::StrSplit(options_.server, ',');
  auto channel = NewChannel(servers[0], -1, operator_credentials_);
  auto fleet = v1::FleetService::NewStub(channel);
  commit_.cmd_start = absl::Now();
  int rc = std::system(options_.commit_cmd.c_str());
  if (rc != 0) {
    problems_.push_back(absl::StrCat("--commit-cmd exited with status ", rc));
    return false;
  }
  grpc::ClientContext ctx;
  ctx.set_deadline(absl::ToChronoTime(deadline_));
  v1::SyncResponse synced;
  commit_.sync_start = absl::Now();
  grpc::Status s = fleet->Sync(&ctx, v1::SyncRequest(), &synced);
  commit_.sync_end = absl::Now();
  if (!s.ok()) {
    problems_.push_back(absl::StrCat("FleetService.Sync failed: ", s.error_message()));
    return false;
  }
  commit_.revision = synced.revision();
  grpc::ClientContext rctx;
  v1::GetRevisionRequest req;
  req.set_sha(synced.revision());
  v1::Revision rev;
  if (fleet->GetRevision(&rctx, req, &rev).ok()) {
    commit_.fetched = absl::FromUnixMillis(rev.fetched_unix_ms());
  } else {
    commit_.fetched = commit_.sync_start;
  }
  if (synced.status() != v1::REVISION_OK) {
    problems_.push_back(absl::StrCat("revision ", synced.revision(), " did not compile"));
    return false;
  }
  int n = options_.agents;
  bool ok = recorder_.WaitRevisionCatalogs(commit_.revision, n, deadline_) >= n;
  ok = recorder_.WaitRevisionAcks(commit_.revision, n, deadline_) >= n && ok;
  if (!ok) problems_.push_back("not every agent got the new revision before --duration");
  return ok;
}

void FleetDriver::StopAgents() {
  for (auto& a : agents_) a->Stop();
  for (auto& a : agents_) a->WaitDone();
  scheduler_.reset();  // no delayed report may outlive its agent
  agents_.clear();
}

void FleetDriver::PrintResults() {
  std::ostream& out = *out_;
  int n = options_.agents;
  std::vector<AgentTimeline> timelines = recorder_.Snapshot();
  std::vector<absl::Duration> connect, first_ack, cat_fetch, ack_fetch, cat_sync;
  for (const AgentTimeline& t : timelines) {
    if (t.first_catalog != absl::InfinitePast()) connect.push_back(t.first_catalog - t.started);
    if (t.first_report_acked != absl::InfinitePast()) {
      first_ack.push_back(t.first_report_acked - t.started);
    }
    auto c = t.catalog_at.find(commit_.revision);
    if (!commit_.revision.empty() && c != t.catalog_at.end()) {
      cat_fetch.push_back(c->second - commit_.fetched);
      cat_sync.push_back(c->second - commit_.sync_end);
    }
    auto a = t.acked_at.find(commit_.revision);
    if (!commit_.revision.empty() && a != t.acked_at.end()) {
      ack_fetch.push_back(a->second - commit_.fetched);
    }
  }
  out << "### loadgen: " << n << " agents over " << options_.channels << " connections, apply delay "
      << absl::FormatDuration(options_.apply_delay) << "\n\n";
  if (connected_at_ != absl::InfiniteFuture()) {
    out << "All " << n << " agents had their first catalog " << FormatSeconds(connected_at_ - run_start_)
        << " after the first connect";
    if (reported_at_ != absl::InfiniteFuture()) {
      out << ", and their first report acknowledged after " << FormatSeconds(reported_at_ - run_start_);
    }
    out << ".\n\n";
  }
  out << "| measured (per agent) | agents | p50 | p99 | max |\n|---|---|---|---|---|\n";
  SpreadRow(out, "connect: stream start -> first catalog", connect, n);
  SpreadRow(out, "connect: stream start -> first report acked", first_ack, n);
  if (!commit_.revision.empty()) {
    SpreadRow(out, "commit: server fetched -> catalog received", cat_fetch, n);
    SpreadRow(out, "commit: server fetched -> report acked", ack_fetch, n);
    SpreadRow(out, "commit: Sync returned -> catalog received", cat_sync, n);
    out << "\nCommit " << commit_.revision.substr(0, 12) << ": commit command "
        << FormatSeconds(commit_.sync_start - commit_.cmd_start) << ", FleetService.Sync "
        << FormatSeconds(commit_.sync_end - commit_.sync_start) << " (of which fetch "
        << FormatSeconds(commit_.fetched - commit_.sync_start) << ", then compile and store "
        << FormatSeconds(commit_.sync_end - commit_.fetched) << ").\n";
  }
  if (server_idle_.ok) {
    out << "\n| server (pid " << options_.server_pid << ") | RSS | peak RSS | CPU s | threads | fds |\n"
        << "|---|---|---|---|---|---|\n";
    auto row = [&](const char* what, const ProcessSample& s) {
      if (!s.ok) return;
      out << "| " << what << " | " << Mib(s.rss_kb) << " | " << Mib(s.hwm_kb) << " | "
          << absl::StrFormat("%.2f", s.cpu_seconds) << " | " << s.threads << " | " << s.open_fds
          << " |\n";
    };
    row("before agents", server_idle_);
    row("all connected", server_connected_);
    row("after the commit", server_committed_);
    if (server_connected_.ok) {
      out << "\nServer RSS per connected agent: "
          << absl::StrFormat("%.1f KiB", static_cast<double>(server_connected_.rss_kb - server_idle_.rss_kb) / n)
          << " (growth over idle), "
          << absl::StrFormat("%.1f KiB", static_cast<double>(server_connected_.rss_kb) / n)
          << " (total RSS / agents).\n";
    }
  }
  out << "\nloadgen itself: RSS " << Mib(self_end_.rss_kb) << ", CPU "
      << absl::StrFormat("%.2f s", self_end_.cpu_seconds) << ", " << self_end_.threads
      << " threads; broken streams: " << recorder_.broken() << ".\n";
  for (const AgentTimeline& t : timelines) {
    if (!t.error.empty()) {
      out << "first broken stream: " << t.error << "\n";
      break;
    }
  }
  for (const std::string& p : problems_) out << "PROBLEM: " << p << "\n";
  out.flush();
}

}  // namespace bench
}  // namespace plumb
