#pragma once

// Text helpers of the web console: escaping for HTML and JSON (everything an agent or a
// repository sent is hostile: node names, labels, facts, messages, diffs, commit summaries), and
// decoding of query strings, form bodies and cookies.

#include <map>
#include <string>

#include "absl/strings/string_view.h"

namespace plumb {

// `text` safe inside HTML element content and quoted attribute values: & < > " ' escaped.
std::string HtmlEscape(absl::string_view text);

// `text` as a JSON string literal, quotes included. Control characters, quotes, backslashes,
// '<', '>' and '&' are \u-escaped, so the result is also safe inside an HTML <script>.
// Invalid UTF-8 bytes become U+FFFD.
std::string JsonString(absl::string_view text);

// `text` percent-encoded for a URL path segment or query value (unreserved characters kept).
std::string UrlEncode(absl::string_view text);

// Decodes %XX and '+' (as a space). Malformed escapes are kept as they are.
std::string UrlDecode(absl::string_view text);

// "a=1&b=x%20y" -> {a: 1, b: "x y"}; the first value of a repeated name wins. At most 64 pairs
// are read (a query or form is at most the listener's head or body limit anyway).
std::map<std::string, std::string> ParseQuery(absl::string_view query);

// The value of cookie `name` in a Cookie header ("a=1; b=2"), or "" when absent.
std::string CookieValue(absl::string_view cookie_header, absl::string_view name);

}  // namespace plumb
