#include "agent/masterless_cache.h"

#include <sys/stat.h>

#include "common/compiler/directory_tree.h"
#include "google/protobuf/util/message_differencer.h"
#include "gtest/gtest.h"
#include "tests/testing/test_util.h"

namespace plumb {
namespace {

using testing::ReadFileOrEmpty;
using testing::TempDir;
using testing::WriteFileOrDie;

// A repository of one module whose file content comes from files/motd.
class MasterlessCacheTest : public ::testing::Test {
 protected:
  void SetUp() override {
    WriteFileOrDie(repo_.Sub("plumb.yaml"),
                   "version: 1\ntargets:\n  - name: all\n    nodes: \"*\"\n    modules: [base]\n");
    WriteFileOrDie(repo_.Sub("modules/base/module.yaml"),
                   "resources:\n  - file: /etc/motd\n    source: motd\n"
                   "  - file: /etc/a\n    content: \"a\\n\"\n    mode: \"0600\"\n");
    WriteFileOrDie(repo_.Sub("modules/base/files/motd"), "hello\n");
  }

  // Compiles the repository as masterless apply does, storing it in the cache.
  NodeCompileResult CompileAndStore(const MasterlessCache& cache) {
    DirectoryTree tree(repo_.path());
    RecordingTree recording(&tree);
    std::shared_ptr<const DesiredState> state = DesiredState::Parse(recording, "local");
    EXPECT_TRUE(state->ok());
    NodeCompileResult result = state->CompileNode(node_);
    EXPECT_TRUE(result.ok());
    EXPECT_TRUE(cache.Store(recording.reads(), node_, result).ok());
    return result;
  }

  std::optional<NodeCompileResult> Lookup(const MasterlessCache& cache) {
    DirectoryTree tree(repo_.path());
    return cache.Lookup(tree, node_);
  }

  TempDir repo_, state_;
  NodeInputs node_{"web-1", {{"role", "web"}}, {{"os.id", "debian"}}};
  MasterlessCache cache_{state_.Sub("masterless.cache"), "exe-1"};
};

TEST_F(MasterlessCacheTest, UnchangedInputsGiveTheStoredCompile) {
  NodeCompileResult compiled = CompileAndStore(cache_);
  std::optional<NodeCompileResult> hit = Lookup(cache_);
  ASSERT_TRUE(hit.has_value());
  ASSERT_TRUE(hit->ok());
  EXPECT_TRUE(google::protobuf::util::MessageDifferencer::Equals(*hit->catalog, *compiled.catalog));
  ASSERT_EQ(hit->blobs.size(), compiled.blobs.size());
  for (const auto& [digest, content] : compiled.blobs) {
    ASSERT_EQ(hit->blobs.count(digest), 1u) << digest;
    EXPECT_EQ(*hit->blobs.at(digest), *content);
  }
}

TEST_F(MasterlessCacheTest, NothingStoredIsAMiss) { EXPECT_FALSE(Lookup(cache_).has_value()); }

TEST_F(MasterlessCacheTest, AChangedSourceFileIsAMiss) {
  CompileAndStore(cache_);
  // Same size, so nothing but the content tells the two apart.
  WriteFileOrDie(repo_.Sub("modules/base/files/motd"), "jello\n");
  EXPECT_FALSE(Lookup(cache_).has_value());
}

TEST_F(MasterlessCacheTest, AChangedModuleIsAMiss) {
  CompileAndStore(cache_);
  WriteFileOrDie(repo_.Sub("modules/base/module.yaml"),
                 "resources:\n  - file: /etc/motd\n    source: motd\n");
  EXPECT_FALSE(Lookup(cache_).has_value());
}

TEST_F(MasterlessCacheTest, ANewModuleDirectoryIsAMiss) {
  CompileAndStore(cache_);
  WriteFileOrDie(repo_.Sub("modules/extra/module.yaml"), "resources: []\n");
  EXPECT_FALSE(Lookup(cache_).has_value());
}

TEST_F(MasterlessCacheTest, OtherNodeInputsAreAMiss) {
  CompileAndStore(cache_);
  DirectoryTree tree(repo_.path());
  NodeInputs other_fact = node_;
  other_fact.facts["os.id"] = "ubuntu";
  EXPECT_FALSE(cache_.Lookup(tree, other_fact).has_value());
  NodeInputs other_label = node_;
  other_label.labels["role"] = "db";
  EXPECT_FALSE(cache_.Lookup(tree, other_label).has_value());
  NodeInputs other_name = node_;
  other_name.name = "web-2";
  EXPECT_FALSE(cache_.Lookup(tree, other_name).has_value());
  EXPECT_TRUE(cache_.Lookup(tree, node_).has_value());
}

TEST_F(MasterlessCacheTest, AnotherExecutableIsAMiss) {
  CompileAndStore(cache_);
  MasterlessCache rebuilt(state_.Sub("masterless.cache"), "exe-2");
  EXPECT_FALSE(Lookup(rebuilt).has_value());
  MasterlessCache unknown(state_.Sub("masterless.cache"), "");
  EXPECT_FALSE(Lookup(unknown).has_value());
}

TEST_F(MasterlessCacheTest, ACorruptedOrTruncatedFileIsAMiss) {
  CompileAndStore(cache_);
  std::string bytes = ReadFileOrEmpty(state_.Sub("masterless.cache"));
  ASSERT_GT(bytes.size(), 200u);
  std::string flipped = bytes;
  flipped[flipped.size() - 3] ^= 0x20;
  WriteFileOrDie(state_.Sub("masterless.cache"), flipped);
  EXPECT_FALSE(Lookup(cache_).has_value());
  WriteFileOrDie(state_.Sub("masterless.cache"), bytes.substr(0, bytes.size() / 2));
  EXPECT_FALSE(Lookup(cache_).has_value());
  WriteFileOrDie(state_.Sub("masterless.cache"), bytes);
  EXPECT_TRUE(Lookup(cache_).has_value());
}

TEST_F(MasterlessCacheTest, ReadsRecordFailuresToo) {
  DirectoryTree tree(repo_.path());
  RecordingTree recording(&tree);
  EXPECT_FALSE(recording.ReadFile("modules/base/files/missing").ok());
  EXPECT_TRUE(recording.ListDir("modules").ok());
  RepoReads reads = recording.reads();
  EXPECT_EQ(reads.size(), 2u);
  // A file that appears where the compile found none is a miss.
  NodeCompileResult result;
  result.catalog = std::make_shared<v1::Catalog>();
  ASSERT_TRUE(cache_.Store(reads, node_, result).ok());
  EXPECT_TRUE(Lookup(cache_).has_value());
  WriteFileOrDie(repo_.Sub("modules/base/files/missing"), "now here\n");
  EXPECT_FALSE(Lookup(cache_).has_value());
}

TEST_F(MasterlessCacheTest, TheFileIsPrivate) {
  CompileAndStore(cache_);
  struct stat st;
  ASSERT_EQ(stat(state_.Sub("masterless.cache").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
}

}  // namespace
}  // namespace plumb
