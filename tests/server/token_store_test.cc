// Join tokens in a real SQLite file: only hashes stored, TTL against a fake clock, uses,
// node-name globs; and enrolled identities with revocation.

#include "server/token_store.h"

#include "gtest/gtest.h"
#include "server/identity_store.h"
#include "tests/testing/fake_clock.h"
#include "tests/testing/test_util.h"

namespace plumb {
namespace {

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

CertInfo Cert(const std::string& cn, const std::string& fingerprint, absl::Time not_before) {
  CertInfo c;
  c.common_name = cn;
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

TEST(NameMatchesGlobTest, Globs) {
  EXPECT_TRUE(NameMatchesGlob("web-1", ""));
  EXPECT_TRUE(NameMatchesGlob("web-1", "web-*"));
  EXPECT_FALSE(NameMatchesGlob("db-1", "web-*"));
  EXPECT_TRUE(NameMatchesGlob("web-1", "web-?"));
}

}  // namespace
}  // namespace plumb
