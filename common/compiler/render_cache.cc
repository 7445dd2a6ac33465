#include "common/compiler/render_cache.h"

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/digest.h"
#include "google/protobuf/io/coded_stream.h"
#include "google/protobuf/io/zero_copy_stream_impl_lite.h"

namespace plumb::compile {

namespace {

void AppendField(std::string* out, absl::string_view text) {
  absl::StrAppend(out, text.size(), ":", text, ";");
}

// An unambiguous encoding of a whole value: its string, list items and children.
void AppendValue(const MustacheValue& value, std::string* out) {
  if (value.has_string()) {
    out->push_back('s');
    AppendField(out, value.string());
  }
  if (value.is_list()) {
    absl::StrAppend(out, "l", value.list().size(), "[");
    for (const MustacheValue& item : value.list()) AppendValue(item, out);
    out->push_back(']');
  }
  absl::StrAppend(out, "m", value.children().size(), "{");
  for (const auto& [name, child] : value.children()) {
    AppendField(out, name);
    AppendValue(child, out);
  }
  out->push_back('}');
}

// Same rule as GroupKey's: a prefix "" reads everything, "os" reads "os" and "os.*".
bool PrefixRead(const std::set<std::string>& prefixes, const std::string& key) {
  for (const std::string& prefix : prefixes) {
    if (prefix.empty() || key == prefix ||
        (absl::StartsWith(key, prefix) && key.size() > prefix.size() &&
         key[prefix.size()] == '.')) {
      return true;
    }
  }
  return false;
}

void AppendRead(const std::map<std::string, std::string>& inputs,
                const std::set<std::string>& prefixes, std::string* key) {
  key->push_back('|');
  if (prefixes.empty()) return;
  for (const auto& [name, value] : inputs) {
    if (!PrefixRead(prefixes, name)) continue;
    AppendField(key, name);
    AppendField(key, value);
  }
}

}  // namespace

std::string RenderFingerprint(const ResourceSpec& spec) {
  std::string text;
  {  // Map fields (attributes) serialize in an unspecified order unless deterministic.
    google::protobuf::io::StringOutputStream stream(&text);
    google::protobuf::io::CodedOutputStream coded(&stream);
    coded.SetSerializationDeterministic(true);
    spec.resource.SerializeToCodedStream(&coded);
  }
  AppendField(&text, spec.template_path);
  AppendField(&text, spec.template_digest);
  return Sha256Hex(text);
}

const MustacheValue* VarsView::Find(const std::string& name) const {
  for (auto it = targets_.rbegin(); it != targets_.rend(); ++it) {
    if (const MustacheValue* v = (*it)->Child(name)) return v;
  }
  if (const MustacheValue* v = repo_->Child(name)) return v;
  return module_->Child(name);
}

std::set<std::string> VarsView::Names() const {
  std::set<std::string> names;
  for (const MustacheValue* level : {module_, repo_}) {
    for (const auto& [name, value] : level->children()) names.insert(name);
  }
  for (const MustacheValue* level : targets_) {
    for (const auto& [name, value] : level->children()) names.insert(name);
  }
  return names;
}

std::string RenderKey(const ResourceSpec& spec, const NodeInputs& node, const VarsView& vars) {
  const TemplateReads& reads = spec.reads;
  std::string key = spec.render_fingerprint;
  key.push_back('|');
  if (reads.node_name) AppendField(&key, node.name);
  AppendRead(node.facts, reads.fact_prefixes, &key);
  AppendRead(node.labels, reads.label_prefixes, &key);
  key.push_back('|');
  std::set<std::string> all;
  const std::set<std::string>* names = &reads.var_names;
  if (reads.var_names.count("") != 0) {
    all = vars.Names();
    names = &all;
  }
  for (const std::string& name : *names) {
    const MustacheValue* value = vars.Find(name);
    AppendField(&key, name);
    if (value == nullptr) {
      key.push_back('-');
    } else {
      AppendValue(*value, &key);
    }
  }
  return key;
}

std::shared_ptr<const RenderedResource> RenderCache::Find(const std::string& key) const {
  absl::ReaderMutexLock lock(&mu_);
  auto it = entries_.find(key);
  return it == entries_.end() ? nullptr : it->second;
}

void RenderCache::Insert(const std::string& key, std::shared_ptr<const RenderedResource> rendered) {
  absl::MutexLock lock(&mu_);
  if (entries_.size() >= kMaxEntries) return;
  entries_.insert_or_assign(key, std::move(rendered));  // replaces one whose content expired
}

void RenderCache::CarryFrom(const RenderCache& previous,
                            const std::set<std::string>& fingerprints) {
  if (fingerprints.empty()) return;
  size_t width = fingerprints.begin()->size();
  absl::ReaderMutexLock from(&previous.mu_);
  absl::MutexLock lock(&mu_);
  for (const auto& [key, rendered] : previous.entries_) {
    if (fingerprints.count(key.substr(0, width)) != 0) entries_.emplace(key, rendered);
  }
}

size_t RenderCache::size() const {
  absl::ReaderMutexLock lock(&mu_);
  return entries_.size();
}

}  // namespace plumb::compile
