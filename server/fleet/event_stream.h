#pragma once

// FleetService.WatchEvents on gRPC's callback API: one reactor per watcher, fed by an
// EventBus subscription. The bus's publisher (the stream hub's worker, the poller) only
// buffers the event and starts a write; nothing here ever blocks it.

#include <functional>

#include "grpcpp/grpcpp.h"
#include "plumb/v1/fleet.pb.h"
#include "server/fleet/event_bus.h"

namespace plumb {

// Returns a reactor that streams `bus` events matching `request` until the client cancels,
// a write fails, the bus shuts down, or `still_authorized` (if set; asked whenever an event
// arrives, must not block) returns an error, which ends the stream with that status. The
// reactor deletes itself in OnDone. `bus` is not owned and must outlive the gRPC server.
grpc::ServerWriteReactor<v1::Event>* NewEventStream(
    EventBus* bus, const v1::WatchEventsRequest& request,
    std::function<grpc::Status()> still_authorized = nullptr);

// Whether `event` passes the watcher's filter (kinds; node, for events that have a node).
bool EventMatches(const v1::WatchEventsRequest& filter, const v1::Event& event);

}  // namespace plumb
