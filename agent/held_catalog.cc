#include "agent/held_catalog.h"

#include "common/status_macros.h"

namespace plumb {

void HeldCatalog::Set(const v1::Catalog& catalog) {
  bytes_ = catalog.SerializeAsString();
  bytes_.shrink_to_fit();
  digest_ = catalog.digest();
}

bool HeldCatalog::SetSerialized(std::string bytes) {
  v1::Catalog parsed;
  if (!parsed.ParseFromString(bytes)) {
    Clear();
    return false;
  }
  bytes_ = std::move(bytes);
  bytes_.shrink_to_fit();
  digest_ = parsed.digest();
  return true;
}

void HeldCatalog::Clear() {
  std::string().swap(bytes_);
  digest_.clear();
}

v1::Catalog HeldCatalog::Parse() const {
  v1::Catalog catalog;
  // The bytes were serialized by Set or parsed once by SetSerialized: they parse again.
  bool parsed = catalog.ParseFromString(bytes_);
  PLUMB_CHECK(parsed);
  return catalog;
}

HeldCatalog::OnArena HeldCatalog::ParseOnArena() const {
  google::protobuf::ArenaOptions options;
  options.start_block_size = 64 << 10;
  options.max_block_size = 1 << 20;
  OnArena parsed;
  parsed.arena = std::make_unique<google::protobuf::Arena>(options);
  auto* catalog = google::protobuf::Arena::CreateMessage<v1::Catalog>(parsed.arena.get());
  bool ok = catalog->ParseFromString(bytes_);
  PLUMB_CHECK(ok);
  parsed.catalog = catalog;
  return parsed;
}

}  // namespace plumb
