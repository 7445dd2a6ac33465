// Join tokens in a real SQLite file: only hashes stored, TTL against a fake clock, uses,
// node-name globs; and enrolled identities with revocation.

#include "server/store/token_store.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/store/identity_store.h"
#include "tests/testing/fake_clock.h"
#include "tests/testing/test_util.h"

namespace plumb {
namespace {

using ::testing::HasSubstr;
using testing::ManualClock;
using testing::ReadFileOrEmpty;
using testing::TempDir;

class TokenStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto store = TokenStore::Open(dir_.Sub("plumb.db"), &clock_);
    ASSERT_TRUE(store.ok()) << store.status();
    store_ = std::move(*store);
  }

  std::string Create(TokenSpec spec) {
    auto token = store_->Create(spec);
    EXPECT_TRUE(token.ok()) << token.status();
    return token.ok() ? token->token : "";
  }

  TempDir dir_;
  ManualClock clock_;
  std::unique_ptr<TokenStore> store_;
};

TEST_F(TokenStoreTest, OnlyTheHashIsStored) {
  std::string token = Create({});
  ASSERT_GT(token.size(), 40u);
  store_.reset();  // flush and close
  std::string db = ReadFileOrEmpty(dir_.Sub("plumb.db")) + ReadFileOrEmpty(dir_.Sub("plumb.db-wal"));
  EXPECT_EQ(db.find(token), std::string::npos);
  EXPECT_EQ(db.find(token.substr(token.size() - 32)), std::string::npos);
  EXPECT_NE(db.find(TokenStore::Hash(token)), std::string::npos);
}

TEST_F(TokenStoreTest, RedeemReturnsLabelsAndCountsUses) {
  TokenSpec spec;
  spec.uses = 2;
  spec.labels = {{"role", "web"}};
  std::string token = Create(spec);
  auto labels = store_->Redeem(token, "web-1", /*consume=*/true);
  ASSERT_TRUE(labels.ok()) << labels.status();
  EXPECT_EQ(labels->at("role"), "web");
  // A check that does not consume can be repeated.
  EXPECT_TRUE(store_->Redeem(token, "web-2", false).ok());
  EXPECT_TRUE(store_->Redeem(token, "web-2", true).ok());
  auto used_up = store_->Redeem(token, "web-3", true);
  EXPECT_TRUE(absl::IsPermissionDenied(used_up.status()));
  EXPECT_NE(used_up.status().message().find("no uses left"), std::string::npos);
}

TEST_F(TokenStoreTest, ExpiresAfterTtl) {
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

TEST_F(TokenStoreTest, NodeNameMustMatchTheGlob) {
  TokenSpec spec;
  spec.node_glob = "web-*";
  std::string token = Create(spec);
  auto outside = store_->Redeem(token, "db-1", true);
  EXPECT_TRUE(absl::IsPermissionDenied(outside.status()));
  EXPECT_NE(outside.status().message().find("outside the token's node glob \"web-*\""),
            std::string::npos);
  EXPECT_TRUE(store_->Redeem(token, "web-1", true).ok());
}

TEST_F(TokenStoreTest, UnknownAndMalformedTokensAndBadSpecs) {
  EXPECT_TRUE(absl::IsPermissionDenied(store_->Redeem("plumb-join-nope", "n", true).status()));
  EXPECT_TRUE(absl::IsPermissionDenied(store_->Redeem("", "n", true).status()));
  EXPECT_TRUE(absl::IsPermissionDenied(store_->Redeem(std::string(10000, 'x'), "n", true).status()));
  EXPECT_FALSE(store_->Create({absl::ZeroDuration()}).ok());
  TokenSpec no_uses;
  no_uses.uses = 0;
  EXPECT_FALSE(store_->Create(no_uses).ok());
}

TEST_F(TokenStoreTest, TokensSurviveReopen) {
  std::string token = Create({});
  store_.reset();
  auto reopened = TokenStore::Open(dir_.Sub("plumb.db"), &clock_);
  ASSERT_TRUE(reopened.ok());
  EXPECT_TRUE((*reopened)->Redeem(token, "n", true).ok());
}

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
    NodeIdentity web{"web-1", "key1", {{"role", "web"}}};
    ASSERT_TRUE((*store)->RecordEnrollment(web, Cert("web-1", "fp1", t0), t0).ok());
    ASSERT_TRUE((*store)->RecordRenewal("web-1", Cert("web-1", "fp2", t0 + absl::Minutes(1)),
                                        t0 + absl::Minutes(1)).ok());
    EXPECT_TRUE(absl::IsNotFound((*store)->RecordRenewal("db-1", Cert("db-1", "x", t0), t0)));
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
  NodeIdentity again{"web-1", "key2", {}};
  absl::Time t1 = t0 + absl::Minutes(5);
  ASSERT_TRUE((*store)->RecordEnrollment(again, Cert("web-1", "fp3", t1), t1).ok());
  EXPECT_FALSE((*store)->IsRevoked(Cert("web-1", "fp3", t1)));
  EXPECT_TRUE((*store)->IsRevoked(Cert("web-1", "fp1", t0)));
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
  ASSERT_TRUE((*store)->RecordEnrollment({"ops", "key", {}}, Cert("ops", "n1", t0), t0).ok());
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
