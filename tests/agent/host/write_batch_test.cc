#include "agent/host/write_batch.h"

#include <sys/stat.h>

#include <cerrno>

#include "agent/host/filesystem.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/agent/agent_test_fakes.h"
#include "tests/testing/test_util.h"

namespace plumb {
namespace {

using ::plumb::testing::ReadFileOrEmpty;
using ::plumb::testing::RecordingSyncCalls;
using ::plumb::testing::TempDir;
using ::plumb::testing::WriteFileOrDie;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::SizeIs;

// A root with /d/a (old content) and an empty /e, written through a recording SyncCalls.
class WriteBatchTest : public ::testing::Test {
 protected:
  WriteBatchTest() : root_(dir_.Sub("root")), fs_(NewRootedFilesystem(root_, &sync_)) {
    mkdir(root_.c_str(), 0755);
    mkdir((root_ + "/d").c_str(), 0755);
    mkdir((root_ + "/e").c_str(), 0755);
    WriteFileOrDie(root_ + "/d/a", "old a");
  }
  std::string Listing(const std::string& dir) {
    std::string out;
    plumb::testing::RunShell("ls -A " + root_ + dir, &out);
    return out;
  }
  void WriteThree() {
    ASSERT_TRUE(fs_->WriteFile("/d/a", "new a", FileMetadata{}).ok());
    ASSERT_TRUE(fs_->WriteFile("/d/b", "new b", FileMetadata{}).ok());
    ASSERT_TRUE(fs_->WriteFile("/e/c", "new c", FileMetadata{}).ok());
  }

