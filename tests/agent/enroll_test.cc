// What `plumb-agent enroll` accepts from the server's Enroll answer (CheckEnrollResponse):
// with --ca-fingerprint, only the pinned CA may be stored as the agent's trust anchor.

#include "agent/enroll.h"

#include "absl/strings/match.h"
#include "absl/time/clock.h"
#include "common/pki/pki.h"
#include "gtest/gtest.h"

namespace plumb {
namespace {

struct Ca {
  std::string key;
  std::string cert;
  std::string fingerprint;
};

Ca MakeTestCa() {
  Ca ca;
  ca.key = *GenerateKeyPem();
  CertSpec spec;
  spec.common_name = "Plumb CA";
  spec.not_before = absl::Now() - absl::Hours(1);
  ca.cert = *MakeCaCertificate(ca.key, spec);
  ca.fingerprint = ParseCertificate(ca.cert)->fingerprint;
  return ca;
}

v1::EnrollResponse Answer(const Ca& ca, const std::string& node, const std::string& role) {
  CertSpec spec;
  spec.common_name = node;
  spec.role = role;
  spec.not_before = absl::Now() - absl::Minutes(5);
  spec.lifetime = absl::Hours(24);
  v1::EnrollResponse resp;
  resp.set_cert_pem(*IssueCertificate(ca.cert, ca.key, *PublicKeyPem(*GenerateKeyPem()), spec));
  resp.set_ca_pem(ca.cert);
  return resp;
}

TEST(EnrollTest, TheAnswerOfThePinnedCaIsAccepted) {
  Ca ca = MakeTestCa();
  absl::Status s =
      CheckEnrollResponse(Answer(ca, "web-1", kRoleAgent), "web-1", ca.fingerprint, absl::Now());
  EXPECT_TRUE(s.ok()) << s;
  // Without a pin (--ca FILE verified the server) the CA is not compared.
  EXPECT_TRUE(CheckEnrollResponse(Answer(ca, "web-1", kRoleAgent), "web-1", "", absl::Now()).ok());
}

// A server that passed the TLS pin but hands back another CA (and a certificate of that CA)
// would make the agent trust that CA from then on.
TEST(EnrollTest, AnotherCaThanThePinnedOneIsRefusedAndSaysSo) {
  Ca pinned = MakeTestCa();
  Ca other = MakeTestCa();
  absl::Status s = CheckEnrollResponse(Answer(other, "web-1", kRoleAgent), "web-1",
                                       pinned.fingerprint, absl::Now());
  EXPECT_TRUE(absl::IsPermissionDenied(s)) << s;
  EXPECT_TRUE(absl::StrContains(s.message(), "not the pinned " + pinned.fingerprint)) << s;
  EXPECT_TRUE(absl::StrContains(s.message(), other.fingerprint)) << s;
}

TEST(EnrollTest, ACertificateForAnotherNodeOrRoleIsRefused) {
  Ca ca = MakeTestCa();
  EXPECT_TRUE(absl::IsPermissionDenied(CheckEnrollResponse(
      Answer(ca, "web-2", kRoleAgent), "web-1", ca.fingerprint, absl::Now())));
  EXPECT_TRUE(absl::IsPermissionDenied(CheckEnrollResponse(
      Answer(ca, "web-1", kRoleOperator), "web-1", ca.fingerprint, absl::Now())));
}

}  // namespace
}  // namespace plumb
