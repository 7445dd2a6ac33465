#include "server/fleet/rollout_forwarding.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "common/logging.h"

namespace plumb {
namespace {

constexpr char kAsk[] = "rollout_ask";
constexpr char kAnswer[] = "rollout_answer";

absl::Status TooLong(const std::string& field, size_t bytes, size_t limit) {
  return absl::InvalidArgumentError(
      absl::StrCat(field, ": ", bytes, " bytes, limit ", limit));
}

// The highest grpc::StatusCode (UNAUTHENTICATED).
constexpr int32_t kMaxStatusCode = 16;

}  // namespace

absl::Status CheckForwardedAction(const v1::ForwardedRolloutAction& action) {
  std::string environment;
  switch (action.action_case()) {
    case v1::ForwardedRolloutAction::kControl: {
      const v1::ControlRolloutRequest& c = action.control();
      if (c.action() < v1::ControlRolloutRequest::PAUSE ||
          c.action() > v1::ControlRolloutRequest::PROMOTE) {
        return absl::InvalidArgumentError("action must be pause, resume, abort or promote");
      }
      if (c.wave() < 0 || c.wave() > kMaxForwardedWave) {
        return absl::InvalidArgumentError(
            absl::StrCat("wave ", c.wave(), " is out of range (0 to ", kMaxForwardedWave, ")"));
      }
      environment = c.environment();
      break;
    }
    case v1::ForwardedRolloutAction::kRollback:
      if (action.rollback().to().size() > kMaxForwardedRevisionBytes) {
        return TooLong("rollback.to", action.rollback().to().size(), kMaxForwardedRevisionBytes);
      }
      environment = action.rollback().environment();
      break;
    default:
      return absl::InvalidArgumentError("no rollout action");
  }
  if (environment.size() > kMaxForwardedEnvironmentBytes) {
    return TooLong("environment", environment.size(), kMaxForwardedEnvironmentBytes);
  }
  return absl::OkStatus();
}

RolloutForwarding::RolloutForwarding(ReplicaLink* link, Clock* clock)
    : link_(link), clock_(clock), worker_(std::make_unique<WorkQueue>()) {}

RolloutForwarding::~RolloutForwarding() { Stop(); }

void RolloutForwarding::SetLeader(Leads leads, Execute execute) {
  absl::MutexLock lock(&mu_);
  leads_ = std::move(leads);
  execute_ = std::move(execute);
}

absl::StatusOr<v1::ForwardedRolloutAnswer> RolloutForwarding::Ask(
    v1::ForwardedRolloutAction action, absl::Duration timeout) {
  if (absl::Status ok = CheckForwardedAction(action); !ok.ok()) return ok;
  if (link_->OtherLiveReplicas() == 0) {
    return absl::UnavailableError(
        "this replica does not lead the rollout and no other replica is alive to lead it: try "
        "again in a few seconds (a replica takes the lead within seconds)");
  }
  action.set_deadline_unix_ms(absl::ToUnixMillis(clock_->Now() + timeout));
  Pending pending;
  std::string id;
  {
    absl::MutexLock lock(&mu_);
    if (stopping_) return absl::UnavailableError("the server is stopping");
    id = absl::StrCat(link_->id(), "/", ++next_id_);
    pending_[id] = &pending;
  }
  link_->Send(kAsk, id, action.SerializeAsString());
  absl::MutexLock lock(&mu_);
  auto answered = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return pending.done || stopping_; };
  clock_->AwaitWithTimeout(&mu_, absl::Condition(&answered), timeout);
  pending_.erase(id);
  if (pending.done) return std::move(pending.answer);
  if (stopping_) return absl::UnavailableError("the server is stopping");
  return absl::UnavailableError(absl::StrCat(
      "this replica does not lead the rollout and no leader replica answered within ",
      absl::FormatDuration(timeout),
      " (the action may still take effect: check plumbctl rollout status)"));
}

