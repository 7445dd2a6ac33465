// HttpListener's per-connection steps, all on the loop thread: read what the socket has,
// parse a head, collect the body, run the route, write the response, and go back for the next
// request or close. No step blocks and none recurses: Advance loops over the steps.

#include "server/http/http_connection.h"

#include <sys/epoll.h>
#include <unistd.h>

#include <cerrno>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace plumb {
namespace {

constexpr size_t kReadChunk = 16 * 1024;
// How long a closing connection's unread input is drained before the close.
constexpr absl::Duration kDrainTime = absl::Milliseconds(500);

}  // namespace

void HttpListener::Loop::OnEvent(uint64_t id, uint32_t events) {
  auto it = connections_.find(id);
  if (it == connections_.end()) return;  // closed earlier in this batch of events
  Connection* c = it->second.get();
  if ((events & EPOLLERR) != 0) {
    Close(c);
    return;
  }
  if ((events & EPOLLIN) != 0) {
    if (Read(c) == Step::kClosed) return;
  } else if ((events & EPOLLHUP) != 0 && (events & EPOLLOUT) == 0) {
    Close(c);  // gone while we were not reading (a may_block route is running)
    return;
  }
  Advance(c);
}

void HttpListener::Loop::TakeHandled() {
  for (auto& [id, response] : pool_->TakeDone()) {
    auto it = connections_.find(id);
    // Closed meanwhile (deadline, eviction, the client left): drop the answer.
    if (it == connections_.end() || it->second->state != State::kHandling) continue;
    Connection* c = it->second.get();
    if (Respond(c, response, false) == Step::kContinue) Advance(c);
  }
}

