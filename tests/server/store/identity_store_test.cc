// Enrolled identities over both tables (IdentityStoreTest runs on SQLite and PostgreSQL):
// generations, renewals racing revocations and re-enrollments, revocation of node and operator
// certificates, and what survives a reopen. Two servers sharing PostgreSQL:
// postgres/pg_identity_table_test.cc.

#include "server/store/identity_store.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/store/open_store.h"
#include "server/store/sqlite/sqlite_db.h"
#include "tests/testing/store_backends.h"
#include "tests/testing/test_util.h"

namespace plumb {
namespace {

using ::testing::HasSubstr;
using testing::StoreBackend;
using testing::TempDir;

class IdentityStoreTest : public ::testing::TestWithParam<StoreBackend> {
 protected:
  void SetUp() override {
    if (GetParam() == StoreBackend::kPostgres) url_ = testing::PgCluster::Shared().NewDatabaseUrl();
  }
  // A store on this test's database (again: a reopen, or another process on it).
  absl::StatusOr<std::unique_ptr<IdentityStore>> Open() {
    return OpenIdentityStore({url_, "", dir_.Sub("plumb.db")});
  }

  TempDir dir_;
  std::string url_;
};

CertInfo Cert(const std::string& cn, const std::string& fingerprint, absl::Time not_before,
              const std::string& role = kRoleAgent) {
  CertInfo c;
  c.common_name = cn;
  c.role = role;
  c.fingerprint = fingerprint;
  c.serial_hex = "01";
  c.not_before = not_before;
  c.not_after = not_before + absl::Hours(1);
  return c;
}

TEST_P(IdentityStoreTest, RevocationCoversEveryCertificateOfTheNodeAndSurvivesReopen) {
  absl::Time t0 = absl::FromUnixSeconds(1'700'000'000);
  {
    auto store = Open();
    ASSERT_TRUE(store.ok()) << store.status();
    NodeIdentity web{"web-1", "key1", {{"role", "web"}}, {}};
    ASSERT_TRUE((*store)->RecordEnrollment(web, Cert("web-1", "fp1", t0), t0).ok());
    ASSERT_TRUE((*store)->RecordRenewal("web-1", 1, Cert("web-1", "fp2", t0 + absl::Minutes(1)),
                                        t0 + absl::Minutes(1)).ok());
    EXPECT_TRUE(absl::IsNotFound((*store)->RecordRenewal("db-1", 1, Cert("db-1", "x", t0), t0)));
    EXPECT_EQ((*store)->Find("web-1")->labels.at("role"), "web");
    EXPECT_FALSE((*store)->IsRevoked(Cert("web-1", "fp2", t0)));
    auto revoked = (*store)->Revoke("web-1", t0 + absl::Minutes(2));
    ASSERT_TRUE(revoked.ok());
    EXPECT_EQ(*revoked, 2);
    EXPECT_TRUE(absl::IsNotFound((*store)->Revoke("never", t0).status()));
  }
  auto store = Open();
  ASSERT_TRUE(store.ok());
  EXPECT_TRUE((*store)->IsRevoked(Cert("web-1", "fp1", t0)));
  EXPECT_TRUE((*store)->IsRevoked(Cert("web-1", "fp2", t0)));
  // Not a recorded certificate, but of the revoked node and issued before: revoked too.
  EXPECT_TRUE((*store)->IsRevoked(Cert("web-1", "other", t0)));
  EXPECT_FALSE((*store)->IsRevoked(Cert("db-1", "other", t0)));
  EXPECT_TRUE((*store)->Find("web-1")->is_revoked());
  // Re-enrolling clears the node's revocation; its old certificates stay revoked.
  NodeIdentity again{"web-1", "key2", {}, {}};
  absl::Time t1 = t0 + absl::Minutes(5);
  ASSERT_TRUE((*store)->RecordEnrollment(again, Cert("web-1", "fp3", t1), t1).ok());
  EXPECT_FALSE((*store)->IsRevoked(Cert("web-1", "fp3", t1)));
  EXPECT_TRUE((*store)->IsRevoked(Cert("web-1", "fp1", t0)));
}

// After a re-enrollment (same key or not), only the certificate it issued speaks for the node:
// not those of the earlier enrollment, not their renewals, not certificates it never recorded.
TEST_P(IdentityStoreTest, OnlyCertificatesOfTheCurrentEnrollmentAreValid) {
  absl::Time t0 = absl::FromUnixSeconds(1'700'000'000);
  {
    auto store = Open();
    ASSERT_TRUE(store.ok()) << store.status();
    NodeIdentity web{"web-1", "key1", {{"role", "web"}}, {"env"}};
    ASSERT_TRUE((*store)->RecordEnrollment(web, Cert("web-1", "fp1", t0), t0).ok());
    EXPECT_EQ((*store)->Find("web-1")->generation, 1);
    ASSERT_TRUE((*store)->RecordRenewal("web-1", 1, Cert("web-1", "fp2", t0), t0).ok());
    EXPECT_FALSE((*store)->IsRevoked(Cert("web-1", "fp1", t0)));
    EXPECT_FALSE((*store)->IsRevoked(Cert("web-1", "fp2", t0)));
    absl::Time t1 = t0 + absl::Minutes(1);
    ASSERT_TRUE((*store)->RecordEnrollment(web, Cert("web-1", "fp3", t1), t1).ok());
    EXPECT_EQ((*store)->Find("web-1")->generation, 2);
    EXPECT_TRUE((*store)->IsRevoked(Cert("web-1", "fp1", t0)));
    EXPECT_TRUE((*store)->IsRevoked(Cert("web-1", "fp2", t0)));
    EXPECT_FALSE((*store)->IsRevoked(Cert("web-1", "fp3", t1)));
    // A renewal that read the identity before the re-enrollment is refused.
    auto stale = (*store)->RecordRenewal("web-1", 1, Cert("web-1", "fp4", t1), t1);
    EXPECT_TRUE(absl::IsPermissionDenied(stale)) << stale;
    EXPECT_TRUE((*store)->IsRevoked(Cert("web-1", "fp4", t1)));
  }
  auto store = Open();
  ASSERT_TRUE(store.ok());
  EXPECT_TRUE((*store)->IsRevoked(Cert("web-1", "fp1", t0)));
  EXPECT_TRUE((*store)->IsRevoked(Cert("web-1", "fp2", t0)));
  EXPECT_FALSE((*store)->IsRevoked(Cert("web-1", "fp3", t0)));
  EXPECT_TRUE((*store)->IsRevoked(Cert("web-1", "never-recorded", t0 + absl::Hours(1))));
  EXPECT_FALSE((*store)->IsRevoked(Cert("outside-pki-1", "any", t0)));  // not enrolled here
  EXPECT_EQ((*store)->Find("web-1")->allowed_label_keys, std::set<std::string>{"env"});
  EXPECT_EQ((*store)->Find("web-1")->generation, 2);
}

// The renewal checked the node before `plumbctl node revoke` and records its certificate
// after: the record is refused and the certificate stays invalid, also after the node enrolls
// again.
TEST_P(IdentityStoreTest, ARenewalFinishingAfterARevocationIsRevokedToo) {
  absl::Time t0 = absl::FromUnixSeconds(1'700'000'000);
  auto store = Open();
  ASSERT_TRUE(store.ok()) << store.status();
  ASSERT_TRUE((*store)->RecordEnrollment({"web-1", "key1", {}, {}}, Cert("web-1", "fp1", t0), t0).ok());
  int64_t generation = (*store)->Find("web-1")->generation;
  ASSERT_TRUE((*store)->Revoke("web-1", t0).ok());
  // Issued (with clock slack) after the revocation.
  CertInfo renewed = Cert("web-1", "fp2", t0 + absl::Minutes(10));
  auto late = (*store)->RecordRenewal("web-1", generation, renewed, t0 + absl::Minutes(10));
  EXPECT_TRUE(absl::IsPermissionDenied(late)) << late;
  EXPECT_TRUE((*store)->IsRevoked(renewed));
  absl::Time t1 = t0 + absl::Minutes(20);
  ASSERT_TRUE((*store)->RecordEnrollment({"web-1", "key1", {}, {}}, Cert("web-1", "fp3", t1), t1).ok());
  EXPECT_TRUE((*store)->IsRevoked(renewed));
  EXPECT_FALSE((*store)->IsRevoked(Cert("web-1", "fp3", t1)));
}

// A plumb.db written before generations existed: its nodes' certificates stay valid.
TEST(SqliteIdentityStoreTest, ADatabaseFromBeforeGenerationsKeepsItsCertificates) {
  TempDir dir;
  {
    auto db = SqliteDb::Open(dir.Sub("plumb.db"));
    ASSERT_TRUE(db.ok());
    ASSERT_TRUE((*db)->Exec(
        "CREATE TABLE enrolled_nodes (name TEXT PRIMARY KEY, public_key_sha256 TEXT NOT NULL,"
        " labels BLOB NOT NULL, enrolled_ms INTEGER NOT NULL,"
        " revoked_ms INTEGER NOT NULL DEFAULT 0);"
        "CREATE TABLE node_certs (fingerprint TEXT PRIMARY KEY, node TEXT NOT NULL,"
        " serial TEXT NOT NULL, issued_ms INTEGER NOT NULL, not_after_ms INTEGER NOT NULL,"
        " revoked INTEGER NOT NULL DEFAULT 0);"
        "INSERT INTO enrolled_nodes VALUES ('web-1', 'key1', x'', 1, 0);"
        "INSERT INTO node_certs VALUES ('fp1', 'web-1', '01', 1, 9999999999999, 0);").ok());
  }
  auto store = IdentityStore::Open(dir.Sub("plumb.db"));
  ASSERT_TRUE(store.ok()) << store.status();
  absl::Time t0 = absl::FromUnixSeconds(1'700'000'000);
  EXPECT_FALSE((*store)->IsRevoked(Cert("web-1", "fp1", t0)));
  EXPECT_TRUE((*store)->IsRevoked(Cert("web-1", "fp-other", t0)));
  ASSERT_TRUE((*store)->RecordRenewal("web-1", 0, Cert("web-1", "fp2", t0), t0).ok());
  EXPECT_FALSE((*store)->IsRevoked(Cert("web-1", "fp2", t0)));
}

TEST_P(IdentityStoreTest, OperatorCertificatesAreRevokedOneOperatorAtATime) {
  absl::Time t0 = absl::FromUnixSeconds(1'700'000'000);
  CertInfo alice = Cert("alice", "fa1", t0, kRoleOperator);
  CertInfo bob1 = Cert("bob", "fb1", t0, kRoleOperator);
  CertInfo bob2 = Cert("bob", "fb2", t0 + absl::Minutes(1), kRoleOperator);
  {
    auto store = Open();
    ASSERT_TRUE(store.ok()) << store.status();
    ASSERT_TRUE((*store)->RecordOperatorCert(alice, t0).ok());
    ASSERT_TRUE((*store)->RecordOperatorCert(bob1, t0).ok());
    // Issued by another process (plumb-server ca issue-operator) on the same database.
    auto other = Open();
    ASSERT_TRUE(other.ok());
    ASSERT_TRUE((*other)->RecordOperatorCert(bob2, t0 + absl::Minutes(1)).ok());

    auto revoked = (*store)->RevokeOperator("bob", t0 + absl::Minutes(2));
    ASSERT_TRUE(revoked.ok()) << revoked.status();
    EXPECT_EQ(*revoked, 2);
    EXPECT_TRUE((*store)->IsRevoked(bob1));
    EXPECT_TRUE((*store)->IsRevoked(bob2));  // learned from the database, not memory
    EXPECT_FALSE((*store)->IsRevoked(alice));
    // Again: nothing new to revoke, but the name is known.
    auto again = (*store)->RevokeOperator("bob", t0 + absl::Minutes(3));
    ASSERT_TRUE(again.ok());
    EXPECT_EQ(*again, 0);
    auto unknown = (*store)->RevokeOperator("mallory", t0);
    EXPECT_TRUE(absl::IsNotFound(unknown.status()));
    EXPECT_THAT(std::string(unknown.status().message()), HasSubstr("mallory"));
  }
  auto store = Open();
  ASSERT_TRUE(store.ok());
  EXPECT_TRUE((*store)->IsRevoked(bob1));
  EXPECT_TRUE((*store)->IsRevoked(bob2));
  EXPECT_FALSE((*store)->IsRevoked(alice));
  // A new certificate for bob is not revoked: revocation is per certificate.
  CertInfo bob3 = Cert("bob", "fb3", t0 + absl::Minutes(10), kRoleOperator);
  ASSERT_TRUE((*store)->RecordOperatorCert(bob3, t0 + absl::Minutes(10)).ok());
  EXPECT_FALSE((*store)->IsRevoked(bob3));

  auto list = (*store)->ListOperatorCerts();
  ASSERT_TRUE(list.ok()) << list.status();
  ASSERT_EQ(list->size(), 4u);
  EXPECT_EQ((*list)[0].fingerprint, "fb3");  // newest first
  EXPECT_FALSE((*list)[0].is_revoked());
  int revoked = 0;
  for (const OperatorCert& c : *list) revoked += c.is_revoked();
  EXPECT_EQ(revoked, 2);
}

TEST_P(IdentityStoreTest, ARevokedNodeNameDoesNotRevokeAnOperatorOfTheSameName) {
  absl::Time t0 = absl::FromUnixSeconds(1'700'000'000);
  auto store = Open();
  ASSERT_TRUE(store.ok());
  ASSERT_TRUE((*store)->RecordEnrollment({"ops", "key", {}, {}}, Cert("ops", "n1", t0), t0).ok());
  ASSERT_TRUE((*store)->Revoke("ops", t0 + absl::Minutes(1)).ok());
  EXPECT_TRUE((*store)->IsRevoked(Cert("ops", "n2", t0)));
  EXPECT_FALSE((*store)->IsRevoked(Cert("ops", "o1", t0, kRoleOperator)));
}

// The store itself refuses to give an enrolled name to another key (Enrollment checks first,
// but another server on the database may have enrolled it since this one looked).
TEST_P(IdentityStoreTest, ANameEnrolledWithAnotherKeyIsRefusedUntilRevoked) {
  absl::Time t0 = absl::FromUnixSeconds(1'700'000'000);
  auto store = Open();
  ASSERT_TRUE(store.ok()) << store.status();
  ASSERT_TRUE((*store)->RecordEnrollment({"web-1", "key1", {}, {}}, Cert("web-1", "fp1", t0), t0).ok());
  absl::Status taken =
      (*store)->RecordEnrollment({"web-1", "key2", {}, {}}, Cert("web-1", "fp2", t0), t0);
  EXPECT_TRUE(absl::IsAlreadyExists(taken)) << taken;
  EXPECT_THAT(std::string(taken.message()), HasSubstr("plumbctl node revoke web-1"));
  EXPECT_EQ((*store)->Find("web-1")->public_key_sha256, "key1");
  EXPECT_TRUE((*store)->IsRevoked(Cert("web-1", "fp2", t0)));
  EXPECT_FALSE((*store)->IsRevoked(Cert("web-1", "fp1", t0)));
  ASSERT_TRUE((*store)->Revoke("web-1", t0).ok());
  EXPECT_TRUE((*store)->RecordEnrollment({"web-1", "key2", {}, {}}, Cert("web-1", "fp3", t0), t0).ok());
  EXPECT_EQ((*store)->Find("web-1")->public_key_sha256, "key2");
}

PLUMB_INSTANTIATE_STORE_BACKENDS(IdentityStoreTest);

}  // namespace
}  // namespace plumb
