#include "agent/providers/user_provider.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/agent/agent_test_fakes.h"

namespace plumb {
namespace {

using ::plumb::testing::MakeResource;
using ::plumb::testing::ScriptedCommandRunner;
using ::plumb::testing::SetList;
using ::testing::ElementsAre;
using ::testing::IsEmpty;

// Users and groups through a scripted runner: the host's account database is never touched.
class UserProviderTest : public ::testing::Test {
 protected:
  absl::StatusOr<CheckResult> Converge(Provider* provider, const v1::Resource& r) {
    absl::StatusOr<CheckResult> check = provider->Check(r);
    if (check.ok() && !check->in_sync) {
      absl::StatusOr<ChangeResult> applied = provider->Apply(r, *check);
      if (!applied.ok()) return applied.status();
    }
    return check;
  }
  std::vector<std::string> Mutations() {
    std::vector<std::string> out;
    for (const std::string& c : runner_.calls()) {
      if (c.rfind("getent", 0) != 0 && c.rfind("id ", 0) != 0 && c.rfind("stat ", 0) != 0) {
        out.push_back(c);
      }
    }
    return out;
  }
  ScriptedCommandRunner runner_;
  UserProvider users_{&runner_};
  GroupProvider groups_{&runner_};
};

TEST_F(UserProviderTest, CreatesMissingUserWithAttributes) {
  runner_.On("getent passwd deploy", 2);
  v1::Resource r = MakeResource("user", "deploy",
                                {{"uid", "2001"}, {"home", "/srv/deploy"}, {"shell", "/bin/bash"}});
  SetList(&r, "groups", {"sudo", "adm"});
  absl::StatusOr<CheckResult> check = Converge(&users_, r);
  ASSERT_TRUE(check.ok()) << check.status();
  EXPECT_EQ(check->message, "user missing, to be created");
  EXPECT_THAT(Mutations(),
              ElementsAre("useradd -u 2001 -d /srv/deploy -s /bin/bash -G sudo,adm deploy"));
}

TEST_F(UserProviderTest, ModifiesOnlyWhatDiffers) {
  runner_.On("getent passwd deploy", 0, "deploy:x:2001:2001::/home/deploy:/bin/sh\n");
  runner_.On("id -nG deploy", 0, "deploy adm\n");
  v1::Resource r = MakeResource("user", "deploy", {{"uid", "2001"}, {"shell", "/bin/bash"}});
  SetList(&r, "groups", {"adm", "sudo"});
  absl::StatusOr<CheckResult> check = Converge(&users_, r);
  ASSERT_TRUE(check.ok());
  EXPECT_EQ(check->message, "shell /bin/sh -> /bin/bash; not in groups sudo");
  EXPECT_THAT(Mutations(), ElementsAre("usermod -s /bin/bash -a -G sudo deploy"));
}

TEST_F(UserProviderTest, InSyncUserIsNotTouched) {
  runner_.On("getent passwd app", 0, "app:x:999:999::/srv/app:/usr/sbin/nologin\n");
  runner_.On("getent group app", 0, "app:x:999:\n");
  absl::StatusOr<CheckResult> check =
      Converge(&users_, MakeResource("user", "app", {{"uid", "999"}, {"gid", "app"}}));
  ASSERT_TRUE(check.ok());
  EXPECT_TRUE(check->in_sync) << check->message;
  EXPECT_THAT(Mutations(), IsEmpty());
}

// managehome: a user's missing home is created (mkdir) and owned by the user and its primary
// group; one owned by someone else is chowned; one there and owned is left alone.
TEST_F(UserProviderTest, ManagehomeCreatesAMissingHomeOfAnExistingUser) {
  runner_.On("getent passwd svc", 0, "svc:x:990:990::/srv/svc:/usr/sbin/nologin\n");
  runner_.On("stat -L -c %u:%g -- /srv/svc", 1, "", "stat: cannot statx '/srv/svc'");
  v1::Resource r = MakeResource("user", "svc", {{"managehome", "true"}});
  absl::StatusOr<CheckResult> check = Converge(&users_, r);
  ASSERT_TRUE(check.ok()) << check.status();
  EXPECT_EQ(check->message, "home /srv/svc missing, to be created");
  EXPECT_THAT(Mutations(),
              ElementsAre("mkdir -p -m 0755 -- /srv/svc", "chown 990:990 -- /srv/svc"));
}

TEST_F(UserProviderTest, ManagehomeOnANewUserCreatesTheHomeAfterUseradd) {
  runner_.Once("getent passwd svc", 2);  // before useradd
  runner_.Once("getent passwd svc", 2);  // Apply plans again
  runner_.On("getent passwd svc", 0, "svc:x:990:991::/srv/svc:/usr/sbin/nologin\n");
  runner_.On("stat -L -c %u:%g -- /srv/svc", 1, "", "stat: cannot statx '/srv/svc'");
  v1::Resource r = MakeResource("user", "svc", {{"home", "/srv/svc"}, {"managehome", "true"}});
  absl::StatusOr<CheckResult> check = users_.Check(r);
  ASSERT_TRUE(check.ok());
  EXPECT_EQ(check->message, "user missing, to be created");
  absl::StatusOr<ChangeResult> applied = users_.Apply(r, *check);
  ASSERT_TRUE(applied.ok()) << applied.status();
  EXPECT_EQ(applied->message, "created, home /srv/svc created");
  EXPECT_THAT(Mutations(), ElementsAre("useradd -d /srv/svc svc", "mkdir -p -m 0755 -- /srv/svc",
                                       "chown 990:991 -- /srv/svc"));
}

TEST_F(UserProviderTest, ManagehomeChownsAHomeOwnedBySomeoneElseAndLeavesAnOwnedOneAlone) {
  runner_.On("getent passwd app", 0, "app:x:999:999::/srv/app:/usr/sbin/nologin\n");
  runner_.On("stat -L -c %u:%g -- /srv/app", 0, "0:0\n");
  v1::Resource r = MakeResource("user", "app", {{"managehome", "true"}});
  absl::StatusOr<CheckResult> check = Converge(&users_, r);
  ASSERT_TRUE(check.ok()) << check.status();
  EXPECT_EQ(check->message, "home /srv/app owned by 0:0, not 999:999");
  EXPECT_THAT(Mutations(), ElementsAre("chown 999:999 -- /srv/app"));

  ScriptedCommandRunner owned;
  owned.On("getent passwd app", 0, "app:x:999:999::/srv/app:/usr/sbin/nologin\n");
  owned.On("stat -L -c %u:%g -- /srv/app", 0, "999:999\n");
  UserProvider users(&owned);
  check = users.Check(r);
  ASSERT_TRUE(check.ok());
  EXPECT_TRUE(check->in_sync) << check->message;
  // Without managehome the home directory is never looked at.
  ScriptedCommandRunner plain;
  plain.On("getent passwd app", 0, "app:x:999:999::/srv/app:/usr/sbin/nologin\n");
  UserProvider unmanaged(&plain);
  ASSERT_TRUE(unmanaged.Check(MakeResource("user", "app")).ok());
  EXPECT_THAT(plain.CallsStartingWith("stat"), IsEmpty());
}

TEST_F(UserProviderTest, RemovesUser) {
  runner_.On("getent passwd old", 0, "old:x:1500:1500::/home/old:/bin/sh\n");
  ASSERT_TRUE(Converge(&users_, MakeResource("user", "old", {{"ensure", "absent"}})).ok());
  EXPECT_THAT(Mutations(), ElementsAre("userdel old"));
}

TEST_F(UserProviderTest, UseraddFailureIsAnError) {
  runner_.On("getent passwd x", 2);
  runner_.On("useradd", 9, "", "useradd: user 'x' already exists");
  absl::StatusOr<CheckResult> result = Converge(&users_, MakeResource("user", "x"));
  EXPECT_FALSE(result.ok());
  EXPECT_THAT(std::string(result.status().message()), ::testing::HasSubstr("already exists"));
}

TEST_F(UserProviderTest, GroupsCreateModifyRemove) {
  runner_.On("getent group web", 2);
  runner_.On("getent group ops", 0, "ops:x:1001:\n");
  runner_.On("getent group gone", 0, "gone:x:1002:\n");
  ASSERT_TRUE(Converge(&groups_, MakeResource("group", "web", {{"gid", "3000"}})).ok());
  ASSERT_TRUE(Converge(&groups_, MakeResource("group", "ops", {{"gid", "3001"}})).ok());
  ASSERT_TRUE(Converge(&groups_, MakeResource("group", "gone", {{"ensure", "absent"}})).ok());
  EXPECT_THAT(Mutations(),
              ElementsAre("groupadd -g 3000 web", "groupmod -g 3001 ops", "groupdel gone"));
}

TEST_F(UserProviderTest, BadNamesAreRejectedBeforeAnyCommand) {
  EXPECT_FALSE(users_.Check(MakeResource("user", "-r")).ok());
  EXPECT_FALSE(groups_.Check(MakeResource("group", "a:b")).ok());
  EXPECT_THAT(runner_.calls(), IsEmpty());
}

}  // namespace
}  // namespace plumb
