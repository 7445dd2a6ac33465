// PgStore's rollout rows (issue 14): the rollout controller's header row, one row per node
// outcome, and one pin per node; the same contract as SqliteStore's (store.h).

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "server/store/postgres/pg_conn.h"
#include "server/store/postgres/pg_leadership.h"
#include "server/store/postgres/pg_store.h"
#include "server/store/stored_proto.h"

namespace plumb {

namespace {

// The header of line `environment`: the single line's row in rollout_state, a named line's in
// env_rollout_state.
absl::Status WriteHeader(PgConn& conn, const std::string& env, const v1::RolloutState& state) {
  if (env.empty()) {
    return conn.Query("INSERT INTO rollout_state (id, proto) VALUES (1, $1)"
                      " ON CONFLICT (id) DO UPDATE SET proto = excluded.proto",
                      {PgParam::Bytes(state.SerializeAsString())})
        .status();
  }
  return conn.Query("INSERT INTO env_rollout_state (environment, proto) VALUES ($1, $2)"
                    " ON CONFLICT (environment) DO UPDATE SET proto = excluded.proto",
                    {PgParam::Text(env), PgParam::Bytes(state.SerializeAsString())})
      .status();
}

absl::StatusOr<PgResult> ReadHeader(PgConn& conn, const std::string& env) {
  if (env.empty()) return conn.Query("SELECT proto FROM rollout_state WHERE id = 1", {});
  return conn.Query("SELECT proto FROM env_rollout_state WHERE environment = $1",
                    {PgParam::Text(env)});
}

}  // namespace

absl::Status PgStore::PutRolloutState(const std::string& environment,
                                      const v1::RolloutState& state) {
  return WithConn([&](PgConn& conn) {
    return conn.InTransaction([&]() -> absl::Status {
      PLUMB_RETURN_IF_ERROR(WriteHeader(conn, environment, state));
      PLUMB_RETURN_IF_ERROR(
          conn.Query("DELETE FROM rollout_nodes WHERE environment = $1 AND rollout_id <> $2",
                     {PgParam::Text(environment), PgParam::Int(static_cast<int64_t>(state.id()))})
              .status());
      // Delivered at commit: followers waiting for a new revision's rollout take it up at
      // once (RevisionPoller::Follow), rather than at their next poll.
      return conn.Query("SELECT pg_notify($1, $2)",
                        {PgParam::Text(kServingChannel), PgParam::Text("rollout")})
          .status();
    });
  });
}

absl::Status PgStore::PutRolloutNodes(const std::string& environment, uint64_t rollout_id,
                                      const std::vector<RolloutNodeRow>& rows) {
  PgArray nodes, waves, outcomes, errors, times;
  for (const RolloutNodeRow& row : rows) {
    if (row.node.empty()) return absl::InvalidArgumentError("rollout node row without a node");
    nodes.AddText(row.node);
    waves.AddInt(row.result.wave());
    outcomes.AddInt(row.result.outcome());
    // A text parameter cannot hold NUL; the error is for people (a resource's message).
    std::string error = row.result.error();
    error.erase(std::remove(error.begin(), error.end(), '\0'), error.end());
    errors.AddText(error);
    times.AddInt(row.result.unix_ms());
  }
  if (rows.empty()) return absl::OkStatus();
  // One statement for the batch; a node twice in it would be refused (ON CONFLICT touches a
  // row once per statement), and the controller sends each node once per batch.
  return WithConn([&](PgConn& conn) {
    return conn
        .Query("INSERT INTO rollout_nodes (environment, rollout_id, node, wave, outcome, error,"
               " unix_ms) SELECT $7, $1, n, w, o, e, u FROM unnest($2::text[], $3::integer[],"
               " $4::integer[], $5::text[], $6::bigint[]) AS t(n, w, o, e, u)"
               " ON CONFLICT (environment, rollout_id, node) DO UPDATE SET wave = excluded.wave,"
               " outcome = excluded.outcome, error = excluded.error, unix_ms = excluded.unix_ms"
               // Newest wins (store.h): a higher outcome, or the same one noted later.
               " WHERE excluded.outcome > rollout_nodes.outcome OR"
               " (excluded.outcome = rollout_nodes.outcome AND"
               " excluded.unix_ms >= rollout_nodes.unix_ms)",
               {PgParam::Int(static_cast<int64_t>(rollout_id)), nodes.Param(), waves.Param(),
                outcomes.Param(), errors.Param(), times.Param(), PgParam::Text(environment)})
        .status();
  });
}

absl::StatusOr<v1::RolloutState> PgStore::GetRolloutState(const std::string& environment) {
  bool found = false;
  v1::RolloutState state;
  PLUMB_RETURN_IF_ERROR(WithConn([&](PgConn& conn) -> absl::Status {
    // One snapshot for the header and its rows.
    return conn.InTransaction([&]() -> absl::Status {
      PLUMB_ASSIGN_OR_RETURN(PgResult result, ReadHeader(conn, environment));
      found = result.rows() > 0;
      if (!found) return absl::OkStatus();
      PLUMB_ASSIGN_OR_RETURN(state,
                             ParseStored<v1::RolloutState>(result.Bytes(0, 0), "rollout state"));
      PLUMB_ASSIGN_OR_RETURN(
          PgResult rows,
          conn.Query("SELECT node, wave::bigint, outcome::bigint, error, unix_ms"
                     " FROM rollout_nodes WHERE environment = $2 AND rollout_id = $1",
                     {PgParam::Int(static_cast<int64_t>(state.id())),
                      PgParam::Text(environment)}));
      auto* nodes = state.mutable_nodes();
      for (int row = 0; row < rows.rows(); ++row) {
        v1::RolloutNodeResult& r = (*nodes)[rows.Bytes(row, 0)];
        r.set_wave(static_cast<uint32_t>(rows.Int(row, 1)));
        r.set_outcome(static_cast<v1::RolloutOutcome>(rows.Int(row, 2)));
        r.set_error(rows.Bytes(row, 3));
        r.set_unix_ms(rows.Int(row, 4));
      }
      return absl::OkStatus();
    });
  }));
  if (!found) return absl::NotFoundError("no rollout state stored");
  return state;
}

absl::Status PgStore::PutPin(const v1::Pin& pin) {
  if (pin.node().empty()) return absl::InvalidArgumentError("pin without a node");
  return WithConn([&](PgConn& conn) {
    return conn
        .Query("INSERT INTO pins (node, proto) VALUES ($1, $2)"
               " ON CONFLICT (node) DO UPDATE SET proto = excluded.proto",
               {PgParam::Text(pin.node()), PgParam::Bytes(pin.SerializeAsString())})
        .status();
  });
}

absl::Status PgStore::DeletePin(const std::string& node) {
  return WithConn([&](PgConn& conn) {
    return conn.Query("DELETE FROM pins WHERE node = $1", {PgParam::Text(node)}).status();
  });
}

absl::StatusOr<std::vector<v1::Pin>> PgStore::ListPins() {
  std::vector<std::string> rows;
  PLUMB_RETURN_IF_ERROR(WithConn([&](PgConn& conn) -> absl::Status {
    PLUMB_ASSIGN_OR_RETURN(PgResult result, conn.Query("SELECT proto FROM pins ORDER BY node", {}));
    for (int row = 0; row < result.rows(); ++row) rows.push_back(result.Bytes(row, 0));
    return absl::OkStatus();
  }));
  std::vector<v1::Pin> pins;
  for (const std::string& bytes : rows) {
    PLUMB_ASSIGN_OR_RETURN(v1::Pin pin, ParseStored<v1::Pin>(bytes, "pin"));
    pins.push_back(std::move(pin));
  }
  return pins;
}

}  // namespace plumb
