// Enrollment and renewal against a real CA directory and SQLite file, with a fake clock.

#include "server/security/enrollment.h"

#include <utility>

#include "gtest/gtest.h"
#include "tests/testing/fake_clock.h"
#include "tests/testing/test_util.h"

namespace plumb {
namespace {

using testing::ManualClock;
using testing::TempDir;

class EnrollmentTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ca_ = std::move(*CertificateAuthority::Init(dir_.Sub("ca"), {"localhost"}, clock_.Now()));
    tokens_ = std::move(*TokenStore::Open(dir_.Sub("plumb.db"), &clock_));
    identities_ = std::move(*IdentityStore::Open(dir_.Sub("plumb.db")));
    enrollment_ = std::make_unique<Enrollment>(
        ca_.get(), tokens_.get(), identities_.get(), &clock_, absl::Hours(24),
        [this](const std::string& node) { enrolled_.push_back(node); });
  }

  v1::EnrollRequest Request(const std::string& node, const std::string& key,
                            TokenSpec spec = {}) {
    v1::EnrollRequest req;
    req.set_node(node);
    req.set_token(tokens_->Create(spec)->token);
    req.set_csr_pem(*MakeCsr(key, node));
    return req;
  }

  TempDir dir_;
  ManualClock clock_{absl::Now()};
  std::unique_ptr<CertificateAuthority> ca_;
  std::unique_ptr<TokenStore> tokens_;
  std::unique_ptr<IdentityStore> identities_;
  std::unique_ptr<Enrollment> enrollment_;
  std::vector<std::string> enrolled_;
};

TEST_F(EnrollmentTest, IssuesAgentCertificateWithBoundLabels) {
  std::string key = *GenerateKeyPem();
  TokenSpec spec;
  spec.labels = {{"role", "web"}};
  auto resp = enrollment_->Enroll(Request("web-1", key, spec));
  ASSERT_TRUE(resp.ok()) << resp.status();
  auto cert = ParseCertificate(resp->cert_pem());
  ASSERT_TRUE(cert.ok());
  EXPECT_EQ(cert->common_name, "web-1");
  EXPECT_EQ(cert->role, kRoleAgent);
  EXPECT_EQ(resp->ca_pem(), ca_->ca_pem());
  EXPECT_EQ(resp->labels().at("role"), "web");
  EXPECT_TRUE(VerifyIssuedBy(resp->cert_pem(), ca_->ca_pem(), clock_.Now()).ok());
  EXPECT_EQ(identities_->Find("web-1")->labels.at("role"), "web");
  EXPECT_EQ(enrolled_, std::vector<std::string>{"web-1"});
}

TEST_F(EnrollmentTest, RefusesBadNamesCsrsAndKeysOfOthers) {
  std::string key = *GenerateKeyPem();
  EXPECT_TRUE(absl::IsInvalidArgument(enrollment_->Enroll(Request("../etc", key)).status()));
  v1::EnrollRequest mismatch = Request("web-1", key);
  mismatch.set_csr_pem(*MakeCsr(key, "web-2"));
  EXPECT_TRUE(absl::IsInvalidArgument(enrollment_->Enroll(mismatch).status()));
  v1::EnrollRequest garbage = Request("web-1", key);
  garbage.set_csr_pem("-----BEGIN CERTIFICATE REQUEST-----\nnope\n");
  EXPECT_TRUE(absl::IsInvalidArgument(enrollment_->Enroll(garbage).status()));

  ASSERT_TRUE(enrollment_->Enroll(Request("web-1", key)).ok());
  v1::EnrollRequest other = Request("web-1", *GenerateKeyPem());
  auto taken = enrollment_->Enroll(other);
  EXPECT_TRUE(absl::IsAlreadyExists(taken.status())) << taken.status();
  // A refused enrollment does not use the token up.
  EXPECT_TRUE(tokens_->Redeem(other.token(), "web-9", false).ok());
  EXPECT_TRUE(enrollment_->Enroll(Request("web-1", key)).ok());  // same key: fine
  ASSERT_TRUE(identities_->Revoke("web-1", clock_.Now()).ok());
  EXPECT_TRUE(enrollment_->Enroll(Request("web-1", *GenerateKeyPem())).ok());  // freed by revoke
}

