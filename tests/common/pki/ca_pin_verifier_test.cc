// Enrollment's trust on first contact (CheckChainAgainstPin), with certificates made by the
// same code the built-in CA uses: only the server's certificate from the pinned CA passes; an
// agent's or operator's certificate from that CA, which any enrolled host or operator holds
// with its key, does not.

#include "common/pki/ca_pin_verifier.h"

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

Ca MakeTestCa(const std::string& name) {
  Ca ca;
  ca.key = *GenerateKeyPem();
  CertSpec spec;
  spec.common_name = name;
  spec.not_before = absl::Now() - absl::Hours(1);
  ca.cert = *MakeCaCertificate(ca.key, spec);
  ca.fingerprint = ParseCertificate(ca.cert)->fingerprint;
  return ca;
}

// A leaf of `role` from `ca`, followed by the CA: the chain a TLS server presents.
std::string Chain(const Ca& ca, const std::string& role, const std::string& cn) {
  std::string key = *GenerateKeyPem();
  CertSpec spec;
  spec.common_name = cn;
  spec.role = role;
  spec.sans = {"localhost", "127.0.0.1"};
  spec.not_before = absl::Now() - absl::Minutes(5);
  spec.lifetime = absl::Hours(24);
  auto leaf = IssueCertificate(ca.cert, ca.key, *PublicKeyPem(key), spec);
  EXPECT_TRUE(leaf.ok()) << leaf.status();
  return *leaf + ca.cert;
}

TEST(CaPinVerifierTest, TheServersCertificateFromThePinnedCaPasses) {
  Ca ca = MakeTestCa("Plumb CA");
  absl::Status s = CheckChainAgainstPin(Chain(ca, kRoleServer, "plumb-server"), ca.fingerprint,
                                        absl::Now());
  EXPECT_TRUE(s.ok()) << s;
}

TEST(CaPinVerifierTest, AnAgentCertificateFromThePinnedCaIsRefusedAndSaysWhy) {
  Ca ca = MakeTestCa("Plumb CA");
  absl::Status s =
      CheckChainAgainstPin(Chain(ca, kRoleAgent, "web-1"), ca.fingerprint, absl::Now());
  EXPECT_TRUE(absl::IsUnauthenticated(s)) << s;
  EXPECT_TRUE(absl::StrContains(s.message(), "not a server certificate")) << s;
  EXPECT_TRUE(absl::StrContains(s.message(), "role \"agent\"")) << s;
  EXPECT_TRUE(absl::StrContains(s.message(), "no serverAuth usage")) << s;
}

TEST(CaPinVerifierTest, AnOperatorCertificateFromThePinnedCaIsRefused) {
  Ca ca = MakeTestCa("Plumb CA");
  absl::Status s =
      CheckChainAgainstPin(Chain(ca, kRoleOperator, "alice"), ca.fingerprint, absl::Now());
  EXPECT_TRUE(absl::IsUnauthenticated(s)) << s;
  EXPECT_TRUE(absl::StrContains(s.message(), "not a server certificate")) << s;
}

TEST(CaPinVerifierTest, AServerCertificateOfAnotherCaIsRefused) {
  Ca pinned = MakeTestCa("Plumb CA");
  Ca other = MakeTestCa("Other CA");
  // Another CA's server certificate, with the pinned CA appended to the chain.
  std::string chain = Chain(other, kRoleServer, "plumb-server") + pinned.cert;
  absl::Status s = CheckChainAgainstPin(chain, pinned.fingerprint, absl::Now());
  EXPECT_TRUE(absl::IsUnauthenticated(s)) << s;
  EXPECT_TRUE(absl::StrContains(s.message(), "not signed by the pinned CA")) << s;
  s = CheckChainAgainstPin(Chain(other, kRoleServer, "plumb-server"), pinned.fingerprint,
                           absl::Now());
  EXPECT_TRUE(absl::StrContains(s.message(), "has no CA with fingerprint")) << s;
}

}  // namespace
}  // namespace plumb
