#pragma once

// The agent's half of plumbctl plan --noop-sample (docs/plan.md): runs the candidate catalog of
// a server's NoopRequest in noop mode over the host and answers with a NoopResult. The
// candidate is never applied, cached or held: the agent's catalog, inventory, applied revision,
// drift watch and report queue stay as they are. Only its blobs land in the blob cache (the
// next catalog update drops those no catalog names).

#include <functional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "agent/engine/apply_engine.h"
#include "agent/engine/inventory.h"
#include "agent/host/filesystem.h"
#include "plumb/v1/agent.pb.h"

namespace plumb {

// What a noop sample runs with; nothing owned, all outlive the call.
struct NoopRunContext {
  // Fetches the digests the blob cache lacks (SyncClient::FetchBlobs over GetBlob).
  std::function<absl::Status(const std::vector<std::string>&)> fetch_blobs;
  ApplyEngine* engine = nullptr;
  Filesystem* fs = nullptr;
  // Read for orphans only (what the candidate would prune); noop never changes it.
  Inventory* inventory = nullptr;
  std::string node;
};

// Checks the catalog's digest, fetches its blobs (`fetch` first, without the run lock), runs
// it in noop (`Run`, under the caller's run lock: after any run in progress), and returns the
// answer, cut to the wire limits. A catalog that cannot run is an answer with `error` set.
absl::Status FetchNoopBlobs(const v1::NoopRequest& request, const NoopRunContext& context);
v1::NoopResult RunNoopRequest(const v1::NoopRequest& request, const NoopRunContext& context);
// The answer when the catalog could not even be prepared (FetchNoopBlobs failed).
v1::NoopResult NoopFailure(const v1::NoopRequest& request, const absl::Status& why);

}  // namespace plumb
