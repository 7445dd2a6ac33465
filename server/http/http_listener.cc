// The epoll loop behind HttpListener. Each connection is a small state machine:
//   kHead -> kBody -> (route on the loop thread | kHandling on the pool) -> kWriting -> kHead
// with kDraining after a response that closes the connection (the client's unread bytes are
// read and dropped for a moment, so that closing does not reset the connection before the
// client has read the answer). Every connection always has exactly one deadline in
// deadlines_; the loop sleeps until the earliest one.

#include "server/http/http_listener.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <thread>

#include "absl/strings/str_cat.h"
#include "common/logging.h"
#include "common/status_macros.h"
#include "server/http/listen_socket.h"
#include "server/http/http_connection.h"

namespace plumb {
HttpListener::HttpListener(std::unique_ptr<Loop> loop, int port)
    : loop_(std::move(loop)), port_(port) {}

absl::StatusOr<std::unique_ptr<HttpListener>> HttpListener::Start(const std::string& host,
                                                                  int port,
                                                                  std::vector<HttpRoute> routes,
                                                                  HttpListenerOptions options) {
  absl::StatusOr<int> listen_fd = BindListenSocket("http_listen", host, port, /*nonblocking=*/true);
  if (!listen_fd.ok()) return listen_fd.status();
  int bound = BoundPort(*listen_fd);
  int epoll_fd = epoll_create1(EPOLL_CLOEXEC);
  int wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (epoll_fd < 0 || wake_fd < 0 || bound < 0) {
    std::string error = std::strerror(errno);
    close(*listen_fd);
    if (epoll_fd >= 0) close(epoll_fd);
    if (wake_fd >= 0) close(wake_fd);
    return absl::UnavailableError(absl::StrCat("http listener: ", error));
  }
  auto loop = std::make_unique<Loop>(*listen_fd, epoll_fd, wake_fd, std::move(routes),
                                     std::move(options));
  loop->Start();
  return std::unique_ptr<HttpListener>(new HttpListener(std::move(loop), bound));
}

HttpListener::~HttpListener() { Stop(); }

void HttpListener::Stop() {
  if (loop_ != nullptr) loop_->Stop();
}

// --- Loop: fds, thread, accepting and deadlines. Per-connection steps are in
// http_connection.cc.

HttpListener::Loop::Loop(int listen_fd, int epoll_fd, int wake_fd, std::vector<HttpRoute> routes,
                         HttpListenerOptions options)
    : listen_fd_(listen_fd),
      epoll_fd_(epoll_fd),
      wake_fd_(wake_fd),
      routes_(std::move(routes)),
      options_(std::move(options)),
      pool_(std::make_unique<HttpHandlerPool>(options_.handler_threads,
                                              options_.max_queued_handlers, wake_fd)) {
  Watch(listen_fd_, kListenId, EPOLLIN);
  Watch(wake_fd_, kWakeId, EPOLLIN);
}

HttpListener::Loop::~Loop() {
  Stop();
  pool_.reset();  // its threads write wake_fd_: end them before closing it
  if (listen_fd_ >= 0) close(listen_fd_);
  close(wake_fd_);
  close(epoll_fd_);
}

void HttpListener::Loop::Start() {
  thread_ = std::thread([this] { Run(); });
}

void HttpListener::Loop::Stop() {
  if (!thread_.joinable()) return;
  stopping_ = true;
  uint64_t one = 1;
  (void)!write(wake_fd_, &one, sizeof(one));
  thread_.join();
}

void HttpListener::Loop::Watch(int fd, uint64_t id, uint32_t events) {
  epoll_event ev{};
  ev.events = events;
  ev.data.u64 = id;
  PLUMB_CHECK(epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, fd, &ev) == 0);
}

