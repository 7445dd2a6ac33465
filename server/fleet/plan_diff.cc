#include "server/fleet/plan_diff.h"

#include <algorithm>
#include <set>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/diff.h"
#include "google/protobuf/util/message_differencer.h"

namespace plumb {
namespace {

using ResourceIndex = absl::flat_hash_map<std::string, const v1::Resource*>;

ResourceIndex Index(const NodeCompileResult* result) {
  ResourceIndex index;
  if (result == nullptr || result->catalog == nullptr) return index;
  for (const v1::Resource& r : result->catalog->resources()) index[r.id()] = &r;
  return index;
}

std::string Blob(const NodeCompileResult* result, const std::string& digest) {
  if (result == nullptr || digest.empty()) return "";
  auto it = result->blobs.find(digest);
  return it == result->blobs.end() || it->second == nullptr ? "" : *it->second;
}

bool SameList(const google::protobuf::RepeatedPtrField<std::string>& a,
              const google::protobuf::RepeatedPtrField<std::string>& b) {
  return std::equal(a.begin(), a.end(), b.begin(), b.end());
}

// Names of the attributes (and the sensitive flag) that differ, sorted.
std::vector<std::string> ChangedAttributes(const v1::Resource& a, const v1::Resource& b) {
  std::set<std::string> names;
  for (const auto& [key, value] : a.attributes()) {
    auto it = b.attributes().find(key);
    if (it == b.attributes().end() ||
        !google::protobuf::util::MessageDifferencer::Equals(value, it->second)) {
      names.insert(key);
    }
  }
  for (const auto& [key, value] : b.attributes()) {
    if (a.attributes().find(key) == a.attributes().end()) names.insert(key);
  }
  if (a.sensitive() != b.sensitive()) names.insert("sensitive");
  return {names.begin(), names.end()};
}

bool RelationsDiffer(const v1::Resource& a, const v1::Resource& b) {
  return !SameList(a.require(), b.require()) || !SameList(a.before(), b.before()) ||
         !SameList(a.notify(), b.notify()) || !SameList(a.subscribe(), b.subscribe());
}

// "content mode owner", "added", "refresh": what the summary says after the id.
std::string Describe(const v1::PlanResourceChange& c) {
  switch (c.kind()) {
    case v1::PLAN_ADDED: return "added";
    case v1::PLAN_REMOVED: return "removed";
    case v1::PLAN_REFRESH: return "refresh";
    default: break;
  }
  std::vector<std::string> parts;
  if (c.content()) parts.push_back("content");
  parts.insert(parts.end(), c.attributes().begin(), c.attributes().end());
  if (c.relations()) parts.push_back("relations");
  return absl::StrJoin(parts, " ");
}

// The content diff of one added or changed file resource, "" when its content is unchanged.
std::string ContentDiff(const v1::Resource* old_r, const NodeCompileResult* from,
                        const v1::Resource& new_r, const NodeCompileResult& to) {
  std::string old_digest = old_r != nullptr ? old_r->content_digest() : "";
  if (old_digest == new_r.content_digest()) return "";
  if (new_r.sensitive() || (old_r != nullptr && old_r->sensitive())) {
    return absl::StrCat(new_r.id(), ": content changed (sensitive)\n");
  }
  std::string old_label = old_r != nullptr ? absl::StrCat("a", new_r.name()) : "/dev/null";
  return UnifiedDiff(Blob(from, old_digest), Blob(&to, new_r.content_digest()), old_label,
                     absl::StrCat("b", new_r.name()), kMaxPlanGroupDiffBytes);
}

// Marks as refreshed the unchanged resources that a change notifies or that subscribe to one.
void AddRefreshes(const v1::Catalog& to, CatalogChange* change) {
  absl::flat_hash_set<std::string> changed, notified;
  for (const v1::PlanResourceChange& c : change->changes) {
    if (c.kind() == v1::PLAN_REMOVED) continue;
    changed.insert(c.id());
  }
  for (const v1::Resource& r : to.resources()) {
    if (changed.contains(r.id())) notified.insert(r.notify().begin(), r.notify().end());
  }
  std::vector<v1::PlanResourceChange> out;
  for (const v1::Resource& r : to.resources()) {
    auto it = std::find_if(change->changes.begin(), change->changes.end(),
                           [&](const v1::PlanResourceChange& c) { return c.id() == r.id(); });
    if (it != change->changes.end()) {
      out.push_back(*it);
      continue;
    }
    bool refresh = notified.contains(r.id()) ||
                   std::any_of(r.subscribe().begin(), r.subscribe().end(),
                               [&](const std::string& id) { return changed.contains(id); });
    if (!refresh) continue;
    v1::PlanResourceChange c;
    c.set_id(r.id());
    c.set_kind(v1::PLAN_REFRESH);
    out.push_back(std::move(c));
  }
  for (const v1::PlanResourceChange& c : change->changes) {
    if (c.kind() == v1::PLAN_REMOVED) out.push_back(c);
  }
  change->changes = std::move(out);
}

}  // namespace

std::string CatalogChange::Key() const {
  std::string key;
  for (const v1::PlanResourceChange& c : changes) {
    absl::StrAppend(&key, c.id(), "\n", c.kind(), c.content() ? "c" : "", c.relations() ? "r" : "",
                    c.sensitive() ? "s" : "", absl::StrJoin(c.attributes(), ","), "\n");
  }
  return key;
}

CatalogChange DiffCatalogs(const NodeCompileResult* from, const NodeCompileResult& to) {
  CatalogChange change;
  ResourceIndex old_index = Index(from);
  ResourceIndex new_index = Index(&to);
  for (const v1::Resource& r : to.catalog->resources()) {
    auto it = old_index.find(r.id());
    const v1::Resource* old_r = it == old_index.end() ? nullptr : it->second;
    if (old_r != nullptr && old_r->version() == r.version()) continue;
    v1::PlanResourceChange c;
    c.set_id(r.id());
    c.set_sensitive(r.sensitive() || (old_r != nullptr && old_r->sensitive()));
    if (old_r == nullptr) {
      c.set_kind(v1::PLAN_ADDED);
    } else {
      c.set_kind(v1::PLAN_CHANGED);
      c.set_content(old_r->content_digest() != r.content_digest());
      for (std::string& name : ChangedAttributes(*old_r, r)) c.add_attributes(std::move(name));
      c.set_relations(RelationsDiffer(*old_r, r));
      // Only a moved source location: the version ignores it, so nothing else can differ.
      if (!c.content() && c.attributes_size() == 0 && !c.relations()) continue;
    }
    absl::StrAppend(&change.diff, ContentDiff(old_r, from, r, to));
    change.changes.push_back(std::move(c));
  }
  if (from != nullptr && from->catalog != nullptr) {
    for (const v1::Resource& r : from->catalog->resources()) {
      if (new_index.contains(r.id())) continue;
      v1::PlanResourceChange c;
      c.set_id(r.id());
      c.set_kind(v1::PLAN_REMOVED);
      c.set_sensitive(r.sensitive());
      change.changes.push_back(std::move(c));
    }
  }
  if (!change.changes.empty()) AddRefreshes(*to.catalog, &change);
  std::vector<std::string> parts;
  for (const v1::PlanResourceChange& c : change.changes) {
    parts.push_back(absl::StrCat(c.id(), " ", Describe(c)));
  }
  change.summary = absl::StrJoin(parts, ", ");
  if (change.diff.size() > kMaxPlanGroupDiffBytes) {
    change.diff.resize(kMaxPlanGroupDiffBytes);
    absl::StrAppend(&change.diff, "\n... diff truncated at ", kMaxPlanGroupDiffBytes, " bytes\n");
  }
  return change;
}

void PlanAssembler::AddChange(const std::string& node,
                              std::shared_ptr<const CatalogChange> change) {
  if (change->empty()) {
    unchanged_.push_back(node);
    return;
  }
  groups_[change->Key()].members.emplace_back(node, std::move(change));
}

void PlanAssembler::AddFailure(const std::string& node, const std::vector<CompileError>& errors,
                               const std::string& context) {
  v1::NodeFailure failure;
  failure.set_node(node);
  for (const CompileError& e : errors) {
    v1::CompileError* pe = failure.add_errors();
    pe->set_location(e.location);
    pe->set_message(context.empty() ? e.message : absl::StrCat(context, e.message));
  }
  failures_.push_back(std::move(failure));
}

void PlanAssembler::Finish(v1::PlanResponse* out) {
  std::vector<Group*> groups;
  for (auto& [key, group] : groups_) {
    std::sort(group.members.begin(), group.members.end(),
              [](const auto& a, const auto& b) { return a.first < b.first; });
    groups.push_back(&group);
  }
  std::sort(groups.begin(), groups.end(), [](const Group* a, const Group* b) {
    if (a->members.size() != b->members.size()) return a->members.size() > b->members.size();
    return a->members[0].first < b->members[0].first;
  });
  size_t diff_bytes = 0;
  for (const Group* group : groups) {
    v1::PlanGroup* pg = out->add_groups();
    const CatalogChange& first = *group->members[0].second;
    int differ = 0;
    for (const auto& [node, change] : group->members) {
      pg->add_nodes(node);
      if (change->diff != first.diff) ++differ;
    }
    for (const v1::PlanResourceChange& c : first.changes) *pg->add_changes() = c;
    pg->set_summary(first.summary);
    std::string diff = first.diff;
    if (differ > 0 && !diff.empty()) {
      diff = absl::StrCat("# diff of ", group->members[0].first, "; ", differ,
                          " other node(s) of this group differ in content\n", diff);
    }
    if (diff_bytes + diff.size() > kMaxPlanDiffBytes) {
      diff = diff.empty() ? "" : "# diff omitted: the plan's diffs exceed 1 MiB\n";
    }
    diff_bytes += diff.size();
    pg->set_diff(std::move(diff));
  }
  std::sort(failures_.begin(), failures_.end(),
            [](const auto& a, const auto& b) { return a.node() < b.node(); });
  for (v1::NodeFailure& f : failures_) *out->add_failures() = std::move(f);
  std::sort(unchanged_.begin(), unchanged_.end());
  for (std::string& n : unchanged_) out->add_unchanged(std::move(n));
  out->set_skipped(skipped_);
}

}  // namespace plumb
