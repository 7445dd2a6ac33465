// StreamHub: offering catalogs (OfferCatalog, and OfferAll when a new revision fans out to
// every connected agent). An offer is three steps: PrepareOffer decides what to send and
// StartOffer starts the update, both on the hub's worker (they change protocol state and node
// rows); in between, the delta is computed, and after them the write is started. OfferAll runs
// those two middle steps for all sessions at once on a few threads while the worker waits: each
// session has one offer in the batch, its state is not changed by anyone meanwhile, and
// nothing else is sent to it by the hub until the batch is done, so at most one update is in
// flight per agent and each delta is against what the agent acknowledged last.

#include <algorithm>
#include <thread>

#include "absl/strings/str_cat.h"
#include "common/catalog.h"
#include "common/logging.h"
#include "common/parallel_for.h"
#include "common/wire_limits.h"
#include "server/sync/stream_hub.h"

namespace plumb {

void StreamHub::OfferCatalog(const std::shared_ptr<AgentSession>& s) {
  std::optional<Offer> offer = PrepareOffer(s);
  if (!offer.has_value()) return;
  offer->delta = DeltaFor(s->sync(), *offer->catalog, offer->generation);
  if (StartOffer(*offer)) SendOffer(*offer);
}

std::optional<StreamHub::Offer> StreamHub::PrepareOffer(const std::shared_ptr<AgentSession>& s) {
  SyncState& sync = s->sync();
  if (sync.update_in_flight()) return std::nullopt;  // the Ack will bring us back: latest wins
  Offer offer;
  offer.session = s;
  offer.generation = ServingGeneration();
  sync.Offering(offer.generation);
  const ServingLine* line = LineOf(sync);
  if (line == nullptr) {
    NoEnvironment(s);
    return std::nullopt;
  }
  offer.rollout = line->rollout;
  std::shared_ptr<CatalogBuilder> builder(std::shared_ptr<CatalogBuilder>(), line->builder);
  if (offer.rollout != nullptr) {
    offer.decision = offer.rollout->Decide({sync.node(), sync.inputs().labels});
    builder = line->live->BuilderFor(offer.decision.revision);
    // Not live yet (a revision being swapped in): its on_served re-offers.
    if (builder == nullptr) return std::nullopt;
  }
  auto catalog = builder->Build(sync.inputs());
  if (!catalog.ok()) {
    NoCatalog(s, catalog.status());
    return std::nullopt;
  }
  if (!sync.compile_error().empty()) SetCompileError(s, "");
  const v1::Catalog& c = **catalog;
  if (!sync.ShouldSend(c)) return std::nullopt;
  s->AllowBlobs(BlobsFor(*builder, c, offer.generation));
  offer.catalog = *std::move(catalog);
  return offer;
}

bool StreamHub::StartOffer(Offer& offer) {
  SyncState& sync = offer.session->sync();
  const v1::Catalog& c = *offer.catalog;
  const v1::CatalogUpdate& delta = offer.delta->update();
  size_t bytes = offer.delta->body_bytes();  // the nonce is not counted, as before
  if (offer.decision.rollback || !offer.decision.health.exec().empty()) {
    // This node's update says more than its group's delta: it gets a copy of its own.
    v1::CatalogUpdate* update = offer.msg.mutable_update();
    *update = delta;
    update->set_rollback(offer.decision.rollback);
    if (!offer.decision.health.exec().empty()) *update->mutable_health() = offer.decision.health;
    bytes = update->ByteSizeLong();
  }
  if (bytes > wire::kMaxCatalogUpdateBytes) {
    // The agent could not receive it: fail the node with a reason instead.
    std::string error = absl::StrCat("catalog update of ", bytes, " bytes exceeds the limit of ",
                                     wire::kMaxCatalogUpdateBytes, " (docs/protocol.md)");
    LogError("catalog too large for the wire", {{"node", sync.node()}, {"error", error}});
    nodes_.Update(sync.node(), [&](v1::Node* n) {
      n->set_status(v1::NODE_FAILED);
      n->set_last_error(error);
    });
    return false;
  }
  offer.nonce = sync.StartUpdate(offer.catalog, delta.upserted_size());
  if (offer.msg.has_update()) offer.msg.mutable_update()->set_nonce(offer.nonce);
  {
    absl::MutexLock lock(&mu_);
    resources_sent_ += delta.upserted_size();
  }
  if (metrics_ != nullptr) metrics_->catalog_updates_sent->Increment();
  LogInfo("catalog update sent", {{"node", sync.node()}, {"rev", c.revision().substr(0, 12)},
                                  {"upserted", delta.upserted_size()},
                                  {"removed", delta.removed_size()}, {"full", delta.full()}});
  if (offer.rollout != nullptr) offer.rollout->OnServed({sync.node(), sync.inputs().labels},
                                                        c.revision());
  nodes_.Update(sync.node(), [&](v1::Node* n) {
    n->set_desired_revision(c.revision());
    if (n->applied_revision() != c.revision() && n->status() != v1::NODE_FAILED) {
      n->set_status(v1::NODE_PENDING);
    }
  });
  return true;
}

std::shared_ptr<const SharedUpdate> StreamHub::ComputeOfferDelta(const Offer& offer) {
  return std::make_shared<const SharedUpdate>(offer.session->sync().DeltaTo(*offer.catalog));
}

void StreamHub::SendOffer(Offer& offer) {
  if (offer.msg.has_update()) {
    offer.session->Send(std::move(offer.msg));
  } else {
    offer.session->SendUpdate(offer.delta, std::move(offer.nonce));
  }
}

void StreamHub::OfferAll(const std::vector<std::shared_ptr<AgentSession>>& sessions) {
  std::vector<Offer> offers;
  for (const auto& s : sessions) {
    std::optional<Offer> offer = PrepareOffer(s);
    // With rollouts, every Decide of the batch comes before its OnServed calls: that is the
    // same answer, since a node's decision depends on no other node's OnServed.
    if (offer.has_value()) offers.push_back(*std::move(offer));
  }
  // One delta per distinct (catalog, acknowledged digest) among trusted held states (DeltaFor's
  // sharing), one per offer otherwise; cached ones are taken as they are. A delta is computed
  // and serialized once, and every offer taking it shares it (SharedUpdate).
  std::vector<size_t> to_compute;          // offers whose delta is computed
  std::vector<std::string> keys(offers.size());
  std::vector<ptrdiff_t> same_as(offers.size(), -1);  // an offer computing the same delta
  std::map<std::string, size_t> first_with_key;
  std::set<size_t> shared;  // offers whose delta other offers of the batch take too
  for (size_t i = 0; i < offers.size(); ++i) {
    const SyncState& sync = offers[i].session->sync();
    keys[i] = DeltaKey(sync, *offers[i].catalog, offers[i].generation);
    if (!keys[i].empty()) {
      if (auto it = delta_cache_.find(keys[i]); it != delta_cache_.end()) {
        offers[i].delta = it->second;
        continue;
      }
      auto [it, fresh] = first_with_key.emplace(keys[i], i);
      if (!fresh) {
        same_as[i] = static_cast<ptrdiff_t>(it->second);
        shared.insert(it->second);
        continue;
      }
    }
    to_compute.push_back(i);
  }
  unsigned threads = std::min(kFanOutThreads, std::max(1u, std::thread::hardware_concurrency()));
  if (offers.size() < kParallelFanOutMin) threads = 1;
  ParallelFor(to_compute.size(), [&](size_t j) {
    Offer& offer = offers[to_compute[j]];
    offer.delta = ComputeOfferDelta(offer);
  }, threads);
  // Only deltas several agents took are cached (for agents of their group acking later): with
  // per-node catalogs every delta is used once (docs/benchmarks.md).
  for (size_t i : shared) CacheDelta(keys[i], offers[i].delta);
  std::vector<size_t> started;
  for (size_t i = 0; i < offers.size(); ++i) {
    if (same_as[i] >= 0) offers[i].delta = offers[same_as[i]].delta;
  }
  for (size_t i = 0; i < offers.size(); ++i) {
    if (StartOffer(offers[i])) started.push_back(i);
  }
  // Starting a write may write to the socket: spread that too.
  ParallelFor(started.size(), [&](size_t j) { SendOffer(offers[started[j]]); }, threads);
}

std::string StreamHub::DeltaKey(const SyncState& s, const v1::Catalog& catalog,
                                uint64_t generation) {
  if (!s.held_trusted() && !s.holds_nothing()) return "";
  if (generation != delta_generation_) {
    delta_cache_.clear();
    delta_generation_ = generation;
  }
  return absl::StrCat(catalog.digest(), "/", s.held_digest());
}

void StreamHub::CacheDelta(std::string key, std::shared_ptr<const SharedUpdate> delta) {
  if (delta_cache_.size() >= kMaxCachedDeltas) delta_cache_.clear();
  delta_cache_.emplace(std::move(key), std::move(delta));
}

std::shared_ptr<const SharedUpdate> StreamHub::DeltaFor(const SyncState& s,
                                                      const v1::Catalog& catalog,
                                                      uint64_t generation) {
  std::string key = DeltaKey(s, catalog, generation);
  if (key.empty()) return std::make_shared<const SharedUpdate>(s.DeltaTo(catalog));
  auto it = delta_cache_.find(key);
  if (it != delta_cache_.end()) return it->second;
  auto delta = std::make_shared<const SharedUpdate>(s.DeltaTo(catalog));
  CacheDelta(std::move(key), delta);
  return delta;
}

std::shared_ptr<const OfferedBlobs> StreamHub::BlobsFor(const CatalogBuilder& builder,
                                                      const v1::Catalog& catalog,
                                                      uint64_t generation) {
  if (generation != blobs_generation_ || blobs_cache_.size() >= kMaxCachedBlobs) {
    blobs_cache_.clear();
    blobs_generation_ = generation;
  }
  // Catalogs with one digest name the same contents (their resources' versions cover them).
  std::shared_ptr<const OfferedBlobs>& blobs = blobs_cache_[catalog.digest()];
  if (blobs == nullptr) blobs = std::make_shared<const OfferedBlobs>(catalog, builder);
  return blobs;
}

}  // namespace plumb
