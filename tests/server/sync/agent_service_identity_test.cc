// The identity a Sync stream speaks with (SetPeerIdentity): the client certificate's CN when
// TLS is on, never a certificate without one. Regression found while writing
// tests/fuzz/agent_stream_fuzzer.

#include "gtest/gtest.h"
#include "server/sync/agent_service.h"

namespace plumb {
namespace {

CertInfo AgentCert(const std::string& common_name) {
  CertInfo cert;
  cert.common_name = common_name;
  cert.role = kRoleAgent;
  return cert;
}

TEST(AgentServiceIdentityTest, CertificateNamesTheNode) {
  AgentSession session("peer");
  grpc::Status status = SetPeerIdentity(true, AgentCert("web-1"), nullptr, &session);
  EXPECT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(session.verified_node, "web-1");
}

// An empty verified node means "Hello names the node": such a certificate (from an outside
// PKI) could otherwise speak for every node and fetch every node's catalog.
TEST(AgentServiceIdentityTest, CertificateWithoutCommonNameIsRefused) {
  AgentSession session("peer");
  grpc::Status status = SetPeerIdentity(true, AgentCert(""), nullptr, &session);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_TRUE(session.verified_node.empty());
}

TEST(AgentServiceIdentityTest, NoCertificateIsRefusedWithTls) {
  AgentSession session("peer");
  EXPECT_EQ(SetPeerIdentity(true, std::nullopt, nullptr, &session).error_code(),
            grpc::StatusCode::UNAUTHENTICATED);
}

TEST(AgentServiceIdentityTest, InsecureLeavesTheNodeToHello) {
  AgentSession session("peer");
  EXPECT_TRUE(SetPeerIdentity(false, std::nullopt, nullptr, &session).ok());
  EXPECT_TRUE(session.verified_node.empty());
}

}  // namespace
}  // namespace plumb
