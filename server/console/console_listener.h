#pragma once

// The console's HTTPS listener (console_listen). A small fixed pool of worker threads serves
// one request per connection (Connection: close); an accept thread hands sockets to them.
// Unlike the epoll listener, a worker is held while a client sends its request: 8 clients
// trickling bytes can delay other console requests by up to request_deadline (never /healthz
// or the gRPC API, which are other listeners). docs/deviations.md says why.
// Bounded like the plaintext listener (server/http/http_listener.h):
//  - the TLS handshake and the whole request (head and body) must arrive within
//    request_deadline (10 s) of accept, however steadily a client trickles;
//  - the response must be taken within write_timeout (10 s);
//  - a head is at most max_head_bytes (16 KiB, else 431), a body max_body_bytes (16 KiB, 413);
//  - at most max_connections (64) wait or are being served: one more is closed at once.
// Long-lived event streams are handed off by the handler (it keeps the TlsStream), so they
// never hold a worker.

#include <functional>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <vector>
#include <deque>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "server/console/tls_stream.h"
#include "server/http/http_request.h"

namespace plumb {

// The listener's limits. The defaults are production's; tests shorten the deadlines.
struct ConsoleListenerOptions {
  absl::Duration request_deadline = absl::Seconds(10);
  absl::Duration write_timeout = absl::Seconds(10);
  size_t max_connections = 64;
  size_t worker_threads = 8;
  size_t max_head_bytes = 16 * 1024;
  size_t max_body_bytes = 16 * 1024;
};

// Called on a worker for each complete request. It answers on `stream` (WriteAll) and lets it
// go (closing the connection), or keeps it (an event stream). Must be thread-safe.
using ConsoleHandler = std::function<void(const HttpRequest&, std::unique_ptr<TlsStream>)>;

// Thread-safe. Serves from Start() until Stop() or destruction.
class ConsoleListener {
 public:
  // Binds host:port (port 0 picks a free one) and starts the threads. InvalidArgument for a
  // malformed address, Unavailable when it cannot be bound. `tls` is not owned and must
  // outlive the listener.
  static absl::StatusOr<std::unique_ptr<ConsoleListener>> Start(const std::string& listen,
                                                                TlsServerContext* tls,
                                                                ConsoleHandler handler,
                                                                ConsoleListenerOptions options);
  ~ConsoleListener();
  // Stops accepting, interrupts connections being served and joins every thread.
  void Stop();
  int port() const { return port_; }

 private:
  ConsoleListener(int listen_fd, int port, TlsServerContext* tls, ConsoleHandler handler,
                  ConsoleListenerOptions options);
  void AcceptLoop();
  void WorkLoop();
  void Serve(int fd, const std::string& peer);
  // Reads one request; on a protocol error answers it and returns false.
  bool ReadRequest(TlsStream* stream, absl::Time deadline, HttpRequest* request);

  const int listen_fd_;
  const int port_;
  int wake_pipe_[2] = {-1, -1};
  TlsServerContext* const tls_;
  const ConsoleHandler handler_;
  const ConsoleListenerOptions options_;
  absl::Mutex mu_;
  std::deque<std::pair<int, std::string>> queue_ ABSL_GUARDED_BY(mu_);  // fd, peer
  std::set<int> serving_ ABSL_GUARDED_BY(mu_);  // fds a worker is reading or writing
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::thread acceptor_;
  std::vector<std::thread> workers_;
};

// Splits "host:port" or "[v6]:port". InvalidArgument when malformed.
absl::Status SplitListenAddress(const std::string& listen, std::string* host, int* port);

}  // namespace plumb