void HttpListener::Loop::Run() {
  constexpr int kMaxEvents = 128;
  epoll_event events[kMaxEvents];
  while (!stopping_) {
    int n = epoll_wait(epoll_fd_, events, kMaxEvents, TimeoutMs());
    if (n < 0 && errno != EINTR) {
      LogError("http listener: epoll_wait failed", {{"error", std::strerror(errno)}});
      break;
    }
    for (int i = 0; i < n; ++i) {
      uint64_t id = events[i].data.u64;
      if (id == kListenId) {
        Accept();
      } else if (id == kWakeId) {
        uint64_t count;
        (void)!read(wake_fd_, &count, sizeof(count));
        TakeHandled();
      } else {
        OnEvent(id, events[i].events);
      }
    }
    ExpireDeadlines();
  }
  while (!connections_.empty()) Close(connections_.begin()->second.get());
  // Stopped means refusing connections too, not leaving them in the backlog unanswered.
  close(listen_fd_);
  listen_fd_ = -1;
}

int HttpListener::Loop::TimeoutMs() const {
  if (deadlines_.empty()) return -1;
  auto wait = deadlines_.begin()->first - Clock::now();
  if (wait <= Clock::duration::zero()) return 0;
  // Round up: waking before the deadline would only loop back here.
  return static_cast<int>(std::chrono::ceil<std::chrono::milliseconds>(wait).count());
}

void HttpListener::Loop::Accept() {
  while (true) {
    sockaddr_storage addr{};
    socklen_t len = sizeof(addr);
    int fd = accept4(listen_fd_, reinterpret_cast<sockaddr*>(&addr), &len,
                     SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) {
      if (errno == EINTR || errno == ECONNABORTED) continue;
      // Out of descriptors: give the oldest connection's back so the newest is served.
      if ((errno == EMFILE || errno == ENFILE) && !connections_.empty()) {
        Close(connections_.begin()->second.get());
        continue;
      }
      return;  // EAGAIN: all accepted
    }
    // Full: the oldest connection makes room, so a new client (a probe) is always served.
    if (connections_.size() >= options_.max_connections) {
      Close(connections_.begin()->second.get());
    }
    auto c = std::make_unique<Connection>();
    c->id = next_id_++;
    c->fd = fd;
    c->peer = PeerName(addr);
    c->events = EPOLLIN;
    Watch(fd, c->id, EPOLLIN);
    SetDeadline(c.get(), options_.request_deadline);
    connections_.emplace(c->id, std::move(c));
  }
}

void HttpListener::Loop::SetDeadline(Connection* c, absl::Duration after) {
  deadlines_.erase({c->deadline, c->id});
  c->deadline = Clock::now() + absl::ToChronoNanoseconds(after);
  deadlines_.insert({c->deadline, c->id});
}

void HttpListener::Loop::ExpireDeadlines() {
  Clock::time_point now = Clock::now();
  while (!deadlines_.empty() && deadlines_.begin()->first <= now) {
    Connection* c = connections_.at(deadlines_.begin()->second).get();
    bool reading = (c->state == State::kHead && !c->idle) || c->state == State::kBody;
    if (reading) {
      // Best effort, one non-blocking send: the client learns why before the close.
      std::string timeout = SerializeResponse(
          TextResponse(408, "request not complete within the deadline"), false, false);
      (void)!send(c->fd, timeout.data(), timeout.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
    }
    Close(c);
  }
}

void HttpListener::Loop::Close(Connection* c) {
  deadlines_.erase({c->deadline, c->id});
  close(c->fd);  // also removes it from the epoll set
  connections_.erase(c->id);
}

std::string HttpListener::Loop::PeerName(const sockaddr_storage& addr) {
  char text[INET6_ADDRSTRLEN] = "?";
  if (addr.ss_family == AF_INET6) {
    const auto* a = reinterpret_cast<const sockaddr_in6*>(&addr);
    inet_ntop(AF_INET6, &a->sin6_addr, text, sizeof(text));
    return absl::StrCat("[", text, "]:", ntohs(a->sin6_port));
  }
  const auto* a = reinterpret_cast<const sockaddr_in*>(&addr);
  inet_ntop(AF_INET, &a->sin_addr, text, sizeof(text));
  return absl::StrCat(text, ":", ntohs(a->sin_port));
}

}  // namespace plumb
