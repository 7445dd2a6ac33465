#include "agent/masterless.h"

#include <algorithm>
#include <iostream>

#include "absl/strings/ascii.h"
#include "absl/strings/str_format.h"
#include "google/protobuf/util/json_util.h"

#include "absl/strings/str_cat.h"
#include "agent/engine/apply_engine.h"
#include "agent/host/command_runner.h"
#include "agent/facts.h"
#include "agent/host/filesystem.h"
#include "agent/masterless_cache.h"
#include "agent/state_files.h"
#include "common/compiler/compiler.h"
#include "common/compiler/directory_tree.h"
#include "common/logging.h"

namespace plumb {
namespace {

// Blobs straight from a compile result.
class CompiledBlobs : public BlobSource {
 public:
  explicit CompiledBlobs(const NodeCompileResult* result) : result_(result) {}
  absl::StatusOr<std::string> Get(const std::string& digest) override {
    auto it = result_->blobs.find(digest);
    if (it == result_->blobs.end()) return absl::NotFoundError(absl::StrCat("no blob ", digest));
    return *it->second;
  }
  // The compiler named each blob by the sha256 it computed of it.
  bool ContentVerified() const override { return true; }

 private:
  const NodeCompileResult* result_;
};

std::string CachePath(const AgentConfig& config) {
  return config.state_dir + "/masterless.cache";
}

// The node's compile from the cache, or compiled now (errors to stderr: nullopt); a fresh
// compile sets `reads` to what it read of the repository, for the cache.
std::optional<NodeCompileResult> CompileCached(const RepoTree& tree, const NodeInputs& node,
                                               const MasterlessCache& cache,
                                               std::optional<RepoReads>* reads) {
  std::optional<NodeCompileResult> cached = cache.Lookup(tree, node);
  if (cached.has_value()) return cached;
  RecordingTree recording(&tree);
  std::shared_ptr<const DesiredState> state = DesiredState::Parse(recording, "local");
  for (const CompileError& e : state->errors()) std::cerr << e.ToString() << "\n";
  if (!state->ok()) return std::nullopt;
  NodeCompileResult result = state->CompileNode(node);
  for (const CompileError& e : result.errors) std::cerr << e.ToString() << "\n";
  if (!result.ok()) return std::nullopt;
  *reads = recording.reads();
  return result;
}

}  // namespace

int ApplyCheckout(const std::string& repo_dir, const AgentConfig& config, bool json) {
  DirectoryTree tree(repo_dir);
  NodeInputs node{config.node, config.labels, GatherFacts("/etc/os-release", config.facts)};
  MasterlessCache cache(CachePath(config), ExecutableIdentity());
  std::optional<RepoReads> to_store;
  std::optional<NodeCompileResult> compiled = CompileCached(tree, node, cache, &to_store);
  if (!compiled.has_value()) return 2;
  const NodeCompileResult& result = *compiled;
  CompiledBlobs blobs(&result);
  std::unique_ptr<CommandRunner> runner = NewRealCommandRunner();
  SystemClock clock;
  std::unique_ptr<Filesystem> fs = NewRootedFilesystem(config.root);
  ApplyEngine engine(fs.get(), config.root, &blobs, runner.get(), &clock);
  RunOptions options;
  options.noop = config.noop;
  options.trigger = v1::REQUEST;
  v1::Report report = engine.Run(*result.catalog, options);
  report.set_node(config.node);
  int failed = 0, changed = 0;
  size_t width = 8;
  for (const v1::ResourceResult& r : report.results()) {
    if (r.outcome() == v1::FAILED) ++failed;
    if (r.outcome() == v1::CHANGED || r.outcome() == v1::WOULD_CHANGE) ++changed;
    width = std::max(width, r.id().size());
  }
  if (json) {
    google::protobuf::util::JsonPrintOptions options;
    options.add_whitespace = true;
    options.always_print_primitive_fields = true;
    options.preserve_proto_field_names = true;
    std::string out;
    (void)google::protobuf::util::MessageToJsonString(report, &out, options);
    std::cout << out << "\n";
  } else {
    std::cout << absl::StrFormat("%-*s  %-12s  %s\n", width, "RESOURCE", "OUTCOME", "MESSAGE");
    for (const v1::ResourceResult& r : report.results()) {
      std::cout << absl::StrFormat("%-*s  %-12s  %s\n", width, r.id(),
                                   absl::AsciiStrToLower(v1::ResourceOutcome_Name(r.outcome())),
                                   r.message());
    }
    std::cout << report.results_size() << " resources, " << changed
              << (config.noop ? " would change, " : " changed, ") << failed << " failed\n";
  }
  // Stored after the run, so that the report is out first; a failure only costs a compile.
  if (to_store.has_value() && MakeStateDirs(config.state_dir).ok()) {
    absl::Status stored = cache.Store(*to_store, node, result);
    if (!stored.ok()) Log(LogLevel::kDebug, "compile cache not written", {{"error", stored.ToString()}});
  }
  LogInfo("apply finished", {{"node", config.node}, {"resources", report.results_size()},
                             {"changed", changed}, {"failed", failed}, {"noop", config.noop},
                             {"compile", to_store.has_value() ? "compiled" : "cached"}});
  return failed > 0 ? 1 : 0;
}

}  // namespace plumb
