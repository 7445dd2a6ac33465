#pragma once

// The catalog the daemon holds between runs, kept as the bytes of its v1::Catalog (what
// state_dir/catalog.pb holds) instead of a parsed message: for 5,000 files about 1.2 MB instead
// of about 6 MB of protobuf strings, messages and maps (docs/benchmarks.md, issue 18). Whoever
// needs the resources (a run, the Hello, the next update) parses a copy and drops it when done.

#include <memory>
#include <string>

#include "google/protobuf/arena.h"
#include "plumb/v1/types.pb.h"

namespace plumb {

// Thread-compatible (the agent keeps it under its run lock).
class HeldCatalog {
 public:
  // Holds `catalog` (serialized; `catalog` itself is not kept).
  void Set(const v1::Catalog& catalog);
  // Holds the serialized catalog `bytes`. Returns false, and holds nothing, if they do not
  // parse as a v1::Catalog.
  bool SetSerialized(std::string bytes);
  void Clear();

  // A parsed copy of the held catalog; an empty catalog when none is held.
  v1::Catalog Parse() const;
  // A parsed copy on an arena of its own, for a run: thousands of small messages parse about
  // three times faster than on the heap (micro_bench BM_ParseHeldCatalog*) and go at once.
  struct OnArena {
    std::unique_ptr<google::protobuf::Arena> arena;
    const v1::Catalog* catalog = nullptr;  // owned by `arena`
  };
  OnArena ParseOnArena() const;
  // The held catalog's bytes, as state_dir/catalog.pb keeps them ("" when none is held).
  const std::string& serialized() const { return bytes_; }
  // The held catalog's digest; "" when none is held.
  const std::string& digest() const { return digest_; }

 private:
  std::string bytes_;
  std::string digest_;
};

}  // namespace plumb
