// The HTTP listener over real sockets on 127.0.0.1:0: /metrics, /healthz, /readyz, and the
// /hooks/git webhook with right, wrong and missing HMAC signatures.

#include "server/http/http_server.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>

#include "absl/synchronization/mutex.h"
#include "gtest/gtest.h"
#include "server/http/webhook_signature.h"
#include "tests/testing/http_client.h"

namespace plumb {
namespace {

using testing::HttpRequest;
using testing::HttpResponse;

constexpr char kSecret[] = "It's a Secret to Everybody";
constexpr char kPayload[] = R"({"ref":"refs/heads/main","after":"4f2a9c1e"})";

class HttpServerTest : public ::testing::Test {
 protected:
  void Start(const std::string& secret) {
    HttpHandlers h;
    h.metrics = [] { return std::string("# HELP plumb_x X.\n# TYPE plumb_x gauge\nplumb_x 1\n"); };
    h.ready = [this] { return ready_ ? absl::OkStatus() : absl::UnavailableError("last fetch failed: boom"); };
    h.on_webhook = [this](const WebhookPush& push) {
      absl::MutexLock lock(&mu_);
      if (push.kind == WebhookPush::Kind::kBranch && push.branch != "main") return false;
      if (push.kind == WebhookPush::Kind::kOtherRef) return false;
      ++syncs_;
      pushed_ += push.branch + ";";
      return true;
    };
    h.count_webhook = [this](const std::string& result) {
      absl::MutexLock lock(&mu_);
      results_ += result + ";";
    };
    h.webhook_secret = secret;
    auto server = HttpServer::Start("127.0.0.1:0", std::move(h));
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = std::move(*server);
    ASSERT_GT(server_->port(), 0);
  }

  HttpResponse PostHook(const std::vector<std::pair<std::string, std::string>>& headers) {
    return HttpRequest(server_->port(), "POST", "/hooks/git", kPayload, headers);
  }
  // A correctly signed push of `body`.
  HttpResponse PostSigned(const std::string& body) {
    return HttpRequest(server_->port(), "POST", "/hooks/git", body,
                       {{"X-Hub-Signature-256", WebhookSignature(kSecret, body)}});
  }
  std::string pushed() {
    absl::MutexLock lock(&mu_);
    return pushed_;
  }

  std::atomic<bool> ready_{false};
  std::atomic<int> syncs_{0};
  std::string results() {
    absl::MutexLock lock(&mu_);
    return results_;
  }

