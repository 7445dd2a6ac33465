// The HTTP listener under slow clients, over real sockets on 127.0.0.1: connections that send
// part of a request and then stall (slowloris) do not keep /healthz from answering.

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "server/http/http_server.h"
#include "tests/testing/http_client.h"

namespace plumb {
namespace {

// A connection to 127.0.0.1:`port` that has sent an unfinished request; -1 on failure.
int StalledConnection(int port) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  const std::string partial = "GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ";
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0 ||
      send(fd, partial.data(), partial.size(), MSG_NOSIGNAL) !=
          static_cast<ssize_t>(partial.size())) {
    close(fd);
    return -1;
  }
  return fd;
}

// True while the server has neither answered nor closed `fd`.
bool StillHeld(int fd) {
  char c;
  ssize_t n = recv(fd, &c, 1, MSG_DONTWAIT);
  return n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK);
}

TEST(HttpSlowClientsTest, HealthzAnswersWhileStalledClientsHoldConnections) {
  auto server = HttpServer::Start("127.0.0.1:0", HttpHandlers{});
  ASSERT_TRUE(server.ok()) << server.status();
  constexpr int kStalled = 8;  // twice the worker threads the listener used to have
  std::vector<int> stalled;
  for (int i = 0; i < kStalled; ++i) {
    int fd = StalledConnection((*server)->port());
    ASSERT_GE(fd, 0) << "cannot connect";
    stalled.push_back(fd);
  }
  testing::HttpResponse health = testing::HttpRequest((*server)->port(), "GET", "/healthz");
  EXPECT_EQ(health.status, 200);
  EXPECT_EQ(health.body, "ok\n");
  // Answered while every stalled connection was still held, not after timing them out.
  for (int fd : stalled) EXPECT_TRUE(StillHeld(fd));
  for (int fd : stalled) close(fd);
}

}  // namespace
}  // namespace plumb
