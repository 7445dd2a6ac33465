#include "server/console/console_listener.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "common/logging.h"
#include "common/status_macros.h"
#include "server/http/listen_socket.h"

namespace plumb {
namespace {

std::string PeerName(const sockaddr_storage& addr) {
  char host[INET6_ADDRSTRLEN] = "?";
  int port = 0;
  if (addr.ss_family == AF_INET6) {
    auto* a = reinterpret_cast<const sockaddr_in6*>(&addr);
    inet_ntop(AF_INET6, &a->sin6_addr, host, sizeof(host));
    port = ntohs(a->sin6_port);
  } else {
    auto* a = reinterpret_cast<const sockaddr_in*>(&addr);
    inet_ntop(AF_INET, &a->sin_addr, host, sizeof(host));
    port = ntohs(a->sin_port);
  }
  return absl::StrCat(host, ":", port);
}

void Answer(TlsStream* stream, int status, absl::string_view message, absl::Duration timeout) {
  stream->WriteAll(SerializeResponse(TextResponse(status, message), false, false), timeout);
}

}  // namespace

absl::Status SplitListenAddress(const std::string& listen, std::string* host, int* port) {
  size_t colon = listen.rfind(':');
  if (colon == std::string::npos || colon == 0 ||
      !absl::SimpleAtoi(listen.substr(colon + 1), port) || *port < 0 || *port > 65535) {
    return absl::InvalidArgumentError(
        absl::StrCat("console_listen: want host:port, got \"", listen, "\""));
  }
  *host = listen.substr(0, colon);
  if (host->size() > 2 && host->front() == '[' && host->back() == ']') {
    *host = host->substr(1, host->size() - 2);
  }
  return absl::OkStatus();
}

absl::StatusOr<std::unique_ptr<ConsoleListener>> ConsoleListener::Start(
    const std::string& listen, TlsServerContext* tls, ConsoleHandler handler,
    ConsoleListenerOptions options) {
  std::string host;
  int port = 0;
  PLUMB_RETURN_IF_ERROR(SplitListenAddress(listen, &host, &port));
  int fd = -1;
  PLUMB_ASSIGN_OR_RETURN(fd, BindListenSocket("console_listen", host, port, /*nonblocking=*/false));
  std::unique_ptr<ConsoleListener> l(
      new ConsoleListener(fd, BoundPort(fd), tls, std::move(handler), std::move(options)));
  if (pipe2(l->wake_pipe_, O_CLOEXEC) != 0) {
    return absl::InternalError(absl::StrCat("console: pipe: ", std::strerror(errno)));
  }
  l->acceptor_ = std::thread([p = l.get()] { p->AcceptLoop(); });
  for (size_t i = 0; i < l->options_.worker_threads; ++i) {
    l->workers_.emplace_back([p = l.get()] { p->WorkLoop(); });
  }
  return l;
}

ConsoleListener::ConsoleListener(int listen_fd, int port, TlsServerContext* tls,
                                 ConsoleHandler handler, ConsoleListenerOptions options)
    : listen_fd_(listen_fd), port_(port), tls_(tls), handler_(std::move(handler)),
      options_(std::move(options)) {}

ConsoleListener::~ConsoleListener() {
  Stop();
  close(listen_fd_);
  for (int fd : wake_pipe_) {
    if (fd >= 0) close(fd);
  }
}

void ConsoleListener::Stop() {
  {
    absl::MutexLock lock(&mu_);
    if (stopping_) return;
    stopping_ = true;
    // Interrupts reads and writes in progress: their workers see an error and finish.
    for (int fd : serving_) shutdown(fd, SHUT_RDWR);
  }
  if (wake_pipe_[1] >= 0) (void)!write(wake_pipe_[1], "x", 1);
  if (acceptor_.joinable()) acceptor_.join();
  for (std::thread& t : workers_) t.join();
  workers_.clear();
  absl::MutexLock lock(&mu_);
  for (auto& [fd, peer] : queue_) close(fd);
  queue_.clear();
}

void ConsoleListener::AcceptLoop() {
  for (;;) {
    pollfd fds[2] = {{listen_fd_, POLLIN, 0}, {wake_pipe_[0], POLLIN, 0}};
    if (poll(fds, 2, -1) < 0 && errno != EINTR) return;
    if (fds[1].revents != 0) return;
    if ((fds[0].revents & POLLIN) == 0) continue;
    sockaddr_storage addr{};
    socklen_t len = sizeof(addr);
    int fd = accept4(listen_fd_, reinterpret_cast<sockaddr*>(&addr), &len, SOCK_CLOEXEC);
    if (fd < 0) continue;
    absl::MutexLock lock(&mu_);
    if (stopping_ || queue_.size() + serving_.size() >= options_.max_connections) {
      close(fd);  // full: refused at once rather than queued without bound
      continue;
    }
    queue_.emplace_back(fd, PeerName(addr));
  }
}

void ConsoleListener::WorkLoop() {
  BlockSigpipeOnThisThread();
  for (;;) {
    std::pair<int, std::string> next;
    {
      absl::MutexLock lock(&mu_);
      mu_.Await(absl::Condition(
          +[](ConsoleListener* l) ABSL_EXCLUSIVE_LOCKS_REQUIRED(l->mu_) {
            return l->stopping_ || !l->queue_.empty();
          },
          this));
      if (stopping_) return;
      next = std::move(queue_.front());
      queue_.pop_front();
      serving_.insert(next.first);
    }
    Serve(next.first, next.second);
  }
}

void ConsoleListener::Serve(int fd, const std::string& peer) {
  auto stream = std::make_unique<TlsStream>(tls_->get(), fd, peer);
  absl::Time deadline = absl::Now() + options_.request_deadline;
  HttpRequest request;
  bool ok = stream->Handshake(deadline) && ReadRequest(stream.get(), deadline, &request);
  {
    absl::MutexLock lock(&mu_);
    serving_.erase(fd);
    // A stopping listener answers nothing more; a handed-off stream is no longer ours to stop.
    if (stopping_) ok = false;
  }
  if (!ok) return;  // stream's destructor closes
  request.peer = peer;
  handler_(request, std::move(stream));
}

bool ConsoleListener::ReadRequest(TlsStream* stream, absl::Time deadline, HttpRequest* request) {
  std::string in;
  size_t end = std::string::npos;
  while ((end = in.find("\r\n\r\n")) == std::string::npos) {
    if (in.size() > options_.max_head_bytes) {
      Answer(stream, 431, "request head too large", options_.write_timeout);
      return false;
    }
    if (!stream->ReadSome(&in, options_.max_head_bytes + 4 - in.size() + 1, deadline)) {
      if (absl::Now() >= deadline) Answer(stream, 408, "request timeout", options_.write_timeout);
      return false;
    }
  }
  HttpParseError error;
  if (end > options_.max_head_bytes) {
    Answer(stream, 431, "request head too large", options_.write_timeout);
    return false;
  }
  if (!ParseRequestHead(absl::string_view(in).substr(0, end), request, &error)) {
    Answer(stream, error.status, error.message, options_.write_timeout);
    return false;
  }
  if (request->content_length > options_.max_body_bytes) {
    Answer(stream, 413, "request body too large", options_.write_timeout);
    return false;
  }
  std::string body = in.substr(end + 4);
  while (body.size() < request->content_length) {
    if (!stream->ReadSome(&body, request->content_length - body.size(), deadline)) {
      if (absl::Now() >= deadline) Answer(stream, 408, "request timeout", options_.write_timeout);
      return false;
    }
  }
  body.resize(request->content_length);
  request->body = std::move(body);
  request->keep_alive = false;
  return true;
}

}  // namespace plumb
