#pragma once

// `plumb-server ca ...`: the built-in CA's command line.
//   ca init                  create the CA (kept if it exists) and (re)issue the server's
//                            certificate for tls.san; prints the CA fingerprint
//   ca issue-operator NAME   an operator certificate and key in state_dir/operators/
//   ca fingerprint           print the CA's SHA-256 fingerprint (for --ca-fingerprint)
// Run as root on a state_dir owned by another user (the packaged server's `plumb`), it
// switches to that user first so that what it creates stays readable by the server.

#include <ostream>

#include "common/command_line.h"

namespace plumb {

// Returns the exit status: 0 done, 1 failed, 2 bad usage. Errors go to `err` in one line.
int RunCaCommand(const CommandLine& flags, std::ostream& out, std::ostream& err);

}  // namespace plumb
