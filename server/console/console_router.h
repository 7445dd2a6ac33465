#pragma once

// The console's routes and their checks, apart from any socket (so tests call it directly).
// Public: GET /login, POST /login (an operator token -> a session cookie) and /static/*.
// Everything else needs a live session (the cookie) or an operator client certificate, which
// opens a session by itself; without one, pages redirect to /login and /api/* answers 401.
// Actions (POST) also need the session's CSRF token, in the form field "csrf" or the header
// X-CSRF-Token; without it they answer 403. Failed sign-ins are throttled per client address
// (SignInThrottle): 429 with Retry-After.
//   GET  /                    fleet (status, name, label, sort, dir, page)
//   GET  /nodes/NAME          one node          POST /nodes/NAME/run   run it now
//   GET  /revisions, /revisions/SHA             GET  /resources        who changed X since T
//   GET  /api/fleet           the fleet as JSON GET  /api/events       server-sent events
//   POST /logout

#include <functional>
#include <optional>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "common/clock.h"
#include "common/pki/pki.h"
#include "server/console/console_pages.h"
#include "server/console/console_sessions.h"
#include "server/console/sign_in_throttle.h"
#include "server/http/http_request.h"

namespace plumb {

inline constexpr char kSessionCookie[] = "plumb_session";

// What the router needs from the rest of the server. Callbacks must be thread-safe.
struct ConsoleRoutes {
  ConsoleData data;
  // True for an operator credential, decided like FleetService (CallAuthorizer): `cert` a
  // verified client certificate (or null), `bearer` a token (or empty).
  std::function<bool(const CertInfo* cert, absl::string_view bearer)> is_operator;
  // False when the credential a session was opened with (ConsoleSession::credential) no longer
  // admits its holder: a token removed from operator_tokens, a revoked operator certificate.
  // Asked on every request; such a session ends. Optional.
  std::function<bool(const std::string& credential)> credential_valid;
  // Asks `node` to run now (FleetService.Run without waiting). Optional.
  std::function<absl::Status(const std::string& node)> run_now;
};

// Thread-safe.
class ConsoleRouter {
 public:
  // `sessions` and `clock` are not owned and must outlive the router.
  ConsoleRouter(ConsoleRoutes routes, ConsoleSessions* sessions, Clock* clock)
      : routes_(std::move(routes)), sessions_(sessions), clock_(clock) {}

  // What to do with one request: answer `response`, or (event_stream) hand the connection
  // to the event streams for `session_id`.
  struct Outcome {
    HttpResponse response;
    bool event_stream = false;
    std::string session_id;
  };
  // `cert`: the client certificate the TLS handshake verified, if any.
  Outcome Handle(const HttpRequest& request, const std::optional<CertInfo>& cert);

 private:
  HttpResponse SignIn(const HttpRequest& request);
  Outcome Authenticated(const HttpRequest& request, const ConsoleSession& session);
  HttpResponse Action(const HttpRequest& request, const ConsoleSession& session);
  HttpResponse Page(const HttpRequest& request, const ConsoleSession& session);
  std::string SetCookie(const ConsoleSession& session) const;
  // The session named by the request's cookie, if it is live and its credential still valid.
  std::optional<ConsoleSession> SessionOf(const HttpRequest& request);

  const ConsoleRoutes routes_;
  ConsoleSessions* const sessions_;
  Clock* const clock_;
  SignInThrottle throttle_{clock_};  // after clock_: initialised from it
};

}  // namespace plumb
