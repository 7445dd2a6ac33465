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

// A TLS client of the console: one request, then reads until the server closes.
struct TlsClient {
  explicit TlsClient(int port) : ctx(SSL_CTX_new(TLS_client_method())), fd(Connect(port)) {
    ssl = SSL_new(ctx);
    SSL_set_fd(ssl, fd);
    EXPECT_EQ(SSL_connect(ssl), 1);
  }
  ~TlsClient() {
    SSL_free(ssl);
    close(fd);
    SSL_CTX_free(ctx);
  }
  void Send(const std::string& request) {
    ASSERT_EQ(SSL_write(ssl, request.data(), static_cast<int>(request.size())),
              static_cast<int>(request.size()));
  }
  // Reads until `want` has arrived or the stream ends; returns what arrived.
  std::string ReadUntil(const std::string& want) {
    std::string got;
    char buf[4096];
    while (got.find(want) == std::string::npos) {
      int n = SSL_read(ssl, buf, sizeof(buf));
      if (n <= 0) {
        ended_cleanly = SSL_get_error(ssl, n) == SSL_ERROR_ZERO_RETURN;
        break;
      }
      got.append(buf, n);
    }
    return got;
  }
  SSL_CTX* ctx;
  int fd;
  SSL* ssl = nullptr;
  bool ended_cleanly = false;
};

// Event streams are bounded (one more is answered 503), carry bus events, and end with a TLS
// close_notify when the console stops, so the browser sees a clean end and reconnects.
TEST_F(ConsoleServerTest, EventStreamsAreBoundedAndEndCleanly) {
  ConsoleOptions options;
  options.events.max_clients = 1;
  auto s = ConsoleServer::Start("127.0.0.1:0", MakeTlsFiles(dir_), Routes(), &bus_, &clock_,
                                options);
  ASSERT_TRUE(s.ok()) << s.status();
  auto session = (*s)->sessions()->Create("test");
  ASSERT_TRUE(session.ok());
  std::string request = "GET /api/events HTTP/1.1\r\nHost: x\r\nCookie: plumb_session=" +
                        session->id + "\r\n\r\n";
  TlsClient first((*s)->port());
  first.Send(request);
  EXPECT_NE(first.ReadUntil(": connected\n\n").find("text/event-stream"), std::string::npos);
  TlsClient second((*s)->port());
  second.Send(request);
  EXPECT_NE(second.ReadUntil("\r\n").find("503"), std::string::npos);
  bus_.Publish(MakeEvent(v1::EVENT_NODE_CONNECTED, "web-1"));
  EXPECT_NE(first.ReadUntil("\n\n").find("\"node\":\"web-1\""), std::string::npos);
  (*s)->Stop();
  first.ReadUntil("never arrives");
  EXPECT_TRUE(first.ended_cleanly);
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