  TempDir dir_;
  std::string root_;
  RecordingSyncCalls sync_;
  std::unique_ptr<Filesystem> fs_;
};

TEST_F(WriteBatchTest, WithoutABatchEveryWriteSyncsTheFileAndItsDirectory) {
  ASSERT_TRUE(fs_->WriteFile("/d/a", "new a", FileMetadata{}).ok());
  EXPECT_EQ(ReadFileOrEmpty(root_ + "/d/a"), "new a");
  EXPECT_EQ(sync_.file_syncs, 2);
  EXPECT_EQ(sync_.filesystem_syncs, 0);
}

TEST_F(WriteBatchTest, StagedWritesAreSyncedOnceBeforeAnyRenameThenDirectoriesOnce) {
  std::vector<std::string> at_sync;  // what the paths held when the content was synced
  sync_.before_filesystem_sync = [&] {
    at_sync = {ReadFileOrEmpty(root_ + "/d/a"), ReadFileOrEmpty(root_ + "/d/b")};
  };
  std::vector<std::string> at_dir_sync;
  sync_.before_file_sync = [&] { at_dir_sync.push_back(ReadFileOrEmpty(root_ + "/d/b")); };
  fs_->BeginBatch();
  WriteThree();
  // Staged: the paths still have their old content until the commit.
  EXPECT_EQ(ReadFileOrEmpty(root_ + "/d/a"), "old a");
  EXPECT_EQ(ReadFileOrEmpty(root_ + "/d/b"), "<missing>");
  EXPECT_EQ(sync_.file_syncs + sync_.filesystem_syncs, 0);

  EXPECT_THAT(fs_->CommitBatch(), IsEmpty());
  EXPECT_THAT(at_sync, ElementsAre("old a", "<missing>"));  // synced before renaming
  EXPECT_EQ(sync_.filesystem_syncs, 1);                    // one filesystem
  EXPECT_THAT(at_dir_sync, ElementsAre("new b", "new b"));  // renamed before the dir syncs
  EXPECT_EQ(sync_.file_syncs, 2);                          // /d and /e, once each
  EXPECT_EQ(ReadFileOrEmpty(root_ + "/d/a"), "new a");
  EXPECT_EQ(ReadFileOrEmpty(root_ + "/d/b"), "new b");
  EXPECT_EQ(ReadFileOrEmpty(root_ + "/e/c"), "new c");
  EXPECT_EQ(Listing("/d"), "a\nb\n");  // no temp files left
  EXPECT_EQ(Listing("/e"), "c\n");

  // The batch ended: the next write is immediate again.
  ASSERT_TRUE(fs_->WriteFile("/d/a", "newer a", FileMetadata{}).ok());
  EXPECT_EQ(ReadFileOrEmpty(root_ + "/d/a"), "newer a");
}

TEST_F(WriteBatchTest, FailedSyncPutsNothingInPlaceAndRemovesTheTempFiles) {
  sync_.fail_filesystem_sync = EIO;
  fs_->BeginBatch();
  WriteThree();
  std::vector<BatchFailure> failures = fs_->CommitBatch();
  ASSERT_THAT(failures, SizeIs(3));
  EXPECT_EQ(failures[0].path, "/d/a");
  EXPECT_THAT(failures[0].status.message(), HasSubstr("sync the new content of /d/a"));
  EXPECT_EQ(ReadFileOrEmpty(root_ + "/d/a"), "old a");
  EXPECT_EQ(Listing("/d"), "a\n");
  EXPECT_EQ(Listing("/e"), "");
  EXPECT_EQ(sync_.file_syncs, 0);
}

TEST_F(WriteBatchTest, ABatchNeverCommittedLeavesOldContentAndNoTempFiles) {
  fs_->BeginBatch();
  WriteThree();
  fs_.reset();
  EXPECT_EQ(ReadFileOrEmpty(root_ + "/d/a"), "old a");
  EXPECT_EQ(Listing("/d"), "a\n");
  EXPECT_EQ(Listing("/e"), "");
}

TEST_F(WriteBatchTest, ManyDirectoriesCommitEarlyAndStillReportAtTheEnd) {
  fs_->BeginBatch();
  const int dirs = static_cast<int>(WriteBatch::kMaxDirectories) + 3;
  for (int i = 0; i < dirs; ++i) {
    ASSERT_TRUE(fs_->WriteFile(absl::StrCat("/many/", i, "/f"), "x", FileMetadata{}).ok());
  }
  EXPECT_EQ(sync_.filesystem_syncs, 1);  // the first kMaxDirectories, committed early
  EXPECT_THAT(fs_->CommitBatch(), IsEmpty());
  EXPECT_EQ(sync_.filesystem_syncs, 2);
  EXPECT_EQ(sync_.file_syncs, dirs);
  for (int i = 0; i < dirs; ++i) {
    EXPECT_EQ(ReadFileOrEmpty(absl::StrCat(root_, "/many/", i, "/f")), "x");
  }
}

// Inside a batch resolved parents are reused (ParentCache); retargeting a symlink on the way
// must be noticed, or the second write would land in the old target.
TEST_F(WriteBatchTest, ASymlinkRetargetedInsideABatchIsFollowedAfresh) {
  mkdir((root_ + "/b").c_str(), 0755);
  mkdir((root_ + "/c").c_str(), 0755);
  fs_->BeginBatch();
  ASSERT_TRUE(fs_->MakeSymlink("/a", "b").ok());
  ASSERT_TRUE(fs_->WriteFile("/a/x", "x", FileMetadata{}).ok());
  ASSERT_TRUE(fs_->MakeSymlink("/a", "c").ok());
  ASSERT_TRUE(fs_->WriteFile("/a/y", "y", FileMetadata{}).ok());
  EXPECT_THAT(fs_->CommitBatch(), IsEmpty());
  EXPECT_EQ(ReadFileOrEmpty(root_ + "/b/x"), "x");
  EXPECT_EQ(ReadFileOrEmpty(root_ + "/c/y"), "y");
  EXPECT_EQ(ReadFileOrEmpty(root_ + "/b/y"), "<missing>");
}

TEST_F(WriteBatchTest, ADirectoryRemovedInsideABatchIsNotWrittenIntoAgain) {
  fs_->BeginBatch();
  ASSERT_TRUE(fs_->WriteFile("/gone/x", "x", FileMetadata{}).ok());
  EXPECT_THAT(fs_->CommitBatch(), IsEmpty());
  fs_->BeginBatch();
  ASSERT_TRUE(fs_->Stat("/gone/x").ok());  // caches /gone
  ASSERT_TRUE(fs_->RemoveTree("/gone").ok());
  ASSERT_TRUE(fs_->WriteFile("/gone/y", "y", FileMetadata{}).ok());  // recreates /gone
  EXPECT_THAT(fs_->CommitBatch(), IsEmpty());
  EXPECT_EQ(ReadFileOrEmpty(root_ + "/gone/y"), "y");
}

}  // namespace
}  // namespace plumb

