#include "common/catalog.h"

#include <algorithm>
#include <unordered_map>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"

#include "absl/strings/str_cat.h"
#include "common/digest.h"
#include "google/protobuf/io/coded_stream.h"
#include "google/protobuf/io/zero_copy_stream_impl_lite.h"

namespace plumb {

std::string ResourceId(absl::string_view type, absl::string_view name) {
  return absl::StrCat(type, ":", name);
}

namespace {

// The version of `resource`, whose version and source_location must be empty.
std::string VersionOfCanonical(const v1::Resource& resource) {
  std::string bytes;
  {
    // Deterministic serialization sorts map entries, so equal specs give equal bytes.
    google::protobuf::io::StringOutputStream out(&bytes);
    google::protobuf::io::CodedOutputStream coded(&out);
    coded.SetSerializationDeterministic(true);
    resource.SerializeToCodedStream(&coded);
  }
  return Sha256Hex(bytes);
}

}  // namespace

std::string ComputeResourceVersion(const v1::Resource& resource) {
  v1::Resource canonical = resource;
  canonical.clear_version();
  canonical.clear_source_location();
  return VersionOfCanonical(canonical);
}

std::string ComputeCatalogDigest(const v1::Catalog& catalog) {
  std::string acc;
  for (const v1::Resource& r : catalog.resources()) {
    absl::StrAppend(&acc, r.id(), "\n", r.version(), "\n");
  }
  if (catalog.prune()) acc.append("prune\n");  // switching prune on or off is a change
  return Sha256Hex(acc);
}

void SealResource(v1::Resource* resource) {
  // In place, not through a copy: the fields that are not part of the spec are set aside.
  std::string location = std::move(*resource->mutable_source_location());
  resource->clear_source_location();
  resource->clear_version();
  std::string version = VersionOfCanonical(*resource);
  resource->set_source_location(std::move(location));
  resource->set_version(std::move(version));
}

void SealCatalog(v1::Catalog* catalog) {
  for (v1::Resource& r : *catalog->mutable_resources()) SealResource(&r);
  catalog->set_digest(ComputeCatalogDigest(*catalog));
}

std::string StringAttribute(const v1::Resource& resource, absl::string_view key,
                            absl::string_view fallback) {
  auto it = resource.attributes().find(std::string(key));
  if (it == resource.attributes().end() || it->second.kind_case() != v1::Value::kStr) {
    return std::string(fallback);
  }
  return it->second.str();
}

bool HasAttribute(const v1::Resource& resource, absl::string_view key) {
  return resource.attributes().count(std::string(key)) > 0;
}

v1::CatalogUpdate ComputeDelta(const std::map<std::string, std::string>& held,
                               const v1::Catalog& catalog) {
  v1::CatalogUpdate update;
  update.set_revision(catalog.revision());
  update.set_catalog_digest(catalog.digest());
  update.set_full(held.empty());
  update.set_prune(catalog.prune());
  absl::flat_hash_set<absl::string_view> wanted;
  for (const v1::Resource& r : catalog.resources()) {
    wanted.insert(r.id());
    update.add_order(r.id());
    auto it = held.find(r.id());
    if (it == held.end() || it->second != r.version()) *update.add_upserted() = r;
  }
  for (const auto& [id, version] : held) {
    if (!wanted.count(id)) update.add_removed(id);
  }
  return update;
}

v1::CatalogUpdate ComputeDeltaFrom(const v1::Catalog& held, const v1::Catalog& catalog) {
  v1::CatalogUpdate update;
  update.set_revision(catalog.revision());
  update.set_catalog_digest(catalog.digest());
  update.set_full(held.resources_size() == 0);
  update.set_prune(catalog.prune());
  absl::flat_hash_map<absl::string_view, absl::string_view> held_versions;
  held_versions.reserve(held.resources_size());
  for (const v1::Resource& r : held.resources()) held_versions.emplace(r.id(), r.version());
  absl::flat_hash_set<absl::string_view> wanted;
  wanted.reserve(catalog.resources_size());
  for (const v1::Resource& r : catalog.resources()) {
    wanted.insert(r.id());
    update.add_order(r.id());
    auto it = held_versions.find(r.id());
    if (it == held_versions.end() || it->second != r.version()) *update.add_upserted() = r;
  }
  std::vector<absl::string_view> removed;
  for (const auto& [id, version] : held_versions) {
    if (!wanted.contains(id)) removed.push_back(id);
  }
  std::sort(removed.begin(), removed.end());  // in id order, as the map-based delta lists them
  for (absl::string_view id : removed) update.add_removed(std::string(id));
  return update;
}

bool ApplyUpdate(const v1::CatalogUpdate& update, v1::Catalog* held) {
  std::unordered_map<std::string, v1::Resource> by_id;
  if (!update.full()) {
    for (v1::Resource& r : *held->mutable_resources()) by_id[r.id()] = std::move(r);
  }
  for (const std::string& id : update.removed()) by_id.erase(id);
  for (const v1::Resource& r : update.upserted()) by_id[r.id()] = r;
  v1::Catalog next;
  next.set_revision(update.revision());
  next.set_digest(update.catalog_digest());
  next.set_prune(update.prune());
  for (const std::string& id : update.order()) {
    auto it = by_id.find(id);
    if (it == by_id.end()) return false;
    *next.add_resources() = std::move(it->second);
  }
  *held = std::move(next);
  return true;
}

}  // namespace plumb
