#pragma once

// What both Store backends share about their rows: protos stored as bytes, and the revision
// prefixes they accept.

#include <algorithm>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "plumb/v1/fleet.pb.h"

namespace plumb {

// Parses a proto stored by a backend; DataLoss naming `what` ("revision", "node") if the bytes
// are not one.
template <typename Message>
absl::StatusOr<Message> ParseStored(const std::string& bytes, absl::string_view what) {
  Message message;
  if (!message.ParseFromString(bytes)) {
    return absl::DataLossError(absl::StrCat("store: cannot parse stored ", what));
  }
  return message;
}

// True if `text` is lowercase hex (a sha or a prefix of one).
inline bool IsLowerHex(absl::string_view text) {
  return std::all_of(text.begin(), text.end(),
                     [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); });
}

// The revision `sha_or_prefix` names among `found` (rows sorted by sha, each sha's newest row
// first): NotFound when there is none, InvalidArgument when the prefix names two shas. One sha
// in several revision lines is not ambiguous: its newest row wins.
inline absl::StatusOr<v1::Revision> OneRevision(const std::string& sha_or_prefix,
                                                std::vector<v1::Revision> found) {
  if (found.empty()) return absl::NotFoundError(absl::StrCat("no revision ", sha_or_prefix));
  for (const v1::Revision& other : found) {
    if (other.sha() == found[0].sha()) continue;
    return absl::InvalidArgumentError(absl::StrCat("revision prefix ", sha_or_prefix,
                                                   " is ambiguous (", found[0].sha(), ", ",
                                                   other.sha(), ", ...)"));
  }
  return std::move(found[0]);
}

}  // namespace plumb
