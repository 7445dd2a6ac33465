#pragma once

// A minimal blocking HTTP/1.1 client over a loopback socket, so tests can drive the server's
// HTTP endpoints for real with a few lines of sockets.

#include <string>
#include <utility>
#include <vector>

namespace plumb::testing {

struct HttpResponse {
  int status = 0;         // 0: could not connect or parse the response
  std::string headers;    // raw header block
  std::string body;
};

// Sends one request to 127.0.0.1:`port` (Connection: close) and reads the whole response.
HttpResponse HttpRequest(int port, const std::string& method, const std::string& path,
                         const std::string& body = "",
                         const std::vector<std::pair<std::string, std::string>>& headers = {});

}  // namespace plumb::testing
