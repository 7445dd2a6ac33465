#include "server/store/postgres/pg_identity_table.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "server/store/postgres/pg_conn.h"
#include "server/store/postgres/pg_schema.h"

namespace plumb {
namespace {

int64_t Millis(absl::Time t) { return absl::ToUnixMillis(t); }

absl::Status NotEnrolled(const std::string& node) {
  return absl::NotFoundError(absl::StrCat("node \"", node, "\" is not enrolled"));
}

}  // namespace

absl::StatusOr<std::unique_ptr<PgIdentityTable>> PgIdentityTable::Open(
    const std::string& url, const std::string& password) {
  PLUMB_ASSIGN_OR_RETURN(std::unique_ptr<PgConn> conn, PgConn::Connect(url, password));
  PLUMB_RETURN_IF_ERROR(MigratePgSchema(*conn));
  return std::unique_ptr<PgIdentityTable>(new PgIdentityTable(std::move(conn)));
}

PgIdentityTable::PgIdentityTable(std::unique_ptr<PgConn> conn) : conn_(std::move(conn)) {}
PgIdentityTable::~PgIdentityTable() = default;

absl::Status PgIdentityTable::InWrite(const std::function<absl::Status(int64_t)>& fn) {
  PLUMB_RETURN_IF_ERROR(conn_->EnsureConnected());
  return conn_->InTransaction([&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) -> absl::Status {
    PLUMB_ASSIGN_OR_RETURN(
        PgResult seq,
        conn_->Query("UPDATE identity_seq SET seq = seq + 1 WHERE id = 1 RETURNING seq"));
    if (seq.rows() != 1) return absl::InternalError("postgresql: identity_seq has no row");
    return fn(seq.Int(0, 0));
  });
}

absl::StatusOr<IdentityRows> PgIdentityTable::Read(int64_t since) {
  absl::MutexLock lock(&mu_);
  PLUMB_RETURN_IF_ERROR(conn_->EnsureConnected());
  IdentityRows rows;
  // The common case (nothing new) in one round trip, outside a transaction.
  PLUMB_ASSIGN_OR_RETURN(PgResult head, conn_->Query("SELECT seq FROM identity_seq WHERE id = 1"));
  if (head.rows() == 1 && head.Int(0, 0) == since && since > 0) {
    rows.seq = since;
    return rows;
  }
  PLUMB_RETURN_IF_ERROR(conn_->InTransaction([&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    // One snapshot for the sequence number and the rows it covers.
    PLUMB_RETURN_IF_ERROR(conn_->ExecScript("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ"));
    return ReadChanges(since, &rows);
  }));
  return rows;
}

absl::Status PgIdentityTable::ReadChanges(int64_t since, IdentityRows* rows) {
  PLUMB_ASSIGN_OR_RETURN(PgResult seq, conn_->Query("SELECT seq FROM identity_seq WHERE id = 1"));
  rows->seq = seq.rows() == 1 ? seq.Int(0, 0) : 0;
  PLUMB_ASSIGN_OR_RETURN(
      PgResult nodes, conn_->Query("SELECT name, public_key_sha256, labels, revoked_ms, generation"
                                   " FROM enrolled_nodes WHERE changed_seq > $1",
                                   {PgParam::Int(since)}));
  for (int i = 0; i < nodes.rows(); ++i) {
    NodeIdentity& n = rows->nodes.emplace_back();
    n.name = nodes.Bytes(i, 0);
    n.public_key_sha256 = nodes.Bytes(i, 1);
    DecodeIdentityLabels(nodes.Bytes(i, 2), &n);
    if (int64_t revoked_ms = nodes.Int(i, 3); revoked_ms != 0) {
      n.revoked = absl::FromUnixMillis(revoked_ms);
    }
    n.generation = nodes.Int(i, 4);
  }
  PLUMB_ASSIGN_OR_RETURN(
      PgResult certs,
      conn_->Query("SELECT c.node, c.fingerprint, c.not_after_ms, c.generation, c.revoked"
                   " FROM node_certs c JOIN enrolled_nodes n ON n.name = c.node"
                   " WHERE n.changed_seq > $1",
                   {PgParam::Int(since)}));
  for (int i = 0; i < certs.rows(); ++i) {
    rows->certs.push_back({certs.Bytes(i, 0), certs.Bytes(i, 1),
                           absl::FromUnixMillis(certs.Int(i, 2)), certs.Int(i, 3),
                           certs.Int(i, 4) != 0});
  }
  PLUMB_ASSIGN_OR_RETURN(PgResult operators,
                         conn_->Query("SELECT fingerprint FROM operator_certs WHERE revoked_ms != 0"
                                      " AND changed_seq > $1",
                                      {PgParam::Int(since)}));
  for (int i = 0; i < operators.rows(); ++i) {
    rows->revoked_operator_certs.push_back(operators.Bytes(i, 0));
  }
  return absl::OkStatus();
}

absl::Status PgIdentityTable::InsertCert(const std::string& node, int64_t generation,
                                         const CertInfo& cert, absl::Time now) {
  return conn_
      ->Query(
          "INSERT INTO node_certs (fingerprint, node, serial, issued_ms, not_after_ms,"
          " revoked, generation) VALUES ($1, $2, $3, $4, $5, false, $6)"
          " ON CONFLICT (fingerprint) DO UPDATE SET node = excluded.node,"
          " serial = excluded.serial, issued_ms = excluded.issued_ms,"
          " not_after_ms = excluded.not_after_ms, revoked = false,"
          " generation = excluded.generation",
          {PgParam::Text(cert.fingerprint), PgParam::Text(node), PgParam::Text(cert.serial_hex),
           PgParam::Int(Millis(now)), PgParam::Int(Millis(cert.not_after)),
           PgParam::Int(generation)})
      .status();
}

absl::StatusOr<int64_t> PgIdentityTable::RecordEnrollment(const NodeIdentity& node,
                                                          const CertInfo& cert, absl::Time now) {
  absl::MutexLock lock(&mu_);
  int64_t generation = 0;
  PLUMB_RETURN_IF_ERROR(InWrite([&](int64_t seq) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    PLUMB_ASSIGN_OR_RETURN(
        PgResult row,
        conn_->Query(
            "INSERT INTO enrolled_nodes (name, public_key_sha256, labels, enrolled_ms,"
            " revoked_ms, generation, changed_seq) VALUES ($1, $2, $3, $4, 0, 1, $5)"
            " ON CONFLICT (name) DO UPDATE SET public_key_sha256 = excluded.public_key_sha256,"
            " labels = excluded.labels, enrolled_ms = excluded.enrolled_ms, revoked_ms = 0,"
            " generation = enrolled_nodes.generation + 1, changed_seq = excluded.changed_seq"
            " WHERE enrolled_nodes.revoked_ms != 0"
            " OR enrolled_nodes.public_key_sha256 = excluded.public_key_sha256"
            " RETURNING generation",
            {PgParam::Text(node.name), PgParam::Text(node.public_key_sha256),
             PgParam::Bytes(EncodeIdentityLabels(node)), PgParam::Int(Millis(now)),
             PgParam::Int(seq)}));
    // No row: the name is enrolled, unrevoked, with another key (the WHERE above).
    if (row.rows() == 0) return NameTakenError(node.name);
    generation = row.Int(0, 0);
    return InsertCert(node.name, generation, cert, now);
  }));
  return generation;
}

