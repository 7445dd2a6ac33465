#pragma once

// Defence in depth for `sensitive: true`: agents already keep diffs of sensitive resources
// out of their reports, but the server does not rely on it. Before a report is stored,
// logged or published, results of resources the node's catalog marks sensitive lose their
// diff.

#include "plumb/v1/types.pb.h"

namespace plumb {

// Clears the diff of every result in `report` whose resource `catalog` marks sensitive.
// Returns how many diffs were cleared.
int ScrubSensitiveResults(const v1::Catalog& catalog, v1::Report* report);

}  // namespace plumb
