#include "server/store/open_store.h"

#include <fstream>

#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "server/store/postgres/pg_identity_table.h"
#include "server/store/postgres/pg_leadership.h"
#include "server/store/postgres/pg_replica_link.h"
#include "server/store/postgres/pg_store.h"
#include "server/store/sqlite/sqlite_store.h"

namespace plumb {

absl::StatusOr<std::string> ReadPasswordFile(const std::string& path) {
  std::ifstream in(path);
  if (!in)
    return absl::InvalidArgumentError(absl::StrCat("store.password_file: cannot read ", path));
  std::string password;
  std::getline(in, password);
  if (!password.empty() && password.back() == '\r') password.pop_back();
  if (password.empty()) {
    return absl::InvalidArgumentError(absl::StrCat("store.password_file: ", path, " is empty"));
  }
  return password;
}

absl::StatusOr<std::unique_ptr<Store>> OpenStore(const StoreSettings& settings) {
  if (settings.url.empty()) {
    PLUMB_ASSIGN_OR_RETURN(std::unique_ptr<SqliteStore> store,
                           SqliteStore::Open(settings.sqlite_path));
    return std::unique_ptr<Store>(std::move(store));
  }
  std::string password;
  if (!settings.password_file.empty()) {
    PLUMB_ASSIGN_OR_RETURN(password, ReadPasswordFile(settings.password_file));
  }
  PLUMB_ASSIGN_OR_RETURN(std::unique_ptr<PgStore> store, PgStore::Open(settings.url, password));
  if (settings.replicas) store->EnablePresence();
  return std::unique_ptr<Store>(std::move(store));
}

absl::StatusOr<std::unique_ptr<Leadership>> OpenLeadership(const StoreSettings& settings) {
  if (settings.url.empty()) return std::unique_ptr<Leadership>(new AlwaysLeader());
  std::string password;
  if (!settings.password_file.empty()) {
    PLUMB_ASSIGN_OR_RETURN(password, ReadPasswordFile(settings.password_file));
  }
  PLUMB_ASSIGN_OR_RETURN(std::unique_ptr<PgLeadership> leadership,
                         PgLeadership::Open(settings.url, password));
  return std::unique_ptr<Leadership>(std::move(leadership));
}

absl::StatusOr<std::unique_ptr<IdentityStore>> OpenIdentityStore(const StoreSettings& settings) {
  if (settings.url.empty()) return IdentityStore::Open(settings.sqlite_path);
  std::string password;
  if (!settings.password_file.empty()) {
    PLUMB_ASSIGN_OR_RETURN(password, ReadPasswordFile(settings.password_file));
  }
  PLUMB_ASSIGN_OR_RETURN(std::unique_ptr<PgIdentityTable> table,
                         PgIdentityTable::Open(settings.url, password));
  return IdentityStore::Open(std::unique_ptr<IdentityTable>(std::move(table)));
}

absl::StatusOr<std::unique_ptr<ReplicaLink>> OpenReplicaLink(const StoreSettings& settings) {
  if (settings.url.empty()) return std::unique_ptr<ReplicaLink>();
  std::string password;
  if (!settings.password_file.empty()) {
    PLUMB_ASSIGN_OR_RETURN(password, ReadPasswordFile(settings.password_file));
  }
  PLUMB_ASSIGN_OR_RETURN(
      std::unique_ptr<PgReplicaLink> link,
      PgReplicaLink::Open(settings.url, password, PgReplicaLink::NewReplicaId()));
  return std::unique_ptr<ReplicaLink>(std::move(link));
}

}  // namespace plumb
