#include "agent/providers/package_provider.h"

#include <stdlib.h>
#include <unistd.h>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/agent/agent_test_fakes.h"
#include "tests/testing/test_util.h"

namespace plumb {
namespace {

using ::plumb::testing::MakeResource;
using ::plumb::testing::ReadFileOrEmpty;
using ::plumb::testing::TempDir;
using ::plumb::testing::WriteFileOrDie;
using ::testing::HasSubstr;

// Fake `dpkg-query` and `apt-get` first on PATH over a package database of files:
// db/<name> holds the installed version, db/<name>.conf marks config-files left behind.
class PackageProviderTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const char* path = getenv("PATH");
    old_path_ = path ? path : "";
    std::string db = dir_.Sub("db"), calls = dir_.Sub("calls");
    WriteFileOrDie(dir_.Sub("bin/dpkg-query"), R"(#!/bin/sh
db=")" + db + R"("
echo "dpkg-query $*" >> ")" + calls + R"("
for name; do :; done
if [ -e "$db/$name" ]; then ver=$(cat "$db/$name"); printf 'install ok installed\t%s\n' "$ver"; exit 0; fi
if [ -e "$db/$name.conf" ]; then printf 'deinstall ok config-files\t1.0-1\n'; exit 0; fi
echo "dpkg-query: no packages found matching $name" >&2; exit 1
)");
    WriteFileOrDie(dir_.Sub("bin/apt-get"), R"(#!/bin/sh
db=")" + db + R"("
echo "apt-get $* [DEBIAN_FRONTEND=$DEBIAN_FRONTEND]" >> ")" +
                                                calls + R"("
for last; do :; done
# lock: another apt run holds the dpkg lock; apt waits for it only when told how long.
if [ -e "$db/../lock" ]; then
  wait=$(printf '%s\n' "$@" | sed -n 's/^DPkg::Lock::Timeout=//p')
  if [ "${wait:-0}" -lt 60 ]; then
    echo "E: Could not get lock /var/lib/dpkg/lock-frontend. It is held by process 4242" >&2
    exit 100
  fi
  echo "Waiting for cache lock: Could not get lock /var/lib/dpkg/lock-frontend" >&2
  rm -f "$db/../lock"  # the other run finished within the wait
fi
case " $* " in
  *" install "*) name=${last%%=*}; ver=${last#*=}; [ "$ver" = "$last" ] && ver=1.0-1
    [ "$name" = ghost ] && { echo "E: Unable to locate package ghost" >&2; exit 100; }
    echo "$ver" > "$db/$name"; rm -f "$db/$name.conf" ;;
  *" remove "*) rm -f "$db/$last"; touch "$db/$last.conf" ;;
  *" purge "*) rm -f "$db/$last" "$db/$last.conf" ;;
esac
)");
    chmod(dir_.Sub("bin/dpkg-query").c_str(), 0755);
    chmod(dir_.Sub("bin/apt-get").c_str(), 0755);
    plumb::testing::RunShell("mkdir -p " + db);
    setenv("PATH", (dir_.Sub("bin") + ":" + old_path_).c_str(), 1);
  }
  void TearDown() override { setenv("PATH", old_path_.c_str(), 1); }

  absl::StatusOr<CheckResult> Converge(const v1::Resource& r) {
    return testing::Converge(provider_, r);
  }
  std::string Installed(const std::string& name) { return ReadFileOrEmpty(dir_.Sub("db/" + name)); }
  std::string Calls() { return ReadFileOrEmpty(dir_.Sub("calls")); }

  TempDir dir_;
  std::string old_path_;
  std::unique_ptr<CommandRunner> runner_ = NewRealCommandRunner();
  PackageProvider provider_{runner_.get()};
};

TEST_F(PackageProviderTest, InstallsMissingPackageNonInteractively) {
  v1::Resource r = MakeResource("package", "nginx");
  absl::StatusOr<CheckResult> check = Converge(r);
  ASSERT_TRUE(check.ok()) << check.status();
  EXPECT_FALSE(check->in_sync);
  EXPECT_EQ(Installed("nginx"), "1.0-1\n");
  EXPECT_THAT(Calls(), HasSubstr("install nginx [DEBIAN_FRONTEND=noninteractive]"));
  EXPECT_TRUE(provider_.Check(r)->in_sync);
}

