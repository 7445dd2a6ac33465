#pragma once

// HTTP/1.1 requests as plumb-server's listener reads them off the wire, and the responses it
// writes back: the part of RFC 9112 our four endpoints need. Request bodies need a
// Content-Length (no chunked uploads: 411); heads are parsed whole, once the blank line arrived.

#include <cstddef>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/string_view.h"

namespace plumb {

// One parsed request. Plain data, thread-compatible.
struct HttpRequest {
  std::string method;   // "GET", "POST", ...
  std::string path;     // the target without its query string
  std::string query;    // what follows the first "?" of the target ("" if none)
  std::vector<std::pair<std::string, std::string>> headers;  // names lower-cased, in order
  std::string body;
  std::string peer;     // the client's "address:port", for logs
  size_t content_length = 0;
  bool keep_alive = true;       // HTTP/1.1 without "Connection: close", or 1.0 with keep-alive
  bool expect_continue = false; // "Expect: 100-continue"

  // The first value of header `name` (any case), or "" when absent.
  std::string Header(absl::string_view name) const;
};

// What a route answers. Plain data.
struct HttpResponse {
  int status = 200;
  std::string content_type = "text/plain; charset=utf-8";
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;  // extra headers, e.g. Allow
};

// Why a request head was refused: the status to answer with (400, 411, 505) and a message.
struct HttpParseError {
  int status = 400;
  std::string message;
};

// At most this many header lines in one request head (the head's bytes are bounded by the
// listener before parsing).
inline constexpr size_t kMaxHeaderLines = 100;

// Parses `head`: the request line and header lines, without the blank line ending them.
// Returns false and fills `error` for a malformed line (400), a version other than HTTP/1.0
// or 1.1 (505), a bad or conflicting Content-Length (400), a Transfer-Encoding (411: send
// Content-Length) or a POST/PUT without Content-Length (411).
bool ParseRequestHead(absl::string_view head, HttpRequest* request, HttpParseError* error);

// The bytes of `response`, with Content-Length and "Connection: close" unless `keep_alive`;
// without the body when `head_only` (a HEAD request).
std::string SerializeResponse(const HttpResponse& response, bool keep_alive, bool head_only);

// A response with `status` and a text body; `body` gets a trailing newline.
HttpResponse TextResponse(int status, absl::string_view body);

}  // namespace plumb
