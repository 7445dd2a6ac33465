#include "tests/testing/git_fixture.h"

#include "gtest/gtest.h"

namespace plumb::testing {

GitFixture::GitFixture(const std::string& dir) : bare_(dir + "/repo.git"), work_(dir + "/work") {
  std::string out;
  EXPECT_EQ(RunShell("git init -q --bare -b main " + ShellQuote(bare_), &out), 0) << out;
  EXPECT_EQ(RunShell("git clone -q " + ShellQuote(bare_) + " " + ShellQuote(work_), &out), 0) << out;
}

std::string GitFixture::Git(const std::string& args) {
  std::string out;
  int rc = RunShell("git -C " + ShellQuote(work_) +
                        " -c user.name=t -c user.email=t@example.org " + args,
                    &out);
  EXPECT_EQ(rc, 0) << "git " << args << ": " << out;
  while (!out.empty() && (out.back() == '\n' || out.back() == '\r')) out.pop_back();
  return out;
}

void GitFixture::Write(const std::string& path, const std::string& content) {
  WriteFileOrDie(work_ + "/" + path, content);
}

std::string GitFixture::Commit(const std::string& message) {
  return CommitTo("main", message);
}

std::string GitFixture::CommitTo(const std::string& branch, const std::string& message) {
  Git("add -A");
  Git("commit -q -m " + ShellQuote(message));
  Git("push -q -f origin HEAD:" + ShellQuote(branch));
  return Git("rev-parse HEAD");
}

void GitFixture::Push(const std::string& branch) { Git("push -q -f origin HEAD:" + ShellQuote(branch)); }

}  // namespace plumb::testing
