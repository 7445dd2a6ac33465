// The fleet page: node counts by status as a stacked bar (inline SVG), and the node table,
// filtered, sorted and paged in the store's query (Store::ListNodesPage).

#include <algorithm>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "common/status_macros.h"
#include "server/console/console_pages.h"
#include "server/console/console_text.h"

namespace plumb {
namespace {

constexpr v1::NodeStatus kShownStatuses[] = {
    v1::NODE_CONVERGED, v1::NODE_PENDING, v1::NODE_DRIFTED, v1::NODE_FAILED,
    v1::NODE_OFFLINE,   v1::NODE_REVOKED, v1::NODE_UNKNOWN};

std::string Get(const QueryParams& q, const std::string& key) {
  auto it = q.find(key);
  return it == q.end() ? "" : it->second;
}

Store::NodePageQuery ToNodeQuery(const QueryParams& q) {
  Store::NodePageQuery query;
  query.name_contains = Get(q, "name");
  query.status = ParseNodeStatus(Get(q, "status"));
  for (absl::string_view pair : absl::StrSplit(Get(q, "label"), ',', absl::SkipWhitespace())) {
    std::pair<std::string, std::string> kv = absl::StrSplit(pair, absl::MaxSplits('=', 1));
    query.selector[std::string(absl::StripAsciiWhitespace(kv.first))] =
        std::string(absl::StripAsciiWhitespace(kv.second));
  }
  query.sort = Get(q, "sort") == "status" ? "status" : "name";
  query.descending = Get(q, "dir") == "desc";
  int64_t page = 1;
  if (!absl::SimpleAtoi(Get(q, "page"), &page) || page < 1) page = 1;
  query.offset = (page - 1) * kFleetPageSize;
  query.limit = kFleetPageSize;
  return query;
}

// The current query with `key` set to `value` (page reset unless it is the page).
std::string LinkWith(const QueryParams& q, const std::string& key, const std::string& value) {
  QueryParams next = q;
  if (key != "page") next.erase("page");
  next[key] = value;
  std::string out = "/?";
  for (const auto& [k, v] : next) {
    if (!v.empty()) absl::StrAppend(&out, UrlEncode(k), "=", UrlEncode(v), "&");
  }
  out.pop_back();
  return HtmlEscape(out);
}

std::string CountsChart(const std::map<v1::NodeStatus, int64_t>& counts, int64_t all) {
  std::string bar = "<svg class=\"bar\" viewBox=\"0 0 1000 28\" preserveAspectRatio=\"none\" "
                    "role=\"img\" aria-label=\"nodes by status\">";
  std::string legend = "<ul class=\"legend\" id=\"counts\">";
  double x = 0;
  for (v1::NodeStatus status : kShownStatuses) {
    auto it = counts.find(status);
    int64_t n = it == counts.end() ? 0 : it->second;
    std::string name = NodeStatusName(status);
    if (n > 0 && all > 0) {
      double w = 1000.0 * static_cast<double>(n) / static_cast<double>(all);
      absl::StrAppend(&bar, "<rect class=\"s-", name, "\" x=\"", x, "\" y=\"0\" width=\"", w,
                      "\" height=\"28\"><title>", name, ": ", n, "</title></rect>");
      x += w;
    }
    absl::StrAppend(&legend, "<li><a href=\"/?status=", name, "\"><span class=\"dot s-", name,
                    "\"></span>", name, " <b data-count=\"", name, "\">", n, "</b></a></li>");
  }
  return absl::StrCat("<section class=\"counts\"><h2>", all, " nodes</h2>", bar, "</svg>",
                      legend, "</ul></section>");
}

std::string FilterForm(const QueryParams& q) {
  std::string options = "<option value=\"\">any status</option>";
  for (v1::NodeStatus status : kShownStatuses) {
    std::string name = NodeStatusName(status);
    absl::StrAppend(&options, "<option value=\"", name, "\"",
                    Get(q, "status") == name ? " selected" : "", ">", name, "</option>");
  }
  return absl::StrCat(
      "<form class=\"filters\" method=\"get\" action=\"/\">"
      "<input name=\"name\" placeholder=\"name contains\" value=\"", HtmlEscape(Get(q, "name")),
      "\"><select name=\"status\">", options, "</select>"
      "<input name=\"label\" placeholder=\"label k=v,k2=v2\" value=\"",
      HtmlEscape(Get(q, "label")), "\"><button type=\"submit\">Filter</button></form>");
}

std::string NodeRow(const v1::Node& n) {
  std::string status = NodeStatusName(n.status());
  std::string seen = n.connected() ? "connected" : FormatUnixMs(n.last_seen_unix_ms());
  std::string run = n.has_last_run()
                        ? absl::StrCat(n.last_run().changed(), " changed, ", n.last_run().failed(),
                                       " failed")
                        : "&mdash;";
  return absl::StrCat(
      "<tr data-node=\"", HtmlEscape(n.name()), "\"><td><a href=\"/nodes/", UrlEncode(n.name()),
      "\">", HtmlEscape(n.name()), "</a></td><td><span class=\"badge s-", status, "\">", status,
      "</span></td><td><code>", ShortSha(n.applied_revision()), "</code></td><td><code>",
      ShortSha(n.desired_revision()), "</code></td><td>", HtmlEscape(seen), "</td><td>", run,
      "</td></tr>");
}

std::string SortHeader(const QueryParams& q, const std::string& key, const std::string& label) {
  bool active = (Get(q, "sort").empty() ? "name" : Get(q, "sort")) == key;
  bool desc = active && Get(q, "dir") != "desc";
  QueryParams next = q;
  next["dir"] = desc ? "desc" : "asc";
  return absl::StrCat("<th><a href=\"", LinkWith(next, "sort", key), "\">", label,
                      active ? (Get(q, "dir") == "desc" ? " &#9660;" : " &#9650;") : "",
                      "</a></th>");
}

std::string Pager(const QueryParams& q, const Store::NodePageQuery& query, int64_t total) {
  int64_t page = query.offset / kFleetPageSize + 1;
  int64_t pages = std::max<int64_t>(1, (total + kFleetPageSize - 1) / kFleetPageSize);
  std::string out = absl::StrCat("<p class=\"pager\">", total == 0 ? 0 : query.offset + 1, "&ndash;",
                                 std::min(total, query.offset + kFleetPageSize), " of ", total,
                                 " &middot; page ", page, " of ", pages, " ");
  if (page > 1) {
    absl::StrAppend(&out, "<a href=\"", LinkWith(q, "page", absl::StrCat(page - 1)),
                    "\" rel=\"prev\">&larr; previous</a> ");
  }
  if (page < pages) {
    absl::StrAppend(&out, "<a href=\"", LinkWith(q, "page", absl::StrCat(page + 1)),
                    "\" rel=\"next\">next &rarr;</a>");
  }
  return out + "</p>";
}

// Each shown node's newest run, from the reports' stored summaries (one indexed query per row
// of a page). A node whose reports retention pruned shows none.
void FillLastRuns(Store* store, std::vector<v1::Node>* nodes) {
  for (v1::Node& n : *nodes) {
    if (n.last_report_id().empty()) continue;
    absl::StatusOr<std::vector<v1::ReportSummary>> runs = store->ListReports(n.name(), 1);
    if (runs.ok() && !runs->empty()) *n.mutable_last_run() = std::move(runs->front());
  }
}

}  // namespace

absl::StatusOr<ConsolePage> FleetPage(const ConsoleData& data, const QueryParams& q) {
  std::map<v1::NodeStatus, int64_t> counts;
  PLUMB_ASSIGN_OR_RETURN(counts, data.store->CountNodesByStatus());
  int64_t all = 0;
  for (const auto& [status, n] : counts) all += n;
  Store::NodePageQuery query = ToNodeQuery(q);
  Store::NodePage page;
  PLUMB_ASSIGN_OR_RETURN(page, data.store->ListNodesPage(query));
  FillLastRuns(data.store, &page.nodes);
  ConsolePage out;
  out.title = "Fleet";
  out.nav = "fleet";
  out.live = "fleet";
  out.body = absl::StrCat(CountsChart(counts, all), FilterForm(q),
                          "<table class=\"nodes\" id=\"nodes\"><thead><tr>",
                          SortHeader(q, "name", "Node"), SortHeader(q, "status", "Status"),
                          "<th>Applied</th><th>Desired</th><th>Seen</th><th>Last run</th>"
                          "</tr></thead><tbody>");
  for (const v1::Node& n : page.nodes) absl::StrAppend(&out.body, NodeRow(n));
  absl::StrAppend(&out.body, "</tbody></table>", Pager(q, query, page.total));
  return out;
}

absl::StatusOr<std::string> FleetJson(const ConsoleData& data, const QueryParams& q) {
  std::map<v1::NodeStatus, int64_t> counts;
  PLUMB_ASSIGN_OR_RETURN(counts, data.store->CountNodesByStatus());
  Store::NodePage page;
  PLUMB_ASSIGN_OR_RETURN(page, data.store->ListNodesPage(ToNodeQuery(q)));
  FillLastRuns(data.store, &page.nodes);
  std::string out = "{\"counts\":{";
  for (const auto& [status, n] : counts) {
    absl::StrAppend(&out, JsonString(NodeStatusName(status)), ":", n, ",");
  }
  if (out.back() == ',') out.pop_back();
  absl::StrAppend(&out, "},\"total\":", page.total, ",\"nodes\":[");
  for (const v1::Node& n : page.nodes) {
    absl::StrAppend(&out, "{\"name\":", JsonString(n.name()),
                    ",\"status\":", JsonString(NodeStatusName(n.status())),
                    ",\"applied\":", JsonString(n.applied_revision()),
                    ",\"desired\":", JsonString(n.desired_revision()),
                    ",\"connected\":", n.connected() ? "true" : "false",
                    ",\"last_seen_unix_ms\":", n.last_seen_unix_ms());
    if (n.has_last_run()) {
      absl::StrAppend(&out, ",\"last_run\":{\"id\":", JsonString(n.last_run().id()),
                      ",\"changed\":", n.last_run().changed(), ",\"failed\":",
                      n.last_run().failed(), "}");
    }
    absl::StrAppend(&out, "},");
  }
  if (out.back() == ',') out.pop_back();
  return out + "]}";
}

}  // namespace plumb
