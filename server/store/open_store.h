#pragma once

// Picks the fleet store from the configuration: PostgreSQL when store.url is set, else the
// embedded SQLite file (the default).

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "server/store/identity_store.h"
#include "server/store/leadership.h"
#include "server/store/replica_link.h"
#include "server/store/store.h"

namespace plumb {

// Where the fleet state lives (server.yaml `store:`).
struct StoreSettings {
  std::string url;            // empty: SQLite at sqlite_path
  std::string password_file;  // first line is the PostgreSQL password; optional
  std::string sqlite_path;
  // PostgreSQL: nodes read `connected` from the replicas' presence rows (a server, not tools).
  bool replicas = false;
};

// Opens (and migrates) the store. InvalidArgument when the password file cannot be read or is
// empty; Unavailable when PostgreSQL cannot be reached.
absl::StatusOr<std::unique_ptr<Store>> OpenStore(const StoreSettings& settings);

// The revision poller's leadership: AlwaysLeader with SQLite, else an advisory lock on its own
// PostgreSQL connection (server/store/postgres/pg_leadership.h).
absl::StatusOr<std::unique_ptr<Leadership>> OpenLeadership(const StoreSettings& settings);

// Enrolled identities: in PostgreSQL with store.url (shared by every server on the database),
// else in the SQLite file at sqlite_path. Errors as OpenStore's.
absl::StatusOr<std::unique_ptr<IdentityStore>> OpenIdentityStore(const StoreSettings& settings);
// What replicas exchange at run time: null with SQLite (one server), else a PgReplicaLink on
// connections of its own (server/store/postgres/pg_replica_link.h), not started.
absl::StatusOr<std::unique_ptr<ReplicaLink>> OpenReplicaLink(const StoreSettings& settings);

// Reads the password from `path`: its first line, without the line end.
absl::StatusOr<std::string> ReadPasswordFile(const std::string& path);

}  // namespace plumb
