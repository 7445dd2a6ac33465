#pragma once

// plumb-server's HTTP listener (http_listen): GET /metrics (Prometheus text), /healthz (live),
// /readyz (ready to serve) and POST /hooks/git (a Git host's push webhook, HMAC-signed). Built
// on cpp-httplib, which only http_server.cc includes (it is heavy to compile).

#include <functional>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace plumb {

// What the endpoints answer with. Each callback runs on an HTTP worker thread and must be
// thread-safe; none may block for long.
struct HttpHandlers {
  std::function<std::string()> metrics;   // the Prometheus text exposition
  std::function<absl::Status()> ready;    // OK, or why the server is not ready
  std::function<void()> on_webhook;       // a verified push: start a fetch, return at once
  std::function<void(const std::string&)> count_webhook;  // optional: "accepted", ...
  std::string webhook_secret;             // empty: /hooks/git answers 403
};

// Thread-safe. Serves on its own threads from Start() until Stop() or destruction.
class HttpServer {
 public:
  // Binds `listen` ("host:port"; port 0 picks a free one) and starts serving. Fails with
  // InvalidArgument for a malformed address, Unavailable when the port cannot be bound.
  static absl::StatusOr<std::unique_ptr<HttpServer>> Start(const std::string& listen,
                                                           HttpHandlers handlers);
  ~HttpServer();

  void Stop();
  int port() const { return port_; }

  static constexpr size_t kMaxWebhookBytes = 5 * 1024 * 1024;

 private:
  struct Impl;
  explicit HttpServer(std::unique_ptr<Impl> impl, int port);
  std::unique_ptr<Impl> impl_;
  int port_;
};

}  // namespace plumb
