// Log lines stay one logfmt line each whatever a peer puts in a value: control characters are
// escaped (no forged lines), and oversized values are cut.

#include "common/logging.h"

#include <fcntl.h>
#include <unistd.h>

#include <cstdio>
#include <string>

#include "gtest/gtest.h"
#include "tests/testing/test_util.h"

namespace plumb {
namespace {

// Runs `log` with stderr redirected to a file and returns what it wrote.
template <typename F>
std::string CaptureStderr(F log) {
  testing::TempDir dir;
  std::string path = dir.Sub("stderr");
  std::fflush(stderr);
  int saved = dup(2);
  int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
  dup2(fd, 2);
  close(fd);
  log();
  std::fflush(stderr);
  dup2(saved, 2);
  close(saved);
  return testing::ReadFileOrEmpty(path);
}

TEST(LoggingTest, PeerValuesCannotForgeLines) {
  std::string out = CaptureStderr([] {
    LogInfo("agent connected",
            {{"node", "web-1\r\nts=2026-01-01T00:00:00Z level=error msg=\"forged\""},
             {"label", std::string("a\x1b[31mred\x7f")}});
  });
  ASSERT_FALSE(out.empty());
  EXPECT_EQ(out.find('\n'), out.size() - 1) << out;  // exactly one line
  EXPECT_EQ(out.find('\r'), std::string::npos);
  EXPECT_EQ(out.find('\x1b'), std::string::npos);
  EXPECT_NE(out.find("node=\"web-1\\r\\nts=2026"), std::string::npos) << out;
  EXPECT_NE(out.find("\\x1b[31mred\\x7f"), std::string::npos) << out;
}

TEST(LoggingTest, HugeValuesAreCut) {
  std::string out = CaptureStderr([] { LogInfo("hello", {{"node", std::string(4 << 20, 'x')}}); });
  EXPECT_LT(out.size(), 4096u);
  EXPECT_NE(out.find("more bytes)"), std::string::npos);
  EXPECT_NE(out.find("level=info msg=hello node=\"xxx"), std::string::npos) << out.substr(0, 200);
}

}  // namespace
}  // namespace plumb
