// PgStore's rollout rows (issue 14): the rollout controller's whole state as one row, and one
// pin per node; the same contract as SqliteStore's (store.h).

#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "server/store/postgres/pg_conn.h"
#include "server/store/postgres/pg_store.h"
#include "server/store/stored_proto.h"

namespace plumb {

absl::Status PgStore::PutRolloutState(const v1::RolloutState& state) {
  return WithConn([&](PgConn& conn) {
    return conn
        .Query("INSERT INTO rollout_state (id, proto) VALUES (1, $1)"
               " ON CONFLICT (id) DO UPDATE SET proto = excluded.proto",
               {PgParam::Bytes(state.SerializeAsString())})
        .status();
  });
}

absl::StatusOr<v1::RolloutState> PgStore::GetRolloutState() {
  std::string bytes;
  bool found = false;
  PLUMB_RETURN_IF_ERROR(WithConn([&](PgConn& conn) -> absl::Status {
    PLUMB_ASSIGN_OR_RETURN(PgResult result,
                           conn.Query("SELECT proto FROM rollout_state WHERE id = 1", {}));
    found = result.rows() > 0;
    if (found) bytes = result.Bytes(0, 0);
    return absl::OkStatus();
  }));
  if (!found) return absl::NotFoundError("no rollout state stored");
  return ParseStored<v1::RolloutState>(bytes, "rollout state");
}

absl::Status PgStore::PutEnvironmentRolloutState(const std::string& environment,
                                                 const v1::RolloutState& state) {
  if (environment.empty()) return absl::InvalidArgumentError("the single line: PutRolloutState");
  return WithConn([&](PgConn& conn) {
    return conn
        .Query("INSERT INTO env_rollout_state (environment, proto) VALUES ($1, $2)"
               " ON CONFLICT (environment) DO UPDATE SET proto = excluded.proto",
               {PgParam::Text(environment), PgParam::Bytes(state.SerializeAsString())})
        .status();
  });
}

absl::StatusOr<v1::RolloutState> PgStore::GetEnvironmentRolloutState(
    const std::string& environment) {
  if (environment.empty()) return absl::InvalidArgumentError("the single line: GetRolloutState");
  std::string bytes;
  bool found = false;
  PLUMB_RETURN_IF_ERROR(WithConn([&](PgConn& conn) -> absl::Status {
    PLUMB_ASSIGN_OR_RETURN(
        PgResult result, conn.Query("SELECT proto FROM env_rollout_state WHERE environment = $1",
                                    {PgParam::Text(environment)}));
    found = result.rows() > 0;
    if (found) bytes = result.Bytes(0, 0);
    return absl::OkStatus();
  }));
  if (!found) return absl::NotFoundError("no rollout state stored");
  return ParseStored<v1::RolloutState>(bytes, "rollout state");
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
