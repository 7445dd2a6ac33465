#include "common/pki/pki.h"

#include "gtest/gtest.h"

namespace plumb {
namespace {

const absl::Time kNow = absl::FromUnixSeconds(1'800'000'000);

struct TestCa {
  std::string key;
  std::string cert;
};

TestCa MakeCa(absl::Duration lifetime = absl::Hours(24 * 3650)) {
  TestCa ca;
  ca.key = *GenerateKeyPem();
  CertSpec spec;
  spec.common_name = "Test CA";
  spec.not_before = kNow - absl::Hours(1);
  spec.lifetime = lifetime;
  auto cert = MakeCaCertificate(ca.key, spec);
  EXPECT_TRUE(cert.ok()) << cert.status();
  ca.cert = *cert;
  return ca;
}

TEST(PkiTest, CaCertificateIsSelfSignedCaWithRole) {
  TestCa ca = MakeCa();
  auto info = ParseCertificate(ca.cert);
  ASSERT_TRUE(info.ok()) << info.status();
  EXPECT_TRUE(info->is_ca);
  EXPECT_EQ(info->common_name, "Test CA");
  EXPECT_EQ(info->role, kRoleCa);
  EXPECT_EQ(info->fingerprint.size(), 64u);
  EXPECT_TRUE(VerifyIssuedBy(ca.cert, ca.cert, kNow).ok());
}

TEST(PkiTest, CsrSignedIntoAgentCertificateCarriesNameRoleAndKey) {
  TestCa ca = MakeCa();
  std::string key = *GenerateKeyPem();
  auto csr = MakeCsr(key, "web-01");
  ASSERT_TRUE(csr.ok()) << csr.status();
  auto parsed = ParseCsr(*csr);
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  EXPECT_EQ(parsed->common_name, "web-01");

  CertSpec spec;
  spec.common_name = "web-01";
  spec.role = kRoleAgent;
  spec.not_before = kNow;
  spec.lifetime = absl::Hours(24);
  auto cert = IssueCertificate(ca.cert, ca.key, parsed->public_key_pem, spec);
  ASSERT_TRUE(cert.ok()) << cert.status();
  auto info = ParseCertificate(*cert);
  ASSERT_TRUE(info.ok()) << info.status();
  EXPECT_EQ(info->common_name, "web-01");
  EXPECT_EQ(info->role, kRoleAgent);
  EXPECT_FALSE(info->is_ca);
  EXPECT_EQ(info->public_key_sha256, parsed->public_key_sha256);
  EXPECT_EQ(info->not_before, kNow);
  EXPECT_EQ(info->not_after, kNow + absl::Hours(24));
  EXPECT_TRUE(VerifyIssuedBy(*cert, ca.cert, kNow + absl::Hours(1)).ok());
  // Expired, and signed by another CA: both refused.
  EXPECT_TRUE(absl::IsPermissionDenied(VerifyIssuedBy(*cert, ca.cert, kNow + absl::Hours(25))));
  TestCa other = MakeCa();
  EXPECT_TRUE(absl::IsPermissionDenied(VerifyIssuedBy(*cert, other.cert, kNow + absl::Hours(1))));
}

TEST(PkiTest, ServerCertificateHasSans) {
  TestCa ca = MakeCa();
  std::string key = *GenerateKeyPem();
  CertSpec spec;
  spec.common_name = "plumb-server";
  spec.role = kRoleServer;
  spec.sans = {"localhost", "127.0.0.1", "::1"};
  spec.not_before = kNow;
  auto cert = IssueCertificate(ca.cert, ca.key, *PublicKeyPem(key), spec);
  ASSERT_TRUE(cert.ok()) << cert.status();
  auto info = ParseCertificate(*cert);
  ASSERT_TRUE(info.ok());
  EXPECT_EQ(info->sans, (std::vector<std::string>{"localhost", "127.0.0.1", "::1"}));
}

TEST(PkiTest, LeafNeverOutlivesItsCa) {
  TestCa ca = MakeCa(absl::Hours(48));
  std::string key = *GenerateKeyPem();
  CertSpec spec;
  spec.common_name = "n";
  spec.role = kRoleAgent;
  spec.not_before = kNow;
  spec.lifetime = absl::Hours(24 * 365);
  auto info = ParseCertificate(*IssueCertificate(ca.cert, ca.key, *PublicKeyPem(key), spec));
  ASSERT_TRUE(info.ok());
  EXPECT_EQ(info->not_after, kNow - absl::Hours(1) + absl::Hours(48));
}

TEST(PkiTest, DistinctCertificatesHaveDistinctSerialsAndFingerprints) {
  TestCa ca = MakeCa();
  std::string pub = *PublicKeyPem(*GenerateKeyPem());
  CertSpec spec;
  spec.common_name = "n";
  spec.role = kRoleOperator;
  spec.not_before = kNow;
  auto a = ParseCertificate(*IssueCertificate(ca.cert, ca.key, pub, spec));
  auto b = ParseCertificate(*IssueCertificate(ca.cert, ca.key, pub, spec));
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_EQ(a->role, kRoleOperator);
  EXPECT_NE(a->serial_hex, b->serial_hex);
  EXPECT_NE(a->fingerprint, b->fingerprint);
  EXPECT_EQ(a->public_key_sha256, b->public_key_sha256);
}

TEST(PkiTest, BadInputsAreErrorsNotCrashes) {
  EXPECT_TRUE(absl::IsInvalidArgument(ParseCsr("garbage").status()));
  EXPECT_TRUE(absl::IsInvalidArgument(ParseCsr("").status()));
  EXPECT_TRUE(absl::IsInvalidArgument(ParseCertificate("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n").status()));
  EXPECT_TRUE(absl::IsInvalidArgument(ParseCsr(std::string(100000, 'A')).status()));
  std::string key = *GenerateKeyPem();
  EXPECT_TRUE(absl::IsInvalidArgument(MakeCsr(key, "").status()));
  EXPECT_TRUE(absl::IsInvalidArgument(MakeCsr(key, std::string(65, 'x')).status()));
  // A CSR whose body was tampered with no longer verifies (or no longer parses).
  std::string csr = *MakeCsr(key, "web-01");
  size_t mid = csr.find('\n') + 30;
  csr[mid] = csr[mid] == 'A' ? 'B' : 'A';
  EXPECT_FALSE(ParseCsr(csr).ok());
}

TEST(PkiTest, SplitCertificatesKeepsOrder) {
  TestCa a = MakeCa();
  TestCa b = MakeCa();
  auto certs = SplitCertificates(a.cert + b.cert);
  ASSERT_TRUE(certs.ok());
  ASSERT_EQ(certs->size(), 2u);
  EXPECT_EQ(ParseCertificate((*certs)[1])->fingerprint, ParseCertificate(b.cert)->fingerprint);
  EXPECT_FALSE(SplitCertificates("nothing here").ok());
}

TEST(PkiTest, FingerprintsNormalise) {
  std::string hex(64, 'a');
  EXPECT_EQ(*NormalizeFingerprint(hex), hex);
  std::string colons;
  for (int i = 0; i < 32; ++i) colons += (i ? ":AA" : "AA");
  EXPECT_EQ(*NormalizeFingerprint(colons), hex);
  EXPECT_EQ(*NormalizeFingerprint("sha256:" + hex), hex);
  EXPECT_FALSE(NormalizeFingerprint("abc").ok());
  EXPECT_FALSE(NormalizeFingerprint(std::string(64, 'g')).ok());
}

TEST(PkiTest, ConstantTimeEqualsComparesBytes) {
  EXPECT_TRUE(ConstantTimeEquals("abc", "abc"));
  EXPECT_FALSE(ConstantTimeEquals("abc", "abd"));
  EXPECT_FALSE(ConstantTimeEquals("abc", "abcd"));
  EXPECT_EQ(RandomHex(16)->size(), 32u);
  EXPECT_NE(*RandomHex(16), *RandomHex(16));
}

// What the enrollment pin checks: only server certificates carry serverAuth.
TEST(PkiTest, ExtendedKeyUsageSeparatesServerFromClientCertificates) {
  TestCa ca = MakeCa();
  std::string key = *GenerateKeyPem();
  for (const char* role : {kRoleServer, kRoleAgent, kRoleOperator}) {
    CertSpec spec;
    spec.common_name = "x";
    spec.role = role;
    spec.not_before = kNow;
    auto info = ParseCertificate(*IssueCertificate(ca.cert, ca.key, *PublicKeyPem(key), spec));
    ASSERT_TRUE(info.ok()) << info.status();
    bool server = std::string(role) == kRoleServer;
    EXPECT_EQ(info->server_auth, server) << role;
    EXPECT_EQ(info->client_auth, !server) << role;
  }
  auto ca_info = ParseCertificate(ca.cert);  // no extendedKeyUsage at all: neither
  EXPECT_FALSE(ca_info->server_auth);
  EXPECT_FALSE(ca_info->client_auth);
}

}  // namespace
}  // namespace plumb
