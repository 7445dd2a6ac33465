#pragma once

// plumbctl: the operator's command line over FleetService, plus local validate/render.

#include <ostream>

namespace plumb {

// Runs plumbctl with argv; returns its exit status: 0 success, 1 failed operation, 2 bad
// usage. Errors go to `err` in one line.
int RunCtl(int argc, const char* const* argv, std::ostream& out, std::ostream& err);

}  // namespace plumb
