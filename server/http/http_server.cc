// plumb-server's HTTP routes on HttpListener: what each endpoint answers, and the webhook's
// signature check. The connection handling and its limits are in http_listener.h.

#include "server/http/http_server.h"

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "common/logging.h"
#include "server/http/webhook_signature.h"

namespace plumb {
namespace {

constexpr char kMetricsType[] = "text/plain; version=0.0.4; charset=utf-8";

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

HttpResponse Webhook(const HttpHandlers& h, const HttpRequest& req) {
  auto count = [&h](const std::string& result) {
    if (h.count_webhook) h.count_webhook(result);
  };
  if (h.webhook_secret.empty()) {
    count("disabled");
    return TextResponse(403, "webhook disabled: no webhook_secret configured");
  }
  std::string signature = req.Header("X-Hub-Signature-256");
  if (!VerifyWebhookSignature(h.webhook_secret, req.body, signature)) {
    count("unauthorized");
    // Never log the signature or the secret; the peer and the header's presence suffice.
    LogWarning("webhook rejected: bad signature",
               {{"peer", req.peer}, {"signature_present", !signature.empty()}});
    return TextResponse(401, "bad or missing X-Hub-Signature-256");
  }
  WebhookPush push = ParseWebhookPush(req.body);
  bool followed = h.on_webhook ? h.on_webhook(push) : true;
  if (!followed) {
    count("ignored");
    LogInfo("webhook ignored: no environment follows the pushed ref",
            {{"peer", req.peer}, {"ref", push.ref}});
    return TextResponse(202, "ignored: no environment follows " + push.ref);
  }
  count("accepted");
  LogInfo("webhook accepted; fetching", {{"peer", req.peer},
                                         {"event", req.Header("X-GitHub-Event")},
                                         {"ref", push.ref.empty() ? "(every branch)" : push.ref}});
  return TextResponse(202, push.kind == WebhookPush::Kind::kBranch
                               ? "fetch scheduled: " + push.branch
                               : std::string("fetch scheduled"));
}

std::vector<HttpRoute> Routes(std::shared_ptr<const HttpHandlers> h) {
  std::vector<HttpRoute> routes;
  routes.push_back({"GET", "/metrics", 0, /*may_block=*/true, [h](const HttpRequest&) {
                      HttpResponse response;
                      response.content_type = kMetricsType;
                      response.body = h->metrics ? h->metrics() : "";
                      return response;
                    }});
  routes.push_back({"GET", "/healthz", 0, /*may_block=*/false,
                    [](const HttpRequest&) { return TextResponse(200, "ok"); }});
  routes.push_back({"GET", "/readyz", 0, /*may_block=*/true, [h](const HttpRequest&) {
                      absl::Status ready = h->ready ? h->ready() : absl::OkStatus();
                      if (ready.ok()) return TextResponse(200, "ready");
                      return TextResponse(503, absl::StrCat("not ready: ", ready.message()));
                    }});
  routes.push_back({"POST", "/hooks/git", HttpServer::kMaxWebhookBytes, /*may_block=*/false,
                    [h](const HttpRequest& req) { return Webhook(*h, req); }});
  return routes;
}

}  // namespace

HttpServer::HttpServer(std::unique_ptr<HttpListener> listener)
    : listener_(std::move(listener)), port_(listener_->port()) {}

absl::StatusOr<std::unique_ptr<HttpServer>> HttpServer::Start(const std::string& listen,
                                                              HttpHandlers handlers,
                                                              HttpListenerOptions options) {
  std::string host;
  int port = 0;
  absl::Status split = SplitHostPort(listen, &host, &port);
  if (!split.ok()) return split;
  auto h = std::make_shared<const HttpHandlers>(std::move(handlers));
  absl::StatusOr<std::unique_ptr<HttpListener>> listener =
      HttpListener::Start(host, port, Routes(h), std::move(options));
  if (!listener.ok()) {
    return absl::UnavailableError(
        absl::StrCat("cannot listen on http_listen ", listen, ": ", listener.status().message()));
  }
  LogInfo("http listening", {{"http_listen", listen}, {"port", (*listener)->port()}});
  return std::unique_ptr<HttpServer>(new HttpServer(std::move(*listener)));
}

HttpServer::~HttpServer() { Stop(); }

void HttpServer::Stop() {
  if (listener_ != nullptr) listener_->Stop();
}

}  // namespace plumb
