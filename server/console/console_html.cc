#include "server/console/console_html.h"

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "absl/time/time.h"
#include "server/console/console_text.h"

namespace plumb {
namespace {

constexpr const char* kCsp =
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
    "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

std::string NavLink(const ConsolePage& page, absl::string_view id, absl::string_view href,
                    absl::string_view label) {
  return absl::StrCat("<a href=\"", href, "\"", page.nav == id ? " class=\"active\"" : "", ">",
                      label, "</a>");
}

}  // namespace

void AddSecurityHeaders(HttpResponse* response) {
  response->headers.emplace_back("Content-Security-Policy", kCsp);
  response->headers.emplace_back("X-Content-Type-Options", "nosniff");
  response->headers.emplace_back("X-Frame-Options", "DENY");
  response->headers.emplace_back("Referrer-Policy", "no-referrer");
  response->headers.emplace_back("Cache-Control", "no-store");
  response->headers.emplace_back("Strict-Transport-Security", "max-age=31536000");
}

HttpResponse HtmlResponse(const ConsolePage& page, int status) {
  std::string nav;
  if (!page.csrf.empty()) {
    nav = absl::StrCat(
        "<nav>", NavLink(page, "fleet", "/", "Fleet"),
        NavLink(page, "revisions", "/revisions", "Revisions"),
        NavLink(page, "resources", "/resources", "Resources"),
        "<span id=\"live\" class=\"live\">live: connecting</span>"
        "<form method=\"post\" action=\"/logout\" class=\"signout\">"
        "<input type=\"hidden\" name=\"csrf\" value=\"", HtmlEscape(page.csrf), "\">"
        "<button type=\"submit\">Sign out</button></form></nav>");
  }
  HttpResponse r;
  r.status = status;
  r.content_type = "text/html; charset=utf-8";
  r.body = absl::StrCat(
      "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
      "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
      "<title>", HtmlEscape(page.title), " - Plumb</title>"
      "<link rel=\"stylesheet\" href=\"/static/console.css\">"
      "<script src=\"/static/console.js\" defer></script></head>"
      "<body data-csrf=\"", HtmlEscape(page.csrf), "\" data-live=\"", HtmlEscape(page.live),
      "\"><header><span class=\"brand\">Plumb</span>", nav, "</header>\n<main id=\"main\">",
      page.body, "</main></body></html>\n");
  AddSecurityHeaders(&r);
  return r;
}

std::string NodeStatusName(v1::NodeStatus status) {
  std::string name = v1::NodeStatus_Name(status);
  absl::string_view v = name;
  absl::ConsumePrefix(&v, "NODE_");
  return absl::AsciiStrToLower(v);
}

v1::NodeStatus ParseNodeStatus(absl::string_view name) {
  v1::NodeStatus status = v1::NODE_STATUS_UNSPECIFIED;
  if (name.empty()) return status;
  if (!v1::NodeStatus_Parse(absl::StrCat("NODE_", absl::AsciiStrToUpper(name)), &status)) {
    return v1::NODE_STATUS_UNSPECIFIED;
  }
  return status;
}

std::string OutcomeName(v1::ResourceOutcome outcome) {
  return absl::AsciiStrToLower(v1::ResourceOutcome_Name(outcome));
}

std::string TriggerName(v1::RunTrigger trigger) {
  return absl::AsciiStrToLower(v1::RunTrigger_Name(trigger));
}

std::string FormatUnixMs(int64_t unix_ms) {
  if (unix_ms <= 0) return "never";
  return absl::FormatTime("%Y-%m-%d %H:%M:%S UTC", absl::FromUnixMillis(unix_ms),
                          absl::UTCTimeZone());
}

std::string ShortSha(absl::string_view sha) {
  if (sha.empty()) return "none";
  return HtmlEscape(sha.substr(0, 12));
}

}  // namespace plumb
