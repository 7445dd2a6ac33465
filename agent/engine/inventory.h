#pragma once

// The agent's inventory of what it created (files, directories, symlinks), kept in
// state_dir/inventory.pb. When a resource leaves the catalog it is released (forgotten, left in
// place) unless the catalog says `prune`; then the object is removed, but only if Plumb created
// it and it is still what Plumb created (never anything else).

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "agent/host/filesystem.h"
#include "plumb/v1/types.pb.h"

namespace plumb {

// Thread-compatible, const methods included (they may parse the compacted entries); the agent
// uses it under its run lock.
class Inventory {
 public:
  // Loads `path`; a missing file is an empty inventory. DataLoss if the file is corrupt.
  static absl::StatusOr<Inventory> Load(const std::string& path);
  absl::Status Save() const;

  // Adds every resource the report says was created (a non-noop run of `catalog`).
  void RecordCreated(const v1::Catalog& catalog, const v1::Report& report);
  // Entries whose resources are no longer in `catalog`.
  std::vector<v1::InventoryEntry> Orphans(const v1::Catalog& catalog) const;
  void Forget(const std::string& id);
  bool Has(const std::string& id) const;
  int size() const { return Entries().entries_size(); }

  // Keeps the entries serialized until a call needs them again: the daemon holds its
  // inventory between runs, and thousands of parsed entries take about three times their bytes.
  void Compact();

 private:
  explicit Inventory(std::string path) : path_(std::move(path)) {}
  // The entries, parsed again first if Compact() left them serialized.
  v1::Inventory& Entries() const;

  std::string path_;
  mutable v1::Inventory inventory_;
  mutable std::string compacted_;  // the entries while compacted
  mutable bool is_compacted_ = false;
};

// Handles the orphans of a run: with `prune`, removes each (deepest paths first; directories
// only when empty; nothing whose type changed since Plumb created it) and appends a result per
// orphan to `report` (CHANGED "pruned", WOULD_CHANGE in noop, FAILED when removal failed);
// without, releases them. Forgets what it removed or released (not in noop).
void HandleOrphans(Filesystem* fs, bool prune, bool noop, Inventory* inventory,
                   const std::vector<v1::InventoryEntry>& orphans, v1::Report* report);

}  // namespace plumb
