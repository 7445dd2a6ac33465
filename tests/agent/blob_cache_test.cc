// The agent's blob cache on a real directory: content is verified before it is stored, and
// Retain drops what no catalog names any more.

#include "agent/blob_cache.h"

#include <sys/stat.h>

#include "common/digest.h"
#include "gtest/gtest.h"
#include "tests/testing/test_util.h"

namespace plumb {
namespace {

using testing::TempDir;

bool Exists(const std::string& path) {
  struct stat st;
  return stat(path.c_str(), &st) == 0;
}

TEST(BlobCacheTest, PutRefusesContentThatDoesNotMatchItsDigest) {
  TempDir dir;
  auto cache = BlobCache::Open(dir.Sub("blobs"));
  ASSERT_TRUE(cache.ok()) << cache.status();
  EXPECT_TRUE(absl::IsDataLoss((*cache)->Put(Sha256Hex("a"), "b")));
  EXPECT_FALSE((*cache)->Has(Sha256Hex("a")));
}

// A secret rotated in the repository: the old content is named by no catalog the agent holds
// any more, so it must not stay on disk.
TEST(BlobCacheTest, RetainDropsContentNoCatalogNames) {
  TempDir dir;
  auto opened = BlobCache::Open(dir.Sub("blobs"));
  ASSERT_TRUE(opened.ok()) << opened.status();
  BlobCache& cache = **opened;
  const std::string old_secret = Sha256Hex("password=old");
  const std::string previous = Sha256Hex("in the previous catalog");
  const std::string current = Sha256Hex("password=new");
  ASSERT_TRUE(cache.Put(old_secret, "password=old").ok());
  ASSERT_TRUE(cache.Put(previous, "in the previous catalog").ok());
  ASSERT_TRUE(cache.Put(current, "password=new").ok());
  // A temp file another (crashed) agent process left behind, and a file that is not ours.
  testing::WriteFileOrDie(dir.Sub("blobs/" + old_secret + ".tmp.999999"), "password=old");
  testing::WriteFileOrDie(dir.Sub("blobs/README"), "not a blob");

  absl::StatusOr<int> removed = cache.Retain({current, previous});
  ASSERT_TRUE(removed.ok()) << removed.status();
  EXPECT_EQ(*removed, 2);
  EXPECT_FALSE(Exists(dir.Sub("blobs/" + old_secret)));
  EXPECT_FALSE(Exists(dir.Sub("blobs/" + old_secret + ".tmp.999999")));
  EXPECT_FALSE(cache.Has(old_secret));
  EXPECT_TRUE(Exists(dir.Sub("blobs/README")));
  ASSERT_TRUE(cache.Get(current).ok());
  EXPECT_EQ(*cache.Get(current), "password=new");
  EXPECT_EQ(*cache.Get(previous), "in the previous catalog");
}

}  // namespace
}  // namespace plumb
