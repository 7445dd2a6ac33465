// Join tokens in a real SQLite file and in PostgreSQL (TokenStoreTest runs on both): only
// hashes stored, TTL against a fake clock, uses, node-name globs. Enrolled identities:
// identity_store_test.cc.

#include "server/store/token_store.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/store/postgres/pg_conn.h"
#include "server/store/postgres/pg_token_table.h"
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

TEST(NameMatchesGlobTest, Globs) {
  EXPECT_TRUE(NameMatchesGlob("web-1", ""));
  EXPECT_TRUE(NameMatchesGlob("web-1", "web-*"));
  EXPECT_FALSE(NameMatchesGlob("db-1", "web-*"));
  EXPECT_TRUE(NameMatchesGlob("web-1", "web-?"));
}

}  // namespace
}  // namespace plumb