absl::Status PgIdentityTable::RecordRenewal(const std::string& node, int64_t generation,
                                            const CertInfo& cert, absl::Time now) {
  absl::MutexLock lock(&mu_);
  return InWrite([&](int64_t seq) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) -> absl::Status {
    // Under identity_seq's lock: a revocation or re-enrollment on any replica either committed
    // before (and is seen here) or waits until this commits.
    PLUMB_ASSIGN_OR_RETURN(
        PgResult state,
        conn_->Query("SELECT generation, revoked_ms FROM enrolled_nodes WHERE name = $1",
                     {PgParam::Text(node)}));
    if (state.rows() == 0) return NotEnrolled(node);
    bool revoked = state.Int(0, 1) != 0;
    if (revoked || state.Int(0, 0) != generation) {
      return absl::PermissionDeniedError(absl::StrCat(
          "node \"", node, "\" was ", revoked ? "revoked" : "enrolled again",
          " while its certificate was being renewed; the renewed certificate is not valid"));
    }
    PLUMB_RETURN_IF_ERROR(InsertCert(node, generation, cert, now));
    return conn_
        ->Query("UPDATE enrolled_nodes SET changed_seq = $2 WHERE name = $1",
                {PgParam::Text(node), PgParam::Int(seq)})
        .status();
  });
}

absl::StatusOr<std::vector<std::string>> PgIdentityTable::Revoke(const std::string& node,
                                                                 absl::Time now) {
  absl::MutexLock lock(&mu_);
  std::vector<std::string> fingerprints;
  PLUMB_RETURN_IF_ERROR(InWrite([&](int64_t seq) ABSL_EXCLUSIVE_LOCKS_REQUIRED(
                                    mu_) -> absl::Status {
    PLUMB_ASSIGN_OR_RETURN(
        PgResult updated,
        conn_->Query("UPDATE enrolled_nodes SET revoked_ms = $2, changed_seq = $3 WHERE name = $1",
                     {PgParam::Text(node), PgParam::Int(std::max<int64_t>(1, Millis(now))),
                      PgParam::Int(seq)}));
    if (updated.affected() == 0) {
      return absl::NotFoundError(absl::StrCat("node \"", node, "\" was never enrolled"));
    }
    PLUMB_ASSIGN_OR_RETURN(
        PgResult certs,
        conn_->Query("UPDATE node_certs SET revoked = true WHERE node = $1 RETURNING fingerprint",
                     {PgParam::Text(node)}));
    for (int i = 0; i < certs.rows(); ++i) fingerprints.push_back(certs.Bytes(i, 0));
    return absl::OkStatus();
  }));
  return fingerprints;
}

