// PgStore's reports: storing them with their resource events, listing, the fleet-wide resource
// event query and retention. Split from pg_store.cc to keep each file small; same class, same
// lock, same connection.

#include <set>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "server/store/postgres/pg_conn.h"
#include "server/store/postgres/pg_store.h"

namespace plumb {
namespace {

constexpr int kDefaultReportLimit = 20;
constexpr int kDefaultEventLimit = 100;

// SQLite's GLOB (`*`, `?`, `[...]`, case-sensitive) as an anchored POSIX regex, so a filter
// means the same on both backends.
std::string GlobToRegex(const std::string& glob) {
  std::string regex = "^";
  bool in_class = false;
  for (char c : glob) {
    if (in_class) {
      if (c == ']') in_class = false;
      if (c == '\\') regex.push_back('\\');
      regex.push_back(c);
    } else if (c == '*') {
      regex += ".*";
    } else if (c == '?') {
      regex.push_back('.');
    } else if (c == '[') {
      in_class = true;
      regex.push_back(c);
    } else {
      if (absl::StrContains(".^$+(){}|\\]", c)) regex.push_back('\\');
      regex.push_back(c);
    }
  }
  return regex + "$";
}

}  // namespace

absl::StatusOr<std::vector<bool>> PgStore::PutReports(
    const std::vector<const v1::Report*>& reports) {
  for (const v1::Report* report : reports) {
    if (report->id().empty()) return absl::InvalidArgumentError("report without an id");
  }
  if (reports.empty()) return std::vector<bool>();
  std::vector<bool> stored;
  // The reports and their resource events commit together (or not at all).
  PLUMB_RETURN_IF_ERROR(WithConn([&](PgConn& conn) {
    return conn.InTransaction([&]() -> absl::Status {
      PLUMB_ASSIGN_OR_RETURN(stored, InsertReports(conn, reports));
      return absl::OkStatus();
    });
  }));
  return stored;
}

absl::StatusOr<std::vector<bool>> PgStore::InsertReports(
    PgConn& conn, const std::vector<const v1::Report*>& reports) {
  PgArray ids, nodes, started, summaries, changed, failed, protos;
  for (const v1::Report* report : reports) {
    v1::ReportSummary summary = Summarize(*report);
    ids.AddText(report->id());
    nodes.AddText(report->node());
    started.AddInt(report->started_unix_ms());
    summaries.AddBytes(summary.SerializeAsString());
    changed.AddInt(summary.changed());
    failed.AddInt(summary.failed());
    protos.AddBytes(report->SerializeAsString());
  }
  // ON CONFLICT DO NOTHING: re-sends (also one racing in from another replica: that insert
  // waits for ours, then does nothing) and repeats within the batch are skipped; RETURNING
  // names the rows that are new.
  PLUMB_ASSIGN_OR_RETURN(
      PgResult inserted,
      conn.Query("INSERT INTO reports (id, node, started_ms, summary, changed, failed, proto)"
                 " SELECT * FROM unnest($1::text[], $2::text[], $3::bigint[], $4::bytea[],"
                 " $5::integer[], $6::integer[], $7::bytea[])"
                 " ON CONFLICT (id) DO NOTHING RETURNING id",
                 {ids.Param(), nodes.Param(), started.Param(), summaries.Param(), changed.Param(),
                  failed.Param(), protos.Param()}));
  std::set<std::string> fresh;
  for (int row = 0; row < inserted.rows(); ++row) fresh.insert(inserted.Bytes(row, 0));
  std::vector<bool> stored;
  PgArray report_ids, event_nodes, resources, outcomes, messages, times, revisions, triggers, noops;
  for (const v1::Report* report : reports) {
    // erase: a repeat of the id later in the batch is not new, and adds no events.
    bool is_new = fresh.erase(report->id()) > 0;
    stored.push_back(is_new);
    if (!is_new) continue;
    for (const v1::ResourceResult& result : report->results()) {
      if (result.outcome() == v1::UNCHANGED ||
          result.outcome() == v1::RESOURCE_OUTCOME_UNSPECIFIED) {
        continue;
      }
      report_ids.AddText(report->id());
      event_nodes.AddText(report->node());
      resources.AddText(result.id());
      outcomes.AddInt(result.outcome());
      messages.AddText(result.message());
      times.AddInt(report->started_unix_ms());
      revisions.AddText(report->revision());
      triggers.AddInt(report->trigger());
      noops.AddInt(report->noop() ? 1 : 0);
    }
  }
  if (report_ids.empty()) return stored;
  PLUMB_RETURN_IF_ERROR(
      conn.Query(
              "INSERT INTO resource_events (report_id, node, resource_id, outcome, message,"
              " unix_ms, revision, run_trigger, noop)"
              " SELECT r, n, i, o, m, u, v, t, b <> 0 FROM unnest($1::text[], $2::text[],"
              " $3::text[], $4::integer[], $5::text[], $6::bigint[], $7::text[],"
              " $8::integer[], $9::integer[]) AS e(r, n, i, o, m, u, v, t, b)",
              {report_ids.Param(), event_nodes.Param(), resources.Param(), outcomes.Param(),
               messages.Param(), times.Param(), revisions.Param(), triggers.Param(), noops.Param()})
          .status());
  return stored;
}

absl::StatusOr<v1::Report> PgStore::GetReport(const std::string& id) {
  std::string proto;
  bool found = false;
  PLUMB_RETURN_IF_ERROR(WithConn([&](PgConn& conn) -> absl::Status {
    PLUMB_ASSIGN_OR_RETURN(PgResult result, conn.Query("SELECT proto FROM reports WHERE id = $1",
                                                       {PgParam::Text(id)}));
    found = result.rows() > 0;
    if (found) proto = result.Bytes(0, 0);
    return absl::OkStatus();
  }));
  if (!found) return absl::NotFoundError(absl::StrCat("no report ", id));
  v1::Report report;
  if (!report.ParseFromString(proto))
    return absl::DataLossError("store: cannot parse stored report");
  return report;
}

absl::StatusOr<std::vector<v1::ReportSummary>> PgStore::ListReports(const std::string& node,
                                                                    int limit) {
  std::vector<v1::ReportSummary> summaries;
  int64_t rows = limit > 0 ? limit : kDefaultReportLimit;
  PLUMB_RETURN_IF_ERROR(WithConn([&](PgConn& conn) -> absl::Status {
    // Two statements rather than "$2 = '' OR node = $2", so each one can use its index.
    absl::StatusOr<PgResult> result =
        node.empty()
            ? conn.Query("SELECT summary FROM reports ORDER BY started_ms DESC, seq DESC LIMIT $1",
                         {PgParam::Int(rows)})
            : conn.Query(
                  "SELECT summary FROM reports WHERE node = $2"
                  " ORDER BY started_ms DESC, seq DESC LIMIT $1",
                  {PgParam::Int(rows), PgParam::Text(node)});
    if (!result.ok()) return result.status();
    for (int row = 0; row < result->rows(); ++row) {
      v1::ReportSummary summary;
      if (!summary.ParseFromString(result->Bytes(row, 0))) {
        return absl::DataLossError("store: cannot parse stored report");
      }
      summaries.push_back(std::move(summary));
    }
    return absl::OkStatus();
  }));
  return summaries;
}

absl::StatusOr<std::vector<v1::ResourceEvent>> PgStore::ListResourceEvents(
    const v1::ListResourceEventsRequest& filter) {
  // Only the filters asked for go into the SQL, so the planner can pick the matching index.
  std::string sql =
      "SELECT node, report_id, resource_id, outcome, message, unix_ms, revision, run_trigger,"
      " noop FROM resource_events WHERE true";
  std::vector<PgParam> params;
  auto add = [&](absl::string_view clause, PgParam param) {
    params.push_back(std::move(param));
    absl::StrAppend(&sql, " AND ", clause, " $", params.size());
  };
  const std::string& id = filter.resource_id();
  if (!id.empty()) {
    bool glob = absl::StrContains(id, "*") || absl::StrContains(id, "?");
    add(glob ? "resource_id ~" : "resource_id =", PgParam::Text(glob ? GlobToRegex(id) : id));
  }
  if (filter.outcome() != v1::RESOURCE_OUTCOME_UNSPECIFIED) {
    add("outcome =", PgParam::Int(filter.outcome()));
  }
  if (filter.since_unix_ms() > 0) add("unix_ms >=", PgParam::Int(filter.since_unix_ms()));
  if (!filter.node().empty()) add("node =", PgParam::Text(filter.node()));
  if (filter.drift_only()) {
    // Changes made by a run that did not apply a new catalog repaired drift; noop runs find it.
    absl::StrAppend(&sql, " AND ((outcome = ", v1::CHANGED, " AND run_trigger != ", v1::CATALOG,
                    ") OR outcome = ", v1::WOULD_CHANGE, ")");
  }
  params.push_back(PgParam::Int(filter.limit() > 0 ? filter.limit() : kDefaultEventLimit));
  absl::StrAppend(&sql, " ORDER BY unix_ms DESC, seq DESC LIMIT $", params.size());

  std::vector<v1::ResourceEvent> events;
  PLUMB_RETURN_IF_ERROR(WithConn([&](PgConn& conn) -> absl::Status {
    PLUMB_ASSIGN_OR_RETURN(PgResult result, conn.Query(sql, params));
    for (int row = 0; row < result.rows(); ++row) {
      v1::ResourceEvent& e = events.emplace_back();
      e.set_node(result.Bytes(row, 0));
      e.set_report_id(result.Bytes(row, 1));
      e.set_resource_id(result.Bytes(row, 2));
      e.set_outcome(static_cast<v1::ResourceOutcome>(result.Int(row, 3)));
      e.set_message(result.Bytes(row, 4));
      e.set_unix_ms(result.Int(row, 5));
      e.set_revision(result.Bytes(row, 6));
      e.set_trigger(static_cast<v1::RunTrigger>(result.Int(row, 7)));
      e.set_noop(result.Int(row, 8) != 0);
    }
    return absl::OkStatus();
  }));
  return events;
}

absl::StatusOr<Store::PruneResult> PgStore::PruneReports(absl::Time cutoff, int keep_per_node,
                                                         int batch) {
  int64_t cutoff_ms = cutoff == absl::InfinitePast() ? INT64_MIN : absl::ToUnixMillis(cutoff);
  int64_t keep = keep_per_node > 0 ? keep_per_node : INT64_MAX;
  PruneResult total;
  while (true) {
    PruneResult step;
    // One statement per batch (atomic on its own); the lock is released between batches, so
    // reports keep flowing. `picked` is referenced twice, so PostgreSQL materialises it once.
    // rn = 1 is each node's newest report: kept even when old.
    PLUMB_RETURN_IF_ERROR(WithConn([&](PgConn& conn) -> absl::Status {
      PLUMB_ASSIGN_OR_RETURN(
          PgResult result,
          conn.Query(
              "WITH picked AS (SELECT id FROM (SELECT id, started_ms, ROW_NUMBER() OVER"
              " (PARTITION BY node ORDER BY started_ms DESC, seq DESC) AS rn FROM reports)"
              " ranked WHERE rn > 1 AND (started_ms < $1 OR rn > $2) LIMIT $3),"
              " events AS (DELETE FROM resource_events WHERE report_id IN"
              " (SELECT id FROM picked) RETURNING 1),"
              " gone AS (DELETE FROM reports WHERE id IN (SELECT id FROM picked) RETURNING 1)"
              " SELECT (SELECT count(*) FROM gone), (SELECT count(*) FROM events)",
              {PgParam::Int(cutoff_ms), PgParam::Int(keep),
               PgParam::Int(batch > 0 ? batch : 1000)}));
      step.reports = result.Int(0, 0);
      step.resource_events = result.Int(0, 1);
      return absl::OkStatus();
    }));
    total.reports += step.reports;
    total.resource_events += step.resource_events;
    if (step.reports == 0) break;
  }
  return total;
}

}  // namespace plumb
