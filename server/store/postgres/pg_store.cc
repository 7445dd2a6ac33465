#include "server/store/postgres/pg_store.h"

#include <algorithm>
#include <optional>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "server/store/postgres/pg_conn.h"
#include "server/store/postgres/pg_leadership.h"
#include "server/store/postgres/pg_schema.h"
#include "server/store/stored_proto.h"

namespace plumb {
namespace {

constexpr int kMinPrefix = 4;
constexpr int64_t kNoLimit = INT64_MAX;

bool Matches(const v1::Node& node, const std::map<std::string, std::string>& selector) {
  for (const auto& [key, value] : selector) {
    auto it = node.labels().find(key);
    if (it == node.labels().end() || it->second != value) return false;
  }
  return true;
}

absl::StatusOr<std::vector<v1::Revision>> RevisionRows(const PgResult& result) {
  std::vector<v1::Revision> revisions;
  for (int row = 0; row < result.rows(); ++row) {
    PLUMB_ASSIGN_OR_RETURN(v1::Revision revision,
                           ParseStored<v1::Revision>(result.Bytes(row, 0), "revision"));
    revision.set_serving(result.Int(row, 1) != 0);
    revisions.push_back(std::move(revision));
  }
  return revisions;
}

}  // namespace

absl::StatusOr<std::unique_ptr<PgStore>> PgStore::Open(const std::string& url,
                                                       const std::string& password) {
  PLUMB_ASSIGN_OR_RETURN(std::unique_ptr<PgConn> conn, PgConn::Connect(url, password));
  PLUMB_RETURN_IF_ERROR(MigratePgSchema(*conn));
  return std::unique_ptr<PgStore>(new PgStore(std::move(conn)));
}

PgStore::PgStore(std::unique_ptr<PgConn> conn) : conn_(std::move(conn)) {}
PgStore::~PgStore() = default;

absl::Status PgStore::WithConn(const std::function<absl::Status(PgConn&)>& fn) {
  absl::MutexLock lock(&mu_);
  PLUMB_RETURN_IF_ERROR(conn_->EnsureConnected());
  return fn(*conn_);
}

// ---- Revisions ----

absl::Status PgStore::PutRevision(const v1::Revision& revision) {
  if (revision.sha().empty()) return absl::InvalidArgumentError("revision without a sha");
  v1::Revision stored = revision;
  stored.set_serving(false);  // derived from the serving pointer on read
  return WithConn([&](PgConn& conn) {
    return conn
        .Query(
            "INSERT INTO revisions (environment, sha, status, fetched_ms, summary, proto)"
            " VALUES ($6, $1, $2, $3, $4, $5) ON CONFLICT (environment, sha) DO UPDATE SET"
            " status = excluded.status, fetched_ms = excluded.fetched_ms,"
            " summary = excluded.summary, proto = excluded.proto",
            {PgParam::Text(stored.sha()), PgParam::Int(stored.status()),
             PgParam::Int(stored.fetched_unix_ms()), PgParam::Text(stored.summary()),
             PgParam::Bytes(stored.SerializeAsString()), PgParam::Text(stored.environment())})
        .status();
  });
}

absl::StatusOr<v1::Revision> PgStore::GetRevision(const std::string& environment,
                                                  const std::string& sha_or_prefix) {
  std::string prefix = absl::AsciiStrToLower(sha_or_prefix);
  if (prefix.size() < kMinPrefix || !IsLowerHex(prefix)) {
    return absl::InvalidArgumentError(absl::StrCat("revision \"", sha_or_prefix,
                                                   "\": want a sha or a hex prefix of at least ",
                                                   kMinPrefix, " characters"));
  }
  std::vector<v1::Revision> found;
  // The prefix is checked hex, so it holds no LIKE metacharacters; sha is COLLATE "C", so its
  // index serves the prefix search. Lines are few: the limit covers them and a second sha.
  PLUMB_RETURN_IF_ERROR(WithConn([&](PgConn& conn) -> absl::Status {
    PLUMB_ASSIGN_OR_RETURN(
        PgResult result,
        conn.Query("SELECT r.proto, s.sha IS NOT NULL FROM revisions r"
                   " LEFT JOIN env_serving s ON s.environment = r.environment AND s.sha = r.sha"
                   " WHERE r.sha LIKE $1 || '%' AND ($2 = '*' OR r.environment = $2)"
                   " ORDER BY r.sha, r.fetched_ms DESC LIMIT 100",
                   {PgParam::Text(prefix), PgParam::Text(environment)}));
    PLUMB_ASSIGN_OR_RETURN(found, RevisionRows(result));
    return absl::OkStatus();
  }));
  return OneRevision(sha_or_prefix, std::move(found));
}

absl::StatusOr<std::vector<v1::Revision>> PgStore::ListRevisions(const std::string& environment,
                                                                 int limit) {
  std::vector<v1::Revision> revisions;
  PLUMB_RETURN_IF_ERROR(WithConn([&](PgConn& conn) -> absl::Status {
    PLUMB_ASSIGN_OR_RETURN(
        PgResult result,
        conn.Query("SELECT r.proto, s.sha IS NOT NULL FROM revisions r"
                   " LEFT JOIN env_serving s ON s.environment = r.environment AND s.sha = r.sha"
                   " WHERE $2 = '*' OR r.environment = $2"
                   " ORDER BY r.fetched_ms DESC, r.seq DESC LIMIT $1",
                   {PgParam::Int(limit > 0 ? limit : kNoLimit), PgParam::Text(environment)}));
    PLUMB_ASSIGN_OR_RETURN(revisions, RevisionRows(result));
    return absl::OkStatus();
  }));
  return revisions;
}

absl::Status PgStore::SetServingRevision(const std::string& environment, const std::string& sha) {
  return WithConn([&](PgConn& conn) {
    return conn.InTransaction([&]() -> absl::Status {
      // FOR SHARE: the revision cannot be replaced by a failed one between check and update.
      PLUMB_ASSIGN_OR_RETURN(
          PgResult check,
          conn.Query("SELECT status FROM revisions WHERE environment = $2 AND sha = $1 FOR SHARE",
                     {PgParam::Text(sha), PgParam::Text(environment)}));
      if (check.rows() == 0) {
        return absl::NotFoundError(absl::StrCat("cannot serve unknown revision ", sha));
      }
      // A revision that failed to compile is never served (the contract's "bad commit" rule).
      if (check.Int(0, 0) == v1::REVISION_FAILED) {
        return absl::FailedPreconditionError(
            absl::StrCat("revision ", sha, " failed to compile and cannot be served"));
      }
      PLUMB_RETURN_IF_ERROR(conn.Query("INSERT INTO env_serving (environment, sha) VALUES ($2, $1)"
                                       " ON CONFLICT (environment) DO UPDATE SET sha = excluded.sha",
                                       {PgParam::Text(sha), PgParam::Text(environment)})
                                .status());
      // Delivered at commit to every replica listening (PgLeadership): followers serve it.
      return conn.Query("SELECT pg_notify($1, $2)",
                        {PgParam::Text(kServingChannel), PgParam::Text(sha)})
          .status();
    });
  });
}

absl::StatusOr<std::string> PgStore::ServingRevision(const std::string& environment) {
  std::string sha;
  PLUMB_RETURN_IF_ERROR(WithConn([&](PgConn& conn) -> absl::Status {
    PLUMB_ASSIGN_OR_RETURN(PgResult result,
                           conn.Query("SELECT sha FROM env_serving WHERE environment = $1",
                                      {PgParam::Text(environment)}));
    if (result.rows() > 0) sha = result.Bytes(0, 0);
    return absl::OkStatus();
  }));
  return sha;
}

// ---- Nodes ----

namespace {

// The node rows as a replica reads them (EnablePresence), one column each: proto, held, status.
// `held`: a replica with a current heartbeat holds the node's stream (schema 7, written by
// PgReplicaLink). `status`: while held, what the rows last said other than offline (an old
// replica's disconnect may land after the new one's connect); not held though its last writer
// said connected (that replica died without writing the disconnect): offline; else as stored.
static_assert(v1::NODE_UNKNOWN == 1 && v1::NODE_OFFLINE == 6 && v1::NODE_REVOKED == 7,
              "the node status numbers in the SQL below and in pg_schema.cc");
constexpr char kNodesAsRead[] =
    "(SELECT name, proto, held, CASE"
    " WHEN held THEN CASE WHEN status = 6 THEN online_status ELSE status END"
    " WHEN connected AND status <> 7 THEN 6 ELSE status END AS status"
    " FROM (SELECT nodes.*, EXISTS (SELECT 1 FROM node_streams s JOIN replica_heartbeats h"
    " ON h.replica = s.replica WHERE s.node = nodes.name AND h.expires_at > now()) AS held"
    " FROM nodes) AS n) AS r";
// As stored (one server, or a tool): `connected` and `status` are what the last writer said.
constexpr char kNodesAsStored[] = "(SELECT name, proto, false AS held, status FROM nodes) AS r";

}  // namespace

const char* PgStore::NodeRows() const { return presence_ ? kNodesAsRead : kNodesAsStored; }

absl::StatusOr<v1::Node> PgStore::NodeFromRow(const PgResult& result, int row) const {
  PLUMB_ASSIGN_OR_RETURN(v1::Node node, ParseStored<v1::Node>(result.Bytes(row, 0), "node"));
  if (presence_) {
    node.set_connected(result.Int(row, 1) != 0);
    node.set_status(static_cast<v1::NodeStatus>(result.Int(row, 2)));
  }
  return node;
}

absl::Status PgStore::PutNodes(const std::vector<v1::Node>& nodes) {
  for (const v1::Node& node : nodes) {
    if (node.name().empty()) return absl::InvalidArgumentError("node without a name");
  }
  if (nodes.empty()) return absl::OkStatus();
  // One statement for the batch (the hub writes a work item's rows together): the last row of a
  // name wins, as the rows would one after the other (ON CONFLICT may touch a row only once).
  std::map<std::string, const v1::Node*> last;
  for (const v1::Node& node : nodes) last[node.name()] = &node;
  PgArray names, statuses, protos, connected;
  for (const auto& [name, node] : last) {
    names.AddText(name);
    statuses.AddInt(node->status());
    protos.AddBytes(node->SerializeAsString());
    connected.AddInt(node->connected() ? 1 : 0);
  }
  // online_status keeps the last status other than offline (6) or unspecified (0); unknown (1)
  // before any.
  return WithConn([&](PgConn& conn) {
    return conn
        .Query("INSERT INTO nodes (name, status, proto, connected, online_status)"
               " SELECT n, s, p, c <> 0, CASE WHEN s IN (0, 6) THEN 1 ELSE s END FROM"
               " unnest($1::text[], $2::integer[], $3::bytea[], $4::integer[]) AS t(n, s, p, c)"
               " ON CONFLICT (name) DO UPDATE SET status = excluded.status, proto = excluded.proto,"
               " connected = excluded.connected, online_status = CASE WHEN excluded.status IN"
               " (0, 6) THEN nodes.online_status ELSE excluded.status END",
               {names.Param(), statuses.Param(), protos.Param(), connected.Param()})
        .status();
  });
}

absl::StatusOr<v1::Node> PgStore::GetNode(const std::string& name) {
  std::optional<absl::StatusOr<v1::Node>> node;
  PLUMB_RETURN_IF_ERROR(WithConn([&](PgConn& conn) -> absl::Status {
    PLUMB_ASSIGN_OR_RETURN(
        PgResult result,
        conn.Query(absl::StrCat("SELECT proto, held, status FROM ", NodeRows(), " WHERE name = $1"),
                   {PgParam::Text(name)}));
    if (result.rows() > 0) node = NodeFromRow(result, 0);
    return absl::OkStatus();
  }));
  if (!node) return absl::NotFoundError(absl::StrCat("node ", name, " has never connected"));
  return *std::move(node);
}

absl::StatusOr<std::vector<v1::Node>> PgStore::ListNodes(
    const std::map<std::string, std::string>& selector, v1::NodeStatus status) {
  std::vector<v1::Node> nodes;
  PLUMB_RETURN_IF_ERROR(WithConn([&](PgConn& conn) -> absl::Status {
    // Status filters in SQL (as read); labels live in the proto, so the selector filters here.
    PLUMB_ASSIGN_OR_RETURN(
        PgResult result,
        conn.Query(absl::StrCat("SELECT proto, held, status FROM ", NodeRows(),
                                " WHERE $1::integer = 0 OR status = $1 ORDER BY name"),
                   {PgParam::Int(status)}));
    for (int row = 0; row < result.rows(); ++row) {
      PLUMB_ASSIGN_OR_RETURN(v1::Node node, NodeFromRow(result, row));
      if (Matches(node, selector)) nodes.push_back(std::move(node));
    }
    return absl::OkStatus();
  }));
  return nodes;
}

absl::Status PgStore::DeleteNode(const std::string& name) {
  return WithConn([&](PgConn& conn) -> absl::Status {
    PLUMB_ASSIGN_OR_RETURN(PgResult result,
                           conn.Query("DELETE FROM nodes WHERE name = $1", {PgParam::Text(name)}));
    if (result.affected() == 0) return absl::NotFoundError(absl::StrCat("no node named ", name));
    return absl::OkStatus();
  });
}

absl::StatusOr<std::map<v1::NodeStatus, int64_t>> PgStore::CountNodesByStatus() {
  std::map<v1::NodeStatus, int64_t> counts;
  PLUMB_RETURN_IF_ERROR(WithConn([&](PgConn& conn) -> absl::Status {
    PLUMB_ASSIGN_OR_RETURN(
        PgResult result,
        conn.Query(absl::StrCat("SELECT status, count(*) FROM ", NodeRows(), " GROUP BY status")));
    for (int row = 0; row < result.rows(); ++row) {
      counts[static_cast<v1::NodeStatus>(result.Int(row, 0))] = result.Int(row, 1);
    }
    return absl::OkStatus();
  }));
  return counts;
}

absl::Status PgStore::Ping() {
  return WithConn([](PgConn& conn) { return conn.Query("SELECT 1").status(); });
}

}  // namespace plumb
