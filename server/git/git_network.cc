#include "server/git/git_network.h"

#include <errno.h>
#include <fcntl.h>
#include <git2.h>
#include <git2/sys/stream.h>
#include <netdb.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <string>

#include "absl/strings/str_cat.h"

namespace plumb {
namespace {

std::atomic<int> g_timeout_ms{60000};

// libgit2's stream over one TCP socket. The first four fields mirror libgit2's own
// git_socket_stream (src/libgit2/streams/socket.h, unchanged from 1.0 through 1.5): its SSH
// transport reaches the file descriptor through that layout.
struct TimedSocketStream {
  git_stream parent;
  char* host;
  char* port;
  int s;
  // Ours from here on.
  int timeout_ms;
};

TimedSocketStream* Self(git_stream* stream) { return reinterpret_cast<TimedSocketStream*>(stream); }

std::string Where(const TimedSocketStream* st) { return absl::StrCat(st->host, ":", st->port); }

void SetError(const std::string& message) { git_error_set_str(GIT_ERROR_NET, message.c_str()); }

std::string TimeoutText(int timeout_ms) {
  return absl::StrCat("timed out after ", absl::FormatDuration(absl::Milliseconds(timeout_ms)));
}

// Waits until `fd` is ready for `events`: 1 ready, 0 timed out, -1 error (errno set).
int WaitFor(int fd, short events, int timeout_ms) {
  using Clock = std::chrono::steady_clock;
  Clock::time_point deadline = Clock::now() + std::chrono::milliseconds(timeout_ms);
  while (true) {
    int left = static_cast<int>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                    deadline - Clock::now()).count());
    if (left < 0) left = 0;
    pollfd p{fd, events, 0};
    int rc = poll(&p, 1, left);
    if (rc >= 0) return rc > 0 ? 1 : 0;
    if (errno != EINTR) return -1;
  }
}

// A non-blocking connect to one address, bounded by the timeout; the socket is left blocking.
int ConnectOne(const addrinfo* ai, int timeout_ms, std::string* error) {
  int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK, ai->ai_protocol);
  if (fd < 0) {
    *error = strerror(errno);
    return -1;
  }
  int rc = connect(fd, ai->ai_addr, ai->ai_addrlen);
  if (rc != 0 && errno == EINPROGRESS) {
    int ready = WaitFor(fd, POLLOUT, timeout_ms);
    if (ready == 0) {
      *error = TimeoutText(timeout_ms);
    } else if (ready < 0) {
      *error = strerror(errno);
    } else {
      int so_error = 0;
      socklen_t len = sizeof(so_error);
      getsockopt(fd, SOL_SOCKET, SO_ERROR, &so_error, &len);
      if (so_error == 0) rc = 0;
      else *error = strerror(so_error);
    }
  } else if (rc != 0) {
    *error = strerror(errno);
  }
  if (rc != 0) {
    close(fd);
    return -1;
  }
  int flags = fcntl(fd, F_GETFL);
  fcntl(fd, F_SETFL, flags & ~O_NONBLOCK);
  return fd;
}

int Connect(git_stream* stream) {
  TimedSocketStream* st = Self(stream);
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* info = nullptr;
  int rc = getaddrinfo(st->host, st->port, &hints, &info);
  if (rc != 0) {
    SetError(absl::StrCat("failed to resolve address for ", st->host, ": ", gai_strerror(rc)));
    return -1;
  }
  std::string error = "no address";
  for (const addrinfo* ai = info; ai != nullptr && st->s < 0; ai = ai->ai_next) {
    st->s = ConnectOne(ai, st->timeout_ms, &error);
  }
  freeaddrinfo(info);
  if (st->s < 0) {
    SetError(absl::StrCat("failed to connect to ", Where(st), ": ", error));
    return -1;
  }
  return 0;
}

ssize_t Read(git_stream* stream, void* data, size_t len) {
  TimedSocketStream* st = Self(stream);
  int ready = WaitFor(st->s, POLLIN, st->timeout_ms);
  if (ready <= 0) {
    SetError(absl::StrCat("receiving from ", Where(st), ": ",
                          ready == 0 ? TimeoutText(st->timeout_ms) + " without data"
                                     : std::string(strerror(errno))));
    return -1;
  }
  ssize_t n;
  do {
    n = recv(st->s, data, len, 0);
  } while (n < 0 && errno == EINTR);
  if (n < 0) {
    SetError(absl::StrCat("receiving from ", Where(st), ": ", strerror(errno)));
    return -1;
  }
  return n;
}

ssize_t Write(git_stream* stream, const char* data, size_t len, int flags) {
  TimedSocketStream* st = Self(stream);
  size_t done = 0;
  while (done < len) {
    int ready = WaitFor(st->s, POLLOUT, st->timeout_ms);
    if (ready <= 0) {
      SetError(absl::StrCat("sending to ", Where(st), ": ",
                            ready == 0 ? TimeoutText(st->timeout_ms)
                                       : std::string(strerror(errno))));
      return -1;
    }
    ssize_t n = send(st->s, data + done, len - done, flags | MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      SetError(absl::StrCat("sending to ", Where(st), ": ", strerror(errno)));
      return -1;
    }
    done += static_cast<size_t>(n);
  }
  return static_cast<ssize_t>(len);
}

int Close(git_stream* stream) {
  TimedSocketStream* st = Self(stream);
  if (st->s >= 0) close(st->s);
  st->s = -1;
  return 0;
}

void Free(git_stream* stream) {
  TimedSocketStream* st = Self(stream);
  Close(stream);
  std::free(st->host);
  std::free(st->port);
  delete st;
}

int NewStream(git_stream** out, const char* host, const char* port) {
  auto* st = new TimedSocketStream{};
  st->parent.version = GIT_STREAM_VERSION;
  st->parent.connect = Connect;
  st->parent.read = Read;
  st->parent.write = Write;
  st->parent.close = Close;
  st->parent.free = Free;
  st->host = strdup(host);
  st->port = strdup(port);
  st->s = -1;
  st->timeout_ms = g_timeout_ms.load();
  *out = &st->parent;
  return 0;
}

}  // namespace

absl::Status InstallGitNetworkTimeout(absl::Duration timeout) {
  if (timeout <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError("the git network timeout must be positive");
  }
  g_timeout_ms = static_cast<int>(std::max<int64_t>(1, absl::ToInt64Milliseconds(timeout)));
  git_stream_registration registration{};
  registration.version = GIT_STREAM_VERSION;
  registration.init = NewStream;
  if (git_stream_register(GIT_STREAM_STANDARD, &registration) < 0) {
    const git_error* e = git_error_last();
    return absl::InternalError(absl::StrCat("registering the git socket stream: ",
                                            e != nullptr && e->message ? e->message : "?"));
  }
  return absl::OkStatus();
}

}  // namespace plumb
