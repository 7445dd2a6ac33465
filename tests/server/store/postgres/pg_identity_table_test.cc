// Two servers (replicas) sharing enrolled identities in one PostgreSQL database: what one
// enrolls, renews or revokes the other learns on its next Refresh, renewals on one cannot
// outlive a revocation on the other, and both must issue from one CA.

#include "server/store/postgres/pg_identity_table.h"

#include <atomic>
#include <thread>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/store/identity_store.h"
#include "server/store/postgres/pg_conn.h"
#include "tests/testing/pg_cluster.h"

namespace plumb {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

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

class PgIdentityReplicasTest : public ::testing::Test {
 protected:
  void SetUp() override {
    url_ = testing::PgCluster::Shared().NewDatabaseUrl();
    a_ = OpenOrDie();
    b_ = OpenOrDie();
  }
  std::unique_ptr<IdentityStore> OpenOrDie() {
    auto table = PgIdentityTable::Open(url_, "");
    EXPECT_TRUE(table.ok()) << table.status();
    if (!table.ok()) return nullptr;
    auto store = IdentityStore::Open(std::unique_ptr<IdentityTable>(std::move(*table)));
    EXPECT_TRUE(store.ok()) << store.status();
    return store.ok() ? std::move(*store) : nullptr;
  }
  IdentityChanges Refresh(IdentityStore& store) {
    auto changes = store.Refresh();
    EXPECT_TRUE(changes.ok()) << changes.status();
    return changes.ok() ? *changes : IdentityChanges{};
  }

