#include "server/console/console_router.h"

#include <memory>

#include "absl/strings/match.h"
#include "common/digest.h"
#include "gtest/gtest.h"
#include "server/store/sqlite/sqlite_store.h"
#include "tests/testing/fake_clock.h"
#include "tests/testing/test_util.h"

namespace plumb {
namespace {

using testing::ManualClock;
using testing::TempDir;

constexpr char kToken[] = "operator-token-0123456789";
constexpr char kHostile[] = "<script>alert(1)</script>";

class ConsoleRouterTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto store = SqliteStore::Open(dir_.Sub("plumb.db"));
    ASSERT_TRUE(store.ok()) << store.status();
    store_ = std::move(*store);
    v1::Node node;
    node.set_name("web-01");
    node.set_status(v1::NODE_DRIFTED);
    (*node.mutable_labels())["role"] = kHostile;
    (*node.mutable_facts())["os.id"] = "debian";
    ASSERT_TRUE(store_->PutNode(node).ok());
    v1::Report report;
    report.set_id("r1");
    report.set_node("web-01");
    report.set_trigger(v1::DRIFT);
    report.set_started_unix_ms(absl::ToUnixMillis(clock_.Now()));
    auto* motd = report.add_results();
    motd->set_id("file:/etc/motd");
    motd->set_outcome(v1::CHANGED);
    motd->set_diff("-tampered\n+hello\n");
    auto* secret = report.add_results();
    secret->set_id("file:/etc/secret");
    secret->set_outcome(v1::CHANGED);
    secret->set_message("content s3cr3t-leak");  // must not be shown: the resource is sensitive
    ASSERT_TRUE(store_->PutReport(report).ok());
    node.set_last_report_id("r1");
    ASSERT_TRUE(store_->PutNode(node).ok());
    v1::Revision bad;
    bad.set_sha("badbadbadbadbadbadbadbadbadbadbadbadbadb");
    bad.set_status(v1::REVISION_FAILED);
    auto* error = bad.add_errors();
    error->set_location("modules/web/module.yaml:12:7");
    error->set_message("mode must be a quoted octal string");
    ASSERT_TRUE(store_->PutRevision(bad).ok());

    ConsoleRoutes routes;
    routes.data.store = store_.get();
    routes.data.sensitive_ids = [](const std::string&) {
      return std::set<std::string>{"file:/etc/secret"};
    };
    routes.is_operator = [](const CertInfo* cert, absl::string_view bearer) {
      if (cert != nullptr) return cert->role == "operator";
      return bearer == kToken;
    };
    routes.credential_valid = [this](const std::string& credential) {
      return invalid_.count(credential) == 0;
    };
    routes.run_now = [this](const std::string& node) {
      ran_.push_back(node);
      return absl::OkStatus();
    };
    router_ = std::make_unique<ConsoleRouter>(std::move(routes), &sessions_, &clock_);
  }

  HttpResponse Send(const std::string& method, const std::string& target,
                    const std::string& cookie = "", const std::string& body = "",
                    const std::optional<CertInfo>& cert = std::nullopt,
                    ConsoleRouter::Outcome* outcome = nullptr) {
    HttpRequest r;
    r.method = method;
    size_t q = target.find('?');
    r.path = target.substr(0, q);
    if (q != std::string::npos) r.query = target.substr(q + 1);
    if (!cookie.empty()) r.headers.emplace_back("cookie", std::string(kSessionCookie) + "=" + cookie);
    r.body = body;
    ConsoleRouter::Outcome o = router_->Handle(r, cert);
    if (outcome != nullptr) *outcome = o;
    return o.response;
  }

  static std::string Header(const HttpResponse& r, const std::string& name) {
    for (const auto& [k, v] : r.headers) {
      if (k == name) return v;
    }
    return "";
  }

  // Signs in with the token; returns the session id.
  std::string SignIn() {
    HttpResponse r = Send("POST", "/login", "", std::string("token=") + kToken);
    EXPECT_EQ(r.status, 303);
    std::string cookie = Header(r, "Set-Cookie");
    std::string prefix = std::string(kSessionCookie) + "=";
    return cookie.substr(prefix.size(), cookie.find(';') - prefix.size());
  }

  TempDir dir_;
  ManualClock clock_;
  ConsoleSessions sessions_{&clock_, absl::Hours(1)};
  std::unique_ptr<Store> store_;
  std::unique_ptr<ConsoleRouter> router_;
  std::vector<std::string> ran_;
  std::set<std::string> invalid_;
};

TEST_F(ConsoleRouterTest, UnauthenticatedPagesRedirectAndApisAnswer401) {
  for (const char* page : {"/", "/nodes/web-01", "/revisions", "/revisions/badbad", "/resources",
                           "/nosuchpage"}) {
    HttpResponse r = Send("GET", page);
    EXPECT_EQ(r.status, 303) << page;
    EXPECT_EQ(Header(r, "Location"), "/login") << page;
  }
  for (const char* api : {"/api/fleet", "/api/events"}) EXPECT_EQ(Send("GET", api).status, 401);
  EXPECT_EQ(Send("POST", "/nodes/web-01/run", "", "csrf=x").status, 401);
  EXPECT_EQ(Send("GET", "/", "forged-session-id").status, 303);
  EXPECT_EQ(Send("GET", "/login").status, 200);
  EXPECT_EQ(Send("GET", "/static/console.js").status, 200);
}

