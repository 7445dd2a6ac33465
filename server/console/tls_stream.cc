#include "server/console/tls_stream.h"

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <pthread.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>

#include "absl/strings/str_cat.h"

namespace plumb {

absl::StatusOr<std::unique_ptr<TlsServerContext>> TlsServerContext::Create(const TlsFiles& files) {
  if (files.cert.empty() || files.key.empty()) {
    return absl::InvalidArgumentError(
        "console_listen needs the server's certificate: set tls.cert and tls.key");
  }
  SSL_CTX* ctx = SSL_CTX_new(TLS_server_method());
  if (ctx == nullptr) return absl::InternalError("SSL_CTX_new failed");
  std::unique_ptr<TlsServerContext> out(new TlsServerContext(ctx));
  SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
  SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION);
  // With client certificates asked for, OpenSSL refuses to resume a session (browsers open
  // several connections and resume) unless the context has a session id context.
  static const unsigned char kSessionContext[] = "plumb-console";
  SSL_CTX_set_session_id_context(ctx, kSessionContext, sizeof(kSessionContext) - 1);
  if (SSL_CTX_use_certificate_chain_file(ctx, files.cert.c_str()) != 1) {
    return absl::InvalidArgumentError(absl::StrCat("tls.cert ", files.cert, ": not a PEM chain"));
  }
  if (SSL_CTX_use_PrivateKey_file(ctx, files.key.c_str(), SSL_FILETYPE_PEM) != 1 ||
      SSL_CTX_check_private_key(ctx) != 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("tls.key ", files.key, ": not the key of tls.cert"));
  }
  if (!files.ca.empty()) {
    if (SSL_CTX_load_verify_locations(ctx, files.ca.c_str(), nullptr) != 1) {
      return absl::InvalidArgumentError(absl::StrCat("tls.ca ", files.ca, ": cannot be loaded"));
    }
    STACK_OF(X509_NAME)* names = SSL_load_client_CA_file(files.ca.c_str());
    if (names != nullptr) SSL_CTX_set_client_CA_list(ctx, names);
    // Asked for, not required: without one the operator signs in with a token.
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, nullptr);
  }
  ERR_clear_error();
  return out;
}

TlsServerContext::~TlsServerContext() { SSL_CTX_free(ctx_); }

TlsStream::TlsStream(SSL_CTX* ctx, int fd, std::string peer)
    : ssl_(SSL_new(ctx)), fd_(fd), peer_(std::move(peer)) {
  if (ssl_ != nullptr) SSL_set_fd(ssl_, fd_);
}

TlsStream::~TlsStream() {
  if (ssl_ != nullptr) {
    if (handshaken_) {
      SetTimeout(SO_SNDTIMEO, absl::Now() + absl::Milliseconds(200));
      SSL_shutdown(ssl_);
    }
    SSL_free(ssl_);
  }
  close(fd_);
  ERR_clear_error();
}

bool TlsStream::SetTimeout(int option, absl::Time deadline) {
  absl::Duration left = std::max(deadline - absl::Now(), absl::Milliseconds(1));
  timeval tv = absl::ToTimeval(left);
  return setsockopt(fd_, SOL_SOCKET, option, &tv, sizeof(tv)) == 0;
}

bool TlsStream::Handshake(absl::Time deadline) {
  if (ssl_ == nullptr) return false;
  if (!SetTimeout(SO_RCVTIMEO, deadline) || !SetTimeout(SO_SNDTIMEO, deadline)) return false;
  handshaken_ = SSL_accept(ssl_) == 1;
  ERR_clear_error();
  return handshaken_;
}

bool TlsStream::ReadSome(std::string* out, size_t max, absl::Time deadline) {
  if (!handshaken_ || absl::Now() >= deadline) return false;
  if (!SetTimeout(SO_RCVTIMEO, deadline)) return false;
  char buf[4096];
  int n = SSL_read(ssl_, buf, static_cast<int>(std::min(sizeof(buf), max)));
  if (n <= 0) {
    ERR_clear_error();
    return false;
  }
  out->append(buf, static_cast<size_t>(n));
  return true;
}

bool TlsStream::WriteAll(absl::string_view data, absl::Duration timeout) {
  if (!handshaken_) return false;
  absl::Time deadline = absl::Now() + timeout;
  while (!data.empty()) {
    if (absl::Now() >= deadline || !SetTimeout(SO_SNDTIMEO, deadline)) return false;
    int n = SSL_write(ssl_, data.data(), static_cast<int>(std::min<size_t>(data.size(), 16384)));
    if (n <= 0) {
      ERR_clear_error();
      return false;
    }
    data.remove_prefix(static_cast<size_t>(n));
  }
  return true;
}

std::optional<CertInfo> TlsStream::PeerCertificate() const {
  if (!handshaken_) return std::nullopt;
  X509* cert = SSL_get1_peer_certificate(ssl_);
  if (cert == nullptr) return std::nullopt;
  std::optional<CertInfo> info;
  if (SSL_get_verify_result(ssl_) == X509_V_OK) {
    BIO* bio = BIO_new(BIO_s_mem());
    if (bio != nullptr && PEM_write_bio_X509(bio, cert) == 1) {
      char* data = nullptr;
      long len = BIO_get_mem_data(bio, &data);
      absl::StatusOr<CertInfo> parsed = ParseCertificate(absl::string_view(data, len));
      if (parsed.ok()) info = *std::move(parsed);
    }
    BIO_free(bio);
  }
  X509_free(cert);
  ERR_clear_error();
  return info;
}

void BlockSigpipeOnThisThread() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGPIPE);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
}

}  // namespace plumb
