#pragma once

// Operators' rollout actions on any replica (issue 16, docs/scale-out.md): with replicas on
// PostgreSQL only the leader changes a rollout, so a follower that is sent `rollout
// pause|resume|abort|promote` or `rollback` forwards it to the leader over the ReplicaLink
// (kind rollout_ask, a request id as ref) and waits, bounded, for the answer (kind
// rollout_answer, same ref) that the leader's FleetService gave when it executed the action as
// if it had been sent there. The leader executes on a worker thread of its own, never on the
// link's thread.

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/clock.h"
#include "plumb/v1/replica.pb.h"
#include "server/store/replica_link.h"
#include "server/sync/work_queue.h"

namespace plumb {

// Limits of a forwarded action, checked by the follower before it sends one (the operator gets
// INVALID_ARGUMENT) and by the leader on receipt (a message over them is logged and dropped).
inline constexpr size_t kMaxForwardedEnvironmentBytes = 255;  // a branch name
inline constexpr size_t kMaxForwardedRevisionBytes = 128;     // rollback --to: a sha or prefix
inline constexpr int32_t kMaxForwardedWave = 65;              // promote --wave: 64 waves + implicit
inline constexpr size_t kMaxForwardedMessageBytes = 64 * 1024;  // a whole rollout_ask payload
inline constexpr size_t kMaxForwardedRefBytes = 512;  // a request id: replica id (host) + n
// The leader's answer: a RolloutStatus lists at most 100 failures of bounded size.
inline constexpr size_t kMaxForwardedAnswerBytes = 4 * 1024 * 1024;
inline constexpr size_t kMaxForwardedErrorBytes = 16 * 1024;

// OK if `action` holds exactly one known action within the limits above; otherwise
// InvalidArgument naming the field.
absl::Status CheckForwardedAction(const v1::ForwardedRolloutAction& action);

// Thread-safe. Nothing owned: `link` and `clock` must outlive it (call Stop() before the
// executor's owner goes away).
class RolloutForwarding {
 public:
  // Whether this replica leads the rollout of `environment` now (it then answers requests).
  using Leads = std::function<bool(const std::string& environment)>;
  // Executes a forwarded action here, as FleetService would have for a local call.
  using Execute = std::function<v1::ForwardedRolloutAnswer(const v1::ForwardedRolloutAction&)>;

  RolloutForwarding(ReplicaLink* link, Clock* clock);
  ~RolloutForwarding();
  RolloutForwarding(const RolloutForwarding&) = delete;
  RolloutForwarding& operator=(const RolloutForwarding&) = delete;

  // The leader's side; set before the link delivers messages.
  void SetLeader(Leads leads, Execute execute);

  // The follower's side: forwards `action` to the leader and waits for its answer up to
  // `timeout` (on the clock). Unavailable when no other replica is alive, when no leader answers
  // in time (the action may still take effect there), or when stopping; InvalidArgument when
  // the action is over a limit. The answer carries the leader's own error, if any.
  absl::StatusOr<v1::ForwardedRolloutAnswer> Ask(v1::ForwardedRolloutAction action,
                                                 absl::Duration timeout = kTimeout);
  static constexpr absl::Duration kTimeout = absl::Seconds(10);

  // A message from the link (ReplicaRelay calls this on the link's thread; it never blocks).
  // True if it was one of this class's kinds (handled or, when malformed, logged and dropped).
  bool OnMessage(const ReplicaMessage& m);

  // Fails the waiting Asks (Unavailable), runs the queued executions and refuses new ones.
  void Stop();

 private:
  // The result of one Ask, filled by OnAnswer under mu_.
  struct Pending {
    bool done = false;
    absl::StatusOr<v1::ForwardedRolloutAnswer> answer = absl::UnknownError("no answer");
  };
  void OnAsk(const ReplicaMessage& m);
  void OnAnswer(const ReplicaMessage& m);
  // Executes one request on the worker and sends the answer.
  void Answer(const std::string& ref, const v1::ForwardedRolloutAction& action);

  ReplicaLink* const link_;
  Clock* const clock_;
  absl::Mutex mu_;
  Leads leads_ ABSL_GUARDED_BY(mu_);
  Execute execute_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, Pending*> pending_ ABSL_GUARDED_BY(mu_);  // by request id
  uint64_t next_id_ ABSL_GUARDED_BY(mu_) = 0;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::unique_ptr<WorkQueue> worker_ ABSL_GUARDED_BY(mu_);  // executes requests, in order
};

}  // namespace plumb
