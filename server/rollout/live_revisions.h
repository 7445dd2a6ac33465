#pragma once

// The catalogs of every revision served right now besides the newest one (which the main
// CatalogBuilder holds): during a rollout the previous good revision, served to the nodes the
// rollout has not reached (or rolled back). One CatalogBuilder per such revision, so their
// catalogs and blobs stay buildable and fetchable while it is live.

#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>

#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "server/sync/catalog_builder.h"

namespace plumb {

// Thread-safe. Builders are shared: one dropped by Retain stays usable by whoever holds it.
class LiveRevisions {
 public:
  // Parses a revision's desired state (from the git mirror); the server wires it.
  using Loader =
      std::function<absl::StatusOr<std::shared_ptr<const DesiredState>>(const std::string& sha)>;

  // `newest` (not owned, must outlive this) serves the newest revision; `load` parses others.
  LiveRevisions(CatalogBuilder* newest, Loader load);

  // Makes `sha` live: reuses `state` when given, else the newest builder's state when it is
  // that revision, else loads it. An error when it cannot be loaded or does not compile.
  absl::Status Ensure(const std::string& sha, std::shared_ptr<const DesiredState> state = nullptr);
  // Drops every live revision not in `keep`.
  void Retain(const std::set<std::string>& keep);

  // The builder serving `sha`: the newest one when `sha` is empty or its revision; null when
  // `sha` is not live (the caller offers nothing yet).
  std::shared_ptr<CatalogBuilder> BuilderFor(const std::string& sha) const;
  // A blob named by a catalog of a live revision (the newest one's included).
  absl::StatusOr<std::shared_ptr<const std::string>> Blob(const std::string& digest) const;
  // Changes whenever any live builder changes (the hub re-offers then).
  uint64_t generation() const;

 private:
  CatalogBuilder* const newest_;
  const Loader load_;
  mutable absl::Mutex mu_;
  std::map<std::string, std::shared_ptr<CatalogBuilder>> by_sha_ ABSL_GUARDED_BY(mu_);
  uint64_t changes_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace plumb
