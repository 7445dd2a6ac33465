#pragma once

// The PostgreSQL store's schema and its migrations.

#include "absl/status/status.h"

namespace plumb {

class PgConn;

// Brings the database's schema to this server's version, in one transaction under an advisory
// lock: idempotent, and safe when several replicas start at once (the others wait, then find
// nothing to do). Records each applied version in `plumb_schema_version`. FailedPrecondition
// when the database's schema is newer than this server's.
absl::Status MigratePgSchema(PgConn& conn);

// The newest schema version this server knows.
int PgSchemaVersion();

}  // namespace plumb
