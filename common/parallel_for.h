#pragma once

// Runs independent work items on every core: the server's compile and diff passes over many
// node groups (plan, revision validation) are pure functions of immutable inputs.

#include <cstddef>
#include <functional>

namespace plumb {

// Calls fn(i) for every i in [0, count), on up to `max_threads` threads (0: one per core,
// std::thread::hardware_concurrency). Items are handed out one at a time, so uneven items
// balance. Returns when every call has returned. fn must be safe to call concurrently for
// different i; the caller's thread is one of the workers. With count <= 1 or one thread it
// runs inline.
void ParallelFor(size_t count, const std::function<void(size_t)>& fn, unsigned max_threads = 0);

}  // namespace plumb
