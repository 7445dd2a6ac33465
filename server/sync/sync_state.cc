#include "server/sync/sync_state.h"

#include "absl/strings/str_cat.h"

namespace plumb {

void SyncState::Greet(const v1::Hello& hello, NodeInputs inputs) {
  greeted_ = true;
  run_once_ = hello.run_once();
  inputs_ = std::move(inputs);
  held_ = {hello.resource_versions().begin(), hello.resource_versions().end()};
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
  held_.clear();
  for (const v1::Resource& r : sent->resources()) held_[r.id()] = r.version();
  held_digest_ = sent->digest();
  held_trusted_ = true;
  acked_ = sent;
  return sent;
}

bool SyncState::NeedsOffer(uint64_t generation) const {
  return reply_pending_ || generation != offered_generation_;
}

void SyncState::PinBlobs(std::vector<std::shared_ptr<const std::string>> blobs) {
  previous_pinned_blobs_ = std::move(pinned_blobs_);
  pinned_blobs_ = std::move(blobs);
}

}  // namespace plumb
