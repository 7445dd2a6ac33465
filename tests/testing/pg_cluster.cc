#include "tests/testing/pg_cluster.h"

#include <libpq-fe.h>
#include <unistd.h>

#include <cstdlib>

#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "gtest/gtest.h"
#include "tests/testing/test_util.h"

namespace plumb::testing {
namespace {

std::string Script() { return std::string(PLUMB_SOURCE_DIR) + "/tests/testing/pg_cluster.sh"; }

[[noreturn]] void Die(const std::string& message) {
  ADD_FAILURE() << message;
  fprintf(stderr, "%s\n", message.c_str());
  abort();
}

}  // namespace

PgCluster& PgCluster::Shared() {
  static PgCluster* cluster = [] {
    std::string out;
    int rc = RunShell(absl::StrCat(ShellQuote(Script()), " start ", getpid(), " 2>&1"), &out);
    std::string dir(absl::StripTrailingAsciiWhitespace(out));
    if (rc != 0 || dir.empty() || dir[0] != '/') {
      Die(absl::StrCat("cannot start a PostgreSQL test cluster: ", out));
    }
    return new PgCluster(dir);
  }();
  // Stopped at exit rather than by a static destructor, so the order against other statics
  // does not matter.
  static const bool registered = [] {
    atexit([] { delete &Shared(); });
    return true;
  }();
  (void)registered;
  return *cluster;
}

PgCluster::~PgCluster() {
  RunShell(absl::StrCat(ShellQuote(Script()), " stop ", ShellQuote(dir_)));
}

std::string PgCluster::NewDatabaseUrl() {
  std::string name = absl::StrCat("test_", ++next_database_);
  std::string admin = absl::StrCat("host=", dir_, " user=plumb dbname=postgres");
  PGconn* conn = PQconnectdb(admin.c_str());
  if (PQstatus(conn) != CONNECTION_OK) Die(absl::StrCat("connect: ", PQerrorMessage(conn)));
  // FILE_COPY: one file copy and a checkpoint, faster than WAL-logging an empty database.
  std::string create = absl::StrCat("CREATE DATABASE ", name, " STRATEGY FILE_COPY");
  PGresult* result = PQexec(conn, create.c_str());
  bool ok = PQresultStatus(result) == PGRES_COMMAND_OK;
  std::string error = PQerrorMessage(conn);
  PQclear(result);
  PQfinish(conn);
  if (!ok) Die(absl::StrCat(create, ": ", error));
  return absl::StrCat("postgresql://plumb@/", name, "?host=", dir_);
}

}  // namespace plumb::testing
