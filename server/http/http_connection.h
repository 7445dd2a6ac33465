#pragma once

// Internal to HttpListener (only http_listener.cc and http_connection.cc include this): one
// client connection's state, and the loop that drives all of them. The loop's fds, thread and
// deadlines are in http_listener.cc; the per-connection steps (read, parse, route, write) in
// http_connection.cc.

#include <sys/socket.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "server/http/http_handler_pool.h"
#include "server/http/http_listener.h"
#include "server/http/http_request.h"

namespace plumb {

using Clock = std::chrono::steady_clock;

enum class State {
  kHead,      // reading a request head (idle: none of it has arrived yet)
  kBody,      // reading Content-Length bytes of body
  kHandling,  // a may_block route runs on the pool; not reading
  kWriting,   // sending `out`
  kDraining,  // answered and closing: reading and dropping what the client still sends
};

// One accepted socket. Owned by the loop's connections_ map; ids are never reused.
struct Connection {
  uint64_t id = 0;
  int fd = -1;
  std::string peer;
  State state = State::kHead;
  bool idle = false;         // between keep-alive requests, nothing of the next one received
  bool peer_closed = false;  // the client shut its side down
  bool close_after_write = false;
  bool head_only = false;    // a HEAD request: the response has no body
  size_t served = 0;         // requests answered on this connection
  uint32_t events = 0;       // current epoll interest
  std::string in;            // received, not yet consumed
  std::string out;           // the response being sent
  size_t out_sent = 0;
  HttpRequest request;
  const HttpRoute* route = nullptr;  // points into the loop's routes_
  Clock::time_point deadline;
};

// Thread-compatible except Stop(): everything else runs on the loop thread.
class HttpListener::Loop {
 public:
  Loop(int listen_fd, int epoll_fd, int wake_fd, std::vector<HttpRoute> routes,
       HttpListenerOptions options);
  ~Loop();
  void Start();
  void Stop();  // any thread; returns when the loop thread has ended

 private:
  // What a connection step left: go on with the next step, wait for I/O, or the connection is
  // gone (its Connection* must not be used again).
  enum class Step { kContinue, kWait, kClosed };
  static constexpr uint64_t kListenId = 0;
  static constexpr uint64_t kWakeId = 1;

  void Run();
  int TimeoutMs() const;
  void Watch(int fd, uint64_t id, uint32_t events);
  void Accept();
  void SetDeadline(Connection* c, absl::Duration after);
  void ExpireDeadlines();
  void Close(Connection* c);
  static std::string PeerName(const sockaddr_storage& addr);

  // http_connection.cc
  void OnEvent(uint64_t id, uint32_t events);
  void TakeHandled();
  Step Read(Connection* c);
  Step Advance(Connection* c);
  Step TakeHead(Connection* c);
  Step TakeBody(Connection* c);
  Step Dispatch(Connection* c);
  Step Respond(Connection* c, const HttpResponse& response, bool close);
  Step Flush(Connection* c);
  void SetInterest(Connection* c, uint32_t events);
  const HttpRoute* FindRoute(const HttpRequest& request, std::string* allow) const;

  int listen_fd_;  // -1 once the loop has ended
  const int epoll_fd_;
  const int wake_fd_;
  const std::vector<HttpRoute> routes_;
  const HttpListenerOptions options_;
  std::unique_ptr<HttpHandlerPool> pool_;
  std::atomic<bool> stopping_{false};
  std::thread thread_;
  uint64_t next_id_ = kWakeId + 1;
  std::map<uint64_t, std::unique_ptr<Connection>> connections_;  // by id: oldest first
  std::set<std::pair<Clock::time_point, uint64_t>> deadlines_;   // one per connection
};

}  // namespace plumb
