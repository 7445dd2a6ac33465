#pragma once

// Keeps an enrolled agent's certificate fresh: once 2/3 of its lifetime has passed, asks
// AgentService.Renew (authenticated by the current certificate) for a new one for the same
// key and replaces state_dir/tls/agent.pem atomically. New connections use it; the agent
// reconnects with fresh credentials each time its stream breaks.

#include <memory>
#include <string>
#include <thread>

#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "agent/agent_config.h"
#include "common/clock.h"

namespace plumb {

// Thread-safe: Start() and Stop() from the owner's thread; the loop runs on its own thread.
class CertRenewer {
 public:
  // `clock` is not owned and must outlive the renewer.
  CertRenewer(AgentConfig config, Clock* clock) : config_(std::move(config)), clock_(clock) {}
  ~CertRenewer() { Stop(); }

  void Start();
  void Stop();

  // When the certificate in `cert_pem` is due: not_before + 2/3 of its lifetime.
  static absl::StatusOr<absl::Time> RenewalTime(const std::string& cert_pem);
  // One renewal now: Renew RPC, checks, atomic replace. Returns the new not_after.
  absl::StatusOr<absl::Time> RenewNow();
  // For `--once` (cron-style agents have no renewal thread): renews if the enrolled
  // certificate is due. OK when nothing was due or renewal is not ours to do.
  absl::Status RenewIfDue();

 private:
  void Loop();
  // Waits up to `d`; false if stopping.
  bool Wait(absl::Duration d);

  const AgentConfig config_;
  Clock* const clock_;
  absl::Mutex mu_;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::thread thread_;
};

}  // namespace plumb
