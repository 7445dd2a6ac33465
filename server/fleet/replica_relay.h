#pragma once

// The fleet's side of replicas (issue 16, docs/scale-out.md): carries over a ReplicaLink what
// one replica must know of another at run time. `plumbctl run` through this replica is asked of
// the agents the others hold too (each answers with the nodes it asked, then forwards their
// reports); events published here reach the other replicas' buses once (and theirs reach
// ours, never relayed back); the streams this replica holds are its presence rows.

#include <map>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "server/fleet/event_bus.h"
#include "server/fleet/rollout_forwarding.h"
#include "server/fleet/run_tracker.h"
#include "server/store/replica_link.h"
#include "server/sync/stream_hub.h"

namespace plumb {

// Thread-safe. Nothing is owned; all must outlive the relay (Stop the link first).
class ReplicaRelay {
 public:
  ReplicaRelay(ReplicaLink* link, StreamHub* hub, RunTracker* runs, EventBus* events);

  // Operators' rollout actions forwarded between replicas go to `forwarding` (not owned; must
  // outlive the link's deliveries). Call before Start.
  void set_rollout_forwarding(RolloutForwarding* forwarding) { forwarding_ = forwarding; }

  // Hooks the bus and the tracker and starts the link. Call once, before agents connect.
  void Start();

  // Sends run request `request_id` (tracked by `runs`) to the other live replicas and tells
  // the tracker how many answers to expect.
  void AskOthers(const std::string& request_id, const std::map<std::string, std::string>& selector,
                 const std::vector<std::string>& nodes, bool noop);

  // How long Run waits for the other replicas to say which nodes they asked.
  static constexpr absl::Duration kAnswerTimeout = absl::Seconds(5);

 private:
  void OnMessage(const ReplicaMessage& m);
  void OnLocalEvent(const v1::Event& event);

  ReplicaLink* const link_;
  StreamHub* const hub_;
  RunTracker* const runs_;
  EventBus* const events_;
  RolloutForwarding* forwarding_ = nullptr;
};

}  // namespace plumb