TEST_F(PackageProviderTest, InstalledPackageIsLeftAlone) {
  WriteFileOrDie(dir_.Sub("db/curl"), "7.88\n");
  ASSERT_TRUE(Converge(MakeResource("package", "curl")).ok());
  EXPECT_THAT(Calls(), ::testing::Not(HasSubstr("apt-get")));
}

TEST_F(PackageProviderTest, PinsVersion) {
  WriteFileOrDie(dir_.Sub("db/redis"), "5.0\n");
  absl::StatusOr<CheckResult> check =
      Converge(MakeResource("package", "redis", {{"ensure", "6.0-2"}}));
  ASSERT_TRUE(check.ok());
  EXPECT_EQ(check->message, "version 5.0 -> 6.0-2");
  EXPECT_EQ(Installed("redis"), "6.0-2\n");
  EXPECT_THAT(Calls(), HasSubstr("--allow-downgrades redis=6.0-2"));
}

TEST_F(PackageProviderTest, RemoveAndPurge) {
  WriteFileOrDie(dir_.Sub("db/telnet"), "1\n");
  v1::Resource absent = MakeResource("package", "telnet", {{"ensure", "absent"}});
  ASSERT_TRUE(Converge(absent).ok());
  EXPECT_EQ(Installed("telnet"), "<missing>");
  EXPECT_TRUE(provider_.Check(absent)->in_sync);  // config files left do not matter
  v1::Resource purged = MakeResource("package", "telnet", {{"ensure", "purged"}});
  EXPECT_FALSE(provider_.Check(purged)->in_sync);
  ASSERT_TRUE(Converge(purged).ok());
  EXPECT_TRUE(provider_.Check(purged)->in_sync);
}

TEST_F(PackageProviderTest, AptFailureIsReported) {
  absl::StatusOr<CheckResult> result = Converge(MakeResource("package", "ghost"));
  ASSERT_FALSE(result.ok());
  EXPECT_THAT(std::string(result.status().message()), HasSubstr("Unable to locate package"));
}

// Another apt run (unattended-upgrades at boot) holds the dpkg lock: apt-get is told to wait
// for it, bounded, instead of failing at once.
TEST_F(PackageProviderTest, WaitsForDpkgLockHeldByAnotherAptRun) {
  WriteFileOrDie(dir_.Sub("lock"), "");
  absl::StatusOr<CheckResult> check = Converge(MakeResource("package", "nginx"));
  ASSERT_TRUE(check.ok()) << check.status();
  EXPECT_EQ(Installed("nginx"), "1.0-1\n");
  EXPECT_THAT(Calls(), HasSubstr("apt-get -y -q -o DPkg::Lock::Timeout=300 "));
  WriteFileOrDie(dir_.Sub("lock"), "");
  ASSERT_TRUE(Converge(MakeResource("package", "nginx", {{"ensure", "absent"}})).ok());
  EXPECT_EQ(Installed("nginx"), "<missing>");
}

TEST_F(PackageProviderTest, OptionLikeNamesAreRejected) {
  EXPECT_TRUE(absl::IsInvalidArgument(provider_.Check(MakeResource("package", "-oops")).status()));
  EXPECT_EQ(Calls(), "<missing>");
}

// The real dpkg and apt-get, with a tiny package built by dpkg-deb in a local file: repository
// (APT_CONFIG points apt at it, with its own lists and cache, so no network and no change to
// the host's apt state). The package is purged again afterwards.
class RealDpkgTest : public ::testing::Test {
 protected:
  static constexpr char kPackage[] = "plumb-test-pkg";

