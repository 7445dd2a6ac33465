#include "server/console/console_router.h"

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "absl/strings/str_replace.h"
#include "common/digest.h"
#include "common/logging.h"
#include "server/console/console_assets.h"
#include "server/console/console_text.h"

namespace plumb {
namespace {

HttpResponse Redirect(const std::string& to) {
  HttpResponse r;
  r.status = 303;
  r.headers.emplace_back("Location", to);
  AddSecurityHeaders(&r);
  return r;
}

HttpResponse JsonResponse(int status, std::string body) {
  HttpResponse r;
  r.status = status;
  r.content_type = "application/json";
  r.body = std::move(body);
  AddSecurityHeaders(&r);
  return r;
}

HttpResponse ErrorPage(int status, absl::string_view title, const std::string& csrf) {
  ConsolePage page;
  page.title = std::string(title);
  page.csrf = csrf;
  page.body = absl::StrCat("<h1>", HtmlEscape(title), "</h1>");
  return HtmlResponse(page, status);
}

HttpResponse FromStatus(const absl::StatusOr<ConsolePage>& page, const ConsoleSession& session) {
  if (page.ok()) {
    ConsolePage p = *page;
    p.csrf = session.csrf;
    return HtmlResponse(p);
  }
  if (absl::IsNotFound(page.status())) return ErrorPage(404, page.status().message(), session.csrf);
  if (absl::IsInvalidArgument(page.status())) {
    return ErrorPage(400, page.status().message(), session.csrf);
  }
  LogWarning("console page failed", {{"error", page.status().message()}});
  return ErrorPage(500, "the server could not read its store", session.csrf);
}

// A path segment: %XX decoded, '+' kept.
std::string PathSegment(absl::string_view s) {
  return UrlDecode(absl::StrReplaceAll(s, {{"+", "%2B"}}));
}

bool IsApi(const HttpRequest& r) { return absl::StartsWith(r.path, "/api/"); }

}  // namespace

std::string ConsoleRouter::SetCookie(const ConsoleSession& session) const {
  return absl::StrCat(kSessionCookie, "=", session.id,
                      "; Path=/; HttpOnly; Secure; SameSite=Strict; Max-Age=",
                      absl::ToInt64Seconds(sessions_->lifetime()));
}

std::optional<ConsoleSession> ConsoleRouter::SessionOf(const HttpRequest& request) {
  std::optional<ConsoleSession> session =
      sessions_->Find(CookieValue(request.Header("cookie"), kSessionCookie));
  if (session.has_value() && !session->credential.empty() && routes_.credential_valid &&
      !routes_.credential_valid(session->credential)) {
    LogWarning("console session ended: its credential is no longer valid",
               {{"who", session->who}, {"peer", request.peer}});
    sessions_->Remove(session->id);
    return std::nullopt;
  }
  return session;
}

ConsoleRouter::Outcome ConsoleRouter::Handle(const HttpRequest& request,
                                             const std::optional<CertInfo>& cert) {
  Outcome out;
  if (request.method == "GET") {
    if (std::optional<HttpResponse> asset = ConsoleAsset(request.path)) {
      out.response = *std::move(asset);
      return out;
    }
  }
  bool cert_ok = cert.has_value() && routes_.is_operator(&*cert, "");
  std::optional<ConsoleSession> session = SessionOf(request);
  std::string new_cookie;
  if (!session.has_value() && cert_ok) {
    absl::StatusOr<ConsoleSession> created = sessions_->Create(
        cert->common_name,
        absl::StrCat("cert:", cert->fingerprint, ":", UrlEncode(cert->common_name)));
    if (created.ok()) {
      session = *created;
      new_cookie = SetCookie(*session);
    }
  }
  if (request.path == "/login") {
    if (request.method == "POST") {
      out.response = SignIn(request);
    } else {
      out.response = session.has_value() ? Redirect("/") : HtmlResponse(SignInPage(""));
    }
  } else if (!session.has_value()) {
    out.response = IsApi(request) || request.method != "GET"
                       ? JsonResponse(401, "{\"error\":\"sign in first\"}")
                       : Redirect("/login");
  } else {
    out = Authenticated(request, *session);
  }
  if (!new_cookie.empty()) out.response.headers.emplace_back("Set-Cookie", new_cookie);
  return out;
}

HttpResponse ConsoleRouter::SignIn(const HttpRequest& request) {
  std::map<std::string, std::string> form = ParseQuery(request.body);
  std::string token = form["token"];
  if (absl::Duration wait = throttle_.Wait(request.peer); wait > absl::ZeroDuration()) {
    int64_t seconds = absl::ToInt64Seconds(absl::Ceil(wait, absl::Seconds(1)));
    LogWarning("console sign-in throttled", {{"peer", request.peer}});
    HttpResponse r = HtmlResponse(
        SignInPage(absl::StrCat("Too many refused sign-ins from your address; try again in ",
                                seconds, " s.")),
        429);
    r.headers.emplace_back("Retry-After", absl::StrCat(seconds));
    return r;
  }
  if (!routes_.is_operator(nullptr, token)) {
    throttle_.Failed(request.peer);
    LogWarning("console sign-in refused", {{"peer", request.peer}});
    return HtmlResponse(SignInPage("That token is not one of the server's operator tokens."),
                        401);
  }
  throttle_.Succeeded(request.peer);
  absl::StatusOr<ConsoleSession> session =
      sessions_->Create("token", absl::StrCat("token:", Sha256Hex(token)));
  if (!session.ok()) return HtmlResponse(SignInPage("The server cannot create sessions."), 500);
  LogInfo("console sign-in", {{"peer", request.peer}});
  HttpResponse r = Redirect("/");
  r.headers.emplace_back("Set-Cookie", SetCookie(*session));
  return r;
}

ConsoleRouter::Outcome ConsoleRouter::Authenticated(const HttpRequest& request,
                                                    const ConsoleSession& session) {
  Outcome out;
  if (request.method == "POST") {
    std::map<std::string, std::string> form = ParseQuery(request.body);
    std::string token = request.Header("x-csrf-token");
    if (token.empty()) token = form["csrf"];
    if (!sessions_->CheckCsrf(session.id, token)) {
      out.response = JsonResponse(403, "{\"error\":\"missing or wrong CSRF token\"}");
    } else {
      out.response = Action(request, session);
    }
    return out;
  }
  if (request.method != "GET" && request.method != "HEAD") {
    out.response = JsonResponse(405, "{\"error\":\"method not allowed\"}");
    return out;
  }
  if (request.path == "/api/events" && request.method == "GET") {
    out.event_stream = true;
    out.session_id = session.id;
    return out;
  }
  out.response = Page(request, session);
  return out;
}

HttpResponse ConsoleRouter::Action(const HttpRequest& request, const ConsoleSession& session) {
  if (request.path == "/logout") {
    sessions_->Remove(session.id);
    HttpResponse r = Redirect("/login");
    r.headers.emplace_back("Set-Cookie", absl::StrCat(kSessionCookie, "=; Path=/; HttpOnly; "
                                                      "Secure; SameSite=Strict; Max-Age=0"));
    return r;
  }
  absl::string_view path = request.path;
  if (absl::ConsumePrefix(&path, "/nodes/") && absl::ConsumeSuffix(&path, "/run") &&
      !path.empty() && routes_.run_now) {
    std::string node = PathSegment(path);
    absl::Status run = routes_.run_now(node);
    LogInfo("console run now", {{"node", node}, {"by", session.who},
                                {"result", run.ok() ? "asked" : run.message()}});
    if (!run.ok()) return ErrorPage(409, run.message(), session.csrf);
    return Redirect(absl::StrCat("/nodes/", UrlEncode(node)));
  }
  return JsonResponse(404, "{\"error\":\"no such action\"}");
}

HttpResponse ConsoleRouter::Page(const HttpRequest& request, const ConsoleSession& session) {
  const ConsoleData& data = routes_.data;
  std::map<std::string, std::string> query = ParseQuery(request.query);
  absl::string_view path = request.path;
  if (path == "/") return FromStatus(FleetPage(data, query), session);
  if (path == "/revisions") return FromStatus(RevisionsPage(data), session);
  if (path == "/resources") return FromStatus(ResourcesPage(data, query, clock_->Now()), session);
  if (path == "/api/fleet") {
    absl::StatusOr<std::string> json = FleetJson(data, query);
    if (!json.ok()) return JsonResponse(500, "{\"error\":\"store\"}");
    return JsonResponse(200, *std::move(json));
  }
  if (absl::ConsumePrefix(&path, "/nodes/") && !path.empty()) {
    return FromStatus(NodePage(data, PathSegment(path), session.csrf), session);
  }
  if (absl::ConsumePrefix(&path, "/revisions/") && !path.empty()) {
    return FromStatus(RevisionPage(data, PathSegment(path)), session);
  }
  if (IsApi(request)) return JsonResponse(404, "{\"error\":\"not found\"}");
  return ErrorPage(404, "Not found", session.csrf);
}

}  // namespace plumb
