#include "bench/loadgen/simulated_agent.h"

#include <set>

#include "absl/random/random.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace plumb {
namespace bench {

SimulatedAgent::SimulatedAgent(SimulatedAgentSpec spec, v1::AgentService::Stub* stub,
                               Scheduler* scheduler, FleetRecorder* recorder)
    : spec_(std::move(spec)), stub_(stub), scheduler_(scheduler), recorder_(recorder) {}

void SimulatedAgent::Start() {
  recorder_->Started(spec_.index, absl::Now());
  stub_->async()->Sync(&context_, this);
  AddHold();  // released by Stop(): delayed Reports may still be written until then
  v1::AgentMessage hello;
  v1::Hello* h = hello.mutable_hello();
  h->set_node(spec_.node);
  h->mutable_labels()->insert(spec_.labels.begin(), spec_.labels.end());
  h->mutable_facts()->insert(spec_.facts.begin(), spec_.facts.end());
  h->set_agent_version("loadgen");
  Send(std::move(hello));
  StartRead(&in_);
  StartCall();
}

void SimulatedAgent::Stop() {
  {
    absl::MutexLock lock(&mu_);
    stopped_ = true;  // Pump starts no write from now on
  }
  context_.TryCancel();
  {
    // A write Pump decided on may not have been started yet; OnDone must not come first.
    absl::MutexLock lock(&mu_);
    auto idle = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return !writing_; };
    mu_.Await(absl::Condition(&idle));
  }
  RemoveHold();
}

void SimulatedAgent::WaitDone() {
  absl::MutexLock lock(&mu_);
  mu_.Await(absl::Condition(&done_));
}

void SimulatedAgent::OnReadDone(bool ok) {
  if (!ok) {
    bool expected;
    {
      absl::MutexLock lock(&mu_);
      expected = stopped_;
      broken_ = true;
    }
    if (!expected) recorder_->Broken(spec_.index, "the server ended the stream");
    return;
  }
  switch (in_.kind_case()) {
    case v1::ServerMessage::kUpdate:
      HandleUpdate(in_.update());
      break;
    case v1::ServerMessage::kReportAck: {
      std::string revision;
      {
        absl::MutexLock lock(&mu_);
        auto it = pending_reports_.find(in_.report_ack().report_id());
        if (it == pending_reports_.end()) break;
        revision = it->second;
        pending_reports_.erase(it);
      }
      recorder_->ReportAcked(spec_.index, revision, absl::Now());
      break;
    }
    case v1::ServerMessage::kRun: {
      v1::CatalogUpdate none;  // a requested run changes nothing: every result is unchanged
      ScheduleReport(none, v1::REQUEST, in_.run().request_id());
      break;
    }
    default:
      break;  // heartbeats need no answer
  }
  StartRead(&in_);
}

void SimulatedAgent::HandleUpdate(const v1::CatalogUpdate& update) {
  absl::Time now = absl::Now();
  order_.assign(update.order().begin(), update.order().end());  // every id, full or delta
  revision_ = update.revision();
  digest_ = update.catalog_digest();
  recorder_->CatalogReceived(spec_.index, update.revision(), now);
  v1::AgentMessage ack;
  ack.mutable_ack()->set_nonce(update.nonce());
  Send(std::move(ack));
  ScheduleReport(update, v1::CATALOG, "");
}

void SimulatedAgent::ScheduleReport(const v1::CatalogUpdate& update, v1::RunTrigger trigger,
                                    const std::string& request_id) {
  absl::Time now = absl::Now();
  v1::AgentMessage msg;
  v1::Report* report = msg.mutable_report();
  absl::BitGen gen;
  report->set_id(absl::StrFormat("%s-%d-%016x", spec_.node, next_run_++,
                                 absl::Uniform<uint64_t>(gen)));
  report->set_node(spec_.node);
  report->set_revision(revision_);
  report->set_catalog_digest(digest_);
  report->set_trigger(trigger);
  report->set_request_id(request_id);
  report->set_started_unix_ms(absl::ToUnixMillis(now));
  report->set_duration_us(absl::ToInt64Microseconds(spec_.apply_delay));
  std::set<std::string> changed;
  for (const v1::Resource& r : update.upserted()) changed.insert(r.id());
  for (const std::string& id : order_) {
    v1::ResourceResult* result = report->add_results();
    result->set_id(id);
    bool was_changed = changed.count(id) > 0;
    result->set_outcome(was_changed ? v1::CHANGED : v1::UNCHANGED);
    if (was_changed) result->set_message("updated by the load generator");
    result->set_duration_us(50);
  }
  {
    absl::MutexLock lock(&mu_);
    pending_reports_[report->id()] = revision_;
  }
  scheduler_->RunAt(now + spec_.apply_delay,
                    [this, m = std::move(msg)]() mutable { Send(std::move(m)); });
}

void SimulatedAgent::Send(v1::AgentMessage msg) {
  {
    absl::MutexLock lock(&mu_);
    if (stopped_ || broken_) return;
    outbox_.push_back(std::move(msg));
  }
  Pump();
}

void SimulatedAgent::OnWriteDone(bool ok) {
  {
    absl::MutexLock lock(&mu_);
    writing_ = false;
    if (!outbox_.empty()) outbox_.pop_front();
    if (!ok) {
      broken_ = true;
      outbox_.clear();
    }
  }
  Pump();
}

void SimulatedAgent::Pump() {
  // Decide under the lock, write outside it: a reaction may run inline from StartWrite.
  const v1::AgentMessage* next = nullptr;
  {
    absl::MutexLock lock(&mu_);
    if (writing_ || outbox_.empty() || stopped_ || broken_) return;
    writing_ = true;
    next = &outbox_.front();  // deque keeps element addresses stable on push_back
  }
  StartWrite(next);
}

void SimulatedAgent::OnDone(const grpc::Status& status) {
  absl::MutexLock lock(&mu_);
  if (!stopped_ && !status.ok()) {
    recorder_->Broken(spec_.index, absl::StrCat("stream finished: ", status.error_message()));
  }
  done_ = true;
}

}  // namespace bench
}  // namespace plumb
