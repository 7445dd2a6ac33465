#pragma once

// The console's pages, rendered on the server from the Store: fleet (counts and the node
// table), one node (labels, facts, revisions, runs with per-resource outcomes and diffs, the
// drift timeline), revisions (status, compile errors, nodes on each), resources (who changed or
// drifted on X since T) and sign-in. Each returns the page body; the router adds the layout,
// the session's CSRF token and the headers.

#include <functional>
#include <map>
#include <set>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "server/console/console_html.h"
#include "server/store/store.h"

namespace plumb {

using QueryParams = std::map<std::string, std::string>;

// Rows per page of the node table.
inline constexpr int64_t kFleetPageSize = 50;

// What the pages read. `store` is not owned and must outlive the pages. `sensitive_ids`
// (optional) names the resources a node's catalog marks sensitive: their results show
// "changed (sensitive)" and never a diff or message, whatever the store holds.
struct ConsoleData {
  Store* store = nullptr;
  std::function<std::set<std::string>(const std::string& node)> sensitive_ids;
};

// Query: status, name, label ("k=v,k2=v2"), sort (name|status), dir (asc|desc), page (1-based).
absl::StatusOr<ConsolePage> FleetPage(const ConsoleData& data, const QueryParams& query);
// The same as JSON: {"counts": {...}, "total": N, "nodes": [{name, status, ...}]}.
absl::StatusOr<std::string> FleetJson(const ConsoleData& data, const QueryParams& query);
// NotFound when the node never connected. `csrf` goes into the "Run now" form.
absl::StatusOr<ConsolePage> NodePage(const ConsoleData& data, const std::string& name,
                                     const std::string& csrf);
absl::StatusOr<ConsolePage> RevisionsPage(const ConsoleData& data);
// NotFound / InvalidArgument as Store::GetRevision.
absl::StatusOr<ConsolePage> RevisionPage(const ConsoleData& data, const std::string& sha);
// Query: id (exact or glob), since ("24h", "7d" or "YYYY-MM-DD"), node, drift ("1"), outcome.
absl::StatusOr<ConsolePage> ResourcesPage(const ConsoleData& data, const QueryParams& query,
                                          absl::Time now);
// The sign-in form; `error` (plain text) is shown above it when not empty.
ConsolePage SignInPage(const std::string& error);

// Parses "since": "<N>h|m|s|d" before `now`, or a "YYYY-MM-DD" date (UTC). InvalidArgument.
absl::StatusOr<absl::Time> ParseSince(const std::string& since, absl::Time now);

}  // namespace plumb
