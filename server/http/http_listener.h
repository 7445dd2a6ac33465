#pragma once

// plumb-server's HTTP/1.1 listener: one thread runs an epoll loop over non-blocking sockets for
// every connection (no thread per connection), so slow or silent clients cost a buffer each,
// never a thread. Every connection is bounded:
//  - a whole-request deadline (request_deadline, 10 s) from accept, or from the first byte
//    after a keep-alive pause, to the end of the request's body: a client trickling bytes is
//    answered 408 and closed then, however steadily it trickles;
//  - an idle keep-alive connection is closed after idle_timeout (2 s);
//  - a response must be taken by the client within write_deadline (10 s);
//  - a request head is at most max_head_bytes (16 KiB, else 431), a body at most its route's
//    max_body_bytes (else 413);
//  - at most max_connections (1024) are open: accepting one more closes the oldest, so a new
//    client (a probe asking /healthz) is always served.
// Routes run on the loop thread unless marked may_block: those run on a small pool
// (HttpHandlerPool) and the loop keeps serving the others meanwhile.

#include <atomic>
#include <cstddef>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "server/http/http_request.h"

namespace plumb {

// The listener's limits. The defaults are production's; tests shorten the deadlines.
struct HttpListenerOptions {
  absl::Duration request_deadline = absl::Seconds(10);
  absl::Duration idle_timeout = absl::Seconds(2);
  absl::Duration write_deadline = absl::Seconds(10);
  size_t max_connections = 1024;
  size_t max_head_bytes = 16 * 1024;
  size_t max_requests_per_connection = 100;
  size_t handler_threads = 2;      // for may_block routes
  size_t max_queued_handlers = 64; // more waiting may_block requests are answered 503
};

// One endpoint: method and exact path. A "GET" route also answers HEAD.
struct HttpRoute {
  std::string method;
  std::string path;
  size_t max_body_bytes = 0;
  bool may_block = false;  // run on the handler pool instead of the loop thread
  std::function<HttpResponse(const HttpRequest&)> handle;  // must be thread-safe if may_block
};

// Thread-safe. Serves from Start() until Stop() or destruction.
class HttpListener {
 public:
  // Binds host:port (a numeric address or a name; port 0 picks a free one) with SO_REUSEADDR
  // and starts the loop thread. Unknown paths are answered 404, known paths with another
  // method 405. Fails with Unavailable when the address cannot be bound.
  static absl::StatusOr<std::unique_ptr<HttpListener>> Start(const std::string& host, int port,
                                                             std::vector<HttpRoute> routes,
                                                             HttpListenerOptions options);
  ~HttpListener();

  // Closes every connection and ends the loop thread; returns once it has ended.
  void Stop();
  int port() const { return port_; }

 private:
  class Loop;
  HttpListener(std::unique_ptr<Loop> loop, int port);
  std::unique_ptr<Loop> loop_;
  int port_;
};

}  // namespace plumb
