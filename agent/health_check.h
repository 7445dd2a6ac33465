#pragma once

// The rollout's health check on the agent (docs/rollouts.md): after a run applied a catalog
// that carries one, the agent runs it (/bin/sh -c EXEC, bounded by its timeout) through the
// command-runner seam; a non-zero exit or a timeout fails the node's run for the rollout.

#include "agent/host/command_runner.h"
#include "plumb/v1/types.pb.h"

namespace plumb {

// Runs `check` and returns what it did: exit status (-1 when it could not start, was killed or
// timed out) and the tail of its stdout+stderr within wire::kMaxHealthOutputBytes.
v1::HealthCheckResult RunHealthCheck(CommandRunner* runner, const v1::HealthCheck& check);

}  // namespace plumb
