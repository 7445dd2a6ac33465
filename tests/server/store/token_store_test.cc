// Join tokens in a real SQLite file and in PostgreSQL (TokenStoreTest runs on both): only
// hashes stored, TTL against a fake clock, uses,
// node-name globs; and enrolled identities with revocation.

#include "server/store/token_store.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/store/identity_store.h"
#include "server/store/postgres/pg_conn.h"
#include "server/store/postgres/pg_token_table.h"
#include "server/store/sqlite/sqlite_db.h"
#include "tests/testing/pg_cluster.h"
#include "tests/testing/fake_clock.h"
#include "tests/testing/test_util.h"

namespace plumb {
namespace {

using ::testing::HasSubstr;
using testing::ManualClock;
using testing::ReadFileOrEmpty;
using testing::TempDir;

enum class TokenBackend { kSqlite, kPostgres };

class TokenStoreTest : public ::testing::TestWithParam<TokenBackend> {
 protected:
  void SetUp() override {
    if (GetParam() == TokenBackend::kPostgres) url_ = testing::PgCluster::Shared().NewDatabaseUrl();
    auto store = Open();
    ASSERT_TRUE(store.ok()) << store.status();
    store_ = std::move(*store);
  }

  // A store on this test's database (again: a reopen, or a second server).
  absl::StatusOr<std::unique_ptr<TokenStore>> Open() {
    if (GetParam() == TokenBackend::kSqlite) return TokenStore::Open(dir_.Sub("plumb.db"), &clock_);
    auto table = PgTokenTable::Open(url_, "");
    if (!table.ok()) return table.status();
    return std::make_unique<TokenStore>(std::move(*table), &clock_);
  }

  // Everything the database holds for the tokens, as bytes or text.
  std::string StoredBytes() {
    if (GetParam() == TokenBackend::kSqlite) {
      return ReadFileOrEmpty(dir_.Sub("plumb.db")) + ReadFileOrEmpty(dir_.Sub("plumb.db-wal"));
    }
    auto conn = PgConn::Connect(url_, "");
    EXPECT_TRUE(conn.ok()) << conn.status();
    if (!conn.ok()) return "";
    auto rows = (*conn)->Query("SELECT t::text FROM join_tokens t");
    EXPECT_TRUE(rows.ok()) << rows.status();
    std::string all;
    for (int row = 0; rows.ok() && row < rows->rows(); ++row) all += rows->Bytes(row, 0);
    return all;
  }

  std::string Create(TokenSpec spec) {
    auto token = store_->Create(spec);
    EXPECT_TRUE(token.ok()) << token.status();
    return token.ok() ? token->token : "";
  }

