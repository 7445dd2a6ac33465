// plumbctl validate / render: compile a checkout locally, as a pre-commit hook or CI step would.

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "common/compiler/compiler.h"
#include "common/config_file.h"
#include "common/compiler/directory_tree.h"
#include "common/compiler/rollout_waves.h"
#include "common/secure_files.h"
#include "common/status_macros.h"
#include "common/yaml_document.h"
#include "ctl/commands.h"

namespace plumb {
namespace {

// The node named by --node/--label/--fact.
absl::StatusOr<NodeInputs> NodeFromFlags(const CommandLine& flags) {
  NodeInputs node;
  node.name = flags.Get("node");
  for (const char* kind : {"label", "fact"}) {
    for (const std::string& kv : flags.GetAll(kind)) {
      std::string k, v;
      absl::Status s = ParseKeyValue(kv, &k, &v);
      if (!s.ok()) return absl::InvalidArgumentError(absl::StrCat("--", kind, ": ", s.message()));
      (std::string(kind) == "label" ? node.labels : node.facts)[k] = v;
    }
  }
  return node;
}

// --nodes-from FILE: a YAML list of {name, labels: {}, facts: {}}.
absl::StatusOr<std::vector<NodeInputs>> NodesFromFile(const std::string& path) {
  absl::StatusOr<std::string> text = ReadSmallFile(path);
  if (!text.ok()) {
    return absl::NotFoundError(absl::StrCat(path, ": cannot read (", text.status().message(), ")"));
  }
  PLUMB_ASSIGN_OR_RETURN(YamlNode root, ParseYaml(*text, path));
  auto where = [&path](const YamlNode& n) {
    return absl::StrCat(path, ":", n.mark().line, ":", n.mark().column, ": ");
  };
  if (!root.IsSequence()) {
    return absl::InvalidArgumentError(
        absl::StrCat(where(root), "expected a list of nodes, got ", root.KindName()));
  }
  std::vector<NodeInputs> nodes;
  for (const YamlNode& n : root.items()) {
    if (!n.IsMap()) {
      return absl::InvalidArgumentError(
          absl::StrCat(where(n), "expected a node {name, labels, facts}, got ", n.KindName()));
    }
    NodeInputs node;
    const YamlNode* name = n.Find("name");
    if (name == nullptr || !name->IsScalar() || name->scalar().empty()) {
      return absl::InvalidArgumentError(absl::StrCat(where(n), "node has no name"));
    }
    node.name = name->scalar();
    for (const auto& [key, value] : n.entries()) {
      const std::string& k = key.scalar();
      if (k == "name") continue;
      if (k != "labels" && k != "facts") {
        return absl::InvalidArgumentError(
            absl::StrCat(where(key), "unknown key \"", k, "\" (name, labels, facts)"));
      }
      if (value.IsNull()) continue;
      if (!value.IsMap()) {
        return absl::InvalidArgumentError(
            absl::StrCat(where(value), k, " must be a map, got ", value.KindName()));
      }
      for (const auto& [vk, vv] : value.entries()) {
        if (!vv.IsScalar()) {
          return absl::InvalidArgumentError(
              absl::StrCat(where(vv), k, ".", vk.scalar(), " must be a single value"));
        }
        (k == "labels" ? node.labels : node.facts)[vk.scalar()] = vv.scalar();
      }
    }
    nodes.push_back(std::move(node));
  }
  return nodes;
}

// A YAML double-quoted scalar: printable UTF-8 as is, escapes for the rest.
std::string YamlQuote(const std::string& s) {
  std::string out = "\"";
  for (unsigned char c : s) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\t': out += "\\t"; break;
      case '\r': out += "\\r"; break;
      default:
        if (c < 0x20 || c == 0x7f) {
          out += absl::StrFormat("\\x%02x", c);
        } else {
          out += static_cast<char>(c);
        }
    }
  }
  return out + "\"";
}

void PrintValue(std::ostream& out, const v1::Value& v) {
  switch (v.kind_case()) {
    case v1::Value::kStr: out << YamlQuote(v.str()); break;
    case v1::Value::kList: {
      std::vector<std::string> items;
      for (const auto& i : v.list().items()) items.push_back(YamlQuote(i));
      out << "[" << absl::StrJoin(items, ", ") << "]";
      break;
    }
    case v1::Value::kMap: {
      std::map<std::string, std::string> m(v.map().entries().begin(), v.map().entries().end());
      std::vector<std::string> items;
      for (const auto& [k, val] : m) items.push_back(absl::StrCat(k, ": ", YamlQuote(val)));
      out << "{" << absl::StrJoin(items, ", ") << "}";
      break;
    }
    default: out << "null";
  }
}

void PrintCatalogYaml(std::ostream& out, const NodeCompileResult& result) {
  const v1::Catalog& c = *result.catalog;
  out << "revision: " << c.revision() << "\ndigest: " << c.digest() << "\nresources:\n";
  auto list = [&](const char* name, const auto& ids) {
    if (ids.empty()) return;
    std::vector<std::string> q;
    for (const auto& id : ids) q.push_back(YamlQuote(id));
    out << "    " << name << ": [" << absl::StrJoin(q, ", ") << "]\n";
  };
  for (const v1::Resource& r : c.resources()) {
    out << "  - id: " << YamlQuote(r.id()) << "\n    version: " << r.version().substr(0, 16) << "\n";
    std::map<std::string, v1::Value> attrs(r.attributes().begin(), r.attributes().end());
    for (const auto& [k, v] : attrs) {
      out << "    " << k << ": ";
      PrintValue(out, v);
      out << "\n";
    }
    list("require", r.require());
    list("before", r.before());
    list("notify", r.notify());
    list("subscribe", r.subscribe());
    if (!r.content_digest().empty()) {
      auto it = result.blobs.find(r.content_digest());
      if (r.sensitive()) {
        out << "    content: (sensitive, " << r.content_size() << " bytes)\n";
      } else if (it != result.blobs.end()) {
        out << "    content: " << YamlQuote(*it->second) << "\n";
      }
    }
  }
}