namespace plumb {
namespace {

// Enough files for the renames to run on several threads (WriteBatch::kParallelRenames).
class ParallelRenameTest : public WriteBatchTest {
 protected:
  static std::string Name(int i) { return "/d/f" + std::to_string(i); }
  static constexpr int kFiles = 200;
};

TEST_F(ParallelRenameTest, ManyReplacementsAndNewFilesAreAllPutInPlace) {
  for (int i = 0; i < kFiles; i += 2) WriteFileOrDie(root_ + Name(i), "old");
  fs_->BeginBatch();
  for (int i = 0; i < kFiles; ++i) {
    ASSERT_TRUE(fs_->WriteFile(Name(i), "new " + std::to_string(i), FileMetadata{}).ok());
  }
  EXPECT_THAT(fs_->CommitBatch(), IsEmpty());
  for (int i = 0; i < kFiles; ++i) {
    EXPECT_EQ(ReadFileOrEmpty(root_ + Name(i)), "new " + std::to_string(i)) << i;
  }
  EXPECT_EQ(sync_.filesystem_syncs, 1);
  EXPECT_EQ(sync_.file_syncs, 1);  // /d
  std::string listing = Listing("/d");
  EXPECT_EQ(listing.find(".plumb-"), std::string::npos) << listing;
}

TEST_F(ParallelRenameTest, APathWrittenTwiceKeepsItsLastContent) {
  fs_->BeginBatch();
  ASSERT_TRUE(fs_->WriteFile("/d/a", "first", FileMetadata{}).ok());
  for (int i = 0; i < kFiles; ++i) {
    ASSERT_TRUE(fs_->WriteFile(Name(i), "x", FileMetadata{}).ok());
  }
  ASSERT_TRUE(fs_->WriteFile("/d/a", "second", FileMetadata{}).ok());
  EXPECT_THAT(fs_->CommitBatch(), IsEmpty());
  EXPECT_EQ(ReadFileOrEmpty(root_ + "/d/a"), "second");
  std::string listing = Listing("/d");
  EXPECT_EQ(listing.find(".plumb-"), std::string::npos) << listing;
}

TEST_F(ParallelRenameTest, AFailedRenameAmongManyFailsThatPathAlone) {
  fs_->BeginBatch();
  for (int i = 0; i < kFiles; ++i) {
    ASSERT_TRUE(fs_->WriteFile(Name(i), "new", FileMetadata{}).ok());
  }
  // A directory appears at one of the paths between staging and commit.
  WriteFileOrDie(root_ + Name(7) + "/inside", "in the way");
  std::vector<BatchFailure> failures = fs_->CommitBatch();
  ASSERT_THAT(failures, SizeIs(1));
  EXPECT_EQ(failures[0].path, Name(7));
  EXPECT_THAT(failures[0].status.message(), HasSubstr("rename into"));
  for (int i = 0; i < kFiles; ++i) {
    if (i != 7) {
      EXPECT_EQ(ReadFileOrEmpty(root_ + Name(i)), "new") << i;
    }
  }
  std::string listing = Listing("/d");
  EXPECT_EQ(listing.find(".plumb-"), std::string::npos) << listing;
}

}  // namespace
}  // namespace plumb
