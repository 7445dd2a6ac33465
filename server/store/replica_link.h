#pragma once

// What replicas sharing one PostgreSQL database exchange at run time (issue 16,
// docs/scale-out.md): messages (runs asked through one replica of agents held by another, their
// answers and reports, events) and which replica holds which node's stream (heartbeats with
// expiry). With SQLite there is one server and no link (a null ReplicaLink*).

#include <functional>
#include <string>

namespace plumb {

// One message from another replica, as it was sent.
struct ReplicaMessage {
  std::string origin;   // the sending replica's id
  std::string kind;     // what payload holds: run | run_asked | run_report | event |
                        // rollout_ask | rollout_answer (server/fleet/rollout_forwarding.h)
  std::string ref;      // the request id (a run, a forwarded rollout action), or empty
  std::string payload;  // a serialized proto, by kind
};

// Thread-safe in every implementation.
class ReplicaLink {
 public:
  virtual ~ReplicaLink() = default;
  // Starts delivering the other replicas' messages, each once and in the order they were
  // stored, to `on_message` (on the link's own thread; it must not block for long).
  virtual void Start(std::function<void(const ReplicaMessage&)> on_message) = 0;
  virtual void Stop() = 0;
  // Queues a message for every other replica; returns at once (batched writes). Messages
  // queued while the database is unreachable are sent once it is back, up to a bound (then the
  // oldest are dropped, with a warning).
  virtual void Send(std::string kind, std::string ref, std::string payload) = 0;
  // This replica now holds (or no longer holds) the node's stream. A node is connected while a
  // replica with a current heartbeat holds its stream.
  virtual void SetHolding(const std::string& node, bool holding) = 0;
  // How many other replicas had a current heartbeat at the last heartbeat.
  virtual int OtherLiveReplicas() const = 0;
  // This replica's id (unique per process).
  virtual const std::string& id() const = 0;
};

}  // namespace plumb
