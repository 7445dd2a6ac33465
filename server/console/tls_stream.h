#pragma once

// The console's TLS pieces (OpenSSL): the server context made from the server's certificate,
// key and CA (client certificates are asked for but optional, so a browser without one can
// still sign in with a token), and one blocking TLS connection whose every read and write has a
// deadline.

#include <openssl/ssl.h>

#include <memory>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "common/grpc_credentials.h"
#include "common/pki/pki.h"

namespace plumb {

// Owns an SSL_CTX. Thread-safe (OpenSSL contexts are, once configured).
class TlsServerContext {
 public:
  // Loads tls.cert (chain) and tls.key; with tls.ca, verifies client certificates against it
  // when a client presents one. InvalidArgument naming the file that cannot be used.
  static absl::StatusOr<std::unique_ptr<TlsServerContext>> Create(const TlsFiles& files);
  ~TlsServerContext();
  SSL_CTX* get() const { return ctx_; }

 private:
  explicit TlsServerContext(SSL_CTX* ctx) : ctx_(ctx) {}
  SSL_CTX* ctx_;
};

// One accepted connection: a blocking socket with a TLS session. Thread-compatible: one thread
// uses it at a time (the console worker, then possibly the event stream's thread).
class TlsStream {
 public:
  // Takes ownership of `fd`. `peer` is "address:port" for logs.
  TlsStream(SSL_CTX* ctx, int fd, std::string peer);
  ~TlsStream();  // sends close_notify (best effort) and closes the socket
  TlsStream(const TlsStream&) = delete;
  TlsStream& operator=(const TlsStream&) = delete;

  // The TLS handshake, bounded by `deadline`. False on failure or timeout.
  bool Handshake(absl::Time deadline);
  // Appends what arrives (at most `max` bytes) to `out`; waits until `deadline`. False on end
  // of stream, timeout or error.
  bool ReadSome(std::string* out, size_t max, absl::Time deadline);
  // Writes all of `data`, each wait bounded so the whole write ends by now + `timeout`.
  bool WriteAll(absl::string_view data, absl::Duration timeout);
  // The client certificate the handshake verified against tls.ca; nullopt if none.
  std::optional<CertInfo> PeerCertificate() const;

  int fd() const { return fd_; }
  const std::string& peer() const { return peer_; }

 private:
  bool SetTimeout(int option, absl::Time deadline);

  SSL* ssl_;
  int fd_;
  std::string peer_;
  bool handshaken_ = false;
};

// Blocks SIGPIPE on the calling thread, so that writing to a connection the client closed fails
// with EPIPE instead of killing the server (OpenSSL writes with write(2), not send's
// MSG_NOSIGNAL). Every thread that writes to a TlsStream calls it first.
void BlockSigpipeOnThisThread();

}  // namespace plumb
