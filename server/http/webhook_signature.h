#pragma once

// HMAC-SHA256 webhook signatures as GitHub (and Gitea, Forgejo) send them:
// `X-Hub-Signature-256: sha256=<hex of HMAC-SHA256(secret, body)>`.

#include <string>

#include "absl/strings/string_view.h"

namespace plumb {

// "sha256=" + lowercase hex HMAC-SHA256 of `body` keyed with `secret`.
std::string WebhookSignature(absl::string_view secret, absl::string_view body);

// True iff `header` is a valid signature of `body` under `secret`. Compares in constant time;
// false for an empty secret, a missing or malformed header.
bool VerifyWebhookSignature(absl::string_view secret, absl::string_view body,
                            absl::string_view header);

}  // namespace plumb
