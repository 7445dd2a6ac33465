// The HTTP listener under slow clients, over real sockets on 127.0.0.1: connections that send
// part of a request and then stall or trickle (slowloris), or that just stay open by the
// thousand, do not keep /healthz from answering; a request slower than the whole-request
// deadline is closed.

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "server/http/http_server.h"
#include "tests/testing/http_client.h"

namespace plumb {
namespace {

using Clock = std::chrono::steady_clock;

// A connection to 127.0.0.1:`port` that has sent nothing; -1 on failure.
int Connect(int port) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    close(fd);
    return -1;
  }
  return fd;
}

// A connection to 127.0.0.1:`port` that has sent an unfinished request; -1 on failure.
int StalledConnection(int port) {
  int fd = Connect(port);
  if (fd < 0) return -1;
  const std::string partial = "GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ";
  if (send(fd, partial.data(), partial.size(), MSG_NOSIGNAL) !=
      static_cast<ssize_t>(partial.size())) {
    close(fd);
    return -1;
  }
  return fd;
}

// Waits until one of `fds` is readable (answered or closed by the server) or `until`; returns
// the index of a readable one, or -1 at `until`.
int WaitReadable(const std::vector<int>& fds, Clock::time_point until) {
  std::vector<pollfd> polls;
  for (int fd : fds) polls.push_back({fd, POLLIN, 0});
  while (true) {
    auto left = std::chrono::ceil<std::chrono::milliseconds>(until - Clock::now()).count();
    if (left <= 0) return -1;
    int n = poll(polls.data(), polls.size(), static_cast<int>(left));
    if (n < 0 && errno == EINTR) continue;
    for (size_t i = 0; n > 0 && i < polls.size(); ++i) {
      if (polls[i].revents != 0) return static_cast<int>(i);
    }
  }
}

// Everything the server sends on `fd` until it closes it (waiting at most 5 s); false if it
// did not close it by then.
bool ReadUntilClosed(int fd, std::string* received) {
  Clock::time_point until = Clock::now() + std::chrono::seconds(5);
  char buf[4096];
  while (WaitReadable({fd}, until) == 0) {
    ssize_t n = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);
    if (n == 0 || (n < 0 && errno == ECONNRESET)) return true;
    if (n > 0) received->append(buf, static_cast<size_t>(n));
  }
  return false;
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

// Issue 13 item 9: with cpp-httplib's 16 workers and 5 s read timeouts, 16 clients trickling a
// byte per second held every worker and /healthz got no answer.
TEST(HttpSlowClientsTest, HealthzAnswersWhileSixtyFourClientsTrickleTheirHeads) {
  auto server = HttpServer::Start("127.0.0.1:0", HttpHandlers{});
  ASSERT_TRUE(server.ok()) << server.status();
  const int port = (*server)->port();
  const std::string head = "GET /healthz HTTP/1.1\r\nX-Slow: aaaaaaaaaaaaaaaaaaaaaa";
  constexpr int kTricklers = 64;
  constexpr int kRounds = 5;  // under the 10 s whole-request deadline, which would close them
  std::vector<int> tricklers;
  for (int i = 0; i < kTricklers; ++i) {
    int fd = Connect(port);
    ASSERT_GE(fd, 0) << "cannot connect";
    tricklers.push_back(fd);
  }
  for (int round = 0; round < kRounds; ++round) {
    Clock::time_point next = Clock::now() + std::chrono::seconds(1);
    for (int fd : tricklers) {
      ASSERT_EQ(send(fd, &head[round], 1, MSG_NOSIGNAL), 1) << "round " << round;
    }
    testing::HttpResponse health = testing::HttpRequest(port, "GET", "/healthz");
    EXPECT_EQ(health.status, 200) << "round " << round;
    EXPECT_EQ(health.body, "ok\n");
    // Paces the trickle, and fails at once if the server answers or drops a trickler early.
    int answered = WaitReadable(tricklers, next);
    ASSERT_EQ(answered, -1) << "trickler " << answered << " answered or closed in round " << round;
  }
  for (int fd : tricklers) EXPECT_TRUE(StillHeld(fd));
  for (int fd : tricklers) close(fd);
}

TEST(HttpSlowClientsTest, RequestSlowerThanTheWholeRequestDeadlineIsClosed) {
  HttpListenerOptions options;
  options.request_deadline = absl::Seconds(1);
  auto server = HttpServer::Start("127.0.0.1:0", HttpHandlers{}, options);
  ASSERT_TRUE(server.ok()) << server.status();
  int fd = Connect((*server)->port());
  ASSERT_GE(fd, 0);
  Clock::time_point start = Clock::now();
  // A byte every 100 ms: never silent long enough for any per-read timeout to end it.
  const std::string head = "GET /healthz HTTP/1.1\r\nX-Slow: " + std::string(100, 'a');
  size_t sent = 0;
  while (WaitReadable({fd}, Clock::now() + std::chrono::milliseconds(100)) == -1) {
    ASSERT_LT(sent, head.size()) << "not closed after " << sent << " bytes";
    ASSERT_EQ(send(fd, &head[sent++], 1, MSG_NOSIGNAL), 1);
  }
  std::string received;
  EXPECT_TRUE(ReadUntilClosed(fd, &received));
  auto took = Clock::now() - start;
  EXPECT_GE(took, std::chrono::milliseconds(900));
  EXPECT_LT(took, std::chrono::seconds(3));
  EXPECT_EQ(received.rfind("HTTP/1.1 408 ", 0), 0u) << received;
  close(fd);
  EXPECT_EQ(testing::HttpRequest((*server)->port(), "GET", "/healthz").status, 200);
}

// Both ends of every connection live in this process: raises the soft descriptor limit toward
// `wanted` and returns how many client connections fit beside the server's own.
int ConnectionsThatFit(int wanted, int server_max) {
  rlimit limit{};
  getrlimit(RLIMIT_NOFILE, &limit);
  rlim_t need = static_cast<rlim_t>(wanted + server_max + 64);
  if (limit.rlim_cur < need) {
    limit.rlim_cur = std::min(need, limit.rlim_max);
    setrlimit(RLIMIT_NOFILE, &limit);
    getrlimit(RLIMIT_NOFILE, &limit);
  }
  return std::min<int>(wanted, static_cast<int>(limit.rlim_cur) - server_max - 64);
}

TEST(HttpSlowClientsTest, HealthzAnswersBesideTwoThousandIdleConnectionsOldestEvicted) {
  auto server = HttpServer::Start("127.0.0.1:0", HttpHandlers{});
  ASSERT_TRUE(server.ok()) << server.status();
  const int max = static_cast<int>(HttpListenerOptions().max_connections);
  const int count = ConnectionsThatFit(2000, max);
  ASSERT_GT(count, max) << "descriptor limit too low to fill the listener";
  std::vector<int> idle;
  for (int i = 0; i < count; ++i) {
    int fd = Connect((*server)->port());
    ASSERT_GE(fd, 0) << "cannot connect #" << i;
    idle.push_back(fd);
  }
  testing::HttpResponse health = testing::HttpRequest((*server)->port(), "GET", "/healthz");
  EXPECT_EQ(health.status, 200);
  EXPECT_EQ(health.body, "ok\n");
  std::string received;
  EXPECT_TRUE(ReadUntilClosed(idle.front(), &received)) << "the oldest was not evicted";
  EXPECT_EQ(received, "");
  EXPECT_TRUE(StillHeld(idle.back()));
  for (int fd : idle) close(fd);
}

}  // namespace
}  // namespace plumb
