#pragma once

// The Sync protocol's state of one stream, on the server: who the agent is (its compile
// inputs, from its Hello), what it holds (the versions and digest it acknowledged, and whether
// this server sent them), the update in flight, what it rejected, and why it is sent nothing.
// The hub drives it through the protocol's steps (Greet, StartUpdate, TakeAck); nothing else
// changes it.

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "common/compiler/compiler.h"
#include "plumb/v1/agent.pb.h"

namespace plumb {

// Thread-compatible: the hub's worker thread only.
class SyncState {
 public:
  // ---- Hello ----
  bool greeted() const { return greeted_; }
  // Takes the agent's Hello: `inputs` are its compile inputs (labels already through the
  // label policy); the versions and digest it claims to hold are not trusted for shared deltas.
  void Greet(const v1::Hello& hello, NodeInputs inputs);
  const NodeInputs& inputs() const { return inputs_; }
  const std::string& node() const { return inputs_.name; }
  bool run_once() const { return run_once_; }
  // The revision line serving the node (StreamHub::SetLines), chosen at its Hello; -1: none.
  int line() const { return line_; }
  void set_line(int line) { line_ = line; }

  // ---- offering a catalog ----
  bool update_in_flight() const { return inflight_ != nullptr; }
  // An offer starts at builder generation `generation` (remembered for NeedsOffer).
  void Offering(uint64_t generation) { offered_generation_ = generation; }
  // True if `catalog` must be sent: it is neither what the agent holds nor what it rejected,
  // or its Hello still awaits an answer. Clears the pending answer when it returns true.
  bool ShouldSend(const v1::Catalog& catalog);
  // The update carrying `catalog` (with `upserted` resources) is being sent: returns its nonce.
  std::string StartUpdate(std::shared_ptr<const v1::Catalog> catalog, int upserted);

  // ---- acknowledgements ----
  // Matches `ack` against the update in flight; null when it is stale. A NACK marks the
  // catalog rejected (not offered again until it changes); an ACK makes it what the agent
  // holds, trusted for shared deltas.
  std::shared_ptr<const v1::Catalog> TakeAck(const v1::Ack& ack);
  // After an ACK: true if something newer was served meanwhile (builder generation
  // `generation`) or a Hello awaits its answer.
  bool NeedsOffer(uint64_t generation) const;

  // ---- what the agent holds ----
  // The update from what the agent holds to `catalog`: against the catalog it acknowledged
  // (shared by every agent of its group: no per-agent copy of its versions is kept), or, until
  // its first ACK on this stream, against the versions its Hello claimed.
  v1::CatalogUpdate DeltaTo(const v1::Catalog& catalog) const;
  // The version of resource `id` the agent holds ("" if none).
  std::string HeldVersion(const std::string& id) const;
  const std::string& held_digest() const { return held_digest_; }
  // `held` is what this server sent and the agent acknowledged (not what a Hello claimed), so
  // deltas computed for another agent holding the same digest fit it too.
  bool held_trusted() const { return held_trusted_; }
  // The agent holds nothing (its Hello claimed no catalog): every such agent gets the same
  // full delta, so it may be shared like a trusted one.
  bool holds_nothing() const { return !held_trusted_ && held_digest_.empty() && claimed_.empty(); }
  // The last catalog the agent acknowledged, and the one in flight (null when none).
  const v1::Catalog* acked() const { return acked_.get(); }
  const v1::Catalog* inflight() const { return inflight_.get(); }

  // ---- a node failing alone ----
  // Why the serving revision does not compile for this node (empty when it does). While set,
  // the node is `failed` whatever its runs report, and it is sent nothing: the agent keeps
  // enforcing its last good catalog.
  const std::string& compile_error() const { return compile_error_; }
  void set_compile_error(std::string error) { compile_error_ = std::move(error); }

  // Upserted resources sent on this stream (metrics, tests).
  int64_t resources_sent() const { return resources_sent_; }

 private:
  bool greeted_ = false;
  bool run_once_ = false;
  int line_ = 0;
  NodeInputs inputs_;
  // id -> version the Hello claimed; emptied at the first ACK (then acked_ is what it holds).
  std::map<std::string, std::string> claimed_;
  std::string held_digest_;
  bool held_trusted_ = false;
  std::string nacked_digest_;
  uint64_t offered_generation_ = 0;  // CatalogBuilder::generation() of the last offer
  std::string inflight_nonce_;
  std::shared_ptr<const v1::Catalog> inflight_;
  std::shared_ptr<const v1::Catalog> acked_;
  uint64_t next_nonce_ = 1;
  bool reply_pending_ = false;  // a Hello awaits an answer even if nothing changed
  std::string compile_error_;
  int64_t resources_sent_ = 0;
};

}  // namespace plumb
