#pragma once

// The hub's node-status bookkeeping: the node rows that Sync traffic changes (connected, labels,
// desired and applied revision, status, last error), batched so that every change made during
// one work item of the hub is written in one transaction when it ends (or, while more work is
// queued behind it, with the changes of the next few items: StreamHub::FlushNodesWhenDue). A commit's fan-out is
// one work item: its 10,000 row updates are one transaction, after every update has been sent
// (docs/benchmarks.md, finding 2). Also the rules that turn a report into a node status.

#include <functional>
#include <map>
#include <string>
#include <utility>

#include "absl/strings/string_view.h"
#include "plumb/v1/fleet.pb.h"
#include "plumb/v1/types.pb.h"
#include "server/store/store.h"

namespace plumb {

// Thread-compatible: used by the hub's worker thread only.
class NodeBook {
 public:
  // `store` is not owned and must outlive the book.
  explicit NodeBook(Store* store) : store_(store) {}

  // Changes the node's row as of the end of the current work item (created as `unknown` if
  // the store has none). Revoked is sticky: `change` cannot move a revoked node out of it
  // unless `unrevoke`.
  void Update(const std::string& name, const std::function<void(v1::Node*)>& change,
              bool unrevoke = false);
  // True if the node has a row or a pending change.
  bool Known(const std::string& name);
  // Writes the pending changes in one transaction (a failure is logged: the rows are a view
  // of the hub's state, rewritten by the node's next change).
  void Flush();
  // Nodes with changes not written yet.
  size_t pending() const { return dirty_.size(); }
  // Replicas (a store that reads `connected` from presence rows): every row written for a node
  // with `holds(name)`, whose stream this server holds, says `connected`, whatever the row it
  // read said (read just before this server's presence row was written, or written by another
  // replica's late disconnect), so the node reads offline if this server dies. Other rows say
  // what the change made of the row as read.
  void set_holds(std::function<bool(const std::string&)> holds) { holds_ = std::move(holds); }
  // The status the node's last stored run implies (unknown without one): a node back online,
  // or compiling again, is what its last run said until its next run.
  v1::NodeStatus StatusOfLastRun(const v1::Node& node);

 private:
  Store* const store_;
  std::map<std::string, v1::Node> dirty_;
  std::function<bool(const std::string&)> holds_;  // unset: `connected` as changed
};

// The node status a report implies, given the revision the node should be on.
v1::NodeStatus StatusFromReport(const v1::Report& report, const std::string& desired_revision);

// What last_error says when the serving revision does not compile for a node.
std::string NodeCompileErrorText(const std::string& revision, absl::string_view errors);

}  // namespace plumb
