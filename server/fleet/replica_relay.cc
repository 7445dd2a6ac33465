#include "server/fleet/replica_relay.h"

#include "common/logging.h"
#include "plumb/v1/fleet.pb.h"

namespace plumb {
namespace {

constexpr char kRun[] = "run";
constexpr char kRunAsked[] = "run_asked";
constexpr char kRunReport[] = "run_report";
constexpr char kEvent[] = "event";

}  // namespace

ReplicaRelay::ReplicaRelay(ReplicaLink* link, StreamHub* hub, RunTracker* runs, EventBus* events)
    : link_(link), hub_(hub), runs_(runs), events_(events) {}

void ReplicaRelay::Start() {
  runs_->set_forward([this](const std::string& request_id, const v1::ReportSummary& summary) {
    link_->Send(kRunReport, request_id, summary.SerializeAsString());
  });
  events_->set_relay([this](const v1::Event& event) { OnLocalEvent(event); });
  link_->Start([this](const ReplicaMessage& m) { OnMessage(m); });
}

void ReplicaRelay::AskOthers(const std::string& request_id,
                             const std::map<std::string, std::string>& selector,
                             const std::vector<std::string>& nodes, bool noop) {
  int others = link_->OtherLiveReplicas();
  if (others == 0) return;
  v1::RunNodesRequest req;
  for (const auto& [k, v] : selector) (*req.mutable_selector())[k] = v;
  for (const std::string& n : nodes) req.add_nodes(n);
  req.set_noop(noop);
  runs_->ExpectAnswers(request_id, others);
  link_->Send(kRun, request_id, req.SerializeAsString());
}

void ReplicaRelay::OnLocalEvent(const v1::Event& event) {
  // The hub publishes these exactly when a stream is taken up and let go.
  if (event.kind() == v1::EVENT_NODE_CONNECTED) link_->SetHolding(event.node(), true);
  if (event.kind() == v1::EVENT_NODE_DISCONNECTED) link_->SetHolding(event.node(), false);
  v1::Event copy = event;
  copy.clear_seq();  // numbered by each bus
  link_->Send(kEvent, "", copy.SerializeAsString());
}

void ReplicaRelay::OnMessage(const ReplicaMessage& m) {
  if (forwarding_ != nullptr && forwarding_->OnMessage(m)) return;
  if (m.kind == kEvent) {
    v1::Event event;
    if (event.ParseFromString(m.payload)) events_->PublishRemote(std::move(event));
  } else if (m.kind == kRun) {
    v1::RunNodesRequest req;
    if (!req.ParseFromString(m.payload)) return;
    // Before the agents are asked, so that their reports find the request.
    runs_->TrackRemote(m.ref);
    std::string ref = m.ref;
    hub_->RequestRun({req.selector().begin(), req.selector().end()},
                     {req.nodes().begin(), req.nodes().end()}, req.noop(), ref,
                     [this, ref](std::vector<std::string> asked) {
                       v1::RunNodesRequest answer;
                       for (const std::string& n : asked) answer.add_nodes(n);
                       link_->Send(kRunAsked, ref, answer.SerializeAsString());
                     });
  } else if (m.kind == kRunAsked) {
    v1::RunNodesRequest answer;
    if (answer.ParseFromString(m.payload)) {
      runs_->Answer(m.ref, {answer.nodes().begin(), answer.nodes().end()});
    }
  } else if (m.kind == kRunReport) {
    v1::ReportSummary summary;
    if (summary.ParseFromString(m.payload)) runs_->DeliverForwarded(m.ref, summary);
  } else {
    LogWarning("unknown replica message", {{"kind", m.kind}, {"from", m.origin}});
  }
}

}  // namespace plumb
