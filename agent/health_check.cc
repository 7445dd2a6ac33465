#include "agent/health_check.h"

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "agent/state_files.h"
#include "common/logging.h"
#include "common/wire_limits.h"
#include "plumb/v1/agent.pb.h"

namespace plumb {

v1::HealthCheckResult RunHealthCheck(CommandRunner* runner, const v1::HealthCheck& check) {
  v1::HealthCheckResult result;
  Command command;
  command.argv = ShellArgv(check.exec());
  if (check.timeout_ms() > 0) command.timeout = absl::Milliseconds(check.timeout_ms());
  command.max_output = wire::kMaxHealthOutputBytes;
  absl::Time start = absl::Now();
  absl::StatusOr<CommandResult> ran = runner->Run(command);
  result.set_duration_us(absl::ToInt64Microseconds(absl::Now() - start));
  if (!ran.ok()) {
    result.set_exit_status(-1);
    result.set_output(OutputTail(absl::StrCat("cannot run the health check: ",
                                              ran.status().message()),
                                 wire::kMaxHealthOutputBytes - 16));
    return result;
  }
  result.set_exit_status(ran->timed_out ? -1 : ran->exit_code);
  result.set_timed_out(ran->timed_out);
  std::string output = ran->stdout_text;
  if (!ran->stderr_text.empty()) {
    if (!output.empty() && output.back() != '\n') output += "\n";
    output += ran->stderr_text;
  }
  result.set_output(OutputTail(output, wire::kMaxHealthOutputBytes - 16));
  return result;
}

namespace {

std::string HealthCheckPath(const std::string& state_dir) {
  return state_dir + "/health_check.pb";
}

}  // namespace

absl::Status SaveHealthCheck(const std::string& state_dir, const std::string& catalog_digest,
                             const v1::HealthCheck& check) {
  v1::CatalogUpdate saved;
  saved.set_catalog_digest(catalog_digest);
  if (!check.exec().empty()) *saved.mutable_health() = check;
  return WriteStateFile(HealthCheckPath(state_dir), saved.SerializeAsString());
}

v1::HealthCheck LoadHealthCheck(const std::string& state_dir, const std::string& catalog_digest) {
  absl::StatusOr<std::string> bytes = ReadStateFile(HealthCheckPath(state_dir));
  if (!bytes.ok()) return v1::HealthCheck();
  v1::CatalogUpdate saved;
  if (!saved.ParseFromString(*bytes)) {
    LogWarning("saved health check is unreadable; none runs until the server sends one",
               {{"dir", state_dir}});
    return v1::HealthCheck();
  }
  if (catalog_digest.empty() || saved.catalog_digest() != catalog_digest) return v1::HealthCheck();
  return saved.health();
}

}  // namespace plumb
