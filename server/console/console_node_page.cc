// The node page: identity and revisions, labels and facts, the last runs with their
// per-resource outcomes and diffs, and the drift timeline (each change intended, corrective or
// failed). Results of sensitive resources show "changed (sensitive)", never a diff or message.

#include <set>

#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "server/console/console_pages.h"
#include "server/console/console_text.h"

namespace plumb {
namespace {

constexpr int kRunsShown = 10;
constexpr int kTimelineEvents = 50;

std::string MapTable(const google::protobuf::Map<std::string, std::string>& map,
                     const std::string& id) {
  if (map.empty()) return "<p class=\"muted\">none</p>";
  std::map<std::string, std::string> sorted(map.begin(), map.end());
  std::string out = absl::StrCat("<table class=\"kv\" id=\"", id, "\">");
  for (const auto& [k, v] : sorted) {
    absl::StrAppend(&out, "<tr><th>", HtmlEscape(k), "</th><td>", HtmlEscape(v), "</td></tr>");
  }
  return out + "</table>";
}

// "intended" (a new catalog asked for it), "corrective" (drift repaired: a drift, interval or
// requested run changed it) or "failed".
std::string ChangeKind(v1::ResourceOutcome outcome, v1::RunTrigger trigger) {
  if (outcome == v1::FAILED) return "failed";
  return trigger == v1::CATALOG ? "intended" : "corrective";
}

std::string ResultRow(const v1::ResourceResult& r, bool sensitive) {
  std::string outcome = OutcomeName(r.outcome());
  std::string detail;
  if (sensitive) {
    outcome += " (sensitive)";
  } else {
    detail = HtmlEscape(r.message());
    if (!r.diff().empty()) {
      absl::StrAppend(&detail, "<details><summary>diff</summary><pre class=\"diff\">",
                      HtmlEscape(r.diff()), "</pre></details>");
    }
  }
  return absl::StrCat("<tr><td><code>", HtmlEscape(r.id()), "</code></td><td class=\"o-",
                      OutcomeName(r.outcome()), "\">", outcome, "</td><td>", detail,
                      "</td></tr>");
}

absl::StatusOr<std::string> Runs(const ConsoleData& data, const std::string& node,
                                 const std::set<std::string>& sensitive) {
  std::vector<v1::ReportSummary> reports;
  PLUMB_ASSIGN_OR_RETURN(reports, data.store->ListReports(node, kRunsShown));
  if (reports.empty()) return std::string("<p class=\"muted\">no runs yet</p>");
  std::string out = "<div id=\"runs\">";
  for (const v1::ReportSummary& s : reports) {
    absl::StrAppend(&out, "<section class=\"run\"><h3>", FormatUnixMs(s.started_unix_ms()),
                    " &middot; ", TriggerName(s.trigger()), s.noop() ? " (noop)" : "",
                    " &middot; revision <code>", ShortSha(s.revision()), "</code> &middot; ",
                    s.changed(), " changed, ", s.failed(), " failed, ", s.unchanged(),
                    " unchanged</h3>");
    absl::StatusOr<v1::Report> report = data.store->GetReport(s.id());
    if (!report.ok()) {
      absl::StrAppend(&out, "<p class=\"muted\">report pruned</p></section>");
      continue;
    }
    std::string rows;
    for (const v1::ResourceResult& r : report->results()) {
      if (r.outcome() == v1::UNCHANGED) continue;
      absl::StrAppend(&rows, ResultRow(r, sensitive.count(r.id()) > 0));
    }
    if (!report->truncated().empty()) {
      absl::StrAppend(&out, "<p class=\"muted\">", HtmlEscape(report->truncated()), "</p>");
    }
    absl::StrAppend(&out, rows.empty() ? "<p class=\"muted\">nothing changed</p>"
                                       : absl::StrCat("<table class=\"results\">", rows,
                                                      "</table>"),
                    "</section>");
  }
  return out + "</div>";
}

absl::StatusOr<std::string> Timeline(const ConsoleData& data, const std::string& node,
                                     const std::set<std::string>& sensitive) {
  v1::ListResourceEventsRequest filter;
  filter.set_node(node);
  filter.set_limit(kTimelineEvents);
  std::vector<v1::ResourceEvent> events;
  PLUMB_ASSIGN_OR_RETURN(events, data.store->ListResourceEvents(filter));
  if (events.empty()) return std::string("<p class=\"muted\">no changes recorded</p>");
  std::string out = "<ol class=\"timeline\" id=\"timeline\">";
  for (const v1::ResourceEvent& e : events) {
    if (e.noop()) continue;
    std::string kind = ChangeKind(e.outcome(), e.trigger());
    bool hidden = sensitive.count(e.resource_id()) > 0;
    absl::StrAppend(&out, "<li class=\"k-", kind, "\" data-kind=\"", kind, "\"><time>",
                    FormatUnixMs(e.unix_ms()), "</time> <b>", kind, "</b> <code>",
                    HtmlEscape(e.resource_id()), "</code> ", OutcomeName(e.outcome()),
                    hidden ? " (sensitive)" : "", " <span class=\"muted\">",
                    TriggerName(e.trigger()), " run</span> ",
                    hidden ? "" : HtmlEscape(e.message()), "</li>");
  }
  return out + "</ol>";
}

std::string Summary(const v1::Node& n) {
  std::string status = NodeStatusName(n.status());
  bool behind = n.desired_revision() != n.applied_revision();
  return absl::StrCat(
      "<table class=\"kv\" id=\"summary\"><tr><th>status</th><td><span class=\"badge s-", status,
      "\" id=\"status\">", status, "</span></td></tr><tr><th>connected</th><td>",
      n.connected() ? "yes" : absl::StrCat("no, last seen ", FormatUnixMs(n.last_seen_unix_ms())),
      "</td></tr><tr><th>desired revision</th><td><code>", ShortSha(n.desired_revision()),
      "</code></td></tr><tr><th>applied revision</th><td><code>", ShortSha(n.applied_revision()),
      "</code>", behind ? " <span class=\"warn\">behind</span>" : "",
      "</td></tr><tr><th>agent</th><td>", HtmlEscape(n.agent_version()), "</td></tr>",
      n.last_error().empty() ? ""
                             : absl::StrCat("<tr><th>last error</th><td class=\"o-failed\">",
                                            HtmlEscape(n.last_error()), "</td></tr>"),
      "</table>");
}

}  // namespace

absl::StatusOr<ConsolePage> NodePage(const ConsoleData& data, const std::string& name,
                                     const std::string& csrf) {
  v1::Node node;
  PLUMB_ASSIGN_OR_RETURN(node, data.store->GetNode(name));
  std::set<std::string> sensitive;
  if (data.sensitive_ids) sensitive = data.sensitive_ids(name);
  std::string runs, timeline;
  PLUMB_ASSIGN_OR_RETURN(runs, Runs(data, name, sensitive));
  PLUMB_ASSIGN_OR_RETURN(timeline, Timeline(data, name, sensitive));
  ConsolePage page;
  page.title = node.name();
  page.nav = "fleet";
  page.live = absl::StrCat("node:", node.name());
  page.body = absl::StrCat(
      "<h1>", HtmlEscape(node.name()), "</h1>"
      "<form method=\"post\" action=\"/nodes/", UrlEncode(node.name()), "/run\" class=\"run-now\">"
      "<input type=\"hidden\" name=\"csrf\" value=\"", HtmlEscape(csrf), "\">"
      "<button type=\"submit\">Run now</button></form>",
      Summary(node), "<h2>Drift timeline</h2>", timeline, "<h2>Last runs</h2>", runs,
      "<div class=\"cols\"><section><h2>Labels</h2>", MapTable(node.labels(), "labels"),
      "</section><section><h2>Facts</h2>", MapTable(node.facts(), "facts"), "</section></div>");
  return page;
}

}  // namespace plumb