TEST_F(ConsoleRouterTest, WrongTokenIsRefusedRightTokenGetsAStrictCookie) {
  HttpResponse bad = Send("POST", "/login", "", "token=wrong");
  EXPECT_EQ(bad.status, 401);
  EXPECT_EQ(Header(bad, "Set-Cookie"), "");
  EXPECT_EQ(sessions_.size(), 0u);
  HttpResponse good = Send("POST", "/login", "", std::string("token=") + kToken);
  EXPECT_EQ(good.status, 303);
  std::string cookie = Header(good, "Set-Cookie");
  for (const char* attr : {"HttpOnly", "Secure", "SameSite=Strict", "Max-Age=3600", "Path=/"}) {
    EXPECT_TRUE(absl::StrContains(cookie, attr)) << cookie;
  }
}

// One address trying tokens is refused for a while after a few failures, even with the right
// token; another address is not; the lockout runs out.
TEST_F(ConsoleRouterTest, RepeatedWrongTokensFromOneAddressAreThrottled) {
  auto login = [&](const std::string& peer, const std::string& token) {
    HttpRequest r;
    r.method = "POST";
    r.path = "/login";
    r.peer = peer;
    r.body = "token=" + token;
    return router_->Handle(r, std::nullopt).response;
  };
  for (int i = 0; i < SignInThrottle::kMaxFailures; ++i) {
    EXPECT_EQ(login("192.0.2.7:" + std::to_string(4000 + i), "wrong").status, 401) << i;
  }
  HttpResponse locked = login("192.0.2.7:5000", kToken);
  EXPECT_EQ(locked.status, 429);
  EXPECT_EQ(Header(locked, "Retry-After"), "60");
  EXPECT_EQ(Header(locked, "Set-Cookie"), "");
  EXPECT_EQ(login("192.0.2.8:5000", kToken).status, 303);  // another address
  clock_.Advance(SignInThrottle::kLockout);
  EXPECT_EQ(login("192.0.2.7:5001", kToken).status, 303);
  // The successful sign-in started its count again.
  EXPECT_EQ(login("192.0.2.7:5002", "wrong").status, 401);
  EXPECT_EQ(login("192.0.2.7:5003", kToken).status, 303);
}

TEST(SignInThrottleTest, AddressIgnoresThePort) {
  EXPECT_EQ(SignInThrottle::Address("127.0.0.1:443"), "127.0.0.1");
  EXPECT_EQ(SignInThrottle::Address("[::1]:443"), "::1");
  EXPECT_EQ(SignInThrottle::Address("::1"), "::1");
  EXPECT_EQ(SignInThrottle::Address("host"), "host");
}

TEST(SignInThrottleTest, FailuresFarApartDoNotLockOut) {
  ManualClock clock;
  SignInThrottle throttle(&clock);
  for (int i = 0; i < 3 * SignInThrottle::kMaxFailures; ++i) {
    throttle.Failed("10.0.0.1:1");
    clock.Advance(SignInThrottle::kWindow + absl::Seconds(1));
  }
  EXPECT_EQ(throttle.Wait("10.0.0.1:2"), absl::ZeroDuration());
}

TEST_F(ConsoleRouterTest, SessionExpires) {
  std::string id = SignIn();
  EXPECT_EQ(Send("GET", "/", id).status, 200);
  clock_.Advance(absl::Hours(2));
  EXPECT_EQ(Send("GET", "/", id).status, 303);
}

// A token removed from operator_tokens (or a revoked certificate) ends the sessions it opened,
// also sessions restored from before a restart.
TEST_F(ConsoleRouterTest, SessionEndsWhenItsCredentialIsNoLongerValid) {
  std::string id = SignIn();
  EXPECT_EQ(Send("GET", "/", id).status, 200);
  invalid_.insert("token:" + Sha256Hex(kToken));
  EXPECT_EQ(Send("GET", "/", id).status, 303);
  EXPECT_EQ(sessions_.size(), 0u);
  CertInfo op;
  op.common_name = "bob";
  op.role = "operator";
  op.fingerprint = "ab12";
  HttpResponse r = Send("GET", "/", "", "", op);
  ASSERT_EQ(r.status, 200);
  std::string cookie = Header(r, "Set-Cookie");
  std::string bob = cookie.substr(std::string(kSessionCookie).size() + 1, 64);
  EXPECT_EQ(Send("GET", "/", bob).status, 200);
  invalid_.insert("cert:ab12:bob");
  EXPECT_EQ(Send("GET", "/", bob).status, 303);
}