  void SetUp() override {
    if (geteuid() != 0) GTEST_SKIP() << "needs root";
    if (plumb::testing::RunShell("command -v dpkg-deb && command -v dpkg-scanpackages && "
                                 "command -v apt-get") != 0) {
      GTEST_SKIP() << "needs dpkg-deb, dpkg-scanpackages and apt-get";
    }
    const std::string d = dir_.path();
    std::string script =
        "set -e; cd " + d + "; mkdir -p repo lists/partial cache/archives/partial\n";
    for (const char* version : {"1.0", "2.0"}) {
      std::string v = version;
      script += "mkdir -p pkg" + v + "/DEBIAN pkg" + v + "/usr/share/" + kPackage +
                "\nprintf 'Package: " + kPackage + "\\nVersion: " + v +
                "\\nArchitecture: all\\nMaintainer: Plumb <tests@plumb.invalid>\\n"
                "Description: plumb test package\\n' > pkg" +
                v +
                "/DEBIAN/control\n"
                "echo " +
                v + " > pkg" + v + "/usr/share/" + kPackage +
                "/version\n"
                "dpkg-deb --build --root-owner-group pkg" +
                v + " repo/p" + v + ".deb\n";
    }
    script += "cd repo && dpkg-scanpackages -m . /dev/null > Packages\n";
    std::string output;
    ASSERT_EQ(plumb::testing::RunShell(script, &output), 0) << output;
    WriteFileOrDie(d + "/sources.list", "deb [trusted=yes] file:" + d + "/repo ./\n");
    WriteFileOrDie(d + "/apt.conf", "Dir::Etc::SourceList \"" + d +
                                        "/sources.list\";\n"
                                        "Dir::Etc::SourceParts \"" +
                                        d +
                                        "/none\";\n"
                                        "Dir::State::Lists \"" +
                                        d +
                                        "/lists\";\n"
                                        "Dir::Cache \"" +
                                        d + "/cache\";\n");
    setenv("APT_CONFIG", (d + "/apt.conf").c_str(), 1);
    ASSERT_EQ(plumb::testing::RunShell("apt-get -q update", &output), 0) << output;
    plumb::testing::RunShell(std::string("dpkg --purge ") + kPackage);
  }
  void TearDown() override {
    plumb::testing::RunShell(std::string("dpkg --purge ") + kPackage);
    unsetenv("APT_CONFIG");
  }
  std::string InstalledVersion() {
    std::string out;
    if (plumb::testing::RunShell(std::string("dpkg-query -W -f='${Status} ${Version}' ") + kPackage,
                                 &out) != 0) {
      return "none";
    }
    return out;
  }
  absl::StatusOr<CheckResult> Converge(const v1::Resource& r) {
    return testing::Converge(provider_, r);
  }

  TempDir dir_;
  std::unique_ptr<CommandRunner> runner_ = NewRealCommandRunner();
  PackageProvider provider_{runner_.get()};
};

TEST_F(RealDpkgTest, InstallPinRemovePurge) {
  v1::Resource present = MakeResource("package", kPackage);
  absl::StatusOr<CheckResult> check = Converge(present);
  ASSERT_TRUE(check.ok()) << check.status();
  EXPECT_FALSE(check->in_sync);
  EXPECT_EQ(InstalledVersion(), "install ok installed 2.0");
  EXPECT_TRUE(provider_.Check(present)->in_sync);

  v1::Resource pinned = MakeResource("package", kPackage, {{"ensure", "1.0"}});
  check = Converge(pinned);
  ASSERT_TRUE(check.ok()) << check.status();
  EXPECT_EQ(check->message, "version 2.0 -> 1.0");
  EXPECT_EQ(InstalledVersion(), "install ok installed 1.0");
  EXPECT_TRUE(provider_.Check(pinned)->in_sync);

  v1::Resource absent = MakeResource("package", kPackage, {{"ensure", "absent"}});
  ASSERT_TRUE(Converge(absent).ok());
  EXPECT_TRUE(provider_.Check(absent)->in_sync);
  EXPECT_THAT(InstalledVersion(), ::testing::Not(HasSubstr("installed 1.0")));
  v1::Resource purged = MakeResource("package", kPackage, {{"ensure", "purged"}});
  ASSERT_TRUE(Converge(purged).ok());
  EXPECT_EQ(InstalledVersion(), "none");
}

}  // namespace
}  // namespace plumb
