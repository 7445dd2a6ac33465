#pragma once

// Reports shaped like an agent's interval run, for the store micro-benchmarks (SQLite and
// PostgreSQL measure the same rows).

#include <cstdint>

#include "plumb/v1/types.pb.h"

namespace plumb {
namespace bench {

// Report `n` (id bench-<n>, node node-<n mod 1000>) with `results` resources, the first changed.
v1::Report MakeReport(int64_t n, int results);

}  // namespace bench
}  // namespace plumb
