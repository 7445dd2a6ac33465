#pragma once

// The console's static files (stylesheet and script), compiled into the binary: no files to
// install, no build chain at run time. Served without a session (they hold no fleet data).

#include <optional>
#include <string>

#include "absl/strings/string_view.h"
#include "server/http/http_request.h"

namespace plumb {

// The asset at `path` ("/static/console.css", "/static/console.js"), or nullopt.
std::optional<HttpResponse> ConsoleAsset(absl::string_view path);

}  // namespace plumb
