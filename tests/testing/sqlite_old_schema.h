#pragma once

// Migration tests that take a SQLite database back to an older schema version drop what the
// newer migrations created. This SQL undoes migration 5 (revision lines: environment-keyed
// revisions, env_serving, env_rollout_state), putting back the version-4 tables, empty.

namespace plumb::testing {

inline constexpr char kSqliteUndoRevisionLines[] = R"sql(
DROP TABLE revisions;
DROP TABLE env_serving;
DROP TABLE env_rollout_state;
CREATE TABLE revisions (
  sha TEXT PRIMARY KEY,
  status INTEGER NOT NULL,
  fetched_ms INTEGER NOT NULL,
  summary TEXT NOT NULL,
  proto BLOB NOT NULL
);
CREATE INDEX revisions_by_fetched ON revisions (fetched_ms);
CREATE TABLE serving (
  id INTEGER PRIMARY KEY CHECK (id = 1),
  sha TEXT NOT NULL
);
)sql";

}  // namespace plumb::testing
