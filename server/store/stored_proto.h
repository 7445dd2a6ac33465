#pragma once

// What both Store backends share about their rows: protos stored as bytes, and the revision
// prefixes they accept.

#include <algorithm>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"

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

}  // namespace plumb