HttpListener::Loop::Step HttpListener::Loop::Read(Connection* c) {
  // Never buffer more than the current request can still need (plus one chunk, which may hold
  // the start of a pipelined request): beyond that, the steps reject or consume the input.
  size_t cap = options_.max_head_bytes + kReadChunk;
  if (c->state == State::kBody) cap = c->request.content_length + kReadChunk;
  char buf[kReadChunk];
  while (c->state == State::kDraining || c->in.size() < cap) {
    ssize_t n = read(c->fd, buf, sizeof(buf));
    if (n > 0) {
      if (c->state != State::kDraining) c->in.append(buf, static_cast<size_t>(n));
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return Step::kWait;
    if (n == 0 && c->state != State::kDraining) {
      c->peer_closed = true;
      SetInterest(c, 0);  // EOF stays readable: stop asking
      return Step::kWait;
    }
    Close(c);  // an error, or the end of a drained connection
    return Step::kClosed;
  }
  return Step::kWait;
}

HttpListener::Loop::Step HttpListener::Loop::Advance(Connection* c) {
  while (true) {
    Step step = Step::kWait;
    switch (c->state) {
      case State::kHead: step = TakeHead(c); break;
      case State::kBody: step = TakeBody(c); break;
      case State::kWriting: step = Flush(c); break;
      case State::kHandling:
      case State::kDraining: return Step::kWait;
    }
    if (step != Step::kContinue) return step;
  }
}

HttpListener::Loop::Step HttpListener::Loop::TakeHead(Connection* c) {
  if (c->in.empty()) {
    if (!c->peer_closed) return Step::kWait;
    Close(c);
    return Step::kClosed;
  }
  if (c->idle) {  // the next request has begun: it gets a whole-request deadline
    c->idle = false;
    SetDeadline(c, options_.request_deadline);
  }
  size_t end = c->in.find("\r\n\r\n");
  if (end == std::string::npos || end > options_.max_head_bytes) {
    if (c->in.size() > options_.max_head_bytes) {
      return Respond(c, TextResponse(431, absl::StrCat("request head over ",
                                                       options_.max_head_bytes, " bytes")),
                     true);
    }
    if (!c->peer_closed) return Step::kWait;
    Close(c);
    return Step::kClosed;
  }
  HttpRequest request;
  request.peer = c->peer;
  HttpParseError error;
  bool parsed = ParseRequestHead(absl::string_view(c->in).substr(0, end), &request, &error);
  c->in.erase(0, end + 4);
  if (!parsed) return Respond(c, TextResponse(error.status, error.message), true);
  c->request = std::move(request);
  c->head_only = c->request.method == "HEAD";
  std::string allow;
  c->route = FindRoute(c->request, &allow);
  // A request no route takes may still carry a small body, read and dropped before the 404.
  size_t limit = c->route != nullptr ? c->route->max_body_bytes : options_.max_head_bytes;
  if (c->request.content_length > limit) {
    return Respond(c, TextResponse(413, absl::StrCat("request body over ", limit, " bytes")),
                   true);
  }
  if (c->request.expect_continue && c->in.size() < c->request.content_length) {
    static constexpr char kContinue[] = "HTTP/1.1 100 Continue\r\n\r\n";
    // Into an empty send buffer: a short write of a few bytes does not happen in practice, and
    // a client that gets no 100 sends its body after its own short wait anyway.
    (void)!send(c->fd, kContinue, sizeof(kContinue) - 1, MSG_NOSIGNAL | MSG_DONTWAIT);
  }
  c->state = State::kBody;
  return Step::kContinue;
}

HttpListener::Loop::Step HttpListener::Loop::TakeBody(Connection* c) {
  size_t length = c->request.content_length;
  if (c->in.size() < length) {
    if (!c->peer_closed) return Step::kWait;
    Close(c);
    return Step::kClosed;
  }
  c->request.body = c->in.substr(0, length);
  c->in.erase(0, length);
  return Dispatch(c);
}

HttpListener::Loop::Step HttpListener::Loop::Dispatch(Connection* c) {
  ++c->served;
  if (c->route == nullptr) {
    std::string allow;
    FindRoute(c->request, &allow);
    if (allow.empty()) return Respond(c, TextResponse(404, "not found"), false);
    HttpResponse response = TextResponse(405, "method not allowed");
    response.headers.emplace_back("Allow", allow);
    return Respond(c, response, false);
  }
  if (!c->route->may_block) return Respond(c, c->route->handle(c->request), false);
  const HttpRoute* route = c->route;
  bool queued = pool_->Submit(c->id, [route, request = c->request] {
    return route->handle(request);
  });
  if (!queued) return Respond(c, TextResponse(503, "busy: too many requests waiting"), false);
  c->state = State::kHandling;
  SetInterest(c, 0);
  SetDeadline(c, options_.request_deadline);
  return Step::kWait;
}

HttpListener::Loop::Step HttpListener::Loop::Respond(Connection* c, const HttpResponse& response,
                                                     bool close) {
  bool keep_alive = !close && c->request.keep_alive && !c->peer_closed && !stopping_ &&
                    c->served < options_.max_requests_per_connection;
  c->out = SerializeResponse(response, keep_alive, c->head_only);
  c->out_sent = 0;
  c->close_after_write = !keep_alive;
  c->state = State::kWriting;
  SetDeadline(c, options_.write_deadline);
  return Step::kContinue;
}

HttpListener::Loop::Step HttpListener::Loop::Flush(Connection* c) {
  while (c->out_sent < c->out.size()) {
    ssize_t n = send(c->fd, c->out.data() + c->out_sent, c->out.size() - c->out_sent,
                     MSG_NOSIGNAL);
    if (n > 0) {
      c->out_sent += static_cast<size_t>(n);
    } else if (n < 0 && errno == EINTR) {
      continue;
    } else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      SetInterest(c, EPOLLOUT);
      return Step::kWait;
    } else {
      Close(c);
      return Step::kClosed;
    }
  }
  c->out.clear();
  if (c->close_after_write) {
    if (c->peer_closed) {
      Close(c);
      return Step::kClosed;
    }
    shutdown(c->fd, SHUT_WR);
    c->state = State::kDraining;
    c->in.clear();
    SetInterest(c, EPOLLIN);
    SetDeadline(c, kDrainTime);
    return Step::kWait;
  }
  c->request = HttpRequest();
  c->route = nullptr;
  c->state = State::kHead;
  c->idle = true;
  SetInterest(c, c->peer_closed ? 0u : static_cast<uint32_t>(EPOLLIN));
  SetDeadline(c, options_.idle_timeout);
  return Step::kContinue;  // a pipelined request may be buffered already
}

void HttpListener::Loop::SetInterest(Connection* c, uint32_t events) {
  if (c->events == events) return;
  epoll_event ev{};
  ev.events = events;
  ev.data.u64 = c->id;
  epoll_ctl(epoll_fd_, EPOLL_CTL_MOD, c->fd, &ev);
  c->events = events;
}

const HttpRoute* HttpListener::Loop::FindRoute(const HttpRequest& request,
                                               std::string* allow) const {
  std::vector<std::string> methods;
  for (const HttpRoute& route : routes_) {
    if (route.path != request.path) continue;
    if (route.method == request.method || (route.method == "GET" && request.method == "HEAD")) {
      return &route;
    }
    methods.push_back(route.method);
  }
  *allow = absl::StrJoin(methods, ", ");
  return nullptr;
}

}  // namespace plumb
