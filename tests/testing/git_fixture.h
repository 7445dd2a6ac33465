#pragma once

// A bare git repository with a work clone, driven by the git CLI, for tests that need a real
// desired-state repository.

#include <string>

#include "tests/testing/test_util.h"

namespace plumb::testing {

// Thread-compatible. Lives inside a TempDir owned by the caller.
class GitFixture {
 public:
  // Creates <dir>/repo.git (bare, branch main) and <dir>/work.
  explicit GitFixture(const std::string& dir);
  const std::string& bare() const { return bare_; }
  // Writes a file in the work clone.
  void Write(const std::string& path, const std::string& content);
  // Commits everything and pushes to main; returns the new sha.
  std::string Commit(const std::string& message);
  // Commits everything and force-pushes the work clone's HEAD to `branch`; returns the sha.
  std::string CommitTo(const std::string& branch, const std::string& message);
  // Force-pushes the work clone's HEAD to `branch` (creating it).
  void Push(const std::string& branch);

 private:
  std::string Git(const std::string& args);
  std::string bare_;
  std::string work_;
};

}  // namespace plumb::testing
