#include "server/malloc_tuning.h"

#include <malloc.h>

#include <fstream>

namespace plumb {

int MallocMmapMax(long max_map_count) {
  if (max_map_count <= 0) max_map_count = 65530;  // unreadable: the kernel's default
  return static_cast<int>(max_map_count / 2);
}

bool TuneMallocForManyConnections() {
  long max_map_count = 0;
  std::ifstream in("/proc/sys/vm/max_map_count");
  in >> max_map_count;
  bool ok = mallopt(M_MMAP_THRESHOLD, static_cast<int>(kMallocMmapThreshold)) == 1;
  return mallopt(M_MMAP_MAX, MallocMmapMax(max_map_count)) == 1 && ok;
}

}  // namespace plumb
