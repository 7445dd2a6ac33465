// CallAuthorizer and the TLS credentials of common/grpc_credentials over real TLS on
// 127.0.0.1: who may call AgentService and FleetService, bearer tokens, revoked certificates,
// and an enrolling client trusting the server by the CA's fingerprint.

#include "server/security/call_authorizer.h"

#include "absl/time/clock.h"
#include "common/grpc_credentials.h"
#include "common/secure_files.h"
#include "gtest/gtest.h"
#include "plumb/v1/agent.grpc.pb.h"
#include "plumb/v1/fleet.grpc.pb.h"
#include "server/security/certificate_authority.h"
#include "tests/testing/test_util.h"

namespace plumb {
namespace {

using testing::TempDir;

constexpr char kToken[] = "operator-token-0123456789";

// Answers ListNodes with one node named "ok".
class FakeFleet : public v1::FleetService::Service {
  grpc::Status ListNodes(grpc::ServerContext*, const v1::ListNodesRequest*,
                         v1::ListNodesResponse* resp) override {
    resp->add_nodes()->set_name("ok");
    return grpc::Status::OK;
  }
};

// Answers Enroll and Renew with the caller's CN (or "anonymous").
class FakeAgentService : public v1::AgentService::Service {
  grpc::Status Enroll(grpc::ServerContext* ctx, const v1::EnrollRequest*,
                      v1::EnrollResponse* resp) override {
    auto cert = PeerCertificate(*ctx->auth_context());
    resp->set_cert_pem(cert ? cert->common_name : "anonymous");
    return grpc::Status::OK;
  }
  grpc::Status Renew(grpc::ServerContext* ctx, const v1::RenewRequest*,
                     v1::EnrollResponse* resp) override {
    resp->set_cert_pem(PeerCertificate(*ctx->auth_context())->common_name);
    return grpc::Status::OK;
  }
};

// Revokes certificates by CN.
class RevokedNames : public RevocationCheck {
 public:
  bool IsRevoked(const CertInfo& cert) const override { return cert.common_name == "revoked-1"; }
};

class CallAuthorizerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto ca = CertificateAuthority::Init(dir_.Sub("ca"), {"localhost", "127.0.0.1"}, absl::Now());
    ASSERT_TRUE(ca.ok()) << ca.status();
    ca_ = std::move(*ca);
    auto hashes = HashOperatorTokens({kToken});
    ASSERT_TRUE(hashes.ok());
    auto creds = MakeServerCredentials(false, CertificateAuthority::ServerTlsFiles(dir_.Sub("ca")),
                                       std::make_shared<CallAuthorizer>(*hashes, &revoked_));
    ASSERT_TRUE(creds.ok()) << creds.status();
    grpc::ServerBuilder builder;
    builder.AddListeningPort("127.0.0.1:0", *creds, &port_);
    builder.RegisterService(&fleet_);
    builder.RegisterService(&agent_);
    server_ = builder.BuildAndStart();
    ASSERT_NE(server_, nullptr);
  }
  void TearDown() override { server_->Shutdown(); }

  // Files for a client certificate of `role` named `cn`.
  TlsFiles ClientFiles(const std::string& cn, const std::string& role) {
    std::string key = *GenerateKeyPem();
    CertSpec spec;
    spec.common_name = cn;
    spec.role = role;
    spec.not_before = absl::Now() - absl::Minutes(1);
    auto cert = ca_->Issue(*PublicKeyPem(key), spec);
    EXPECT_TRUE(cert.ok()) << cert.status();
    TlsFiles files{CertificateAuthority::CaCertPath(dir_.Sub("ca")), dir_.Sub(cn + ".pem"),
                   dir_.Sub(cn + ".key")};
    EXPECT_TRUE(WriteFileAtomically(files.cert, *cert, 0644).ok());
    EXPECT_TRUE(WriteFileAtomically(files.key, key, 0600).ok());
    return files;
  }

  std::shared_ptr<grpc::Channel> Channel(std::shared_ptr<grpc::ChannelCredentials> creds) {
    return grpc::CreateCustomChannel("127.0.0.1:" + std::to_string(port_), creds,
                                     DefaultChannelArguments());
  }

  grpc::Status ListNodes(std::shared_ptr<grpc::ChannelCredentials> creds) {
    auto stub = v1::FleetService::NewStub(Channel(creds));
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
    v1::ListNodesResponse resp;
    return stub->ListNodes(&ctx, v1::ListNodesRequest(), &resp);
  }

  grpc::Status Call(std::shared_ptr<grpc::ChannelCredentials> creds, bool renew,
                    std::string* answer) {
    auto stub = v1::AgentService::NewStub(Channel(creds));
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
    v1::EnrollResponse resp;
    grpc::Status s = renew ? stub->Renew(&ctx, v1::RenewRequest(), &resp)
                           : stub->Enroll(&ctx, v1::EnrollRequest(), &resp);
    *answer = resp.cert_pem();
    return s;
  }

  TempDir dir_;
  std::unique_ptr<CertificateAuthority> ca_;
  RevokedNames revoked_;
  FakeFleet fleet_;
  FakeAgentService agent_;
  std::unique_ptr<grpc::Server> server_;
  int port_ = 0;
};