// The rollout policy's shape, and with nodes given, which of them each wave holds.
void PrintRolloutPlan(std::ostream& out, const RolloutPolicy& policy,
                      const std::vector<NodeInputs>& nodes) {
  const MaxFailed& mf = policy.max_failed;
  out << "rollout (docs/rollouts.md): " << policy.waves.size()
      << " wave(s), max_failed " << mf.value << (mf.is_percent ? "%" : "") << ", on_failure "
      << (policy.on_failure == RolloutPolicy::OnFailure::kRollback ? "rollback" : "halt");
  if (!policy.health_exec.empty()) {
    out << ", health " << policy.health_exec << " (" << absl::FormatDuration(policy.health_timeout)
        << ")";
  }
  out << "\n";
  std::vector<RolloutNode> members;
  for (const NodeInputs& node : nodes) members.push_back(RolloutNode{node.name, node.labels});
  std::vector<WaveAssignment> plan = AssignWaves(policy, members);
  for (size_t i = 0; i < plan.size(); ++i) {
    out << "  " << i + 1 << ". " << plan[i].name << ": ";
    if (i == policy.waves.size()) {
      out << "every node no wave takes";
    } else {
      const RolloutWave& wave = policy.waves[i];
      std::vector<std::string> labels;
      for (const auto& [k, v] : wave.labels) labels.push_back(absl::StrCat(k, "=", v));
      if (wave.selector == RolloutWave::Selector::kNodes) {
        out << "nodes " << absl::StrJoin(wave.node_globs, ",");
      } else if (wave.selector == RolloutWave::Selector::kLabels) {
        out << "labels " << absl::StrJoin(labels, ",");
      } else {
        out << "percent " << wave.percent;
      }
      if (wave.bake > absl::ZeroDuration()) out << ", bake " << absl::FormatDuration(wave.bake);
    }
    if (!nodes.empty()) {
      out << " -> " << plan[i].nodes.size() << " node(s)";
      if (!plan[i].nodes.empty()) out << ": " << absl::StrJoin(plan[i].nodes, ", ");
    }
    out << "\n";
  }
}

}  // namespace

int CmdValidate(const CtlInvocation& inv) {
  if (inv.args.size() > 1) {
    *inv.err << "plumbctl: usage: plumbctl validate [DIR] [--node N ...] [--nodes-from FILE]\n";
    return 2;
  }
  std::string dir = inv.args.empty() ? "." : inv.args[0];
  std::vector<NodeInputs> nodes;
  if (inv.flags->Has("nodes-from")) {
    auto from_file = NodesFromFile(inv.flags->Get("nodes-from"));
    if (!from_file.ok()) {
      *inv.err << "plumbctl: " << from_file.status().message() << "\n";
      return 2;
    }
    nodes = std::move(*from_file);
  }
  if (inv.flags->Has("node")) {
    auto node = NodeFromFlags(*inv.flags);
    if (!node.ok()) {
      *inv.err << "plumbctl: " << node.status().message() << "\n";
      return 2;
    }
    nodes.push_back(std::move(*node));
  }
  DirectoryTree tree(dir);
  std::shared_ptr<const DesiredState> state = DesiredState::Parse(tree, "local");
  std::vector<CompileError> errors = state->errors();
  if (state->ok()) {
    for (const NodeInputs& node : nodes) {
      for (CompileError e : state->CompileNode(node).errors) {
        e.message = absl::StrCat(e.message, " (node ", node.name, ")");
        errors.push_back(std::move(e));
      }
    }
  }
  for (const CompileError& e : errors) *inv.err << e.ToString() << "\n";
  if (!errors.empty()) {
    *inv.err << errors.size() << " error(s)\n";
    return 1;
  }
  *inv.out << "ok: " << dir << " compiles" << (nodes.empty() ? "" : absl::StrCat(" for ", nodes.size(), " node(s)")) << "\n";
  if (state->rollout() != nullptr) PrintRolloutPlan(*inv.out, *state->rollout(), nodes);
  return 0;
}

int CmdRender(const CtlInvocation& inv) {
  if (inv.args.size() != 1 || !inv.flags->Has("node")) {
    *inv.err << "plumbctl: usage: plumbctl render DIR --node N [--label k=v] [--fact k=v]\n";
    return 2;
  }
  auto node = NodeFromFlags(*inv.flags);
  if (!node.ok()) {
    *inv.err << "plumbctl: " << node.status().message() << "\n";
    return 2;
  }
  DirectoryTree tree(inv.args[0]);
  std::shared_ptr<const DesiredState> state = DesiredState::Parse(tree, "local");
  NodeCompileResult result;
  if (state->ok()) result = state->CompileNode(*node);
  std::vector<CompileError> errors = state->ok() ? result.errors : state->errors();
  if (!errors.empty() || !result.ok()) {
    for (const CompileError& e : errors) *inv.err << e.ToString() << "\n";
    return 1;
  }
  if (inv.format == OutputFormat::kJson) {
    *inv.out << ToJson(*result.catalog) << "\n";
  } else {
    PrintCatalogYaml(*inv.out, result);
  }
  return 0;
}

}  // namespace plumb
