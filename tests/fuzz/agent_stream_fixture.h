#pragma once

// The server parts agent_stream_fuzzer drives, built once and reused across inputs: a real
// StreamHub over a real Store (SQLite in a temp dir), a real CatalogBuilder serving one of two
// revisions of a small fixed repository, RunTracker, EventBus and ServerMetrics.
//
// The repository: every node gets base (among others file:/etc/plumb/node, whose content is
// "node=<its name>"), nodes labelled role=web get web, node "a" alone gets the sensitive
// file:/etc/secret-a, and nodes labelled broken=yes get a module whose catalog does not
// compile.

#include <memory>
#include <string>
#include <vector>

#include "common/compiler/compiler.h"
#include "server/sync/catalog_builder.h"
#include "server/fleet/event_bus.h"
#include "server/http/metrics.h"
#include "server/fleet/run_tracker.h"
#include "server/http/server_metrics.h"
#include "server/store/store.h"
#include "server/sync/stream_hub.h"
#include "tests/testing/fake_clock.h"

namespace plumb::fuzz {

inline constexpr char kNodeFileId[] = "file:/etc/plumb/node";
inline constexpr char kSecretId[] = "file:/etc/secret-a";
inline constexpr char kSecretOwner[] = "a";

// Thread-compatible (the hub inside is thread-safe).
class AgentStreamFixture {
 public:
  // Traps if the temp dir, the store or the repository cannot be set up.
  AgentStreamFixture();
  ~AgentStreamFixture();

  // The content digest file:/etc/plumb/node has in `node`'s catalog.
  static std::string NodeFileDigest(const std::string& node);
  // The content digest of the secret only node "a" may see.
  static std::string SecretDigest();

  // Serves revision `index` (0 or 1) and, if it changed, tells the hub.
  void Serve(int index);
  int serving() const { return serving_; }
  const std::string& revision(int index) const { return revision_ids_[index]; }
  // Every resource id of either revision (for the decoder).
  const std::vector<std::string>& resource_ids() const { return resource_ids_; }

  // Keeps the builder's per-group cache bounded: fuzzed labels and facts make new groups.
  void TrimCatalogs();
  // Pops every buffered event, as a watcher would.
  void DrainEvents();
  // Stores the usual node names as plain offline nodes: a huge Hello or report from one input
  // would otherwise slow down every later one that names the node.
  void ResetNodes();
  // The node names inputs usually pick.
  static const std::vector<std::string>& NodeNames();

  testing::ManualClock clock;
  std::unique_ptr<Store> store;
  CatalogBuilder builder;
  RunTracker runs;
  MetricsRegistry registry;
  ServerMetrics metrics{&registry};
  EventBus events{&clock, 64};

  StreamHub& hub() { return *hub_; }

 private:
  std::string dir_;
  std::shared_ptr<const DesiredState> revisions_[2];
  std::string revision_ids_[2];
  std::vector<std::string> resource_ids_;
  int serving_ = 0;
  std::shared_ptr<EventSubscription> watch_;
  std::unique_ptr<StreamHub> hub_;  // last: its worker is joined first
};

}  // namespace plumb::fuzz
