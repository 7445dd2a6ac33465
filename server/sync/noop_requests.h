#pragma once

// The server's outstanding NoopRequests (plumbctl plan --noop-sample, docs/plan.md): which node
// was asked to run which candidate catalog in noop mode, the blobs that node may fetch for it
// while the request is outstanding, and the answers. Nothing here is stored: an answer goes to
// the plan that asked and nowhere else (no report, no node row, no rollout).

#include <map>
#include <memory>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "common/clock.h"
#include "plumb/v1/agent.pb.h"

namespace plumb {

// What became of one noop request.
struct NoopOutcome {
  bool answered = false;  // false: no answer before the deadline (or never sent)
  std::string error;      // the agent's, or why it was not sent ("not connected")
  v1::Report report;      // with answered and no error: the noop run, sensitive diffs cleared
};

// Thread-safe.
class NoopRequests {
 public:
  // At most this many requests are outstanding at once over all plans, one per node.
  static constexpr int kMaxOutstanding = 200;

  // `clock` (not owned, outlives this) times Wait.
  explicit NoopRequests(Clock* clock) : clock_(clock) {}

  // Registers a request to `node` for `catalog` (whose contents are `blobs`, by digest).
  // Returns its request id. FailedPrecondition if `node` has one outstanding already,
  // ResourceExhausted with kMaxOutstanding outstanding.
  absl::StatusOr<std::string> Start(
      const std::string& node, std::shared_ptr<const v1::Catalog> catalog,
      std::map<std::string, std::shared_ptr<const std::string>> blobs);

  // The content of `digest` if an outstanding request to `node` names it; with no node
  // (plaintext, --insecure: no identity), if any outstanding request names it. Null otherwise.
  std::shared_ptr<const std::string> Blob(const std::optional<std::string>& node,
                                          const std::string& digest) const;

  // The agent of `node` answered. Returns false (and does nothing) unless `node` has an
  // outstanding request with this id: late, repeated or foreign answers are dropped. Clears
  // every diff of a resource the request's catalog marks sensitive or does not name.
  bool Answer(const std::string& node, v1::NoopResult result);
  // The request could not be sent (or its stream ended): it ends now with `error`.
  void Fail(const std::string& request_id, const std::string& error);
  // `node`'s stream ended: its outstanding request (if any) ends now with `error`.
  void FailNode(const std::string& node, const std::string& error);

  // Waits until the request is answered (or failed), or until `deadline` on the clock; then
  // forgets it (its blobs are no longer fetchable) and returns what became of it.
  NoopOutcome Wait(const std::string& request_id, absl::Time deadline);

  int outstanding() const;

 private:
  struct Request {
    std::string node;
    std::shared_ptr<const v1::Catalog> catalog;
    std::map<std::string, std::shared_ptr<const std::string>> blobs;
    bool done = false;
    NoopOutcome outcome;
  };

  Clock* const clock_;
  mutable absl::Mutex mu_;
  std::map<std::string, Request> by_id_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, std::string> id_by_node_ ABSL_GUARDED_BY(mu_);
  uint64_t next_ ABSL_GUARDED_BY(mu_) = 0;
};

// Clears the diff of every result of `report` whose resource `catalog` marks sensitive or does
// not name (an orphan's sensitivity is not known). Returns how many were cleared.
int ScrubNoopReport(const v1::Catalog& catalog, v1::Report* report);

}  // namespace plumb
