#pragma once

// Checks the relations between the resources of one node's catalog: every id that require,
// before, notify and subscribe name exists, and the order they impose has no cycle.

#include <vector>

#include "common/compiler/desired_state_model.h"
#include "plumb/v1/types.pb.h"

namespace plumb::compile {

// `relations[i]` are the relations of `catalog.resources(i)`, as written. Reports unknown
// ids at the place they are written and each cycle once, as "a -> b -> a" in apply order,
// located at the resource of the cycle that comes first in the catalog.
void CheckRelations(const v1::Catalog& catalog,
                    const std::vector<const std::vector<RelationRef>*>& relations,
                    ErrorList* errors);

}  // namespace plumb::compile
