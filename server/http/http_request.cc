#include "server/http/http_request.h"

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"

namespace plumb {
namespace {

bool IsTokenChar(char c) {
  return absl::ascii_isalnum(static_cast<unsigned char>(c)) ||
         absl::string_view("!#$%&'*+-.^_`|~").find(c) != absl::string_view::npos;
}

bool IsToken(absl::string_view s) {
  if (s.empty()) return false;
  for (char c : s) {
    if (!IsTokenChar(c)) return false;
  }
  return true;
}

bool Fail(HttpParseError* error, int status, std::string message) {
  error->status = status;
  error->message = std::move(message);
  return false;
}

const char* Reason(int status) {
  switch (status) {
    case 100: return "Continue";
    case 200: return "OK";
    case 202: return "Accepted";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 408: return "Request Timeout";
    case 411: return "Length Required";
    case 413: return "Content Too Large";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 503: return "Service Unavailable";
    case 505: return "HTTP Version Not Supported";
    default: return "Unknown";
  }
}

// The request line "METHOD /target HTTP/1.x"; sets method, path and the version's keep-alive
// default.
bool ParseRequestLine(absl::string_view line, HttpRequest* request, HttpParseError* error) {
  std::vector<absl::string_view> parts = absl::StrSplit(line, ' ');
  if (parts.size() != 3 || !IsToken(parts[0]) || parts[1].empty() || parts[1][0] != '/') {
    return Fail(error, 400, "malformed request line");
  }
  if (parts[2] == "HTTP/1.1") {
    request->keep_alive = true;
  } else if (parts[2] == "HTTP/1.0") {
    request->keep_alive = false;
  } else {
    return Fail(error, 505, "only HTTP/1.0 and HTTP/1.1 are served");
  }
  for (char c : parts[1]) {
    if (static_cast<unsigned char>(c) <= 0x20 || c == 0x7f) {
      return Fail(error, 400, "control character in request target");
    }
  }
  request->method = std::string(parts[0]);
  request->path = std::string(parts[1].substr(0, parts[1].find('?')));
  size_t question = parts[1].find('?');
  if (question != absl::string_view::npos) request->query = std::string(parts[1].substr(question + 1));
  return true;
}

// Content-Length, Transfer-Encoding, Connection and Expect, from the parsed header list.
bool ApplyFramingHeaders(HttpRequest* request, HttpParseError* error) {
  bool has_length = false;
  for (const auto& [name, value] : request->headers) {
    if (name == "content-length") {
      size_t length = 0;
      if (value.empty() || value.find_first_not_of("0123456789") != std::string::npos ||
          value.size() > 18 || !absl::SimpleAtoi(value, &length)) {
        return Fail(error, 400, "bad Content-Length");
      }
      if (has_length && length != request->content_length) {
        return Fail(error, 400, "conflicting Content-Length headers");
      }
      has_length = true;
      request->content_length = length;
    } else if (name == "transfer-encoding") {
      return Fail(error, 411, "Transfer-Encoding is not supported: send Content-Length");
    } else if (name == "connection") {
      for (absl::string_view token : absl::StrSplit(value, ',')) {
        token = absl::StripAsciiWhitespace(token);
        if (absl::EqualsIgnoreCase(token, "close")) request->keep_alive = false;
        if (absl::EqualsIgnoreCase(token, "keep-alive")) request->keep_alive = true;
      }
    } else if (name == "expect") {
      request->expect_continue = absl::EqualsIgnoreCase(value, "100-continue");
    }
  }
  if (!has_length && (request->method == "POST" || request->method == "PUT")) {
    return Fail(error, 411, "Content-Length required");
  }
  return true;
}

}  // namespace

std::string HttpRequest::Header(absl::string_view name) const {
  for (const auto& [key, value] : headers) {
    if (absl::EqualsIgnoreCase(key, name)) return value;
  }
  return "";
}

bool ParseRequestHead(absl::string_view head, HttpRequest* request, HttpParseError* error) {
  std::vector<absl::string_view> lines = absl::StrSplit(head, '\n');
  if (lines.size() > kMaxHeaderLines + 1) {
    return Fail(error, 431, absl::StrCat("more than ", kMaxHeaderLines, " header lines"));
  }
  for (absl::string_view& line : lines) absl::ConsumeSuffix(&line, "\r");
  if (!ParseRequestLine(lines[0], request, error)) return false;
  for (size_t i = 1; i < lines.size(); ++i) {
    absl::string_view line = lines[i];
    size_t colon = line.find(':');
    // A line starting with whitespace (obsolete folding) has no token before its colon.
    if (colon == absl::string_view::npos || !IsToken(line.substr(0, colon))) {
      return Fail(error, 400, "malformed header line");
    }
    std::string value(absl::StripAsciiWhitespace(line.substr(colon + 1)));
    request->headers.emplace_back(absl::AsciiStrToLower(line.substr(0, colon)), std::move(value));
  }
  return ApplyFramingHeaders(request, error);
}

std::string SerializeResponse(const HttpResponse& response, bool keep_alive, bool head_only) {
  std::string out = absl::StrCat("HTTP/1.1 ", response.status, " ", Reason(response.status),
                                 "\r\nContent-Type: ", response.content_type,
                                 "\r\nContent-Length: ", response.body.size(), "\r\n");
  for (const auto& [name, value] : response.headers) absl::StrAppend(&out, name, ": ", value, "\r\n");
  if (!keep_alive) out += "Connection: close\r\n";
  out += "\r\n";
  if (!head_only) out += response.body;
  return out;
}

HttpResponse TextResponse(int status, absl::string_view body) {
  HttpResponse response;
  response.status = status;
  response.body = absl::StrCat(body, "\n");
  return response;
}

}  // namespace plumb