std::shared_ptr<grpc::ChannelCredentials> Creds(const TlsFiles& files,
                                                const std::string& token = "") {
  auto creds = MakeChannelCredentials(false, files, token);
  EXPECT_TRUE(creds.ok()) << creds.status();
  return *creds;
}

TEST_F(CallAuthorizerTest, FleetServiceNeedsAnOperatorCredential) {
  std::string ca = CertificateAuthority::CaCertPath(dir_.Sub("ca"));
  EXPECT_TRUE(ListNodes(Creds(ClientFiles("alice", kRoleOperator))).ok());
  EXPECT_TRUE(ListNodes(Creds({ca, "", ""}, kToken)).ok());

  grpc::Status none = ListNodes(Creds({ca, "", ""}));
  EXPECT_EQ(none.error_code(), grpc::StatusCode::UNAUTHENTICATED) << none.error_message();
  EXPECT_NE(none.error_message().find("operator credential"), std::string::npos);

  grpc::Status agent = ListNodes(Creds(ClientFiles("web-1", kRoleAgent)));
  EXPECT_EQ(agent.error_code(), grpc::StatusCode::PERMISSION_DENIED) << agent.error_message();

  grpc::Status wrong = ListNodes(Creds({ca, "", ""}, "not-the-operator-token"));
  EXPECT_EQ(wrong.error_code(), grpc::StatusCode::UNAUTHENTICATED) << wrong.error_message();
}

TEST_F(CallAuthorizerTest, AgentServiceNeedsAnAgentCertificateExceptEnroll) {
  std::string ca = CertificateAuthority::CaCertPath(dir_.Sub("ca"));
  std::string answer;
  EXPECT_TRUE(Call(Creds({ca, "", ""}), /*renew=*/false, &answer).ok());
  EXPECT_EQ(answer, "anonymous");
  ASSERT_TRUE(Call(Creds(ClientFiles("web-1", kRoleAgent)), true, &answer).ok());
  EXPECT_EQ(answer, "web-1");

  EXPECT_EQ(Call(Creds({ca, "", ""}), true, &answer).error_code(),
            grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_EQ(Call(Creds(ClientFiles("alice", kRoleOperator)), true, &answer).error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
  grpc::Status revoked = Call(Creds(ClientFiles("revoked-1", kRoleAgent)), true, &answer);
  EXPECT_EQ(revoked.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_NE(revoked.error_message().find("revoked"), std::string::npos);
}

TEST_F(CallAuthorizerTest, ARevokedOperatorCertificateIsRefusedSayingSo) {
  EXPECT_TRUE(ListNodes(Creds(ClientFiles("alice", kRoleOperator))).ok());
  grpc::Status revoked = ListNodes(Creds(ClientFiles("revoked-1", kRoleOperator)));
  EXPECT_EQ(revoked.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_NE(revoked.error_message().find("operator \"revoked-1\" has been revoked"),
            std::string::npos)
      << revoked.error_message();
}

TEST_F(CallAuthorizerTest, CertificateFromAnotherCaIsRefusedAtTheHandshake) {
  TempDir other;
  auto other_ca = CertificateAuthority::Init(other.Sub("ca"), {"localhost"}, absl::Now());
  ASSERT_TRUE(other_ca.ok());
  std::string key = *GenerateKeyPem();
  CertSpec spec{"mallory", kRoleOperator, {}, absl::Now() - absl::Minutes(1)};
  ASSERT_TRUE(WriteFileAtomically(dir_.Sub("m.pem"), *(*other_ca)->Issue(*PublicKeyPem(key), spec), 0644).ok());
  ASSERT_TRUE(WriteFileAtomically(dir_.Sub("m.key"), key, 0600).ok());
  grpc::Status s = ListNodes(Creds({CertificateAuthority::CaCertPath(dir_.Sub("ca")),
                                    dir_.Sub("m.pem"), dir_.Sub("m.key")}));
  EXPECT_FALSE(s.ok());
}

TEST_F(CallAuthorizerTest, PinnedChannelTrustsTheRightCaOnly) {
  std::string answer;
  auto pinned = MakePinnedChannelCredentials(FormatFingerprint(ca_->fingerprint()));
  ASSERT_TRUE(pinned.ok()) << pinned.status();
  grpc::Status good = Call(*pinned, false, &answer);
  EXPECT_TRUE(good.ok()) << good.error_message();

  auto wrong = MakePinnedChannelCredentials(std::string(64, 'a'));
  ASSERT_TRUE(wrong.ok());
  EXPECT_EQ(Call(*wrong, false, &answer).error_code(), grpc::StatusCode::UNAVAILABLE);
  EXPECT_FALSE(MakePinnedChannelCredentials("12:34").ok());
}

TEST(CallAuthorizerDecisionTest, UnknownMethodsAreRefused) {
  CallAuthorizer authorizer({}, nullptr);
  EXPECT_EQ(authorizer.Authorize("/other.Service/Call", nullptr, "").error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_TRUE(authorizer.Authorize("/grpc.health.v1.Health/Check", nullptr, "").ok());
  EXPECT_FALSE(HashOperatorTokens({"short"}).ok());
  EXPECT_EQ(HashOperatorTokens({"sha256:" + std::string(64, 'b')})->at(0), std::string(64, 'b'));
}

}  // namespace
}  // namespace plumb
