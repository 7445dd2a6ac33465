#include "server/console/console_server.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <openssl/ssl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "common/pki/pki.h"
#include "gtest/gtest.h"
#include "tests/testing/fake_clock.h"
#include "tests/testing/test_util.h"

namespace plumb {
namespace {

// A self-signed certificate is enough for the server side of TLS.
TlsFiles MakeTlsFiles(const testing::TempDir& dir) {
  auto key = GenerateKeyPem();
  EXPECT_TRUE(key.ok());
  CertSpec spec;
  spec.common_name = "console-test";
  spec.not_before = absl::Now() - absl::Hours(1);
  auto cert = MakeCaCertificate(*key, spec);
  EXPECT_TRUE(cert.ok()) << cert.status();
  testing::WriteFileOrDie(dir.Sub("cert.pem"), *cert);
  testing::WriteFileOrDie(dir.Sub("key.pem"), *key);
  return TlsFiles{"", dir.Sub("cert.pem"), dir.Sub("key.pem")};
}

int Connect(int port) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  EXPECT_EQ(connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
  return fd;
}

class ConsoleServerTest : public ::testing::Test {
 protected:
  ConsoleRoutes Routes() {
    ConsoleRoutes routes;
    routes.is_operator = [](const CertInfo*, absl::string_view) { return false; };
    return routes;
  }
  testing::TempDir dir_;
  testing::ManualClock clock_;
  EventBus bus_{&clock_};
};

TEST_F(ConsoleServerTest, NeedsTheServersCertificate) {
  auto s = ConsoleServer::Start("127.0.0.1:0", TlsFiles{}, Routes(), &bus_, &clock_);
  EXPECT_EQ(s.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(s.status().message().find("tls.cert"), std::string::npos);
}

TEST_F(ConsoleServerTest, RejectsAMalformedAddress) {
  auto s = ConsoleServer::Start("no-port", MakeTlsFiles(dir_), Routes(), &bus_, &clock_);
  EXPECT_EQ(s.status().code(), absl::StatusCode::kInvalidArgument);
}

// Clients that send a request and hang up at once (resetting the connection) make the server's
// response or close_notify hit a closed socket: that must be EPIPE for that connection, never
// SIGPIPE for the process (which would end this test binary).
TEST_F(ConsoleServerTest, SurvivesClientsThatHangUp) {
  auto s = ConsoleServer::Start("127.0.0.1:0", MakeTlsFiles(dir_), Routes(), &bus_, &clock_);
  ASSERT_TRUE(s.ok()) << s.status();
  SSL_CTX* ctx = SSL_CTX_new(TLS_client_method());
  SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, nullptr);
  for (int i = 0; i < 30; ++i) {
    int fd = Connect((*s)->port());
    SSL* ssl = SSL_new(ctx);
    SSL_set_fd(ssl, fd);
    ASSERT_EQ(SSL_connect(ssl), 1);
    const char request[] = "GET /login HTTP/1.1\r\nHost: x\r\n\r\n";
    ASSERT_GT(SSL_write(ssl, request, sizeof(request) - 1), 0);
    linger reset{1, 0};
    setsockopt(fd, SOL_SOCKET, SO_LINGER, &reset, sizeof(reset));
    SSL_free(ssl);
    close(fd);
  }
  // Still serving: a new client gets the sign-in page.
  int fd = Connect((*s)->port());
  SSL* ssl = SSL_new(ctx);
  SSL_set_fd(ssl, fd);
  ASSERT_EQ(SSL_connect(ssl), 1);
  const char request[] = "GET /login HTTP/1.1\r\nHost: x\r\n\r\n";
  ASSERT_GT(SSL_write(ssl, request, sizeof(request) - 1), 0);
  char buf[64] = {};
  ASSERT_GT(SSL_read(ssl, buf, sizeof(buf) - 1), 0);
  EXPECT_EQ(std::string(buf).substr(0, 15), "HTTP/1.1 200 OK");
  SSL_free(ssl);
  close(fd);
  SSL_CTX_free(ctx);
  (*s)->Stop();
}

// A client that connects and says nothing holds a worker at most request_deadline.
TEST_F(ConsoleServerTest, SilentClientIsDroppedAtTheDeadline) {
  ConsoleOptions options;
  options.listener.request_deadline = absl::Milliseconds(300);
  auto s = ConsoleServer::Start("127.0.0.1:0", MakeTlsFiles(dir_), Routes(), &bus_, &clock_,
                                options);
  ASSERT_TRUE(s.ok()) << s.status();
  int fd = Connect((*s)->port());
  timeval tv{10, 0};  // generous: the server closes well before
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  char buf[64];
  absl::Time start = absl::Now();
  EXPECT_EQ(recv(fd, buf, sizeof(buf), 0), 0);  // closed by the server
  EXPECT_LT(absl::Now() - start, absl::Seconds(5));
  close(fd);
}

}  // namespace
}  // namespace plumb
