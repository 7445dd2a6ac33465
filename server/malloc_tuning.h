#pragma once

// Process-wide glibc malloc settings for a server holding thousands of connections.
//
// Every mutual-TLS connection holds four buffers of 16.7-17.4 KiB inside OpenSSL and gRPC
// (the record layer's read and write buffers, the two halves of TSI's BIO pair; Debian's gRPC
// 1.51 fixes their sizes and offers no way to release them), of which a connection usually
// writes a few KiB. From the heap, a buffer often reuses pages that the connect storm's
// handshakes dirtied, so all of it is resident; mapped on its own (glibc maps an allocation
// over the threshold when no free chunk of the heap fits it), only the pages written are.
// docs/benchmarks.md (issue 18, mutual TLS memory): about 14 KiB less per TLS connection.

#include <cstddef>

namespace plumb {

// Allocations of at least this many bytes get their own mapping.
inline constexpr size_t kMallocMmapThreshold = 16 * 1024;

// The most mappings malloc may hold for such allocations: half of the kernel's per-process
// limit `max_map_count` (vm.max_map_count, 65530 by default), so that thread stacks, SQLite and
// the rest keep room; past it, large allocations come from the heap again.
int MallocMmapMax(long max_map_count);

// Applies kMallocMmapThreshold and MallocMmapMax(/proc/sys/vm/max_map_count) to this process.
// Returns false if glibc refused a setting. Call once, early in main().
bool TuneMallocForManyConnections();

}  // namespace plumb
