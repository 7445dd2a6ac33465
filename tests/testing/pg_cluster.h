#pragma once

// A throwaway PostgreSQL cluster for tests: started by tests/testing/pg_cluster.sh (initdb as an
// unprivileged user, a unix socket in a temp dir), one per test process, stopped and removed when
// the process exits. Each test asks it for a fresh database.

#include <string>

namespace plumb::testing {

// Thread-compatible. Lives for the whole test process (see Shared()).
class PgCluster {
 public:
  // The process's cluster, started on first use (~0.3 s; ~1.5 s the first time on a machine,
  // when initdb builds the cached template). Aborts the test process if it cannot start.
  // A function-local static on purpose: one cluster per test binary, stopped at exit (and by the
  // script's watchdog if the process dies).
  static PgCluster& Shared();
  ~PgCluster();

  // Creates a new, empty database and returns its libpq URL
  // (postgresql://plumb@/NAME?host=SOCKET_DIR). Aborts the test on failure.
  std::string NewDatabaseUrl();
  // The unix socket directory (libpq's host).
  const std::string& socket_dir() const { return dir_; }

 private:
  explicit PgCluster(std::string dir) : dir_(std::move(dir)) {}
  std::string dir_;
  int next_database_ = 0;
};

}  // namespace plumb::testing
