// Enrollment's pinned TLS credentials on a host with no CA roots at all (a minimal Debian
// without ca-certificates, where the host suite found install-agent.sh failing). gRPC computes
// its default roots once per process, so this file holds one test and sets the host up first.

#include <stdlib.h>

#include <chrono>

#include "common/grpc_credentials.h"
#include "common/pki/pki.h"
#include "common/secure_files.h"
#include "grpc/grpc_security.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "plumb/v1/fleet.grpc.pb.h"
#include "tests/testing/test_util.h"

namespace plumb {
namespace {

grpc_ssl_roots_override_result NoRoots(char** pem_root_certs) {
  *pem_root_certs = nullptr;
  return GRPC_SSL_ROOTS_OVERRIDE_FAIL_PERMANENTLY;
}

TEST(PinnedCredentialsTest, HandshakeNeedsNoSystemRoots) {
  // No roots file, no system trust store, nothing shipped with gRPC.
  unsetenv("GRPC_DEFAULT_SSL_ROOTS_FILE_PATH");
  setenv("GRPC_NOT_USE_SYSTEM_SSL_ROOTS", "true", 1);
  grpc_set_ssl_roots_override_callback(NoRoots);

  testing::TempDir dir;
  std::string ca_key = *GenerateKeyPem(), server_key = *GenerateKeyPem();
  CertSpec ca_spec{"test ca", kRoleCa, {}, absl::Now() - absl::Minutes(1)};
  absl::StatusOr<std::string> ca = MakeCaCertificate(ca_key, ca_spec);
  ASSERT_TRUE(ca.ok()) << ca.status();
  CertSpec server_spec{"server", kRoleServer, {"127.0.0.1"}, absl::Now() - absl::Minutes(1)};
  absl::StatusOr<std::string> cert =
      IssueCertificate(*ca, ca_key, *PublicKeyPem(server_key), server_spec);
  ASSERT_TRUE(cert.ok()) << cert.status();
  TlsFiles files{"", dir.Sub("server.pem"), dir.Sub("server.key")};
  ASSERT_TRUE(WriteFileAtomically(files.cert, *cert + *ca, 0644).ok());
  ASSERT_TRUE(WriteFileAtomically(files.key, server_key, 0600).ok());
  absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> server_creds =
      MakeServerCredentials(false, files, nullptr);
  ASSERT_TRUE(server_creds.ok()) << server_creds.status();
  grpc::ServerBuilder builder;
  int port = 0;
  builder.AddListeningPort("127.0.0.1:0", *server_creds, &port);
  v1::FleetService::Service fleet;  // every method UNIMPLEMENTED: only the handshake matters
  builder.RegisterService(&fleet);
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  ASSERT_NE(server, nullptr);

  absl::StatusOr<CertInfo> ca_info = ParseCertificate(*ca);
  ASSERT_TRUE(ca_info.ok());
  absl::StatusOr<std::shared_ptr<grpc::ChannelCredentials>> pinned =
      MakePinnedChannelCredentials(ca_info->fingerprint);
  ASSERT_TRUE(pinned.ok()) << pinned.status();
  std::shared_ptr<grpc::Channel> channel =
      grpc::CreateChannel("127.0.0.1:" + std::to_string(port), *pinned);
  // The TLS handshake completes (READY) with the pin alone.
  EXPECT_TRUE(
      channel->WaitForConnected(std::chrono::system_clock::now() + std::chrono::seconds(20)));
  server->Shutdown();
}

}  // namespace
}  // namespace plumb
