#include "common/resource_types.h"

#include <algorithm>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace plumb {

namespace {

// Types named by a path under the agent's root.
std::vector<ResourceTypeDef> PathTypes() {
  using K = AttributeKind;
  using C = AttributeCarrier;
  using R = Requirement;
  return {
      {"file",
       true,
       {"present", "absent"},
       "present",
       {{"ensure", K::kEnsure},
        {"content", K::kText, C::kContentDigest},
        {"source", K::kString, C::kContentDigest},
        {"template", K::kString, C::kContentDigest},
        {"mode", K::kMode},
        {"owner", K::kString},
        {"group", K::kString},
        {"sensitive", K::kBool, C::kSensitiveFlag}}},
      {"directory",
       true,
       {"present", "absent"},
       "present",
       {{"ensure", K::kEnsure},
        {"mode", K::kMode},
        {"owner", K::kString},
        {"group", K::kString},
        {"force", K::kBool}}},
      {"symlink",
       true,
       {"present", "absent"},
       "present",
       {{"ensure", K::kEnsure},
        {"target", K::kString, C::kAttributes, R::kRequiredUnlessAbsent},
        {"force", K::kBool}}},
  };
}

// Types named by something else (a command, a package, a unit, an account).
std::vector<ResourceTypeDef> OtherTypes() {
  using K = AttributeKind;
  using C = AttributeCarrier;
  using R = Requirement;
  return {
      {"exec",
       false,
       {},
       "",
       {{"command", K::kCommand, C::kAttributes, R::kRequired},
        {"cwd", K::kPath},
        {"env", K::kMap},
        {"timeout", K::kDuration},
        {"creates", K::kPath},
        {"onlyif", K::kCommand},
        {"unless", K::kCommand},
        {"refreshonly", K::kBool},
        {"sensitive", K::kBool, C::kSensitiveFlag}}},
      {"package", false, {}, "present", {{"ensure", K::kEnsure}}},
      {"service", false, {"running", "stopped"}, "", {{"ensure", K::kEnsure}, {"enabled", K::kBool}}},
      {"user",
       false,
       {"present", "absent"},
       "present",
       {{"ensure", K::kEnsure},
        {"uid", K::kUint},
        {"gid", K::kAccount},
        {"groups", K::kList},
        {"home", K::kPath},
        {"shell", K::kString},
        {"managehome", K::kBool}}},
      {"group", false, {"present", "absent"}, "present", {{"ensure", K::kEnsure}, {"gid", K::kUint}}},
  };
}

}  // namespace

const std::vector<ResourceTypeDef>& ResourceTypes() {
  static const auto* types = [] {
    auto* all = new std::vector<ResourceTypeDef>(PathTypes());
    for (ResourceTypeDef& type : OtherTypes()) all->push_back(std::move(type));
    return all;
  }();
  return *types;
}

const ResourceTypeDef* FindResourceType(absl::string_view type) {
  for (const ResourceTypeDef& def : ResourceTypes()) {
    if (def.type == type) return &def;
  }
  return nullptr;
}

const AttributeDef* FindAttribute(const ResourceTypeDef& type, absl::string_view name) {
  for (const AttributeDef& attr : type.attributes) {
    if (attr.name == name) return &attr;
  }
  return nullptr;
}

absl::string_view KindName(AttributeKind kind) {
  switch (kind) {
    case AttributeKind::kText:
      return "text";
    case AttributeKind::kString:
      return "string";
    case AttributeKind::kBool:
      return "bool";
    case AttributeKind::kUint:
      return "integer";
    case AttributeKind::kDuration:
      return "duration";
    case AttributeKind::kMode:
      return "mode";
    case AttributeKind::kPath:
      return "path";
    case AttributeKind::kCommand:
      return "command";
    case AttributeKind::kList:
      return "list";
    case AttributeKind::kMap:
      return "map";
    case AttributeKind::kEnsure:
      return "ensure";
    case AttributeKind::kAccount:
      return "account";
  }
  return "unknown";
}

absl::StatusOr<uint32_t> ParseMode(absl::string_view text) {
  bool ok = text.size() >= 3 && text.size() <= 4;
  uint32_t mode = 0;
  for (char c : text) {
    if (c < '0' || c > '7') ok = false;
    mode = mode * 8 + static_cast<uint32_t>(c - '0');
  }
  if (!ok) {
    return absl::InvalidArgumentError(
        absl::StrCat("\"", text, "\" is not an octal mode of 3 or 4 digits like \"0644\""));
  }
  return mode;
}

std::string FormatMode(uint32_t mode) { return absl::StrFormat("%04o", mode); }

absl::StatusOr<bool> ParseBoolText(absl::string_view text) {
  std::string lower = absl::AsciiStrToLower(text);
  if (lower == "true" || lower == "yes" || lower == "on") return true;
  if (lower == "false" || lower == "no" || lower == "off") return false;
  return absl::InvalidArgumentError(absl::StrCat("must be true or false, got \"", text, "\""));
}

absl::StatusOr<uint32_t> ParseUint32(absl::string_view text) {
  uint64_t value = 0;
  bool digits = !text.empty() && std::all_of(text.begin(), text.end(), [](char c) {
    return absl::ascii_isdigit(static_cast<unsigned char>(c));
  });
  if (!digits || !absl::SimpleAtoi(text, &value) || value > 0xFFFFFFFFull) {
    return absl::InvalidArgumentError(
        absl::StrCat("must be a non-negative integer, got \"", text, "\""));
  }
  return static_cast<uint32_t>(value);
}

absl::StatusOr<absl::Duration> ParseDurationText(absl::string_view text) {
  int64_t seconds = 0;
  absl::Duration duration;
  if (absl::SimpleAtoi(text, &seconds) && seconds >= 0) return absl::Seconds(seconds);
  if (absl::ParseDuration(text, &duration) && duration >= absl::ZeroDuration() &&
      duration != absl::InfiniteDuration()) {
    return duration;
  }
  return absl::InvalidArgumentError(absl::StrCat(
      "must be seconds or a duration like \"30s\" or \"5m\", got \"", text, "\""));
}

std::string FormatDurationText(absl::Duration duration) {
  return duration % absl::Seconds(1) == absl::ZeroDuration()
             ? absl::StrCat(absl::ToInt64Seconds(duration))
             : absl::FormatDuration(duration);
}

}  // namespace plumb
