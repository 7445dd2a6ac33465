#pragma once

// Typed access to a compiled resource's attributes for providers, by the one definition of
// each type in common/resource_types.h, with errors that name the attribute.

#include <cstdint>
#include <initializer_list>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "agent/host/filesystem.h"
#include "common/resource_types.h"
#include "plumb/v1/types.pb.h"

namespace plumb {

// Reads one resource's attributes as common/resource_types.h types them. Every read names an
// attribute the registry declares for the resource's type, with a kind it declares; anything
// else is an Internal error (a provider reading what no repository can write is a bug, caught
// by its tests). With `record_reads`, each read is recorded with the typed value seen, so
// tests/agent/attribute_walk_test.cc can tell that a provider reads every declared attribute;
// providers leave it off (recording was a quarter of a converged file's check).
// Unset attributes read as their fallback. Thread-compatible.
class AttributeReader {
 public:
  // `resource` is not owned and must outlive the reader.
  explicit AttributeReader(const v1::Resource& resource, bool record_reads = false);

  const v1::Resource& resource() const { return resource_; }

  // One of the type's ensure values (any non-empty text for a type that lists none); the
  // type's default when unset ("" if it has none).
  absl::StatusOr<std::string> Ensure();
  absl::StatusOr<bool> Bool(absl::string_view name, bool fallback);
  // nullopt when unset.
  absl::StatusOr<std::optional<bool>> OptionalBool(absl::string_view name);
  absl::StatusOr<std::optional<uint32_t>> Mode(absl::string_view name);
  absl::StatusOr<std::optional<uint32_t>> Uint(absl::string_view name);
  absl::StatusOr<std::optional<absl::Duration>> Duration(absl::string_view name);
  // A text, string, path or account attribute; "" when unset.
  absl::StatusOr<std::string> String(absl::string_view name);
  // A list; a string value reads as a comma-separated list. Empty when unset.
  absl::StatusOr<std::vector<std::string>> List(absl::string_view name);
  absl::StatusOr<std::map<std::string, std::string>> Map(absl::string_view name);
  // An argv: a list as written, a string as /bin/sh -c; empty when unset.
  absl::StatusOr<std::vector<std::string>> Command(absl::string_view name);
  // The digest the attributes carried as the content digest (content, source, template)
  // compiled to; "" when the content is not managed.
  absl::StatusOr<std::string> ContentDigest();

  // Attribute name -> the typed value read, rendered ("0750", "true", "90s", "a,b"); empty
  // unless constructed with `record_reads`.
  const std::map<std::string, std::string>& read() const { return read_; }

 private:
  // The attribute's definition if the type declares it with one of `kinds`; else Internal.
  absl::StatusOr<const AttributeDef*> Declared(absl::string_view name,
                                               std::initializer_list<AttributeKind> kinds);
  // The wire value of a kAttributes attribute, nullptr when unset.
  const v1::Value* Find(absl::string_view name) const;
  void Record(absl::string_view name, std::string typed) {
    if (record_reads_) read_[std::string(name)] = std::move(typed);
  }

  const v1::Resource& resource_;
  const ResourceTypeDef* type_;  // nullptr for an unknown type: every read fails
  const bool record_reads_;
  std::map<std::string, std::string> read_;
};

// The mode/owner/group a file or directory resource writes, as read.
struct MetadataSpec {
  std::optional<uint32_t> mode;
  std::string owner;
  std::string group;
};
absl::StatusOr<MetadataSpec> ParseMetadataSpec(AttributeReader& attrs);

// The mode/owner/group a file or directory resource asks for, as numbers.
struct DesiredMetadata {
  FileMetadata metadata;
  // Owners or groups that do not exist (yet: a user resource may create them later in the
  // run), e.g. `owner "www" does not exist`. Check reports them as a difference; Apply fails.
  std::vector<std::string> unresolved;
};
absl::StatusOr<DesiredMetadata> DesiredMetadataOf(const MetadataSpec& spec, Filesystem* fs);
// The same, reading the spec from `resource`.
absl::StatusOr<DesiredMetadata> DesiredMetadataOf(const v1::Resource& resource, Filesystem* fs);

// What differs between `current` and `desired`: "mode 0600 -> 0644", "owner 1000 -> 0".
std::vector<std::string> MetadataChanges(const FileStat& current, const FileMetadata& desired);

}  // namespace plumb
