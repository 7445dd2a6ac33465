#pragma once

// What a Git host's push webhook names (GitHub, Gitea, Forgejo and GitLab all send a JSON body
// with "ref": "refs/heads/<branch>"), so that a push fetches only the revision line that follows
// that branch. Bodies without a ref (GitHub's "ping", other events, unparseable JSON) name no
// branch: the caller fetches every line, as before.

#include <string>
#include <string_view>

namespace plumb {

// The ref a webhook body names. Immutable value.
struct WebhookPush {
  enum class Kind {
    kUnknown,  // no "ref" string in a JSON object: fetch every line
    kBranch,   // "refs/heads/<branch>": fetch the line following `branch`
    kOtherRef  // a tag or another ref: no line follows it
  };
  Kind kind = Kind::kUnknown;
  std::string branch;  // kBranch only
  std::string ref;     // kBranch and kOtherRef: the ref as sent (at most kMaxRefBytes)
};

// Longest ref taken from a body; a longer one is treated as unknown (fetch every line).
inline constexpr size_t kMaxWebhookRefBytes = 1024;

// Reads the top-level "ref" of `body`. Never fails: what cannot be read is kUnknown.
WebhookPush ParseWebhookPush(std::string_view body);

}  // namespace plumb
