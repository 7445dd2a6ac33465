#pragma once

// The rollout's health check on the agent (docs/rollouts.md): after a run applied a catalog
// that carries one, the agent runs it (/bin/sh -c EXEC, bounded by its timeout) through the
// command-runner seam; a non-zero exit or a timeout fails the node's run for the rollout.

#include <string>

#include "absl/status/status.h"
#include "agent/host/command_runner.h"
#include "plumb/v1/types.pb.h"

namespace plumb {

// Runs `check` and returns what it did: exit status (-1 when it could not start, was killed or
// timed out) and the tail of its stdout+stderr within wire::kMaxHealthOutputBytes.
v1::HealthCheckResult RunHealthCheck(CommandRunner* runner, const v1::HealthCheck& check);

// The check that came with the cached catalog is kept on disk next to it
// (STATE_DIR/health_check.pb, a CatalogUpdate holding only catalog_digest and health), so an
// agent restarted before the rollout is over still runs it after each apply. Save writes it
// atomically for the catalog whose digest is `catalog_digest` (an empty check too: none).
absl::Status SaveHealthCheck(const std::string& state_dir, const std::string& catalog_digest,
                             const v1::HealthCheck& check);
// The saved check if it was saved for `catalog_digest` (the catalog the agent holds); else, or
// when there is none or it is unreadable, an empty check (none runs).
v1::HealthCheck LoadHealthCheck(const std::string& state_dir, const std::string& catalog_digest);

}  // namespace plumb
