// Parsing and validating plumb.yaml's `rollout:` map into a RolloutPolicy. Every problem is a
// located error naming the key and the offending value; any error leaves the policy unset and
// (being a repository error) fails the revision.

#include "common/compiler/rollout_policy.h"

#include <algorithm>
#include <optional>
#include <set>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/strip.h"
#include "common/compiler/compile_values.h"
#include "common/compiler/desired_state_model.h"
#include "common/resource_types.h"

namespace plumb {

bool RolloutPolicy::HasCatchAll() const {
  if (waves.empty()) return false;
  const RolloutWave& last = waves.back();
  switch (last.selector) {
    case RolloutWave::Selector::kPercent:
      return last.percent == 100;
    case RolloutWave::Selector::kNodes:
      for (const std::string& glob : last.node_globs) {
        if (glob == "*") return true;
      }
      return false;
    case RolloutWave::Selector::kLabels:
      return false;
  }
  return false;
}

v1::RolloutPolicy RolloutPolicyToProto(const RolloutPolicy& policy) {
  v1::RolloutPolicy out;
  for (const RolloutWave& wave : policy.waves) {
    v1::RolloutWave* w = out.add_waves();
    w->set_name(wave.name);
    for (const std::string& glob : wave.node_globs) w->add_nodes(glob);
    w->mutable_labels()->insert(wave.labels.begin(), wave.labels.end());
    w->set_percent(wave.percent);
    w->set_bake_ms(absl::ToInt64Milliseconds(wave.bake));
  }
  if (policy.max_failed.is_percent) {
    out.set_max_failed_percent(policy.max_failed.value);
  } else {
    out.set_max_failed_count(policy.max_failed.value);
  }
  out.set_health_exec(policy.health_exec);
  out.set_health_timeout_ms(absl::ToInt64Milliseconds(policy.health_timeout));
  out.set_offline(v1::RolloutPolicy::OFFLINE_SKIP);
  out.set_on_failure(policy.on_failure == RolloutPolicy::OnFailure::kRollback
                         ? v1::RolloutPolicy::ON_FAILURE_ROLLBACK
                         : v1::RolloutPolicy::ON_FAILURE_HALT);
  out.set_implicit_final_wave(!policy.HasCatchAll());
  return out;
}

namespace compile {

namespace {

// How a scalar appears in a message.
std::string Shown(const YamlNode& node) {
  if (!node.IsScalar()) return node.KindName();
  return node.quoted() ? Quote(node.scalar()) : node.scalar();
}

bool ReadPercent(const YamlNode& node, ValueReader* reader, uint32_t* out) {
  uint32_t value = 0;
  bool digits = node.IsScalar() && !node.quoted() && !node.scalar().empty() &&
                node.scalar().find_first_not_of("0123456789") == std::string::npos;
  if (!digits || !absl::SimpleAtoi(node.scalar(), &value) || value < 1 || value > 100) {
    reader->Error(node,
                  absl::StrCat("percent must be an integer from 1 to 100, got ", Shown(node)));
    return false;
  }
  *out = value;
  return true;
}

bool ReadWaveGlobs(const YamlNode& node, ValueReader* reader, RolloutWave* wave) {
  std::vector<const YamlNode*> globs;
  if (node.IsSequence()) {
    for (const YamlNode& item : node.items()) globs.push_back(&item);
  } else {
    globs.push_back(&node);
  }
  if (globs.empty()) {
    reader->Error(node, "nodes must list at least one glob, got an empty list");
    return false;
  }
  if (globs.size() > kMaxRolloutWaveGlobs) {
    reader->Error(node, absl::StrCat("nodes lists ", globs.size(), " globs, limit ",
                                     kMaxRolloutWaveGlobs));
    return false;
  }
  bool ok = true;
  for (const YamlNode* glob : globs) {
    if (!glob->IsScalar() || glob->scalar().empty()) {
      reader->Error(*glob, absl::StrCat("nodes must be a non-empty glob or a list of them, got ",
                                        glob->IsScalar() ? "an empty string" : glob->KindName()));
      ok = false;
      continue;
    }
    absl::Status valid = ValidateGlob(glob->scalar());
    if (!valid.ok()) {
      reader->Error(*glob, std::string(valid.message()));
      ok = false;
    }
    wave->node_globs.push_back(glob->scalar());
  }
  return ok;
}

bool ReadWaveLabels(const YamlNode& node, ValueReader* reader, RolloutWave* wave) {
  if (!reader->StringMap(node, "labels", &wave->labels)) return false;
  if (wave->labels.empty()) {
    reader->Error(node, "labels must name at least one label, got an empty map");
    return false;
  }
  if (wave->labels.size() > kMaxRolloutWaveLabels) {
    reader->Error(node, absl::StrCat("labels has ", wave->labels.size(), " entries, limit ",
                                     kMaxRolloutWaveLabels));
    return false;
  }
  return true;
}

// The wave's one selector. Returns false (after an error) when it has none, two, or a bad one.
bool ReadWaveSelector(const YamlNode& node, ValueReader* reader, RolloutWave* wave) {
  std::vector<std::string> given;
  for (const char* key : {"nodes", "labels", "percent"}) {
    if (node.Find(key) != nullptr) given.push_back(key);
  }
  if (given.size() != 1) {
    reader->Error(node, absl::StrCat("wave ", Quote(wave->name),
                                     " needs exactly one of nodes, labels or percent, got ",
                                     given.empty() ? "none" : absl::StrJoin(given, " and ")));
    return false;
  }
  if (const YamlNode* nodes = node.Find("nodes")) {
    wave->selector = RolloutWave::Selector::kNodes;
    return ReadWaveGlobs(*nodes, reader, wave);
  }
  if (const YamlNode* labels = node.Find("labels")) {
    wave->selector = RolloutWave::Selector::kLabels;
    return ReadWaveLabels(*labels, reader, wave);
  }
  wave->selector = RolloutWave::Selector::kPercent;
  return ReadPercent(*node.Find("percent"), reader, &wave->percent);
}

bool ReadWave(const YamlNode& node, size_t index, ValueReader* reader, RolloutWave* wave) {
  wave->location = reader->Loc(node);
  wave->name = absl::StrCat("wave ", index + 1);
  size_t before = reader->error_count();  // unknown keys count too
  if (!reader->CheckKeys(node, {"name", "nodes", "labels", "percent", "bake"}, "wave")) {
    return false;
  }
  if (const YamlNode* name = node.Find("name")) {
    if (reader->NonEmptyString(*name, "name", &wave->name) &&
        wave->name.size() > kMaxRolloutNameBytes) {
      reader->Error(*name, absl::StrCat("wave name is ", wave->name.size(), " bytes, limit ",
                                        kMaxRolloutNameBytes));
    }
  }
  ReadWaveSelector(node, reader, wave);
  if (const YamlNode* bake = node.Find("bake")) {
    std::string text;
    if (reader->Duration(*bake, "bake", &text)) wave->bake = *ParseDurationText(text);
  }
  return reader->error_count() == before;
}

// Waves in order; names unique; percent waves strictly increasing (an equal or smaller
// cumulative bound would be an empty wave, almost certainly a mistake).
bool ReadWaves(const YamlNode& node, ValueReader* reader, RolloutPolicy* policy) {
  if (!node.IsSequence() || node.items().empty()) {
    reader->Error(node, absl::StrCat("waves must be a non-empty list, got ",
                                     node.IsSequence() ? "an empty list" : node.KindName()));
    return false;
  }
  if (node.items().size() > kMaxRolloutWaves) {
    reader->Error(node, absl::StrCat("waves lists ", node.items().size(), " waves, limit ",
                                     kMaxRolloutWaves));
    return false;
  }
  bool ok = true;
  std::set<std::string> names;
  // An index, not a pointer: emplace_back may move the waves.
  std::optional<size_t> last_percent;
  for (size_t i = 0; i < node.items().size(); ++i) {
    const YamlNode& item = node.items()[i];
    RolloutWave& wave = policy->waves.emplace_back();
    if (!ReadWave(item, i, reader, &wave)) {
      ok = false;
      continue;
    }
    if (!names.insert(wave.name).second) {
      reader->Error(item, absl::StrCat("duplicate wave name ", Quote(wave.name)));
      ok = false;
    }
    if (wave.selector != RolloutWave::Selector::kPercent) continue;
    if (last_percent && wave.percent <= policy->waves[*last_percent].percent) {
      const RolloutWave& earlier = policy->waves[*last_percent];
      reader->Error(*item.Find("percent"),
                    absl::StrCat("percent ", wave.percent, " must be greater than ",
                                 earlier.percent, " of the earlier wave ", Quote(earlier.name),
                                 " (percent is cumulative: the share of the fleet done after "
                                 "this wave)"));
      ok = false;
    }
    last_percent = i;
  }
  return ok;
}

bool ReadMaxFailed(const YamlNode& node, ValueReader* reader, MaxFailed* out) {
  uint32_t value = 0;
  if (node.IsScalar() && !node.quoted() &&
      node.scalar().find_first_not_of("0123456789") == std::string::npos &&
      absl::SimpleAtoi(node.scalar(), &value)) {
    *out = MaxFailed{false, value};
    return true;
  }
  // Both arms string_view: `cond ? node.scalar() : ""` would make a temporary std::string
  // that dies at the end of the statement (ASan, compile_fuzzer).
  absl::string_view text = node.IsScalar() ? absl::string_view(node.scalar()) : absl::string_view();
  if (absl::ConsumeSuffix(&text, "%") && !text.empty() &&
      text.find_first_not_of("0123456789") == absl::string_view::npos &&
      absl::SimpleAtoi(text, &value) && value <= 100) {
    *out = MaxFailed{true, value};
    return true;
  }
  reader->Error(node, absl::StrCat("max_failed must be a count like 1 or a percentage from "
                                   "\"0%\" to \"100%\", got ",
                                   Shown(node)));
  return false;
}

bool ReadHealth(const YamlNode& node, ValueReader* reader, RolloutPolicy* policy) {
  size_t before = reader->error_count();
  if (!reader->CheckKeys(node, {"exec", "timeout"}, "health")) return false;
  const YamlNode* exec = node.Find("exec");
  if (exec == nullptr) {
    reader->Error(node, "health needs 'exec' (the command the agent runs after an apply)");
  } else if (reader->NonEmptyString(*exec, "exec", &policy->health_exec) &&
             policy->health_exec.size() > kMaxRolloutHealthExecBytes) {
    reader->Error(*exec, absl::StrCat("exec is ", policy->health_exec.size(), " bytes, limit ",
                                      kMaxRolloutHealthExecBytes));
  }
  if (const YamlNode* timeout = node.Find("timeout")) {
    std::string text;
    if (reader->Duration(*timeout, "timeout", &text)) {
      policy->health_timeout = *ParseDurationText(text);
      if (policy->health_timeout <= absl::ZeroDuration()) {
        reader->Error(*timeout, absl::StrCat("timeout must be more than 0, got ", Shown(*timeout)));
      }
    }
  }
  return reader->error_count() == before;
}

// offline and on_failure: one word out of a fixed set.
bool ReadWord(const YamlNode& node, absl::string_view key,
              std::initializer_list<absl::string_view> allowed, ValueReader* reader,
              std::string* out) {
  if (node.IsScalar() &&
      std::find(allowed.begin(), allowed.end(), node.scalar()) != allowed.end()) {
    *out = node.scalar();
    return true;
  }
  reader->Error(node, absl::StrCat(key, " must be ", absl::StrJoin(allowed, " or "), ", got ",
                                   Shown(node)));
  return false;
}

}  // namespace

bool ParseRolloutPolicy(const YamlNode& node, ValueReader* reader, RolloutPolicy* policy) {
  *policy = RolloutPolicy();
  policy->location = reader->Loc(node);
  size_t before = reader->error_count();
  if (!reader->CheckKeys(node, {"waves", "max_failed", "health", "offline", "on_failure"},
                         "rollout")) {
    return false;
  }
  const YamlNode* waves = node.Find("waves");
  if (waves == nullptr) {
    reader->Error(node, "rollout needs 'waves' (a list; without `rollout:` every node gets a "
                        "revision at once)");
  } else {
    ReadWaves(*waves, reader, policy);
  }
  if (const YamlNode* max_failed = node.Find("max_failed")) {
    ReadMaxFailed(*max_failed, reader, &policy->max_failed);
  }
  if (const YamlNode* health = node.Find("health")) ReadHealth(*health, reader, policy);
  std::string word;
  if (const YamlNode* offline = node.Find("offline")) {
    ReadWord(*offline, "offline", {"skip"}, reader, &word);
  }
  if (const YamlNode* on_failure = node.Find("on_failure")) {
    if (ReadWord(*on_failure, "on_failure", {"rollback", "halt"}, reader, &word)) {
      policy->on_failure = word == "rollback" ? RolloutPolicy::OnFailure::kRollback
                                              : RolloutPolicy::OnFailure::kHalt;
    }
  }
  return reader->error_count() == before;
}

}  // namespace compile
std::string RolloutPhaseName(v1::RolloutPhase phase) {
  switch (phase) {
    case v1::ROLLOUT_PROGRESSING: return "progressing";
    case v1::ROLLOUT_PAUSED: return "paused";
    case v1::ROLLOUT_HALTED: return "halted";
    case v1::ROLLOUT_ROLLED_BACK: return "rolled back";
    case v1::ROLLOUT_COMPLETED: return "completed";
    case v1::ROLLOUT_ABORTED: return "aborted";
    default: return "none";
  }
}

}  // namespace plumb
