#include "server/git/revision_lines.h"

#include "absl/strings/str_cat.h"
#include "common/logging.h"
#include "common/status_macros.h"

namespace plumb {
namespace {

// A directory name for `branch`: letters, digits, '.', '_', '-' kept, others %XX.
std::string MirrorName(const std::string& branch) {
  std::string out = "mirror-";
  for (unsigned char c : branch) {
    bool plain = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                 c == '.' || c == '_' || c == '-';
    if (plain) {
      out.push_back(static_cast<char>(c));
    } else {
      absl::StrAppend(&out, "%", absl::Hex(c, absl::kZeroPad2));
    }
  }
  return out + ".git";
}

}  // namespace

absl::StatusOr<std::unique_ptr<RevisionLines>> RevisionLines::Open(
    const Environments& envs, const RevisionLineSettings& settings, GitSource* single_git,
    Store* store, Clock* clock, EventBus* events, ServerMetrics* metrics, Leadership* leadership,
    std::function<void()> on_served) {
  std::unique_ptr<RevisionLines> lines(new RevisionLines(envs));
  for (size_t i = 0; i < lines->envs_.all().size(); ++i) {
    const Environment& env = lines->envs_.all()[i];
    auto line = std::make_unique<RevisionLine>();
    line->env = env;
    line->git = single_git;
    if (lines->envs_.configured()) {
      PLUMB_ASSIGN_OR_RETURN(
          line->own_git, GitSource::Open(settings.repo_url, env.branch,
                                         settings.state_dir + "/" + MirrorName(env.branch),
                                         settings.repo_timeout));
      line->git = line->own_git.get();
    }
    line->builder = std::make_unique<CatalogBuilder>();
    GitSource* git = line->git;
    line->live = std::make_unique<LiveRevisions>(
        line->builder.get(),
        [git](const std::string& sha) -> absl::StatusOr<std::shared_ptr<const DesiredState>> {
          PLUMB_ASSIGN_OR_RETURN(std::unique_ptr<RepoTree> tree, git->TreeAt(sha));
          return std::shared_ptr<const DesiredState>(DesiredState::Parse(*tree, sha));
        });
    Store* rollout_store = store;
    if (!env.name.empty()) {
      line->rollout_store = std::make_unique<EnvironmentStore>(store, env.name);
      rollout_store = line->rollout_store.get();
    }
    line->rollout = std::make_unique<RolloutController>(rollout_store, clock, events);
    if (leadership != nullptr && dynamic_cast<AlwaysLeader*>(leadership) == nullptr) {
      // Replicas: one leader judges the rollout (docs/postgresql.md, "Replicas").
      line->rollout->SetReplicated([leadership] { return leadership->IsLeader(); },
                                   lines->envs_.configured() ? env.branch : "");
    }
    line->poller = std::make_unique<RevisionPoller>(line->git, store, line->builder.get(), clock,
                                                    settings.poll, on_served, events, metrics);
    line->poller->set_environment(&lines->envs_, static_cast<int>(i));
    line->poller->set_stale_after(settings.stale_after);
    line->poller->set_leadership(leadership);
    line->poller->EnableRollouts(line->rollout.get(), line->live.get());
    lines->lines_.push_back(std::move(line));
  }
  return lines;
}

RevisionLines::~RevisionLines() { Stop(); }

RevisionLine* RevisionLines::Find(const std::string& name) {
  int i = envs_.Find(name);
  return i < 0 ? nullptr : lines_[i].get();
}

RevisionLine& RevisionLines::default_line() {
  for (auto& line : lines_) {
    if (line->env.labels.empty()) return *line;
  }
  return *lines_.back();
}

void RevisionLines::Restore() {
  for (auto& line : lines_) {
    absl::Status restored = line->poller->Restore();
    if (!restored.ok()) {
      LogWarning("cannot restore serving revision",
                 {{"branch", line->env.branch}, {"error", restored.message()}});
    }
  }
}

void RevisionLines::Start() {
  for (auto& line : lines_) line->poller->Start();
}

void RevisionLines::Stop() {
  for (auto& line : lines_) line->poller->Stop();
}

void RevisionLines::RequestSync() {
  for (auto& line : lines_) line->poller->RequestSync();
}

bool RevisionLines::RequestSync(const std::string& branch) {
  bool found = false;
  for (auto& line : lines_) {
    if (line->env.branch != branch) continue;
    line->poller->RequestSync();
    found = true;
  }
  return found;
}

absl::StatusOr<v1::Revision> RevisionLines::SyncNow() {
  RevisionLine* main = &default_line();
  absl::StatusOr<v1::Revision> result = absl::UnknownError("no line");
  for (auto& line : lines_) {
    absl::StatusOr<v1::Revision> rev = line->poller->SyncNow();
    if (line.get() == main) result = std::move(rev);
  }
  return result;
}

absl::Status RevisionLines::FetchStatus() const {
  for (const auto& line : lines_) {
    if (line->poller->last_fetch_ok()) continue;
    std::string error = line->poller->last_fetch_error();
    if (envs_.configured()) error = absl::StrCat("branch ", line->env.branch, ": ", error);
    return absl::UnavailableError(error);
  }
  return absl::OkStatus();
}

absl::StatusOr<std::shared_ptr<const std::string>> RevisionLines::Blob(
    const std::string& digest) const {
  absl::StatusOr<std::shared_ptr<const std::string>> blob = absl::NotFoundError("no line");
  for (const auto& line : lines_) {
    blob = line->live->Blob(digest);
    if (blob.ok()) return blob;
  }
  return blob;
}

std::vector<ServingLine> RevisionLines::ServingLines() const {
  std::vector<ServingLine> out;
  for (const auto& line : lines_) {
    out.push_back({line->env.name, line->builder.get(), line->rollout.get(), line->live.get()});
  }
  return out;
}

LineMatcher RevisionLines::Matcher() const {
  if (!envs_.configured()) return nullptr;
  const Environments* envs = &envs_;
  return [envs](const std::map<std::string, std::string>& labels) { return envs->Match(labels); };
}

}  // namespace plumb