  absl::Mutex mu_;
  std::string results_ ABSL_GUARDED_BY(mu_);
  std::string pushed_ ABSL_GUARDED_BY(mu_);
  std::unique_ptr<HttpServer> server_;
};

TEST(WebhookSignatureTest, MatchesGitHubsDocumentedExample) {
  // docs.github.com "Validating webhook deliveries": secret and payload below give this digest.
  EXPECT_EQ(WebhookSignature(kSecret, "Hello, World!"),
            "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17");
  EXPECT_TRUE(VerifyWebhookSignature(
      kSecret, "Hello, World!",
      "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"));
  EXPECT_FALSE(VerifyWebhookSignature(
      kSecret, "Hello, World?",
      "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"));
  EXPECT_FALSE(VerifyWebhookSignature("", "x", WebhookSignature("", "x")));
  EXPECT_FALSE(VerifyWebhookSignature(kSecret, "x", ""));
  EXPECT_FALSE(VerifyWebhookSignature(kSecret, "x", "sha1=abc"));
}

TEST_F(HttpServerTest, HealthzIsLiveReadyzFollowsReadiness) {
  Start(kSecret);
  HttpResponse health = HttpRequest(server_->port(), "GET", "/healthz");
  EXPECT_EQ(health.status, 200);
  HttpResponse not_ready = HttpRequest(server_->port(), "GET", "/readyz");
  EXPECT_EQ(not_ready.status, 503);
  EXPECT_EQ(not_ready.body, "not ready: last fetch failed: boom\n");
  ready_ = true;
  EXPECT_EQ(HttpRequest(server_->port(), "GET", "/readyz").status, 200);
}

TEST_F(HttpServerTest, MetricsUsePrometheusContentType) {
  Start(kSecret);
  HttpResponse m = HttpRequest(server_->port(), "GET", "/metrics");
  EXPECT_EQ(m.status, 200);
  EXPECT_NE(m.headers.find("text/plain; version=0.0.4"), std::string::npos) << m.headers;
  EXPECT_EQ(m.body, "# HELP plumb_x X.\n# TYPE plumb_x gauge\nplumb_x 1\n");
  EXPECT_EQ(HttpRequest(server_->port(), "GET", "/nope").status, 404);
}

TEST_F(HttpServerTest, WebhookWithRightSignatureIsAcceptedAndSyncs) {
  Start(kSecret);
  HttpResponse r = PostHook({{"X-Hub-Signature-256", WebhookSignature(kSecret, kPayload)},
                             {"X-GitHub-Event", "push"}});
  EXPECT_EQ(r.status, 202) << r.body;
  EXPECT_EQ(syncs_.load(), 1);
  EXPECT_EQ(results(), "accepted;");
  EXPECT_EQ(pushed(), "main;");
  EXPECT_EQ(r.body, "fetch scheduled: main\n");
}

TEST_F(HttpServerTest, WebhookForABranchNoLineFollowsFetchesNothing) {
  Start(kSecret);
  HttpResponse other = PostSigned(R"({"ref":"refs/heads/feature-x","after":"4f2a9c1e"})");
  EXPECT_EQ(other.status, 202) << other.body;
  EXPECT_EQ(other.body, "ignored: no environment follows refs/heads/feature-x\n");
  HttpResponse tag = PostSigned(R"({"ref":"refs/tags/v1.0"})");
  EXPECT_EQ(tag.status, 202) << tag.body;
  EXPECT_EQ(syncs_.load(), 0);
  EXPECT_EQ(results(), "ignored;ignored;");
}

TEST_F(HttpServerTest, WebhookWithoutARefFetchesEveryLine) {
  Start(kSecret);
  EXPECT_EQ(PostSigned(R"({"zen":"Keep it logically awesome.","hook_id":1})").status, 202);
  EXPECT_EQ(PostSigned("not json at all").status, 202);
  EXPECT_EQ(syncs_.load(), 2);
  EXPECT_EQ(pushed(), ";;");  // no branch named: the server asks every line
  EXPECT_EQ(results(), "accepted;accepted;");
}

TEST(WebhookPushTest, ReadsTheTopLevelRef) {
  WebhookPush branch = ParseWebhookPush(
      R"({"ref":"refs/heads/release/2.x","commits":[{"ref":"refs/heads/no"}],"n":3.5})");
  EXPECT_EQ(branch.kind, WebhookPush::Kind::kBranch);
  EXPECT_EQ(branch.branch, "release/2.x");
  WebhookPush tag = ParseWebhookPush(R"({"ref":"refs/tags/v1"})");
  EXPECT_EQ(tag.kind, WebhookPush::Kind::kOtherRef);
  EXPECT_EQ(tag.ref, "refs/tags/v1");
  EXPECT_EQ(ParseWebhookPush(R"({"ref":"refs/heads/"})").kind, WebhookPush::Kind::kOtherRef);
  for (const std::string& body :
       {std::string(R"({"ref":7})"), std::string("[1,2]"), std::string("{"), std::string(""),
        std::string(R"({"commits":[]})"),
        R"({"ref":"refs/heads/)" + std::string(kMaxWebhookRefBytes, 'x') + R"("})"}) {
    EXPECT_EQ(ParseWebhookPush(body).kind, WebhookPush::Kind::kUnknown) << body.substr(0, 40);
  }
}

TEST_F(HttpServerTest, WebhookWithWrongOrMissingSignatureIs401) {
  Start(kSecret);
  EXPECT_EQ(PostHook({{"X-Hub-Signature-256", WebhookSignature("not the secret", kPayload)}}).status,
            401);
  EXPECT_EQ(PostHook({{"X-Hub-Signature-256", WebhookSignature(kSecret, "other body")}}).status,
            401);
  EXPECT_EQ(PostHook({}).status, 401);
  EXPECT_EQ(PostHook({{"X-Hub-Signature-256", "sha256=zz"}}).status, 401);
  EXPECT_EQ(syncs_.load(), 0);
  EXPECT_EQ(results(), "unauthorized;unauthorized;unauthorized;unauthorized;");
}

TEST_F(HttpServerTest, WebhookWithoutConfiguredSecretIsRefused) {
  Start("");
  HttpResponse r = PostHook({{"X-Hub-Signature-256", WebhookSignature("", kPayload)}});
  EXPECT_EQ(r.status, 403);
  EXPECT_EQ(syncs_.load(), 0);
}

// Sends `raw` on one connection to 127.0.0.1:`port` and returns all it gets until the server
// closes the connection (the socket's 10 s receive timeout bounds the wait).
std::string Exchange(int port, const std::string& raw) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  timeval timeout{10, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout));
  std::string got;
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0 &&
      send(fd, raw.data(), raw.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(raw.size())) {
    char buf[4096];
    ssize_t n;
    while ((n = recv(fd, buf, sizeof(buf), 0)) > 0) got.append(buf, static_cast<size_t>(n));
  }
  close(fd);
  return got;
}