TEST_F(EnrollmentTest, RenewKeepsTheKeyAndNeedsAnUnrevokedNode) {
  std::string key = *GenerateKeyPem();
  auto first = enrollment_->Enroll(Request("web-1", key));
  ASSERT_TRUE(first.ok());
  CertInfo current = *ParseCertificate(first->cert_pem());
  clock_.Advance(absl::Hours(16));
  v1::RenewRequest renew;
  renew.set_csr_pem(*MakeCsr(key, "web-1"));
  auto renewed = enrollment_->Renew(current, renew);
  ASSERT_TRUE(renewed.ok()) << renewed.status();
  CertInfo next = *ParseCertificate(renewed->cert_pem());
  EXPECT_GT(next.not_after, current.not_after);
  EXPECT_NE(next.serial_hex, current.serial_hex);

  v1::RenewRequest other_key;
  other_key.set_csr_pem(*MakeCsr(*GenerateKeyPem(), "web-1"));
  EXPECT_TRUE(absl::IsPermissionDenied(enrollment_->Renew(current, other_key).status()));
  ASSERT_TRUE(identities_->Revoke("web-1", clock_.Now()).ok());
  EXPECT_TRUE(absl::IsPermissionDenied(enrollment_->Renew(next, renew).status()));
  EXPECT_TRUE(identities_->IsRevoked(next));
}

TEST_F(EnrollmentTest, TheTokensAllowedLabelKeysAreBoundToTheNode) {
  TokenSpec spec;
  spec.labels = {{"role", "web"}};
  spec.allowed_label_keys = {"env"};
  auto resp = enrollment_->Enroll(Request("web-1", *GenerateKeyPem(), spec));
  ASSERT_TRUE(resp.ok()) << resp.status();
  EXPECT_EQ(std::vector<std::string>(resp->allowed_label_keys().begin(),
                                     resp->allowed_label_keys().end()),
            std::vector<std::string>{"env"});
  EXPECT_EQ(identities_->Find("web-1")->allowed_label_keys, std::set<std::string>{"env"});
}

// Enrolling again (here with the same key, as `plumb-agent enroll` does on the same host)
// leaves no certificate of the earlier enrollment valid.
TEST_F(EnrollmentTest, EnrollingAgainInvalidatesTheEarlierCertificates) {
  std::string key = *GenerateKeyPem();
  auto first = enrollment_->Enroll(Request("web-1", key));
  ASSERT_TRUE(first.ok());
  CertInfo old = *ParseCertificate(first->cert_pem());
  EXPECT_FALSE(identities_->IsRevoked(old));
  auto second = enrollment_->Enroll(Request("web-1", key));
  ASSERT_TRUE(second.ok());
  EXPECT_TRUE(identities_->IsRevoked(old));
  EXPECT_FALSE(identities_->IsRevoked(*ParseCertificate(second->cert_pem())));
}

// A clock that runs `hook` once, the next time it is read after Arm(): a way into the middle
// of Renew, between its checks and the record of the new certificate.
class HookClock : public testing::ManualClock {
 public:
  using ManualClock::ManualClock;
  void Arm(std::function<void()> hook) { hook_ = std::move(hook); }
  absl::Time Now() override {
    if (auto hook = std::exchange(hook_, nullptr)) hook();
    return ManualClock::Now();
  }

 private:
  std::function<void()> hook_;
};

TEST_F(EnrollmentTest, ARenewalThatFinishesWhileTheNodeIsRevokedIsRefused) {
  HookClock clock(absl::Now());
  Enrollment enrollment(ca_.get(), tokens_.get(), identities_.get(), &clock, absl::Hours(24));
  std::string key = *GenerateKeyPem();
  auto first = enrollment.Enroll(Request("web-1", key));
  ASSERT_TRUE(first.ok());
  CertInfo current = *ParseCertificate(first->cert_pem());
  v1::RenewRequest renew;
  renew.set_csr_pem(*MakeCsr(key, "web-1"));
  clock.Arm([&] { ASSERT_TRUE(identities_->Revoke("web-1", clock.ManualClock::Now()).ok()); });
  auto renewed = enrollment.Renew(current, renew);
  EXPECT_TRUE(absl::IsPermissionDenied(renewed.status())) << renewed.status();
  EXPECT_NE(renewed.status().message().find("revoked while"), std::string::npos);
  // Enrolling again does not bring back a certificate of the revoked identity.
  ASSERT_TRUE(enrollment.Enroll(Request("web-1", key)).ok());
  EXPECT_TRUE(identities_->IsRevoked(current));
}

TEST(EnrollmentWithoutCaTest, ExplainsThatAnOutsidePkiIsInUse) {
  TempDir dir;
  ManualClock clock;
  auto tokens = TokenStore::Open(dir.Sub("plumb.db"), &clock);
  auto identities = IdentityStore::Open(dir.Sub("plumb.db"));
  Enrollment enrollment(nullptr, tokens->get(), identities->get(), &clock, absl::Hours(1));
  auto s = enrollment.Enroll(v1::EnrollRequest());
  EXPECT_TRUE(absl::IsFailedPrecondition(s.status()));
  EXPECT_NE(s.status().message().find("no built-in CA"), std::string::npos);
}

}  // namespace
}  // namespace plumb