  const absl::Time t0_ = absl::FromUnixSeconds(1'700'000'000);
  std::string url_;
  std::unique_ptr<IdentityStore> a_;
  std::unique_ptr<IdentityStore> b_;
};

TEST_F(PgIdentityReplicasTest, EnrollmentRenewalAndRevocationReachTheOtherReplica) {
  ASSERT_TRUE(a_ && b_);
  EXPECT_TRUE(a_->shared());
  CertInfo first = Cert("web-1", "fp1", t0_);
  ASSERT_TRUE(a_->RecordEnrollment({"web-1", "key1", {{"role", "web"}}, {"env"}}, first, t0_).ok());
  EXPECT_FALSE(b_->Find("web-1").has_value());  // not yet refreshed
  IdentityChanges enrolled = Refresh(*b_);
  EXPECT_THAT(enrolled.enrolled, ElementsAre("web-1"));
  EXPECT_TRUE(enrolled.revoked.empty());
  ASSERT_TRUE(b_->Find("web-1").has_value());
  EXPECT_EQ(b_->Find("web-1")->labels.at("role"), "web");
  EXPECT_EQ(b_->Find("web-1")->generation, 1);
  EXPECT_FALSE(b_->IsRevoked(first));
  EXPECT_TRUE(b_->IsRevoked(Cert("web-1", "never-recorded", t0_)));

  // Renewed through B: A accepts the new certificate after its refresh, and a refresh with
  // nothing new reports nothing.
  CertInfo renewed = Cert("web-1", "fp2", t0_ + absl::Minutes(1));
  ASSERT_TRUE(b_->RecordRenewal("web-1", 1, renewed, t0_ + absl::Minutes(1)).ok());
  IdentityChanges renewal = Refresh(*a_);
  EXPECT_TRUE(renewal.enrolled.empty() && renewal.revoked.empty());
  EXPECT_FALSE(a_->IsRevoked(renewed));
  IdentityChanges nothing = Refresh(*a_);
  EXPECT_TRUE(nothing.enrolled.empty() && nothing.revoked.empty());

  // Revoked through A: B reports it and refuses both certificates.
  auto revoked = a_->Revoke("web-1", t0_ + absl::Minutes(2));
  ASSERT_TRUE(revoked.ok()) << revoked.status();
  EXPECT_EQ(*revoked, 2);
  IdentityChanges revocation = Refresh(*b_);
  EXPECT_THAT(revocation.revoked, ElementsAre("web-1"));
  EXPECT_TRUE(b_->IsRevoked(first));
  EXPECT_TRUE(b_->IsRevoked(renewed));
  EXPECT_TRUE(b_->Find("web-1")->is_revoked());

  // Enrolled again through B: A learns of it (the node is enrolled again, not revoked).
  CertInfo again = Cert("web-1", "fp3", t0_ + absl::Minutes(3));
  ASSERT_TRUE(b_->RecordEnrollment({"web-1", "key2", {}, {}}, again, t0_ + absl::Minutes(3)).ok());
  IdentityChanges reenrolled = Refresh(*a_);
  EXPECT_THAT(reenrolled.enrolled, ElementsAre("web-1"));
  EXPECT_FALSE(a_->IsRevoked(again));
  EXPECT_TRUE(a_->IsRevoked(renewed));
  EXPECT_EQ(a_->Find("web-1")->generation, 2);
}

// A renews with the generation it read before B revoked: refused, whichever replica asks.
TEST_F(PgIdentityReplicasTest, ARenewalOnOneReplicaAfterARevocationOnTheOtherIsRefused) {
  ASSERT_TRUE(a_ && b_);
  ASSERT_TRUE(a_->RecordEnrollment({"web-1", "key1", {}, {}}, Cert("web-1", "fp1", t0_), t0_).ok());
  Refresh(*b_);
  ASSERT_TRUE(b_->Revoke("web-1", t0_ + absl::Minutes(1)).ok());
  // A has not refreshed: its memory still says generation 1, unrevoked.
  EXPECT_FALSE(a_->Find("web-1")->is_revoked());
  CertInfo late = Cert("web-1", "fp2", t0_ + absl::Minutes(2));
  absl::Status status = a_->RecordRenewal("web-1", 1, late, t0_ + absl::Minutes(2));
  EXPECT_TRUE(absl::IsPermissionDenied(status)) << status;
  EXPECT_THAT(std::string(status.message()), HasSubstr("revoked"));
  Refresh(*a_);
  EXPECT_TRUE(a_->IsRevoked(late));
  // Re-enrolled through B, then A's renewal of the old generation: refused too.
  ASSERT_TRUE(b_->RecordEnrollment({"web-1", "key1", {}, {}}, Cert("web-1", "fp3", t0_), t0_).ok());
  status = a_->RecordRenewal("web-1", 1, Cert("web-1", "fp4", t0_), t0_);
  EXPECT_TRUE(absl::IsPermissionDenied(status)) << status;
  EXPECT_THAT(std::string(status.message()), HasSubstr("enrolled again"));
}

// Renewals on B race a revocation on A: each renewal commits before the revocation (and is
// revoked by it) or is refused; no certificate of the node is left unrevoked in the database.
TEST_F(PgIdentityReplicasTest, RenewalsRacingARevocationLeaveNoValidCertificate) {
  ASSERT_TRUE(a_ && b_);
  ASSERT_TRUE(a_->RecordEnrollment({"web-1", "key1", {}, {}}, Cert("web-1", "fp0", t0_), t0_).ok());
  Refresh(*b_);
  std::atomic<int> accepted{0}, refused{0};
  // Set before the revocation starts: a refusal may come as soon as its transaction commits,
  // before Revoke() returns.
  std::atomic<bool> revoking{false};
  std::thread renewer([&] {
    // Keeps renewing until a few renewals were refused after the revocation.
    for (int i = 1; refused.load() < 3 && i < 5000; ++i) {
      absl::Status s =
          b_->RecordRenewal("web-1", 1, Cert("web-1", absl::StrCat("fp", i), t0_), t0_);
      if (s.ok()) {
        ++accepted;
      } else {
        EXPECT_TRUE(absl::IsPermissionDenied(s)) << s;
        EXPECT_TRUE(revoking.load());
        ++refused;
      }
    }
  });
  while (accepted.load() < 5 && refused.load() == 0) std::this_thread::yield();
  revoking = true;
  ASSERT_TRUE(a_->Revoke("web-1", t0_ + absl::Minutes(1)).ok());
  renewer.join();
  EXPECT_GE(refused.load(), 1);
  auto conn = PgConn::Connect(url_, "");
  ASSERT_TRUE(conn.ok()) << conn.status();
  auto valid = (*conn)->Query("SELECT count(*) FROM node_certs WHERE NOT revoked");
  ASSERT_TRUE(valid.ok()) << valid.status();
  EXPECT_EQ(valid->Int(0, 0), 0);
  Refresh(*b_);
  for (int i = 0; i <= accepted.load(); ++i) {
    EXPECT_TRUE(b_->IsRevoked(Cert("web-1", absl::StrCat("fp", i), t0_))) << i;
  }
}

// B has not heard of A's enrollment yet: its own enrollment of the name with another key is
// refused by the database all the same.
TEST_F(PgIdentityReplicasTest, AReplicaThatHasNotRefreshedCannotGiveANameToAnotherKey) {
  ASSERT_TRUE(a_ && b_);
  ASSERT_TRUE(a_->RecordEnrollment({"web-1", "key1", {}, {}}, Cert("web-1", "fp1", t0_), t0_).ok());
  EXPECT_FALSE(b_->Find("web-1").has_value());
  absl::Status taken =
      b_->RecordEnrollment({"web-1", "key2", {}, {}}, Cert("web-1", "fp2", t0_), t0_);
  EXPECT_TRUE(absl::IsAlreadyExists(taken)) << taken;
  Refresh(*b_);
  EXPECT_EQ(b_->Find("web-1")->public_key_sha256, "key1");
  EXPECT_TRUE(b_->IsRevoked(Cert("web-1", "fp2", t0_)));
}

TEST_F(PgIdentityReplicasTest, OperatorRevocationReachesTheOtherReplica) {
  ASSERT_TRUE(a_ && b_);
  CertInfo bob = Cert("bob", "fb1", t0_, kRoleOperator);
  ASSERT_TRUE(a_->RecordOperatorCert(bob, t0_).ok());
  EXPECT_FALSE(Refresh(*b_).operators_revoked);
  auto revoked = a_->RevokeOperator("bob", t0_ + absl::Minutes(1));
  ASSERT_TRUE(revoked.ok()) << revoked.status();
  EXPECT_EQ(*revoked, 1);
  EXPECT_FALSE(b_->IsRevoked(bob));
  EXPECT_TRUE(Refresh(*b_).operators_revoked);
  EXPECT_TRUE(b_->IsRevoked(bob));
  auto listed = b_->ListOperatorCerts();
  ASSERT_TRUE(listed.ok());
  ASSERT_EQ(listed->size(), 1u);
  EXPECT_TRUE((*listed)[0].is_revoked());
}

TEST_F(PgIdentityReplicasTest, ReplicasMustIssueFromOneCa) {
  ASSERT_TRUE(a_ && b_);
  EXPECT_TRUE(a_->AgreeOnCa("aaaa").ok());  // the first records it
  EXPECT_TRUE(b_->AgreeOnCa("aaaa").ok());
  absl::Status other = b_->AgreeOnCa("bbbb");
  EXPECT_TRUE(absl::IsFailedPrecondition(other)) << other;
  EXPECT_THAT(std::string(other.message()), HasSubstr("bbbb"));
  EXPECT_THAT(std::string(other.message()), HasSubstr("aaaa"));
  EXPECT_THAT(std::string(other.message()), HasSubstr("copy state_dir/ca"));
}

}  // namespace
}  // namespace plumb
