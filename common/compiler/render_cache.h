#pragma once

// Incremental compilation: the rendered, sealed form of templated resources, reused by every
// node (of this revision and the next ones) whose template would read the same inputs.
// A templated resource's output depends only on its spec (the resource as written, its
// template's text and path: RenderFingerprint) and on the node name, facts, labels and vars
// its template names (TemplateReads); RenderKey puts exactly those in a key.

#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/synchronization/mutex.h"
#include "common/compiler/compiler.h"
#include "common/compiler/desired_state_model.h"
#include "plumb/v1/types.pb.h"

namespace plumb::compile {

// One templated resource rendered for some inputs: on success the sealed resource (content
// digest, size and version set) and its content; on a render error the resource as written
// and the error. The content is held weakly: it lives as long as a compile result, a cached
// group (server/sync/catalog_builder.h) or a stream's pin names it, so that evicting groups
// still frees it; a cached render whose content is gone is rendered again.
struct RenderedResource {
  v1::Resource resource;
  std::weak_ptr<const std::string> blob;
  std::optional<CompileError> error;
};

// The fingerprint of a templated resource's spec: sha256 over the resource as written
// (deterministic serialization, source location included), its template's path and the
// sha256 of the template's text.
std::string RenderFingerprint(const ResourceSpec& spec);

// The vars a module's templates see, with plumb.yaml's and the matched targets' vars overlaid
// (targets in order, the last wins), looked up by top-level name without copying.
class VarsView {
 public:
  VarsView(const MustacheValue* module, const MustacheValue* repo,
           std::vector<const MustacheValue*> targets)
      : module_(module), repo_(repo), targets_(std::move(targets)) {}
  // The value of var `name`, or nullptr.
  const MustacheValue* Find(const std::string& name) const;
  // Every var name at any level.
  std::set<std::string> Names() const;
  // The matched targets' vars, in order.
  const std::vector<const MustacheValue*>& targets() const { return targets_; }

 private:
  const MustacheValue* module_;
  const MustacheValue* repo_;
  std::vector<const MustacheValue*> targets_;
};

// spec.render_fingerprint followed by every input the template reads (spec.reads): the node
// name, the facts and labels under the prefixes read, the vars read (their whole values).
std::string RenderKey(const ResourceSpec& spec, const NodeInputs& node, const VarsView& vars);

// Rendered resources by RenderKey. Thread-safe. Bounded by kMaxEntries: once full, nothing
// more is kept (compiles stay correct, they just render again).
class RenderCache {
 public:
  static constexpr size_t kMaxEntries = 1 << 17;

  // Nullptr when `key` was not rendered yet.
  std::shared_ptr<const RenderedResource> Find(const std::string& key) const;
  void Insert(const std::string& key, std::shared_ptr<const RenderedResource> rendered);
  // Copies the entries of `previous` whose fingerprint is in `fingerprints` (the templated
  // resources of the new revision): what an unchanged resource rendered stays valid.
  void CarryFrom(const RenderCache& previous, const std::set<std::string>& fingerprints);
  size_t size() const;

 private:
  mutable absl::Mutex mu_;
  absl::flat_hash_map<std::string, std::shared_ptr<const RenderedResource>> entries_
      ABSL_GUARDED_BY(mu_);
};

}  // namespace plumb::compile