  TempDir dir_;
  std::string url_;
  ManualClock clock_;
  std::unique_ptr<TokenStore> store_;
};

TEST_P(TokenStoreTest, OnlyTheHashIsStored) {
  std::string token = Create({});
  ASSERT_GT(token.size(), 40u);
  store_.reset();  // flush and close
  std::string db = StoredBytes();
  EXPECT_EQ(db.find(token), std::string::npos);
  EXPECT_EQ(db.find(token.substr(token.size() - 32)), std::string::npos);
  EXPECT_NE(db.find(TokenStore::Hash(token)), std::string::npos);
}

TEST_P(TokenStoreTest, RedeemReturnsLabelsAndCountsUses) {
  TokenSpec spec;
  spec.uses = 2;
  spec.labels = {{"role", "web"}};
  std::string token = Create(spec);
  auto labels = store_->Redeem(token, "web-1", /*consume=*/true);
  ASSERT_TRUE(labels.ok()) << labels.status();
  EXPECT_EQ(labels->labels.at("role"), "web");
  EXPECT_TRUE(labels->allowed_label_keys.empty());
  // A check that does not consume can be repeated.
  EXPECT_TRUE(store_->Redeem(token, "web-2", false).ok());
  EXPECT_TRUE(store_->Redeem(token, "web-2", true).ok());
  auto used_up = store_->Redeem(token, "web-3", true);
  EXPECT_TRUE(absl::IsPermissionDenied(used_up.status()));
  EXPECT_NE(used_up.status().message().find("no uses left"), std::string::npos);
}

TEST_P(TokenStoreTest, AllowedLabelKeysAreStoredWithTheTokenAndChecked) {
  TokenSpec spec;
  spec.labels = {{"role", "web"}};
  spec.allowed_label_keys = {"env", "team"};
  std::string token = Create(spec);
  auto grant = store_->Redeem(token, "web-1", false);
  ASSERT_TRUE(grant.ok()) << grant.status();
  EXPECT_EQ(grant->allowed_label_keys, (std::set<std::string>{"env", "team"}));
  TokenSpec bad;
  bad.allowed_label_keys = {""};
  auto refused = store_->Create(bad);
  EXPECT_TRUE(absl::IsInvalidArgument(refused.status()));
  EXPECT_THAT(std::string(refused.status().message()), HasSubstr("--allow-label"));
}

TEST_P(TokenStoreTest, ExpiresAfterTtl) {
  TokenSpec spec;
  spec.ttl = absl::Minutes(10);
  std::string token = Create(spec);
  clock_.Advance(absl::Minutes(9));
  EXPECT_TRUE(store_->Redeem(token, "n", false).ok());
  clock_.Advance(absl::Minutes(1));
  auto expired = store_->Redeem(token, "n", true);
  EXPECT_TRUE(absl::IsPermissionDenied(expired.status()));
  EXPECT_NE(expired.status().message().find("expired"), std::string::npos);
}

TEST_P(TokenStoreTest, NodeNameMustMatchTheGlob) {
  TokenSpec spec;
  spec.node_glob = "web-*";
  std::string token = Create(spec);
  auto outside = store_->Redeem(token, "db-1", true);
  EXPECT_TRUE(absl::IsPermissionDenied(outside.status()));
  EXPECT_NE(outside.status().message().find("outside the token's node glob \"web-*\""),
            std::string::npos);
  EXPECT_TRUE(store_->Redeem(token, "web-1", true).ok());
}

TEST_P(TokenStoreTest, UnknownAndMalformedTokensAndBadSpecs) {
  EXPECT_TRUE(absl::IsPermissionDenied(store_->Redeem("plumb-join-nope", "n", true).status()));
  EXPECT_TRUE(absl::IsPermissionDenied(store_->Redeem("", "n", true).status()));
  EXPECT_TRUE(absl::IsPermissionDenied(store_->Redeem(std::string(10000, 'x'), "n", true).status()));
  EXPECT_FALSE(store_->Create({absl::ZeroDuration()}).ok());
  TokenSpec no_uses;
  no_uses.uses = 0;
  EXPECT_FALSE(store_->Create(no_uses).ok());
}

TEST_P(TokenStoreTest, TokensSurviveReopen) {
  std::string token = Create({});
  store_.reset();
  auto reopened = Open();
  ASSERT_TRUE(reopened.ok());
  EXPECT_TRUE((*reopened)->Redeem(token, "n", true).ok());
}

// Two servers on one database (PostgreSQL; on SQLite, two processes on one plumb.db): a token
// made through one is redeemed through the other, and its uses are counted once.
TEST_P(TokenStoreTest, ASecondServerSharesTokensAndTheirUses) {
  auto other = Open();
  ASSERT_TRUE(other.ok()) << other.status();
  std::string token = Create({});
  EXPECT_TRUE((*other)->Redeem(token, "n1", false).ok());
  EXPECT_TRUE(store_->Redeem(token, "n1", true).ok());
  EXPECT_TRUE(absl::IsPermissionDenied((*other)->Redeem(token, "n2", true).status()));
}

INSTANTIATE_TEST_SUITE_P(Backends, TokenStoreTest,
                         ::testing::Values(TokenBackend::kSqlite, TokenBackend::kPostgres),
                         [](const ::testing::TestParamInfo<TokenBackend>& info) {
                           return info.param == TokenBackend::kSqlite ? "Sqlite" : "Postgres";
                         });

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

TEST(IdentityStoreTest, RevocationCoversEveryCertificateOfTheNodeAndSurvivesReopen) {
  TempDir dir;
  absl::Time t0 = absl::FromUnixSeconds(1'700'000'000);
  {
    auto store = IdentityStore::Open(dir.Sub("plumb.db"));
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
  auto store = IdentityStore::Open(dir.Sub("plumb.db"));
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
TEST(IdentityStoreTest, OnlyCertificatesOfTheCurrentEnrollmentAreValid) {
  TempDir dir;
  absl::Time t0 = absl::FromUnixSeconds(1'700'000'000);
  {
    auto store = IdentityStore::Open(dir.Sub("plumb.db"));
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
  auto store = IdentityStore::Open(dir.Sub("plumb.db"));
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
TEST(IdentityStoreTest, ARenewalFinishingAfterARevocationIsRevokedToo) {
  TempDir dir;
  absl::Time t0 = absl::FromUnixSeconds(1'700'000'000);
  auto store = IdentityStore::Open(dir.Sub("plumb.db"));
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
TEST(IdentityStoreTest, ADatabaseFromBeforeGenerationsKeepsItsCertificates) {
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

TEST(IdentityStoreTest, OperatorCertificatesAreRevokedOneOperatorAtATime) {
  TempDir dir;
  absl::Time t0 = absl::FromUnixSeconds(1'700'000'000);
  CertInfo alice = Cert("alice", "fa1", t0, kRoleOperator);
  CertInfo bob1 = Cert("bob", "fb1", t0, kRoleOperator);
  CertInfo bob2 = Cert("bob", "fb2", t0 + absl::Minutes(1), kRoleOperator);
  {
    auto store = IdentityStore::Open(dir.Sub("plumb.db"));
    ASSERT_TRUE(store.ok()) << store.status();
    ASSERT_TRUE((*store)->RecordOperatorCert(alice, t0).ok());
    ASSERT_TRUE((*store)->RecordOperatorCert(bob1, t0).ok());
    // Issued by another process (plumb-server ca issue-operator) on the same database.
    auto other = IdentityStore::Open(dir.Sub("plumb.db"));
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
  auto store = IdentityStore::Open(dir.Sub("plumb.db"));
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

TEST(IdentityStoreTest, ARevokedNodeNameDoesNotRevokeAnOperatorOfTheSameName) {
  TempDir dir;
  absl::Time t0 = absl::FromUnixSeconds(1'700'000'000);
  auto store = IdentityStore::Open(dir.Sub("plumb.db"));
  ASSERT_TRUE(store.ok());
  ASSERT_TRUE((*store)->RecordEnrollment({"ops", "key", {}, {}}, Cert("ops", "n1", t0), t0).ok());
  ASSERT_TRUE((*store)->Revoke("ops", t0 + absl::Minutes(1)).ok());
  EXPECT_TRUE((*store)->IsRevoked(Cert("ops", "n2", t0)));
  EXPECT_FALSE((*store)->IsRevoked(Cert("ops", "o1", t0, kRoleOperator)));
}

TEST(NameMatchesGlobTest, Globs) {
  EXPECT_TRUE(NameMatchesGlob("web-1", ""));
  EXPECT_TRUE(NameMatchesGlob("web-1", "web-*"));
  EXPECT_FALSE(NameMatchesGlob("db-1", "web-*"));
  EXPECT_TRUE(NameMatchesGlob("web-1", "web-?"));
}

}  // namespace
}  // namespace plumb