absl::Status PgIdentityTable::RecordOperatorCert(const CertInfo& cert, absl::Time now) {
  absl::MutexLock lock(&mu_);
  return InWrite([&](int64_t seq) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return conn_
        ->Query(
            "INSERT INTO operator_certs (fingerprint, name, serial, issued_ms, not_after_ms,"
            " changed_seq) VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (fingerprint) DO"
            " UPDATE SET name = excluded.name, serial = excluded.serial,"
            " issued_ms = excluded.issued_ms, not_after_ms = excluded.not_after_ms,"
            " revoked_ms = 0, changed_seq = excluded.changed_seq",
            {PgParam::Text(cert.fingerprint), PgParam::Text(cert.common_name),
             PgParam::Text(cert.serial_hex), PgParam::Int(Millis(now)),
             PgParam::Int(Millis(cert.not_after)), PgParam::Int(seq)})
        .status();
  });
}

absl::StatusOr<std::vector<std::string>> PgIdentityTable::RevokeOperator(const std::string& name,
                                                                         absl::Time now) {
  absl::MutexLock lock(&mu_);
  std::vector<std::string> fingerprints;
  bool known = false;
  PLUMB_RETURN_IF_ERROR(
      InWrite([&](int64_t seq) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) -> absl::Status {
        PLUMB_ASSIGN_OR_RETURN(PgResult any,
                               conn_->Query("SELECT 1 FROM operator_certs WHERE name = $1 LIMIT 1",
                                            {PgParam::Text(name)}));
        known = any.rows() > 0;
        PLUMB_ASSIGN_OR_RETURN(
            PgResult revoked,
            conn_->Query("UPDATE operator_certs SET revoked_ms = $2, changed_seq = $3"
                         " WHERE name = $1 AND revoked_ms = 0 RETURNING fingerprint",
                         {PgParam::Text(name), PgParam::Int(std::max<int64_t>(1, Millis(now))),
                          PgParam::Int(seq)}));
        for (int i = 0; i < revoked.rows(); ++i) fingerprints.push_back(revoked.Bytes(i, 0));
        return absl::OkStatus();
      }));
  if (!known) {
    return absl::NotFoundError(
        absl::StrCat("no operator certificate was issued to \"", name,
                     "\" (plumb-server ca issue-operator NAME issues them)"));
  }
  return fingerprints;
}

absl::StatusOr<std::vector<OperatorCert>> PgIdentityTable::ListOperatorCerts() {
  absl::MutexLock lock(&mu_);
  PLUMB_RETURN_IF_ERROR(conn_->EnsureConnected());
  PLUMB_ASSIGN_OR_RETURN(
      PgResult rows,
      conn_->Query("SELECT name, serial, fingerprint, issued_ms, not_after_ms, revoked_ms"
                   " FROM operator_certs ORDER BY issued_ms DESC, name"));
  std::vector<OperatorCert> certs;
  for (int i = 0; i < rows.rows(); ++i) {
    OperatorCert& c = certs.emplace_back();
    c.name = rows.Bytes(i, 0);
    c.serial_hex = rows.Bytes(i, 1);
    c.fingerprint = rows.Bytes(i, 2);
    c.issued = absl::FromUnixMillis(rows.Int(i, 3));
    c.not_after = absl::FromUnixMillis(rows.Int(i, 4));
    if (int64_t revoked_ms = rows.Int(i, 5); revoked_ms != 0) {
      c.revoked = absl::FromUnixMillis(revoked_ms);
    }
  }
  return certs;
}

absl::Status PgIdentityTable::AgreeOnCa(const std::string& fingerprint) {
  absl::MutexLock lock(&mu_);
  PLUMB_RETURN_IF_ERROR(conn_->EnsureConnected());
  PLUMB_RETURN_IF_ERROR(
      conn_
          ->Query("INSERT INTO plumb_ca (id, fingerprint, recorded_ms) VALUES (1, $1, $2)"
                  " ON CONFLICT (id) DO NOTHING",
                  {PgParam::Text(fingerprint), PgParam::Int(Millis(absl::Now()))})
          .status());
  PLUMB_ASSIGN_OR_RETURN(PgResult row, conn_->Query("SELECT fingerprint FROM plumb_ca"));
  std::string recorded = row.rows() == 1 ? row.Bytes(0, 0) : "";
  if (recorded == fingerprint) return absl::OkStatus();
  return absl::FailedPreconditionError(absl::StrCat(
      "the built-in CA in this server's state_dir/ca (sha256 ", fingerprint,
      ") is not the CA the servers on this database issue from (sha256 ", recorded,
      "): every replica needs the same CA; copy state_dir/ca from the server that made it"
      " (docs/postgresql.md, \"CA\")"));
}

}  // namespace plumb
