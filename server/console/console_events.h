#pragma once

// The console's live updates: server-sent events (GET /api/events) fed from the EventBus.
// One thread writes to every open stream, so streams never hold the listener's workers; at
// most max_clients streams are open (one more is answered 503). Each write must be taken within
// write_timeout or that stream is dropped; a comment line every ping_interval finds dead
// clients and keeps proxies from closing idle streams. A stream ends (cleanly, TLS
// close_notify) when its session expires or signs out, or the server stops; EventSource in the
// browser then reconnects by itself (after `retry`), also across a server restart.

#include <cstddef>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "server/console/console_sessions.h"
#include "server/console/tls_stream.h"
#include "server/fleet/event_bus.h"

namespace plumb {

// Limits of the event streams. Tests shorten the intervals.
struct ConsoleEventsOptions {
  size_t max_clients = 32;
  absl::Duration write_timeout = absl::Seconds(2);
  absl::Duration ping_interval = absl::Seconds(15);
  int retry_ms = 2000;
};

// Thread-safe.
class ConsoleEvents {
 public:
  // `bus` and `sessions` are not owned and must outlive this. `credential_valid` (optional,
  // as ConsoleRoutes::credential_valid): a stream whose session's credential stopped being
  // valid ends at the next event or ping.
  ConsoleEvents(EventBus* bus, ConsoleSessions* sessions, ConsoleEventsOptions options = {},
                std::function<bool(const std::string&)> credential_valid = nullptr);
  ~ConsoleEvents();

  // Answers `stream` with the event-stream head and keeps it open for session `session_id`.
  // When max_clients streams are open, answers 503 and closes it.
  void Add(std::unique_ptr<TlsStream> stream, const std::string& session_id);
  // Ends every stream and the thread. Idempotent.
  void Stop();
  size_t clients() const;

  // The SSE frame of `event`: "id:" and one JSON "data:" line (kind, node, revision, message).
  static std::string Frame(const v1::Event& event);

 private:
  struct Client {
    std::unique_ptr<TlsStream> stream;
    std::string session_id;
  };
  void Run();
  // Writes `data` to every client; drops those that fail or whose session ended.
  void Broadcast(std::vector<Client>* clients, const std::string& data);

  EventBus* const bus_;
  ConsoleSessions* const sessions_;
  const ConsoleEventsOptions options_;
  const std::function<bool(const std::string&)> credential_valid_;
  std::shared_ptr<EventSubscription> subscription_;
  mutable absl::Mutex mu_;
  std::vector<Client> joining_ ABSL_GUARDED_BY(mu_);  // taken over by the thread
  size_t open_ ABSL_GUARDED_BY(mu_) = 0;              // joining_ + the thread's clients
  bool ready_ ABSL_GUARDED_BY(mu_) = false;           // the bus has buffered events
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::thread thread_;
};

}  // namespace plumb
