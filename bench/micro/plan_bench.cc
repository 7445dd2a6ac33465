// Plan micro-benchmark: `plumbctl plan --to REF` over a stored fleet (issue 15's speed targets:
// 10,000 nodes in 20 label groups, and with a per-node template, 10,000 groups). The work the
// server does for one Plan call, end to end below the RPC: fetch the ref from a real git
// repository (git CLI, file path), parse it, list the nodes from a real SQLite store, compile
// both sides per group, diff and group the changes. Wall-clock time on the calling thread.

#include <stdlib.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "bench/micro/bench_repo.h"
#include "benchmark/benchmark.h"
#include "common/clock.h"
#include "server/fleet/plan.h"
#include "server/git/git_source.h"
#include "server/store/sqlite/sqlite_store.h"

namespace plumb {
namespace bench {
namespace {

// A repository on disk (branch main = the serving revision, branch `change` = one line of the
// web module changed), a SQLite store holding `nodes` connected nodes, and a Planner over
// them. Removed on destruction. On failure `error` says why.
class PlanFixture {
 public:
  PlanFixture(int nodes, bool per_node_template) {
    const char* tmp = getenv("TMPDIR");
    dir_ = absl::StrFormat("%s/plumb-plan-bench-XXXXXX", tmp != nullptr ? tmp : "/tmp");
    if (mkdtemp(dir_.data()) == nullptr) {
      error = "mkdtemp failed";
      return;
    }
    error = Setup(nodes, per_node_template);
  }
  ~PlanFixture() {
    planner_.reset();
    store_.reset();
    git_.reset();
    std::error_code ignored;
    std::filesystem::remove_all(dir_, ignored);
  }
  Planner* planner() { return planner_.get(); }
  std::string error;

 private:
  std::string Setup(int nodes, bool per_node_template) {
    const std::string work = dir_ + "/work";
    BenchRepoOptions options;
    options.per_node_template = per_node_template;
    if (!WriteRepo(work, GenerateRepo(options))) return "cannot write the repository";
    if (!Git(work, "init -q -b main") || !Git(work, "add -A") ||
        !Git(work, "-c user.name=b -c user.email=b@b commit -q -m base")) {
      return "git init/commit failed (is git installed?)";
    }
    options.web_edition = 1;
    if (!Git(work, "checkout -q -b change") || !WriteRepo(work, GenerateRepo(options)) ||
        !Git(work, "add -A") || !Git(work, "-c user.name=b -c user.email=b@b commit -q -m web")) {
      return "git commit of the change failed";
    }
    auto git = GitSource::Open(work, "main", dir_ + "/mirror");
    if (!git.ok()) return std::string(git.status().message());
    git_ = std::move(*git);
    auto head = git_->FetchRef("main");
    if (!head.ok()) return std::string(head.status().message());
    auto store = SqliteStore::Open(dir_ + "/plumb.db", SqliteStore::Durability::kProcessCrash);
    if (!store.ok()) return std::string(store.status().message());
    store_ = std::move(*store);
    v1::Revision revision;
    revision.set_sha(head->sha);
    revision.set_status(v1::REVISION_OK);
    std::vector<v1::Node> rows;
    for (const NodeInputs& in : GenerateNodes(nodes)) {
      v1::Node& n = rows.emplace_back();
      n.set_name(in.name);
      n.set_connected(true);
      n.set_status(v1::NODE_CONVERGED);
      n.mutable_labels()->insert(in.labels.begin(), in.labels.end());
      n.mutable_facts()->insert(in.facts.begin(), in.facts.end());
    }
    for (absl::Status s : {store_->PutRevision(revision), store_->SetServingRevision(head->sha),
                           store_->PutNodes(rows)}) {
      if (!s.ok()) return std::string(s.message());
    }
    planner_ = std::make_unique<Planner>(git_.get(), store_.get(), &clock_, absl::ZeroDuration());
    return "";
  }

  static bool WriteRepo(const std::string& root, const std::map<std::string, std::string>& files) {
    for (const auto& [path, content] : files) {
      std::filesystem::path p = std::filesystem::path(root) / path;
      std::error_code ec;
      std::filesystem::create_directories(p.parent_path(), ec);
      std::ofstream out(p, std::ios::binary | std::ios::trunc);
      out << content;
      if (!out) return false;
    }
    return true;
  }
  static bool Git(const std::string& dir, const std::string& args) {
    return system(absl::StrCat("git -C '", dir, "' ", args, " >/dev/null 2>&1").c_str()) == 0;
  }

  std::string dir_;
  SystemClock clock_;
  std::unique_ptr<GitSource> git_;
  std::unique_ptr<SqliteStore> store_;
  std::unique_ptr<Planner> planner_;
};

// Args: nodes, per-node template (0: 20 label groups, 1: every node its own group).
void BM_PlanFleet(benchmark::State& state) {
  PlanFixture fixture(static_cast<int>(state.range(0)), state.range(1) != 0);
  if (!fixture.error.empty()) {
    state.SkipWithError(fixture.error.c_str());
    return;
  }
  v1::PlanRequest request;
  request.set_to("change");
  int64_t changed = 0;
  for (auto _ : state) {
    auto plan = fixture.planner()->Plan(request);
    if (!plan.ok() || plan->errors_size() > 0) {
      state.SkipWithError(plan.ok() ? plan->errors(0).message().c_str()
                                    : std::string(plan.status().message()).c_str());
      return;
    }
    changed = 0;
    for (const auto& group : plan->groups()) changed += group.nodes_size();
  }
  // Only role=web nodes run the web module: about a quarter of the fleet changes.
  state.counters["nodes_changed"] = static_cast<double>(changed);
  state.SetItemsProcessed(state.iterations() * state.range(0));
}
BENCHMARK(BM_PlanFleet)
    ->Args({10000, 0})
    ->Args({10000, 1})
    ->UseRealTime()
    ->Iterations(3)
    ->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace bench
}  // namespace plumb
