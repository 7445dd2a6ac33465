#include "server/malloc_tuning.h"

#include <malloc.h>

#include <cstdlib>
#include <vector>

#include "gtest/gtest.h"

namespace plumb {
namespace {

TEST(MallocTuningTest, MmapMaxLeavesHalfOfTheKernelsMapLimit) {
  EXPECT_EQ(MallocMmapMax(65530), 32765);
  EXPECT_EQ(MallocMmapMax(262144), 131072);
  EXPECT_EQ(MallocMmapMax(0), 32765);  // unreadable: the kernel's default limit
}

// Buffers the size of OpenSSL's record buffers and of a BIO pair half (16.7-17.4 KiB) get
// mappings of their own once the heap has no room left for them, instead of growing the heap
// (glibc's default threshold is 128 KiB: none would be mapped).
TEST(MallocTuningTest, TlsSizedBuffersAreMappedOnTheirOwn) {
  ASSERT_TRUE(TuneMallocForManyConnections());
  size_t mapped_before = mallinfo2().hblks;
  constexpr int kBuffers = 64;  // 1.1 MiB: more than the heap has free at the start
  std::vector<char*> buffers;
  for (int i = 0; i < kBuffers; ++i) {
    char* b = static_cast<char*>(std::malloc(17 * 1024));
    ASSERT_NE(b, nullptr);
    *static_cast<volatile char*>(b) = 1;
    buffers.push_back(b);
  }
  EXPECT_GE(mallinfo2().hblks, mapped_before + kBuffers / 2);
  for (char* b : buffers) std::free(b);
  EXPECT_EQ(mallinfo2().hblks, mapped_before);
}

}  // namespace
}  // namespace plumb
