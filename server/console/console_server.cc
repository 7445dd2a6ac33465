#include "server/console/console_server.h"

#include "common/logging.h"
#include "common/status_macros.h"

namespace plumb {

absl::StatusOr<std::unique_ptr<ConsoleServer>> ConsoleServer::Start(
    const std::string& listen, const TlsFiles& tls, ConsoleRoutes routes, EventBus* bus,
    Clock* clock, ConsoleOptions options) {
  std::unique_ptr<ConsoleServer> s(new ConsoleServer());
  s->options_ = options;
  PLUMB_ASSIGN_OR_RETURN(s->tls_, TlsServerContext::Create(tls));
  s->sessions_ = std::make_unique<ConsoleSessions>(clock, options.session_lifetime,
                                                   options.max_sessions, options.sessions_file);
  PLUMB_RETURN_IF_ERROR(s->sessions_->Load());
  auto credential_valid = routes.credential_valid;
  s->router_ = std::make_unique<ConsoleRouter>(std::move(routes), s->sessions_.get(), clock);
  s->events_ = std::make_unique<ConsoleEvents>(bus, s->sessions_.get(), options.events,
                                               std::move(credential_valid));
  ConsoleServer* self = s.get();
  PLUMB_ASSIGN_OR_RETURN(
      s->listener_,
      ConsoleListener::Start(listen, s->tls_.get(),
                             [self](const HttpRequest& request, std::unique_ptr<TlsStream> stream) {
                               self->Serve(request, std::move(stream));
                             },
                             options.listener));
  LogInfo("console listening", {{"listen", listen}, {"port", s->port()}});
  return s;
}

ConsoleServer::~ConsoleServer() { Stop(); }

void ConsoleServer::Stop() {
  if (listener_ != nullptr) listener_->Stop();
  if (events_ != nullptr) events_->Stop();
}

void ConsoleServer::Serve(const HttpRequest& request, std::unique_ptr<TlsStream> stream) {
  ConsoleRouter::Outcome outcome = router_->Handle(request, stream->PeerCertificate());
  if (outcome.event_stream) {
    events_->Add(std::move(stream), outcome.session_id);
    return;
  }
  stream->WriteAll(SerializeResponse(outcome.response, false, request.method == "HEAD"),
                   options_.listener.write_timeout);
}

}  // namespace plumb
