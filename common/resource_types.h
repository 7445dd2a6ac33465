#pragma once

// The one definition of every resource type: its attributes, their kinds, which are required,
// the allowed and default `ensure`, and the parsers of their values. The compiler validates a
// module.yaml against it (common/compiler/compile_resource.cc) and the agent's providers read a
// compiled resource only through it (agent/providers/resource_attributes.h, AttributeReader), so an
// attribute is added here once and cannot be reachable on one side only;
// tests/agent/attribute_walk_test.cc walks every attribute from a repository to its provider.
//
// Why a registry and not typed proto messages in a oneof: the wire keeps its string map
// (plumb.v1.Value), so resource versions, catalog digests, deltas, the sensitive scrub, diffs,
// `plumbctl render` output and agents' cached catalogs stay byte-for-byte what they were. A
// oneof would change all of them at once for no user-visible gain; the drift the issue names
// came from two schemas, not from the wire's shape. The price: values travel as canonical text
// ("0644", "true", "90") and are typed on read, by the same parsers the compiler validated
// them with (ParseMode, ParseBoolText, ParseUint32, ParseDurationText below).

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace plumb {

// What an attribute's value is, in a repository and when read back on the agent.
enum class AttributeKind {
  kText,      // a string, may be empty (file content)
  kString,    // a non-empty string
  kBool,      // true/false
  kUint,      // a non-negative integer below 2^32
  kDuration,  // whole seconds ("30") or a duration ("1m30s")
  kMode,      // a quoted octal mode of 3 or 4 digits
  kPath,      // an absolute path, normalized
  kCommand,   // a string for /bin/sh -c, or an argv list
  kList,      // a list of strings
  kMap,       // a map of string -> string
  kEnsure,    // one of the type's `ensures` (any non-empty string when that is empty)
  kAccount,   // a number or an account name (a user's gid)
};

// Where a compiled attribute travels in a plumb.v1.Resource.
enum class AttributeCarrier {
  kAttributes,     // resource.attributes[name], as canonical text (or list, map)
  kSensitiveFlag,  // resource.sensitive
  kContentDigest,  // resource.content_digest (the compiler resolves the content to a blob)
};

// When a repository must write the attribute.
enum class Requirement {
  kOptional,
  kRequired,
  kRequiredUnlessAbsent,  // required unless ensure: absent
};

// One attribute of a resource type.
struct AttributeDef {
  absl::string_view name;
  AttributeKind kind;
  AttributeCarrier carrier = AttributeCarrier::kAttributes;
  Requirement requirement = Requirement::kOptional;
};

// One resource type of the contract.
struct ResourceTypeDef {
  absl::string_view type;
  bool path_named;                         // the name is an absolute path
  std::vector<absl::string_view> ensures;  // allowed values; empty: any non-empty string
  absl::string_view default_ensure;        // empty: none (the attribute stays unset)
  std::vector<AttributeDef> attributes;
};

// Every type, in the order of the contract (file, directory, symlink, exec, package,
// service, user, group).
const std::vector<ResourceTypeDef>& ResourceTypes();
// nullptr for an unknown type.
const ResourceTypeDef* FindResourceType(absl::string_view type);
// nullptr when `type` has no such attribute.
const AttributeDef* FindAttribute(const ResourceTypeDef& type, absl::string_view name);
// "mode" for AttributeKind::kMode etc., for messages.
absl::string_view KindName(AttributeKind kind);

// The value parsers both sides use. Each returns InvalidArgument with a message that shows
// the offending text and the expected form; callers prefix the attribute name and location.

// "0644", "644", "2755" -> the mode. 3 or 4 octal digits only.
absl::StatusOr<uint32_t> ParseMode(absl::string_view text);
// 0644 -> "0644".
std::string FormatMode(uint32_t mode);
// true/yes/on, false/no/off, any case.
absl::StatusOr<bool> ParseBoolText(absl::string_view text);
// Decimal digits only, at most 4294967295.
absl::StatusOr<uint32_t> ParseUint32(absl::string_view text);
// Whole seconds ("30") or an absl duration ("30s", "1h30m"); never negative or infinite.
absl::StatusOr<absl::Duration> ParseDurationText(absl::string_view text);
// The canonical text of a duration on the wire: whole seconds as "90", else "1.5s".
std::string FormatDurationText(absl::Duration duration);

}  // namespace plumb
