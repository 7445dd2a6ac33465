#pragma once

// The web console (console_listen): HTTPS with the server's certificate, sign-in sessions,
// server-rendered pages and live updates. Assembled from its parts: TlsServerContext and
// ConsoleListener (connections, bounded), ConsoleSessions (sign-in), ConsoleRouter (routes and
// their checks, pages), ConsoleEvents (server-sent events off the EventBus).

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "common/clock.h"
#include "common/grpc_credentials.h"
#include "server/console/console_events.h"
#include "server/console/console_listener.h"
#include "server/console/console_router.h"
#include "server/console/console_sessions.h"
#include "server/console/tls_stream.h"
#include "server/fleet/event_bus.h"

namespace plumb {

// Limits of the console. The defaults are production's; tests shorten them.
struct ConsoleOptions {
  absl::Duration session_lifetime = absl::Hours(12);
  size_t max_sessions = ConsoleSessions::kDefaultMaxSessions;
  std::string sessions_file;  // where sign-ins persist across restarts; "" keeps them in memory
  ConsoleListenerOptions listener;
  ConsoleEventsOptions events;
};

// Thread-safe. Serves from Start() until Stop() or destruction.
class ConsoleServer {
 public:
  // Binds `listen` and serves. `bus` and `clock` are not owned and must outlive the console.
  // InvalidArgument for a bad address or unusable TLS files, Unavailable when it cannot bind.
  static absl::StatusOr<std::unique_ptr<ConsoleServer>> Start(const std::string& listen,
                                                              const TlsFiles& tls,
                                                              ConsoleRoutes routes, EventBus* bus,
                                                              Clock* clock,
                                                              ConsoleOptions options = {});
  ~ConsoleServer();
  // Closes the event streams (cleanly), stops the listener; returns when every thread ended.
  void Stop();
  int port() const { return listener_ != nullptr ? listener_->port() : 0; }
  ConsoleSessions* sessions() { return sessions_.get(); }

 private:
  ConsoleServer() = default;
  void Serve(const HttpRequest& request, std::unique_ptr<TlsStream> stream);

  ConsoleOptions options_;
  std::unique_ptr<TlsServerContext> tls_;
  std::unique_ptr<ConsoleSessions> sessions_;
  std::unique_ptr<ConsoleRouter> router_;
  std::unique_ptr<ConsoleEvents> events_;
  std::unique_ptr<ConsoleListener> listener_;  // last: stopped first
};

}  // namespace plumb
