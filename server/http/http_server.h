#pragma once

// plumb-server's HTTP listener (http_listen): GET /metrics (Prometheus text), /healthz (live),
// /readyz (ready to serve) and POST /hooks/git (a Git host's push webhook, HMAC-signed). Served
// by HttpListener (http_listener.h): one epoll thread for all connections, each bounded by a
// whole-request deadline, an idle timeout and size limits, and at most 1024 connections (the
// oldest closed for a new one), so slow or stalled clients cannot keep /healthz from answering.

#include <functional>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "server/http/http_listener.h"
#include "server/http/webhook_push.h"

namespace plumb {

// What the endpoints answer with. Callbacks must be thread-safe. `metrics` and `ready` may
// block briefly (they reach the store): they run on the listener's two handler threads.
// `on_webhook` and `count_webhook` run on the listener's loop thread and must return at once.
struct HttpHandlers {
  std::function<std::string()> metrics;   // the Prometheus text exposition
  std::function<absl::Status()> ready;    // OK, or why the server is not ready
  // A verified push: start a fetch of what it names (every line for kUnknown) and return at
  // once; false when no line follows the pushed ref (nothing fetched).
  std::function<bool(const WebhookPush&)> on_webhook;
  std::function<void(const std::string&)> count_webhook;  // optional: "accepted", "ignored", ...
  std::string webhook_secret;             // empty: /hooks/git answers 403
};

// Thread-safe. Serves on its own threads from Start() until Stop() or destruction.
class HttpServer {
 public:
  // Binds `listen` ("host:port" or "[v6]:port"; port 0 picks a free one) and starts serving.
  // Fails with InvalidArgument for a malformed address, Unavailable when the port cannot be
  // bound. `options` are production's defaults (HttpListenerOptions); tests shorten them.
  static absl::StatusOr<std::unique_ptr<HttpServer>> Start(const std::string& listen,
                                                           HttpHandlers handlers,
                                                           HttpListenerOptions options = {});
  ~HttpServer();

  void Stop();
  int port() const { return port_; }

  static constexpr size_t kMaxWebhookBytes = 5 * 1024 * 1024;

 private:
  explicit HttpServer(std::unique_ptr<HttpListener> listener);
  std::unique_ptr<HttpListener> listener_;
  int port_;
};

}  // namespace plumb