TEST_F(HttpServerTest, PipelinedKeepAliveRequestsAreAnsweredInOrder) {
  Start(kSecret);
  ready_ = true;
  std::string got = Exchange(server_->port(),
                             "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"
                             "GET /readyz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
  size_t first = got.find("\r\n\r\nok\n");
  size_t second = got.find("\r\n\r\nready\n");
  EXPECT_NE(first, std::string::npos) << got;
  EXPECT_NE(second, std::string::npos) << got;
  EXPECT_LT(first, second);
}

TEST_F(HttpServerTest, MalformedOrOversizedRequestsGetTheirStatus) {
  Start(kSecret);
  int port = server_->port();
  EXPECT_EQ(Exchange(port, "POST /hooks/git HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
                           "0\r\n\r\n").rfind("HTTP/1.1 411 ", 0), 0u);
  EXPECT_EQ(Exchange(port, "POST /hooks/git HTTP/1.1\r\n\r\n").rfind("HTTP/1.1 411 ", 0), 0u);
  EXPECT_EQ(Exchange(port, "POST /hooks/git HTTP/1.1\r\nContent-Length: " +
                               std::to_string(HttpServer::kMaxWebhookBytes + 1) + "\r\n\r\n")
                .rfind("HTTP/1.1 413 ", 0), 0u);
  EXPECT_EQ(Exchange(port, "GET /healthz HTTP/1.1\r\nX-Big: " + std::string(17 * 1024, 'a'))
                .rfind("HTTP/1.1 431 ", 0), 0u);
  EXPECT_EQ(Exchange(port, "BLAH\r\n\r\n").rfind("HTTP/1.1 400 ", 0), 0u);
  std::string wrong_method = Exchange(port, "POST /healthz HTTP/1.1\r\nContent-Length: 0\r\n"
                                            "Connection: close\r\n\r\n");
  EXPECT_EQ(wrong_method.rfind("HTTP/1.1 405 ", 0), 0u) << wrong_method;
  EXPECT_NE(wrong_method.find("Allow: GET"), std::string::npos) << wrong_method;
  EXPECT_EQ(HttpRequest(port, "GET", "/healthz").status, 200);
  EXPECT_EQ(syncs_.load(), 0);
}

TEST(HttpServerStartTest, BadAddressAndBusyPortFail) {
  EXPECT_EQ(HttpServer::Start("nonsense", {}).status().code(), absl::StatusCode::kInvalidArgument);
  auto first = HttpServer::Start("127.0.0.1:0", {});
  ASSERT_TRUE(first.ok());
  auto second = HttpServer::Start("127.0.0.1:" + std::to_string((*first)->port()), {});
  EXPECT_EQ(second.status().code(), absl::StatusCode::kUnavailable);
  auto v6 = HttpServer::Start("[::1]:0", {});  // skipped where the host has no IPv6 loopback
  if (v6.ok()) {
    EXPECT_GT((*v6)->port(), 0);
  }
}

TEST(HttpServerStartTest, StopsPromptly) {
  auto server = HttpServer::Start("127.0.0.1:0", {});
  ASSERT_TRUE(server.ok());
  int port = (*server)->port();
  (*server)->Stop();
  EXPECT_EQ(HttpRequest(port, "GET", "/healthz").status, 0);
}

}  // namespace
}  // namespace plumb