TEST_F(ConsoleRouterTest, OperatorCertificateOpensASessionAgentCertificateDoesNot) {
  CertInfo op;
  op.common_name = "alice";
  op.role = "operator";
  HttpResponse r = Send("GET", "/", "", "", op);
  EXPECT_EQ(r.status, 200);
  EXPECT_TRUE(absl::StrContains(Header(r, "Set-Cookie"), "HttpOnly"));
  CertInfo agent;
  agent.common_name = "web-01";
  agent.role = "agent";
  EXPECT_EQ(Send("GET", "/", "", "", agent).status, 303);
}

TEST_F(ConsoleRouterTest, PagesEscapeWhatAgentsSent) {
  std::string id = SignIn();
  HttpResponse node = Send("GET", "/nodes/web-01", id);
  ASSERT_EQ(node.status, 200);
  EXPECT_FALSE(absl::StrContains(node.body, kHostile));
  EXPECT_TRUE(absl::StrContains(node.body, "&lt;script&gt;alert(1)&lt;/script&gt;"));
  EXPECT_TRUE(absl::StrContains(Header(node, "Content-Security-Policy"), "script-src 'self'"));
  EXPECT_EQ(Send("GET", "/nodes/nobody", id).status, 404);
}

TEST_F(ConsoleRouterTest, SensitiveResultsShowNoContent) {
  std::string id = SignIn();
  HttpResponse node = Send("GET", "/nodes/web-01", id);
  EXPECT_TRUE(absl::StrContains(node.body, "changed (sensitive)"));
  EXPECT_FALSE(absl::StrContains(node.body, "s3cr3t-leak"));
  EXPECT_TRUE(absl::StrContains(node.body, "+hello"));  // a normal diff is shown
  EXPECT_TRUE(absl::StrContains(node.body, "corrective"));  // a drift run's change
}

TEST_F(ConsoleRouterTest, FailedRevisionShowsFileLineErrors) {
  std::string id = SignIn();
  HttpResponse list = Send("GET", "/revisions", id);
  EXPECT_TRUE(absl::StrContains(list.body, "failed"));
  HttpResponse one = Send("GET", "/revisions/badbadbad", id);
  ASSERT_EQ(one.status, 200);
  EXPECT_TRUE(absl::StrContains(one.body, "modules/web/module.yaml:12:7"));
}

TEST_F(ConsoleRouterTest, ActionsNeedTheSessionsCsrfToken) {
  std::string id = SignIn();
  std::optional<ConsoleSession> session = sessions_.Find(id);
  ASSERT_TRUE(session.has_value());
  EXPECT_EQ(Send("POST", "/nodes/web-01/run", id, "").status, 403);
  EXPECT_EQ(Send("POST", "/nodes/web-01/run", id, "csrf=0000").status, 403);
  EXPECT_TRUE(ran_.empty());
  HttpResponse ok = Send("POST", "/nodes/web-01/run", id, "csrf=" + session->csrf);
  EXPECT_EQ(ok.status, 303);
  EXPECT_EQ(ran_, std::vector<std::string>{"web-01"});
  EXPECT_EQ(Send("POST", "/logout", id, "").status, 403);
  EXPECT_EQ(Send("POST", "/logout", id, "csrf=" + session->csrf).status, 303);
  EXPECT_EQ(Send("GET", "/", id).status, 303);
}

TEST_F(ConsoleRouterTest, FleetFiltersAndJson) {
  std::string id = SignIn();
  EXPECT_TRUE(absl::StrContains(Send("GET", "/?status=drifted", id).body, "/nodes/web-01"));
  EXPECT_FALSE(absl::StrContains(Send("GET", "/?status=failed", id).body, "/nodes/web-01"));
  EXPECT_FALSE(absl::StrContains(Send("GET", "/?name=db", id).body, "/nodes/web-01"));
  EXPECT_TRUE(absl::StrContains(Send("GET", "/?label=role%3Dx", id).body, "0 of 0"));
  HttpResponse json = Send("GET", "/api/fleet", id);
  EXPECT_EQ(json.content_type, "application/json");
  EXPECT_TRUE(absl::StrContains(json.body, "\"drifted\":1")) << json.body;
  // The node's newest run, in the table and the JSON.
  EXPECT_TRUE(absl::StrContains(json.body, "\"last_run\":{\"id\":\"r1\",\"changed\":2"))
      << json.body;
  EXPECT_TRUE(absl::StrContains(Send("GET", "/", id).body, "<td>2 changed, 0 failed</td>"));
  ConsoleRouter::Outcome events;
  Send("GET", "/api/events", id, "", std::nullopt, &events);
  EXPECT_TRUE(events.event_stream);
  EXPECT_EQ(events.session_id, id);
}

TEST_F(ConsoleRouterTest, ResourcesQueryFindsDriftSince) {
  std::string id = SignIn();
  HttpResponse r = Send("GET", "/resources?id=file%3A%2Fetc%2Fmotd&since=1h", id);
  EXPECT_TRUE(absl::StrContains(r.body, "1 changes")) << r.body;
  HttpResponse bad = Send("GET", "/resources?since=yesterday", id);
  EXPECT_TRUE(absl::StrContains(bad.body, "since: want a duration"));
}

}  // namespace
}  // namespace plumb