bool RolloutForwarding::OnMessage(const ReplicaMessage& m) {
  if (m.kind == kAsk) {
    OnAsk(m);
  } else if (m.kind == kAnswer) {
    OnAnswer(m);
  } else {
    return false;
  }
  return true;
}

void RolloutForwarding::OnAsk(const ReplicaMessage& m) {
  v1::ForwardedRolloutAction action;
  absl::Status ok;
  if (m.ref.empty() || m.ref.size() > kMaxForwardedRefBytes) {
    ok = absl::InvalidArgumentError(absl::StrCat("request id of ", m.ref.size(), " bytes"));
  } else if (m.payload.size() > kMaxForwardedMessageBytes) {
    ok = TooLong("payload", m.payload.size(), kMaxForwardedMessageBytes);
  } else if (!action.ParseFromString(m.payload)) {
    ok = absl::InvalidArgumentError("payload is not a ForwardedRolloutAction");
  } else {
    ok = CheckForwardedAction(action);
  }
  if (!ok.ok()) {
    LogWarning("dropped a malformed forwarded rollout action",
               {{"from", m.origin}, {"error", ok.message()}});
    return;
  }
  std::string environment = action.has_control() ? action.control().environment()
                                                  : action.rollback().environment();
  Leads leads;
  {
    absl::MutexLock lock(&mu_);
    leads = leads_;
  }
  // Every replica reads the request; only the one leading the rollout answers it.
  if (!leads || !leads(environment)) return;
  if (absl::FromUnixMillis(action.deadline_unix_ms()) < clock_->Now()) {
    LogWarning("dropped a forwarded rollout action that arrived after its asker gave up",
               {{"from", m.origin}, {"ref", m.ref}});
    return;
  }
  std::string ref = m.ref;
  absl::MutexLock lock(&mu_);
  if (stopping_) return;
  worker_->Post([this, ref, action] { Answer(ref, action); });
}

void RolloutForwarding::Answer(const std::string& ref, const v1::ForwardedRolloutAction& action) {
  Execute execute;
  {
    absl::MutexLock lock(&mu_);
    execute = execute_;
  }
  // Behind a slow action (a rollback loading its revision) the asker may have given up: an
  // action it reported as not answered must not take effect later.
  if (absl::FromUnixMillis(action.deadline_unix_ms()) < clock_->Now()) {
    LogWarning("dropped a forwarded rollout action whose asker gave up meanwhile", {{"ref", ref}});
    return;
  }
  v1::ForwardedRolloutAnswer answer = execute(action);
  LogInfo("rollout action forwarded by another replica executed",
          {{"ref", ref}, {"code", answer.code()}, {"error", answer.message()}});
  if (answer.message().size() > kMaxForwardedErrorBytes) {
    answer.mutable_message()->resize(kMaxForwardedErrorBytes);
  }
  link_->Send(kAnswer, ref, answer.SerializeAsString());
}

void RolloutForwarding::OnAnswer(const ReplicaMessage& m) {
  absl::MutexLock lock(&mu_);
  auto it = pending_.find(m.ref);
  if (it == pending_.end()) return;  // another replica's request, or one given up on
  Pending* pending = it->second;
  if (pending->done) return;  // a second answer (two replicas led for a moment): the first won
  v1::ForwardedRolloutAnswer answer;
  if (m.payload.size() > kMaxForwardedAnswerBytes || !answer.ParseFromString(m.payload) ||
      answer.code() < 0 || answer.code() > kMaxStatusCode ||
      answer.message().size() > kMaxForwardedErrorBytes) {
    LogWarning("a malformed answer to a forwarded rollout action",
               {{"from", m.origin}, {"ref", m.ref}, {"bytes", m.payload.size()}});
    pending->answer = absl::InternalError("the leader replica's answer could not be read");
  } else {
    pending->answer = std::move(answer);
  }
  pending->done = true;
}

void RolloutForwarding::Stop() {
  std::unique_ptr<WorkQueue> worker;
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
    worker = std::move(worker_);
  }
  worker.reset();  // runs what was queued (outside mu_: Answer takes it)
}

}  // namespace plumb
