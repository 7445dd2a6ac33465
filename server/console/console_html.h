#pragma once

// The console's shared HTML: the page layout (header, navigation, the live-update hooks) and
// small formatting helpers. Every value that came from an agent or a repository goes through
// HtmlEscape (console_text.h) before it is written into a page; the layout sends a strict
// Content-Security-Policy (no inline script), so even a missed escape could not run script.

#include <string>

#include "absl/strings/string_view.h"
#include "plumb/v1/fleet.pb.h"
#include "plumb/v1/types.pb.h"
#include "server/http/http_request.h"

namespace plumb {

// What the layout needs to know about the page.
struct ConsolePage {
  std::string title;     // plain text; escaped by the layout
  std::string nav;       // "fleet", "revisions", "resources" or "" (the active tab)
  std::string csrf;      // the session's CSRF token (for forms and fetch), "" when signed out
  std::string live;      // what live events refresh this page: "fleet", "node:NAME", "revisions"
  std::string body;      // HTML, already escaped where needed
};

// A 200 text/html response with the security headers (CSP, nosniff, no-store, no framing).
HttpResponse HtmlResponse(const ConsolePage& page, int status = 200);

// Adds the console's security headers to `response`.
void AddSecurityHeaders(HttpResponse* response);

// "converged", "failed", ... (NODE_ prefix dropped, lower case).
std::string NodeStatusName(v1::NodeStatus status);
// Parses a NodeStatusName; NODE_STATUS_UNSPECIFIED for "" or an unknown name.
v1::NodeStatus ParseNodeStatus(absl::string_view name);
std::string OutcomeName(v1::ResourceOutcome outcome);
std::string TriggerName(v1::RunTrigger trigger);
// "2026-11-30 02:19:50 UTC", or "never" for 0.
std::string FormatUnixMs(int64_t unix_ms);
// The first 12 characters of a sha (escaped), or "none".
std::string ShortSha(absl::string_view sha);

}  // namespace plumb
