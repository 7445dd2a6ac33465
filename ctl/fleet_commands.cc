// The plumbctl commands that talk to FleetService.

#include <algorithm>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "ctl/commands.h"

namespace plumb {
namespace {

int64_t NowMs() { return absl::ToUnixMillis(absl::Now()); }

bool ParseStatus(const std::string& text, v1::NodeStatus* status) {
  for (int i = v1::NodeStatus_MIN; i <= v1::NodeStatus_MAX; ++i) {
    auto s = static_cast<v1::NodeStatus>(i);
    if (v1::NodeStatus_IsValid(i) && NodeStatusName(s) == text && s != v1::NODE_STATUS_UNSPECIFIED) {
      *status = s;
      return true;
    }
  }
  return false;
}

std::string JoinMap(const google::protobuf::Map<std::string, std::string>& m) {
  std::map<std::string, std::string> sorted(m.begin(), m.end());
  return absl::StrJoin(sorted, ",", absl::PairFormatter("="));
}

int ParseLimit(const CtlInvocation& inv, int* limit) {
  std::string text = inv.flags->Get("limit", "20");
  if (!absl::SimpleAtoi(text, limit) || *limit <= 0) {
    *inv.err << "plumbctl: --limit must be a positive number, got \"" << text << "\"\n";
    return 2;
  }
  return 0;
}

// "2026-11-26 11:30:05 catalog run of 4f2a9c1e0b3d in 120 ms: 2 changed, 1 failed, ..."
std::string LastRunLine(const v1::ReportSummary& r) {
  std::string counts =
      r.noop() ? absl::StrCat(r.would_change(), " would change, ", r.failed(), " failed, ",
                              r.unchanged(), " unchanged")
               : absl::StrCat(r.changed(), " changed, ", r.failed(), " failed, ", r.unchanged(),
                              " unchanged");
  return absl::StrCat(FormatUnixMs(r.started_unix_ms()), " ", TriggerName(r.trigger()),
                      r.noop() ? " noop" : "", " run of ", ShortSha(r.revision()), " in ",
                      r.duration_us() / 1000, " ms: ", counts);
}

}  // namespace

// Parses every --selector k=v[,k=v] into `selector`; returns 2 (usage) on a bad one.
int ParseSelector(const CtlInvocation& inv, google::protobuf::Map<std::string, std::string>* selector) {
  for (const std::string& sel : inv.flags->GetAll("selector")) {
    for (absl::string_view part : absl::StrSplit(sel, ',', absl::SkipEmpty())) {
      std::string k, v;
      if (!ParseKeyValue(std::string(part), &k, &v).ok()) {
        *inv.err << "plumbctl: --selector takes k=v[,k=v], got \"" << sel << "\"\n";
        return 2;
      }
      (*selector)[k] = v;
    }
  }
  return 0;
}

int CmdNodes(v1::FleetService::StubInterface* stub, const CtlInvocation& inv) {
  if (!inv.args.empty()) return Usage(inv, "nodes [--selector k=v,...] [--status STATUS]");
  v1::ListNodesRequest req;
  if (int rc = ParseSelector(inv, req.mutable_selector())) return rc;
  if (inv.flags->Has("status")) {
    v1::NodeStatus status;
    if (!ParseStatus(inv.flags->Get("status"), &status)) {
      *inv.err << "plumbctl: --status must be one of converged, pending, failed, drifted, "
                  "offline, unknown\n";
      return 2;
    }
    req.set_status(status);
  }
  v1::ListNodesResponse resp;
  auto ctx = NewRpcContext();
  grpc::Status st = stub->ListNodes(ctx.get(), req, &resp);
  if (!st.ok()) return RpcFailed(inv, "nodes", st);
  if (inv.format == OutputFormat::kJson) {
    *inv.out << ToJson(resp) << "\n";
    return 0;
  }
  // The ENV column only when the server has environments (a node's is then never empty).
  bool envs = std::any_of(resp.nodes().begin(), resp.nodes().end(),
                          [](const v1::Node& n) { return !n.environment().empty(); });
  std::vector<std::string> header = {"NAME", "STATUS", "APPLIED", "DESIRED", "LAST SEEN"};
  if (envs) header.push_back("ENV");
  header.push_back("LABELS");
  Table t(header);
  int64_t now = NowMs();
  for (const v1::Node& n : resp.nodes()) {
    std::string desired = ShortSha(n.desired_revision());
    if (!n.pinned_revision().empty()) desired = ShortSha(n.pinned_revision()) + " (pinned)";
    std::vector<std::string> row = {n.name(), NodeStatusName(n.status()),
                                    ShortSha(n.applied_revision()), desired,
                                    n.connected() ? "connected" : Ago(n.last_seen_unix_ms(), now)};
    if (envs) row.push_back(n.environment().empty() ? "-" : n.environment());
    row.push_back(JoinMap(n.labels()));
    t.AddRow(row);
  }
  *inv.out << t.ToString();
  return 0;
}

int CmdNode(v1::FleetService::StubInterface* stub, const CtlInvocation& inv) {
  if (inv.args.size() != 1) return Usage(inv, "node NAME");
  v1::GetNodeRequest req;
  req.set_name(inv.args[0]);
  v1::Node n;
  auto ctx = NewRpcContext();
  grpc::Status st = stub->GetNode(ctx.get(), req, &n);
  if (!st.ok()) return RpcFailed(inv, absl::StrCat("node ", inv.args[0]), st);
  if (inv.format == OutputFormat::kJson) {
    *inv.out << ToJson(n) << "\n";
    return 0;
  }
  Table t({"FIELD", "VALUE"});
  t.AddRow({"name", n.name()});
  t.AddRow({"status", NodeStatusName(n.status())});
  t.AddRow({"connected", n.connected() ? "yes" : "no"});
  t.AddRow({"last seen", FormatUnixMs(n.last_seen_unix_ms())});
  t.AddRow({"desired revision", ShortSha(n.desired_revision())});
  t.AddRow({"applied revision", ShortSha(n.applied_revision())});
  if (!n.pinned_revision().empty()) t.AddRow({"pinned to", ShortSha(n.pinned_revision())});
  t.AddRow({"last report", n.last_report_id().empty() ? "-" : n.last_report_id()});
  t.AddRow({"agent version", n.agent_version()});
  if (!n.environment().empty()) t.AddRow({"environment", n.environment()});
  t.AddRow({"labels", JoinMap(n.labels())});
  if (!n.last_error().empty()) t.AddRow({"last error", n.last_error()});
  std::map<std::string, std::string> facts(n.facts().begin(), n.facts().end());
  for (const auto& [k, v] : facts) t.AddRow({"fact " + k, v});
  if (n.has_last_run()) t.AddRow({"last run", LastRunLine(n.last_run())});
  *inv.out << t.ToString();
  if (n.failing_resources_size() > 0) {
    *inv.out << "\nfailing resources (report " << n.last_run().id() << "):\n";
    Table failing({"RESOURCE", "MESSAGE"});
    for (const v1::ResourceResult& r : n.failing_resources()) {
      failing.AddRow({r.id(), OneLine(r.message())});
    }
    *inv.out << failing.ToString();
  }
  return 0;
}

int CmdReports(v1::FleetService::StubInterface* stub, const CtlInvocation& inv) {
  if (inv.args.size() != 1) return Usage(inv, "reports NODE [--limit N]");
  v1::ListReportsRequest req;
  req.set_node(inv.args[0]);
  int limit = 0;
  if (int rc = ParseLimit(inv, &limit)) return rc;
  req.set_limit(limit);
  v1::ListReportsResponse resp;
  auto ctx = NewRpcContext();
  grpc::Status st = stub->ListReports(ctx.get(), req, &resp);
  if (!st.ok()) return RpcFailed(inv, "reports", st);
  if (inv.format == OutputFormat::kJson) {
    *inv.out << ToJson(resp) << "\n";
    return 0;
  }
  Table t({"ID", "STARTED", "TRIGGER", "REVISION", "CHANGED", "FAILED", "UNCHANGED", "NOOP"});
  for (const v1::ReportSummary& r : resp.reports()) {
    t.AddRow({r.id(), FormatUnixMs(r.started_unix_ms()), TriggerName(r.trigger()),
              ShortSha(r.revision()), absl::StrCat(r.noop() ? r.would_change() : r.changed()),
              absl::StrCat(r.failed()), absl::StrCat(r.unchanged()), r.noop() ? "yes" : "no"});
  }
  *inv.out << t.ToString();
  return 0;
}

int CmdReport(v1::FleetService::StubInterface* stub, const CtlInvocation& inv) {
  if (inv.args.size() != 1) return Usage(inv, "report ID");
  v1::GetReportRequest req;
  req.set_id(inv.args[0]);
  v1::Report r;
  auto ctx = NewRpcContext();
  grpc::Status st = stub->GetReport(ctx.get(), req, &r);
  if (!st.ok()) return RpcFailed(inv, absl::StrCat("report ", inv.args[0]), st);
  if (inv.format == OutputFormat::kJson) {
    *inv.out << ToJson(r) << "\n";
    return 0;
  }
  *inv.out << "report " << r.id() << " node " << r.node() << " revision " << ShortSha(r.revision())
           << " trigger " << TriggerName(r.trigger()) << (r.noop() ? " (noop)" : "") << "\n"
           << "started " << FormatUnixMs(r.started_unix_ms()) << ", took "
           << r.duration_us() / 1000 << " ms\n"
           << (r.truncated().empty() ? "" : r.truncated() + "\n");
  if (r.has_health()) {
    *inv.out << "health check: "
             << (r.health().timed_out() ? std::string("timed out")
                                        : absl::StrCat("exit ", r.health().exit_status()))
             << (r.health().output().empty() ? "" : ": " + OneLine(r.health().output())) << "\n";
  }
  *inv.out << "\n";
  Table t({"RESOURCE", "OUTCOME", "MESSAGE"});
  for (const v1::ResourceResult& res : r.results()) {
    t.AddRow({res.id(), OutcomeName(res.outcome()), res.message()});
  }
  *inv.out << t.ToString();
  for (const v1::ResourceResult& res : r.results()) {
    if (!res.diff().empty()) *inv.out << "\n" << res.diff();
  }
  return 0;
}

int CmdRevisions(v1::FleetService::StubInterface* stub, const CtlInvocation& inv) {
  if (!inv.args.empty()) return Usage(inv, "revisions [--env BRANCH] [--limit N]");
  v1::ListRevisionsRequest req;
  int limit = 0;
  if (int rc = ParseLimit(inv, &limit)) return rc;
  req.set_limit(limit);
  req.set_environment(inv.flags->Get("env"));
  v1::ListRevisionsResponse resp;
  auto ctx = NewRpcContext();
  grpc::Status st = stub->ListRevisions(ctx.get(), req, &resp);
  if (!st.ok()) return RpcFailed(inv, "revisions", st);
  if (inv.format == OutputFormat::kJson) {
    *inv.out << ToJson(resp) << "\n";
    return 0;
  }
  // The ENV column only when revisions belong to environments' lines.
  bool envs = std::any_of(resp.revisions().begin(), resp.revisions().end(),
                          [](const v1::Revision& r) { return !r.environment().empty(); });
  std::vector<std::string> header = {"REVISION"};
  if (envs) header.push_back("ENV");
  for (const char* h : {"STATUS", "FETCHED", "ERRORS", "FAILED NODES", "SUMMARY"}) {
    header.push_back(h);
  }
  Table t(header);
  for (const v1::Revision& r : resp.revisions()) {
    std::string status = r.serving() ? "serving" : r.status() == v1::REVISION_OK ? "ok" : "failed";
    std::vector<std::string> row = {ShortSha(r.sha())};
    if (envs) row.push_back(r.environment().empty() ? "-" : r.environment());
    for (std::string cell : {status, FormatUnixMs(r.fetched_unix_ms()),
                             absl::StrCat(r.errors_size()),
                             absl::StrCat(r.node_failures_size() + r.node_failures_omitted()),
                             r.summary()}) {
      row.push_back(std::move(cell));
    }
    t.AddRow(row);
  }
  *inv.out << t.ToString();
  return 0;
}

int CmdRevision(v1::FleetService::StubInterface* stub, const CtlInvocation& inv) {
  if (inv.args.size() != 1) return Usage(inv, "revision SHA");
  v1::GetRevisionRequest req;
  req.set_sha(inv.args[0]);
  v1::Revision r;
  auto ctx = NewRpcContext();
  grpc::Status st = stub->GetRevision(ctx.get(), req, &r);
  if (!st.ok()) return RpcFailed(inv, absl::StrCat("revision ", inv.args[0]), st);
  if (inv.format == OutputFormat::kJson) {
    *inv.out << ToJson(r) << "\n";
    return 0;
  }
  std::string status = r.serving() ? "serving" : r.status() == v1::REVISION_OK ? "ok" : "failed";
  *inv.out << "revision " << r.sha() << "\nstatus   " << status << "\nfetched  "
           << FormatUnixMs(r.fetched_unix_ms()) << "\nsummary  " << r.summary() << "\n";
  if (r.errors_size() > 0) {
    *inv.out << "\n" << r.errors_size() << " error(s):\n";
    for (const v1::CompileError& e : r.errors()) {
      *inv.out << "  " << (e.location().empty() ? "" : e.location() + ": ") << e.message() << "\n";
    }
  }
  int failed_nodes = r.node_failures_size() + r.node_failures_omitted();
  if (failed_nodes > 0) {
    *inv.out << "\n" << failed_nodes << " node(s) failed (they keep their last good catalog):\n";
    for (const v1::NodeFailure& f : r.node_failures()) {
      for (const v1::CompileError& e : f.errors()) {
        *inv.out << "  " << f.node() << ": " << (e.location().empty() ? "" : e.location() + ": ")
                 << e.message() << "\n";
      }
    }
    if (r.node_failures_omitted() > 0) {
      *inv.out << "  ... and " << r.node_failures_omitted() << " more node(s)\n";
    }
  }
  return 0;
}

int CmdSync(v1::FleetService::StubInterface* stub, const CtlInvocation& inv) {
  if (!inv.args.empty()) return Usage(inv, "sync");
  v1::SyncResponse resp;
  auto ctx = NewRpcContext();
  grpc::Status st = stub->Sync(ctx.get(), v1::SyncRequest(), &resp);
  if (!st.ok()) return RpcFailed(inv, "sync", st);
  if (inv.format == OutputFormat::kJson) {
    *inv.out << ToJson(resp) << "\n";
    return 0;
  }
  bool ok = resp.status() == v1::REVISION_OK;
  *inv.out << "revision " << ShortSha(resp.revision()) << " " << (ok ? "ok" : "failed") << "\n";
  return ok ? 0 : 1;
}

int CmdRun(v1::FleetService::StubInterface* stub, const CtlInvocation& inv) {
  v1::RunNodesRequest req;
  for (const std::string& n : inv.args) req.add_nodes(n);
  if (int rc = ParseSelector(inv, req.mutable_selector())) return rc;
  if (inv.args.empty() && req.selector().empty()) {
    return Usage(inv, "run NODE... | run --selector k=v[,k=v] [--noop] [--wait=false] [--timeout DUR]");
  }
  req.set_noop(inv.flags->GetBool("noop"));
  req.set_wait(inv.flags->Get("wait", "true") != "false");
  auto timeout = ParseDurationText(inv.flags->Get("timeout", "60s"));
  if (!timeout.ok()) {
    *inv.err << "plumbctl: --timeout: " << timeout.status().message() << "\n";
    return 2;
  }
  req.set_timeout_seconds(static_cast<int32_t>(absl::ToInt64Seconds(*timeout)));
  v1::RunNodesResponse resp;
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() +
                   std::chrono::seconds(req.timeout_seconds() + kRpcSeconds));
  grpc::Status st = stub->Run(&ctx, req, &resp);
  if (!st.ok()) return RpcFailed(inv, "run", st);
  bool all_ok = resp.results_size() > 0;
  for (const v1::NodeRunResult& r : resp.results()) {
    all_ok = all_ok && r.error().empty() && r.report().failed() == 0;
  }
  if (inv.format == OutputFormat::kJson) {
    *inv.out << ToJson(resp) << "\n";
  } else if (resp.results_size() == 0) {
    *inv.err << "plumbctl: run: no connected node matches\n";
  } else {
    Table t({"NODE", "RESULT", "CHANGED", "FAILED", "UNCHANGED", "REPORT"});
    for (const v1::NodeRunResult& r : resp.results()) {
      const v1::ReportSummary& s = r.report();
      std::string result = !r.error().empty() ? r.error()
                           : !r.reported()   ? "asked"
                           : s.failed() > 0  ? "failed"
                           : (req.noop() ? s.would_change() : s.changed()) > 0
                               ? (req.noop() ? "would change" : "changed")
                               : "unchanged";
      bool has = r.reported();
      t.AddRow({r.node(), result,
                has ? absl::StrCat(req.noop() ? s.would_change() : s.changed()) : "-",
                has ? absl::StrCat(s.failed()) : "-", has ? absl::StrCat(s.unchanged()) : "-",
                has ? s.id() : "-"});
    }
    *inv.out << t.ToString();
  }
  return all_ok ? 0 : 1;
}

}  // namespace plumb
