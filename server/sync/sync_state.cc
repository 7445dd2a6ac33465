#include "server/sync/sync_state.h"

#include "absl/strings/str_cat.h"
#include "common/catalog.h"

namespace plumb {

void SyncState::Greet(const v1::Hello& hello, NodeInputs inputs) {
  greeted_ = true;
  run_once_ = hello.run_once();
  inputs_ = std::move(inputs);
  claimed_ = {hello.resource_versions().begin(), hello.resource_versions().end()};
  held_digest_ = hello.catalog_digest();
  reply_pending_ = true;
}

bool SyncState::ShouldSend(const v1::Catalog& catalog) {
  bool unchanged = catalog.digest() == held_digest_ || catalog.digest() == nacked_digest_;
  if (unchanged && !reply_pending_) return false;
  reply_pending_ = false;
  return true;
}

std::string SyncState::StartUpdate(std::shared_ptr<const v1::Catalog> catalog, int upserted) {
  inflight_nonce_ = absl::StrCat(next_nonce_++);
  inflight_ = std::move(catalog);
  resources_sent_ += upserted;
  return inflight_nonce_;
}

std::shared_ptr<const v1::Catalog> SyncState::TakeAck(const v1::Ack& ack) {
  if (inflight_ == nullptr || ack.nonce() != inflight_nonce_) return nullptr;  // stale
  std::shared_ptr<const v1::Catalog> sent = std::move(inflight_);
  inflight_ = nullptr;
  if (!ack.error().empty()) {
    nacked_digest_ = sent->digest();
    return sent;
  }
  claimed_.clear();
  held_digest_ = sent->digest();
  held_trusted_ = true;
  acked_ = sent;
  return sent;
}

bool SyncState::NeedsOffer(uint64_t generation) const {
  return reply_pending_ || generation != offered_generation_;
}

v1::CatalogUpdate SyncState::DeltaTo(const v1::Catalog& catalog) const {
  if (held_trusted_ && acked_ != nullptr) return ComputeDeltaFrom(*acked_, catalog);
  return ComputeDelta(claimed_, catalog);
}

std::string SyncState::HeldVersion(const std::string& id) const {
  if (held_trusted_ && acked_ != nullptr) {
    for (const v1::Resource& r : acked_->resources()) {
      if (r.id() == id) return r.version();
    }
    return "";
  }
  auto it = claimed_.find(id);
  return it != claimed_.end() ? it->second : "";
}

}  // namespace plumb
