// The plumbctl commands that look across the fleet over time: `resources` (who changed,
// failed or drifted on which resource) and `watch` (events as they happen).

#include <chrono>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "ctl/commands.h"

namespace plumb {
namespace {

constexpr char kResourcesUsage[] =
    "resources [--id ID|GLOB] [--status changed|failed|would_change|skipped|drifted] "
    "[--since DUR] [--node NAME] [--limit N]";
constexpr char kWatchUsage[] = "watch [--kind KIND[,KIND]] [--node NAME] [--count N]";

// Fills the outcome filter from --status; returns 2 (usage) on an unknown value.
int ParseOutcome(const CtlInvocation& inv, v1::ListResourceEventsRequest* req) {
  if (!inv.flags->Has("status")) return 0;
  std::string status = absl::AsciiStrToLower(inv.flags->Get("status"));
  if (status == "drifted" || status == "drift") {
    req->set_drift_only(true);
    return 0;
  }
  for (v1::ResourceOutcome o : {v1::CHANGED, v1::FAILED, v1::WOULD_CHANGE, v1::SKIPPED}) {
    if (OutcomeName(o) == status) {
      req->set_outcome(o);
      return 0;
    }
  }
  *inv.err << "plumbctl: --status must be changed, failed, would_change, skipped or drifted, got \""
           << inv.flags->Get("status") << "\"\n";
  return 2;
}

// "node_connected" or "EVENT_NODE_CONNECTED" -> the kind; false if unknown.
bool ParseEventKind(const std::string& text, v1::EventKind* kind) {
  std::string name = absl::AsciiStrToUpper(text);
  if (name.rfind("EVENT_", 0) != 0) name = "EVENT_" + name;
  return v1::EventKind_Parse(name, kind) && *kind != v1::EVENT_KIND_UNSPECIFIED;
}

std::string EventName(v1::EventKind kind) {
  std::string name = v1::EventKind_Name(kind);
  if (name.rfind("EVENT_", 0) == 0) name = name.substr(6);
  return absl::AsciiStrToLower(name);
}

// One line for people: "2026-11-26 11:30:05 node_connected node=web-1 rev=4f2a9c1e0b3d ...".
std::string EventLine(const v1::Event& e) {
  std::string line = absl::StrCat(FormatUnixMs(e.unix_ms()), " ", EventName(e.kind()));
  if (!e.node().empty()) absl::StrAppend(&line, " node=", e.node());
  if (!e.revision().empty()) absl::StrAppend(&line, " rev=", ShortSha(e.revision()));
  if (!e.message().empty()) absl::StrAppend(&line, " ", e.message());
  if (e.dropped() > 0) absl::StrAppend(&line, " (", e.dropped(), " earlier events dropped)");
  return line;
}

}  // namespace

int CmdResources(v1::FleetService::StubInterface* stub, const CtlInvocation& inv) {
  if (!inv.args.empty()) return Usage(inv, kResourcesUsage);
  v1::ListResourceEventsRequest req;
  req.set_resource_id(inv.flags->Get("id"));
  req.set_node(inv.flags->Get("node"));
  if (int rc = ParseOutcome(inv, &req)) return rc;
  if (inv.flags->Has("since")) {
    auto since = ParseDurationText(inv.flags->Get("since"));
    if (!since.ok()) {
      *inv.err << "plumbctl: --since: " << since.status().message() << "\n";
      return 2;
    }
    req.set_since_unix_ms(absl::ToUnixMillis(absl::Now() - *since));
  }
  if (inv.flags->Has("limit")) {
    int limit = 0;
    if (!absl::SimpleAtoi(inv.flags->Get("limit"), &limit) || limit <= 0) {
      *inv.err << "plumbctl: --limit must be a positive number, got \"" << inv.flags->Get("limit")
               << "\"\n";
      return 2;
    }
    req.set_limit(limit);
  }
  v1::ListResourceEventsResponse resp;
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(kRpcSeconds));
  grpc::Status st = stub->ListResourceEvents(&ctx, req, &resp);
  if (!st.ok()) return RpcFailed(inv, "resources", st);
  if (inv.format == OutputFormat::kJson) {
    *inv.out << ToJson(resp) << "\n";
    return 0;
  }
  Table t({"TIME", "NODE", "RESOURCE", "OUTCOME", "TRIGGER", "REVISION", "REPORT", "MESSAGE"});
  for (const v1::ResourceEvent& e : resp.events()) {
    t.AddRow({FormatUnixMs(e.unix_ms()), e.node(), e.resource_id(), OutcomeName(e.outcome()),
              TriggerName(e.trigger()) + (e.noop() ? " (noop)" : ""), ShortSha(e.revision()),
              e.report_id(), OneLine(e.message())});
  }
  *inv.out << t.ToString();
  return 0;
}

int CmdWatch(v1::FleetService::StubInterface* stub, const CtlInvocation& inv) {
  if (!inv.args.empty()) return Usage(inv, kWatchUsage);
  v1::WatchEventsRequest req;
  req.set_node(inv.flags->Get("node"));
  for (const std::string& kinds : inv.flags->GetAll("kind")) {
    for (absl::string_view k : absl::StrSplit(kinds, ',', absl::SkipEmpty())) {
      v1::EventKind kind;
      if (!ParseEventKind(std::string(k), &kind)) {
        *inv.err << "plumbctl: --kind: unknown event kind \"" << k << "\"\n";
        return 2;
      }
      req.add_kinds(kind);
    }
  }
  int64_t count = 0;  // 0: until interrupted or the server ends the stream
  if (inv.flags->Has("count") &&
      (!absl::SimpleAtoi(inv.flags->Get("count"), &count) || count <= 0)) {
    *inv.err << "plumbctl: --count must be a positive number\n";
    return 2;
  }
  grpc::ClientContext ctx;  // no deadline: a watch runs until stopped
  std::unique_ptr<grpc::ClientReaderInterface<v1::Event>> reader = stub->WatchEvents(&ctx, req);
  v1::Event event;
  int64_t seen = 0;
  while (reader->Read(&event)) {
    *inv.out << (inv.format == OutputFormat::kJson ? ToJsonLine(event) : EventLine(event))
             << std::endl;  // flush: watchers read line by line from a pipe
    if (count > 0 && ++seen >= count) {
      ctx.TryCancel();
      (void)reader->Finish();  // cancelled by us: the status says so
      return 0;
    }
  }
  grpc::Status st = reader->Finish();
  if (!st.ok()) return RpcFailed(inv, "watch", st);
  return 0;
}

}  // namespace plumb
