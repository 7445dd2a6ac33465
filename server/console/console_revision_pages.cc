// The revisions pages (status, compile errors with file:line, nodes on each), the resources
// query (who changed or drifted on X since T, like `plumbctl resources`) and sign-in.

#include <map>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "server/console/console_pages.h"
#include "server/console/console_text.h"

namespace plumb {
namespace {

constexpr int kRevisionsShown = 50;
constexpr int kResourceEventsShown = 500;

std::string Get(const QueryParams& q, const std::string& key) {
  auto it = q.find(key);
  return it == q.end() ? "" : it->second;
}

// Nodes per applied revision (one scan of the node table).
absl::StatusOr<std::map<std::string, int64_t>> NodesPerRevision(Store* store) {
  std::vector<v1::Node> nodes;
  PLUMB_ASSIGN_OR_RETURN(nodes, store->ListNodes({}, v1::NODE_STATUS_UNSPECIFIED));
  std::map<std::string, int64_t> per;
  for (const v1::Node& n : nodes) ++per[n.applied_revision()];
  return per;
}

std::string StatusOf(const v1::Revision& r) {
  if (r.status() == v1::REVISION_FAILED) return "<span class=\"badge s-failed\">failed</span>";
  return r.serving() ? "<span class=\"badge s-converged\">serving</span>"
                     : "<span class=\"badge s-unknown\">ok</span>";
}

std::string ErrorList(const google::protobuf::RepeatedPtrField<v1::CompileError>& errors) {
  std::string out = "<ul class=\"errors\">";
  for (const v1::CompileError& e : errors) {
    absl::StrAppend(&out, "<li><code class=\"loc\">", HtmlEscape(e.location()), "</code> ",
                    HtmlEscape(e.message()), "</li>");
  }
  return out + "</ul>";
}

}  // namespace

absl::StatusOr<ConsolePage> RevisionsPage(const ConsoleData& data) {
  std::vector<v1::Revision> revisions;
  PLUMB_ASSIGN_OR_RETURN(revisions, data.store->ListRevisions(kRevisionsShown));
  std::map<std::string, int64_t> per;
  PLUMB_ASSIGN_OR_RETURN(per, NodesPerRevision(data.store));
  ConsolePage page;
  page.title = "Revisions";
  page.nav = "revisions";
  page.live = "revisions";
  page.body = "<h1>Revisions</h1><table class=\"revisions\" id=\"revisions\"><thead><tr>"
              "<th>Revision</th><th>Status</th><th>Fetched</th><th>Summary</th><th>Nodes on it"
              "</th><th>Errors</th></tr></thead><tbody>";
  for (const v1::Revision& r : revisions) {
    absl::StrAppend(&page.body, "<tr><td><a href=\"/revisions/", UrlEncode(r.sha()), "\"><code>",
                    ShortSha(r.sha()), "</code></a></td><td>", StatusOf(r), "</td><td>",
                    FormatUnixMs(r.fetched_unix_ms()), "</td><td>", HtmlEscape(r.summary()),
                    "</td><td>", per[r.sha()], "</td><td>",
                    r.errors_size() + r.node_failures_size(), "</td></tr>");
  }
  absl::StrAppend(&page.body, "</tbody></table>");
  return page;
}

absl::StatusOr<ConsolePage> RevisionPage(const ConsoleData& data, const std::string& sha) {
  v1::Revision r;
  PLUMB_ASSIGN_OR_RETURN(r, data.store->GetRevision(sha));
  std::map<std::string, int64_t> per;
  PLUMB_ASSIGN_OR_RETURN(per, NodesPerRevision(data.store));
  ConsolePage page;
  page.title = absl::StrCat("Revision ", r.sha().substr(0, 12));
  page.nav = "revisions";
  page.live = "revisions";
  page.body = absl::StrCat("<h1>Revision <code>", HtmlEscape(r.sha()), "</code></h1>"
                           "<table class=\"kv\"><tr><th>status</th><td>", StatusOf(r),
                           "</td></tr><tr><th>summary</th><td>", HtmlEscape(r.summary()),
                           "</td></tr><tr><th>fetched</th><td>", FormatUnixMs(r.fetched_unix_ms()),
                           "</td></tr><tr><th>nodes on it</th><td>", per[r.sha()],
                           "</td></tr></table>");
  if (r.errors_size() > 0) {
    absl::StrAppend(&page.body, "<h2>Compile errors</h2>", ErrorList(r.errors()));
  }
  if (r.node_failures_size() > 0) {
    absl::StrAppend(&page.body, "<h2>Nodes that failed to compile</h2>");
    for (const v1::NodeFailure& f : r.node_failures()) {
      absl::StrAppend(&page.body, "<h3><a href=\"/nodes/", UrlEncode(f.node()), "\">",
                      HtmlEscape(f.node()), "</a></h3>", ErrorList(f.errors()));
    }
    if (r.node_failures_omitted() > 0) {
      absl::StrAppend(&page.body, "<p class=\"muted\">and ", r.node_failures_omitted(),
                      " more</p>");
    }
  }
  return page;
}

absl::StatusOr<absl::Time> ParseSince(const std::string& since, absl::Time now) {
  if (since.empty()) return now - absl::Hours(24);
  int64_t days = 0;
  if (since.back() == 'd' && absl::SimpleAtoi(since.substr(0, since.size() - 1), &days) &&
      days >= 0) {
    return now - absl::Hours(24) * days;
  }
  absl::Duration ago;
  if (absl::ParseDuration(since, &ago) && ago >= absl::ZeroDuration()) return now - ago;
  absl::Time t;
  std::string error;
  if (absl::ParseTime("%Y-%m-%d", since, absl::UTCTimeZone(), &t, &error)) return t;
  return absl::InvalidArgumentError(
      absl::StrCat("since: want a duration like 24h or 7d, or a date like 2026-11-30, got \"",
                   since, "\""));
}

absl::StatusOr<ConsolePage> ResourcesPage(const ConsoleData& data, const QueryParams& q,
                                          absl::Time now) {
  ConsolePage page;
  page.title = "Resources";
  page.nav = "resources";
  page.live = "resources";
  page.body = absl::StrCat(
      "<h1>Who changed or drifted</h1><form class=\"filters\" method=\"get\" action=\"/resources\">"
      "<input name=\"id\" placeholder=\"file:/etc/motd or file:/etc/*\" value=\"",
      HtmlEscape(Get(q, "id")), "\"><input name=\"since\" placeholder=\"24h, 7d, 2026-11-30\" "
      "value=\"", HtmlEscape(Get(q, "since")), "\"><input name=\"node\" placeholder=\"node\" "
      "value=\"", HtmlEscape(Get(q, "node")), "\"><label><input type=\"checkbox\" name=\"drift\" "
      "value=\"1\"", Get(q, "drift") == "1" ? " checked" : "", "> drift only</label>"
      "<button type=\"submit\">Search</button></form>");
  absl::StatusOr<absl::Time> since = ParseSince(Get(q, "since"), now);
  if (!since.ok()) {
    absl::StrAppend(&page.body, "<p class=\"o-failed\">", HtmlEscape(since.status().message()),
                    "</p>");
    return page;
  }
  v1::ListResourceEventsRequest filter;
  filter.set_resource_id(Get(q, "id"));
  filter.set_node(Get(q, "node"));
  filter.set_since_unix_ms(absl::ToUnixMillis(*since));
  filter.set_drift_only(Get(q, "drift") == "1");
  filter.set_limit(kResourceEventsShown);
  std::vector<v1::ResourceEvent> events;
  PLUMB_ASSIGN_OR_RETURN(events, data.store->ListResourceEvents(filter));
  absl::StrAppend(&page.body, "<p>", events.size(), " changes since ", FormatUnixMs(
                  absl::ToUnixMillis(*since)), "</p><table class=\"events\" id=\"events\"><thead>"
                  "<tr><th>When</th><th>Node</th><th>Resource</th><th>Outcome</th><th>Run</th>"
                  "<th>Revision</th><th>Message</th></tr></thead><tbody>");
  for (const v1::ResourceEvent& e : events) {
    absl::StrAppend(&page.body, "<tr><td>", FormatUnixMs(e.unix_ms()), "</td><td><a href=\"/nodes/",
                    UrlEncode(e.node()), "\">", HtmlEscape(e.node()), "</a></td><td><code>",
                    HtmlEscape(e.resource_id()), "</code></td><td class=\"o-",
                    OutcomeName(e.outcome()), "\">", OutcomeName(e.outcome()), "</td><td>",
                    TriggerName(e.trigger()), e.noop() ? " (noop)" : "", "</td><td><code>",
                    ShortSha(e.revision()), "</code></td><td>", HtmlEscape(e.message()),
                    "</td></tr>");
  }
  absl::StrAppend(&page.body, "</tbody></table>");
  return page;
}

ConsolePage SignInPage(const std::string& error) {
  ConsolePage page;
  page.title = "Sign in";
  page.body = absl::StrCat(
      "<section class=\"signin\"><h1>Sign in</h1>",
      error.empty() ? "" : absl::StrCat("<p class=\"o-failed\" id=\"error\">", HtmlEscape(error),
                                        "</p>"),
      "<form method=\"post\" action=\"/login\"><label>Operator token<br>"
      "<input type=\"password\" name=\"token\" id=\"token\" autocomplete=\"off\" autofocus>"
      "</label><button type=\"submit\" id=\"signin\">Sign in</button></form>"
      "<p class=\"muted\">A token from the server's <code>operator_tokens</code>, or open this "
      "page with an operator client certificate.</p></section>");
  return page;
}

}  // namespace plumb
