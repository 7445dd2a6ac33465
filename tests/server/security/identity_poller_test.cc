// The identity poller of replicas sharing PostgreSQL: a revocation or enrollment made through
// one replica's store reaches the other's callbacks within a bounded wait, on the real clock.

#include "server/security/identity_poller.h"

#include "absl/synchronization/notification.h"
#include "gtest/gtest.h"
#include "server/store/open_store.h"
#include "tests/testing/pg_cluster.h"

namespace plumb {
namespace {

CertInfo Cert(const std::string& cn, const std::string& fingerprint, absl::Time now) {
  CertInfo c;
  c.common_name = cn;
  c.role = kRoleAgent;
  c.fingerprint = fingerprint;
  c.serial_hex = "01";
  c.not_before = now;
  c.not_after = now + absl::Hours(1);
  return c;
}

TEST(IdentityPollerTest, ARevocationThroughOneReplicaReachesTheOtherWithinSeconds) {
  std::string url = testing::PgCluster::Shared().NewDatabaseUrl();
  auto a = OpenIdentityStore({url, "", ""});
  auto b = OpenIdentityStore({url, "", ""});
  ASSERT_TRUE(a.ok() && b.ok()) << a.status() << b.status();
  absl::Notification enrolled, revoked;
  SystemClock clock;
  IdentityPoller poller(b->get(), &clock,
                        {[&](const std::string& node) {
                           if (node == "web-1" && !revoked.HasBeenNotified()) revoked.Notify();
                         },
                         [&](const std::string& node) {
                           if (node == "web-1" && !enrolled.HasBeenNotified()) enrolled.Notify();
                         },
                         nullptr},
                        absl::Milliseconds(100));
  poller.Start();
  absl::Time now = absl::Now();
  CertInfo cert = Cert("web-1", "fp1", now);
  ASSERT_TRUE((*a)->RecordEnrollment({"web-1", "key", {}, {}}, cert, now).ok());
  ASSERT_TRUE(enrolled.WaitForNotificationWithTimeout(absl::Seconds(10)));
  EXPECT_FALSE((*b)->IsRevoked(cert));
  absl::Time start = absl::Now();
  ASSERT_TRUE((*a)->Revoke("web-1", now).ok());
  ASSERT_TRUE(revoked.WaitForNotificationWithTimeout(absl::Seconds(10)));
  // Polled every 100 ms here (every second in the server): well within a few seconds.
  EXPECT_LT(absl::Now() - start, absl::Seconds(5));
  EXPECT_TRUE((*b)->IsRevoked(cert));
  poller.Stop();
}

}  // namespace
}  // namespace plumb
