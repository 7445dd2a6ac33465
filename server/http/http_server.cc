// The only file that includes cpp-httplib (Debian's libcpp-httplib-dev, a compiled library with
// a large header): keep HTTP details here.

#include "server/http/http_server.h"

#include <httplib.h>

#include <atomic>
#include <thread>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "common/logging.h"
#include "server/http/webhook_signature.h"

namespace plumb {
namespace {

constexpr char kTextPlain[] = "text/plain; charset=utf-8";
constexpr char kMetricsType[] = "text/plain; version=0.0.4; charset=utf-8";
// A connection holds a worker thread from accept to close, however slowly its client reads or
// writes: enough workers that a few stalled clients (slowloris) leave room for /healthz and
// scrapes, and short timeouts so that a silent one lets go of its worker soon. cpp-httplib
// 0.11 has no deadline for a whole request, so a client trickling a byte per read timeout
// holds one worker until it stops; it takes kWorkerThreads of those to stall the listener.
constexpr size_t kWorkerThreads = 16;
constexpr time_t kReadWriteTimeoutSeconds = 5;
constexpr time_t kKeepAliveSeconds = 2;    // an idle keep-alive connection gives back its worker
constexpr size_t kKeepAliveRequests = 20;  // then the connection is closed

// Splits "host:port" (host may be "[v6]"); InvalidArgument otherwise.
absl::Status SplitHostPort(const std::string& listen, std::string* host, int* port) {
  size_t colon = listen.rfind(':');
  if (colon == std::string::npos || colon == 0 ||
      !absl::SimpleAtoi(listen.substr(colon + 1), port) || *port < 0 || *port > 65535) {
    return absl::InvalidArgumentError(
        absl::StrCat("http_listen: want host:port, got \"", listen, "\""));
  }
  *host = listen.substr(0, colon);
  if (host->size() > 2 && host->front() == '[' && host->back() == ']') {
    *host = host->substr(1, host->size() - 2);
  }
  return absl::OkStatus();
}

void Routes(httplib::Server& server, const HttpHandlers& h) {
  server.Get("/metrics", [h](const httplib::Request&, httplib::Response& res) {
    res.set_content(h.metrics ? h.metrics() : "", kMetricsType);
  });
  server.Get("/healthz", [](const httplib::Request&, httplib::Response& res) {
    res.set_content("ok\n", kTextPlain);
  });
  server.Get("/readyz", [h](const httplib::Request&, httplib::Response& res) {
    absl::Status ready = h.ready ? h.ready() : absl::OkStatus();
    if (ready.ok()) {
      res.set_content("ready\n", kTextPlain);
      return;
    }
    res.status = 503;
    res.set_content(absl::StrCat("not ready: ", ready.message(), "\n"), kTextPlain);
  });
  server.Post("/hooks/git", [h](const httplib::Request& req, httplib::Response& res) {
    auto count = [&h](const std::string& result) {
      if (h.count_webhook) h.count_webhook(result);
    };
    if (h.webhook_secret.empty()) {
      count("disabled");
      res.status = 403;
      res.set_content("webhook disabled: no webhook_secret configured\n", kTextPlain);
      return;
    }
    std::string signature = req.get_header_value("X-Hub-Signature-256");
    if (!VerifyWebhookSignature(h.webhook_secret, req.body, signature)) {
      count("unauthorized");
      // Never log the signature or the secret; the peer and the header's presence suffice.
      LogWarning("webhook rejected: bad signature",
                 {{"peer", req.remote_addr}, {"signature_present", !signature.empty()}});
      res.status = 401;
      res.set_content("bad or missing X-Hub-Signature-256\n", kTextPlain);
      return;
    }
    count("accepted");
    LogInfo("webhook accepted; fetching", {{"peer", req.remote_addr},
                                           {"event", req.get_header_value("X-GitHub-Event")}});
    if (h.on_webhook) h.on_webhook();
    res.status = 202;
    res.set_content("fetch scheduled\n", kTextPlain);
  });
}

}  // namespace

struct HttpServer::Impl {
  httplib::Server server;
  std::thread thread;
  std::atomic<bool> exited{false};
};

HttpServer::HttpServer(std::unique_ptr<Impl> impl, int port) : impl_(std::move(impl)), port_(port) {}

absl::StatusOr<std::unique_ptr<HttpServer>> HttpServer::Start(const std::string& listen,
                                                              HttpHandlers handlers) {
  std::string host;
  int port = 0;
  absl::Status split = SplitHostPort(listen, &host, &port);
  if (!split.ok()) return split;
  auto impl = std::make_unique<Impl>();
  httplib::Server& server = impl->server;
  server.new_task_queue = [] { return new httplib::ThreadPool(kWorkerThreads); };
  // httplib's default sets SO_REUSEPORT, which lets a second server bind the same port and
  // silently share scrapes; SO_REUSEADDR alone still allows a quick restart.
  server.set_socket_options([](int sock) {
    int yes = 1;
    setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof(yes));
  });
  server.set_payload_max_length(kMaxWebhookBytes);
  server.set_read_timeout(kReadWriteTimeoutSeconds, 0);
  server.set_write_timeout(kReadWriteTimeoutSeconds, 0);
  server.set_keep_alive_timeout(kKeepAliveSeconds);
  server.set_keep_alive_max_count(kKeepAliveRequests);
  Routes(server, handlers);
  int bound = port == 0 ? server.bind_to_any_port(host) : (server.bind_to_port(host, port) ? port : -1);
  if (bound < 0) {
    return absl::UnavailableError(absl::StrCat("cannot listen on http_listen ", listen));
  }
  Impl* raw = impl.get();
  impl->thread = std::thread([raw] {
    raw->server.listen_after_bind();
    raw->exited = true;
  });
  // stop() is a no-op until the loop runs, so wait for it: Stop() must always end the thread.
  while (!raw->server.is_running() && !raw->exited) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  LogInfo("http listening", {{"http_listen", listen}, {"port", bound}});
  return std::unique_ptr<HttpServer>(new HttpServer(std::move(impl), bound));
}

HttpServer::~HttpServer() { Stop(); }

void HttpServer::Stop() {
  if (impl_ == nullptr || !impl_->thread.joinable()) return;
  impl_->server.stop();
  impl_->thread.join();
}

}  // namespace plumb
