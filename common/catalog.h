#pragma once

// Helpers over the catalog model (plumb.v1.Catalog / Resource): resource versions, catalog
// digests and the delta between what an agent holds and what it should hold.

#include <map>
#include <memory>
#include <string>
#include "absl/strings/string_view.h"

#include "plumb/v1/agent.pb.h"
#include "plumb/v1/types.pb.h"

namespace plumb {

// "type:name".
std::string ResourceId(absl::string_view type, absl::string_view name);

// The sha256 of the resource's canonical spec: every field but `version` and
// `source_location` (moving a resource within a file does not change it).
std::string ComputeResourceVersion(const v1::Resource& resource);

// The digest of a catalog whose resources already carry versions: sha256 over the ordered
// (id, version) pairs and the prune flag. Lets an agent verify that a delta rebuilt exactly the server's catalog.
std::string ComputeCatalogDigest(const v1::Catalog& catalog);

// Sets the resource's `version` (ComputeResourceVersion, without copying the resource).
void SealResource(v1::Resource* resource);

// Sets `version` on every resource and the catalog digest (sha256 over the ordered
// (id, version) pairs, so order changes count as changes).
void SealCatalog(v1::Catalog* catalog);

// Returns the attribute's string value, or `fallback` if absent or not a string.
std::string StringAttribute(const v1::Resource& resource, absl::string_view key,
                            absl::string_view fallback = "");
bool HasAttribute(const v1::Resource& resource, absl::string_view key);

// Builds the update that takes an agent holding `held` (id -> version) to `catalog`.
// When `held` is empty the update is marked `full`.
v1::CatalogUpdate ComputeDelta(const std::map<std::string, std::string>& held,
                               const v1::Catalog& catalog);
// The same, for an agent holding the catalog `held` (equal to the above with held's
// id -> version map, without building one per agent).
v1::CatalogUpdate ComputeDeltaFrom(const v1::Catalog& held, const v1::Catalog& catalog);

// Applies an update to a held catalog. Returns false if the update names an id in `order`
// that neither `held` nor the update provides (the agent must ask for a full resync).
bool ApplyUpdate(const v1::CatalogUpdate& update, v1::Catalog* held);

}  // namespace plumb
