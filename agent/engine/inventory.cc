#include "agent/engine/inventory.h"

#include <algorithm>
#include <set>

#include "absl/strings/str_cat.h"
#include "agent/state_files.h"
#include "common/logging.h"
#include "common/status_macros.h"

namespace plumb {
namespace {

FileType TypeOf(const std::string& type) {
  if (type == "file") return FileType::kRegular;
  if (type == "directory") return FileType::kDirectory;
  if (type == "symlink") return FileType::kSymlink;
  return FileType::kOther;
}

}  // namespace

absl::StatusOr<Inventory> Inventory::Load(const std::string& path) {
  Inventory inv(path);
  auto bytes = ReadStateFile(path);
  if (absl::IsNotFound(bytes.status())) return inv;
  if (!bytes.ok()) return bytes.status();
  if (!inv.inventory_.ParseFromString(*bytes)) {
    return absl::DataLossError(absl::StrCat(path, ": inventory is corrupt"));
  }
  return inv;
}

absl::Status Inventory::Save() const {
  return WriteStateFile(path_, is_compacted_ ? compacted_ : inventory_.SerializeAsString());
}

v1::Inventory& Inventory::Entries() const {
  if (is_compacted_) {
    // Serialized by Compact() from a parsed message: parses again.
    bool parsed = inventory_.ParseFromString(compacted_);
    PLUMB_CHECK(parsed);
    std::string().swap(compacted_);
    is_compacted_ = false;
  }
  return inventory_;
}

void Inventory::Compact() {
  if (is_compacted_) return;
  compacted_ = inventory_.SerializeAsString();
  inventory_ = v1::Inventory();  // not Clear(): that keeps the cleared entries allocated
  is_compacted_ = true;
}

bool Inventory::Has(const std::string& id) const {
  for (const auto& e : Entries().entries()) {
    if (e.id() == id) return true;
  }
  return false;
}

void Inventory::RecordCreated(const v1::Catalog& catalog, const v1::Report& report) {
  std::set<std::string> created;
  for (const v1::ResourceResult& r : report.results()) {
    if (r.created() && r.outcome() == v1::CHANGED) created.insert(r.id());
  }
  if (created.empty()) return;
  // What is recorded already, once: a first apply of N files creates N (Has() per id would
  // scan the list N times).
  std::set<std::string> recorded;
  for (const auto& e : Entries().entries()) recorded.insert(e.id());
  for (const v1::Resource& r : catalog.resources()) {
    if (!created.count(r.id()) || !recorded.insert(r.id()).second) continue;
    v1::InventoryEntry* e = Entries().add_entries();
    e->set_id(r.id());
    e->set_type(r.type());
    e->set_path(r.name());
  }
}

std::vector<v1::InventoryEntry> Inventory::Orphans(const v1::Catalog& catalog) const {
  std::set<std::string> wanted;
  for (const v1::Resource& r : catalog.resources()) wanted.insert(r.id());
  std::vector<v1::InventoryEntry> out;
  for (const auto& e : Entries().entries()) {
    if (!wanted.count(e.id())) out.push_back(e);
  }
  return out;
}

void Inventory::Forget(const std::string& id) {
  auto* entries = Entries().mutable_entries();
  for (int i = 0; i < entries->size(); ++i) {
    if (entries->Get(i).id() == id) {
      entries->DeleteSubrange(i, 1);
      return;
    }
  }
}

void HandleOrphans(Filesystem* fs, bool prune, bool noop, Inventory* inventory,
                   const std::vector<v1::InventoryEntry>& orphans, v1::Report* report) {
  if (!prune) {
    if (noop) return;
    for (const auto& e : orphans) {
      LogInfo("released resource that left the catalog", {{"id", e.id()}});
      inventory->Forget(e.id());
    }
    return;
  }
  std::vector<v1::InventoryEntry> ordered = orphans;
  // Children before parents, so a directory Plumb created empties before it is removed.
  std::sort(ordered.begin(), ordered.end(), [](const auto& a, const auto& b) {
    return a.path().size() > b.path().size();
  });
  for (const auto& e : ordered) {
    v1::ResourceResult* result = report->add_results();
    result->set_id(e.id());
    absl::StatusOr<FileStat> stat = fs->Stat(e.path());
    if (!stat.ok()) {
      result->set_outcome(v1::FAILED);
      result->set_message(absl::StrCat("cannot prune: ", stat.status().message()));
      continue;
    }
    if (stat->type == FileType::kMissing) {
      result->set_outcome(v1::UNCHANGED);
      result->set_message("already gone");
      if (!noop) inventory->Forget(e.id());
      continue;
    }
    if (stat->type != TypeOf(e.type())) {
      // Someone replaced it: it is no longer what Plumb created, so it is not ours to remove.
      result->set_outcome(v1::SKIPPED);
      result->set_message("not pruned: no longer the " + e.type() + " Plumb created; released");
      if (!noop) inventory->Forget(e.id());
      continue;
    }
    if (noop) {
      result->set_outcome(v1::WOULD_CHANGE);
      result->set_message("would prune (created by Plumb, no longer in the catalog)");
      continue;
    }
    absl::Status removed = fs->Remove(e.path());
    if (!removed.ok()) {
      result->set_outcome(e.type() == "directory" ? v1::SKIPPED : v1::FAILED);
      result->set_message(absl::StrCat("not pruned: ", removed.message()));
      if (e.type() == "directory") inventory->Forget(e.id());  // holds files that are not ours
      continue;
    }
    result->set_outcome(v1::CHANGED);
    result->set_message("pruned (created by Plumb, no longer in the catalog)");
    inventory->Forget(e.id());
  }
}

}  // namespace plumb
