#pragma once

// Network timeouts for libgit2. Debian's libgit2 1.5 has no connect or read timeout: a remote
// that accepts a connection and then says nothing would block a fetch (and with it the poller
// and `plumbctl sync`) forever. This replaces libgit2's plain socket stream (used by git://,
// http:// and, underneath TLS, https://) with one that gives up after a timeout: connecting,
// and every wait for the remote to send or accept data. For ssh:// only the connect is bounded
// (libssh2 does its own reads on the socket).

#include "absl/status/status.h"
#include "absl/time/time.h"

namespace plumb {

// Registers the timed socket stream with libgit2 for this process (libgit2 must be
// initialised; the registration lasts until its last git_libgit2_shutdown). Thread-safe;
// the latest timeout wins. InvalidArgument unless `timeout` is positive.
absl::Status InstallGitNetworkTimeout(absl::Duration timeout);

}  // namespace plumb
