#include "common/command_line.h"

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace plumb {

absl::StatusOr<CommandLine> CommandLine::Parse(
    int argc, const char* const* argv, const std::set<std::string>& bool_flags,
    const std::map<std::string, std::string>& short_flags) {
  CommandLine cl;
  bool only_positional = false;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    auto short_flag = short_flags.find(arg);
    if (!only_positional && short_flag != short_flags.end()) arg = "--" + short_flag->second;
    if (only_positional || arg.size() < 3 || !absl::StartsWith(arg, "--")) {
      if (arg == "--") {
        only_positional = true;
        continue;
      }
      cl.positional_.push_back(arg);
      continue;
    }
    std::string name = arg.substr(2);
    std::string value;
    size_t eq = name.find('=');
    if (eq != std::string::npos) {
      value = name.substr(eq + 1);
      name = name.substr(0, eq);
    } else if (bool_flags.count(name)) {
      value = "true";
    } else if (i + 1 < argc) {
      value = argv[++i];
    } else {
      return absl::InvalidArgumentError(absl::StrCat("flag --", name, " needs a value"));
    }
    cl.flags_.emplace(name, value);
    cl.order_.push_back(name);
  }
  return cl;
}

std::string CommandLine::Get(const std::string& flag, const std::string& fallback) const {
  auto range = flags_.equal_range(flag);
  if (range.first == range.second) return fallback;
  auto last = range.second;
  --last;
  return last->second;
}

std::vector<std::string> CommandLine::GetAll(const std::string& flag) const {
  std::vector<std::string> out;
  auto range = flags_.equal_range(flag);
  for (auto it = range.first; it != range.second; ++it) out.push_back(it->second);
  return out;
}

bool CommandLine::GetBool(const std::string& flag) const {
  std::string v = Get(flag, "false");
  return v == "true" || v == "1" || v == "yes";
}

absl::Status CommandLine::CheckKnown(const std::set<std::string>& known) const {
  for (const std::string& name : order_) {
    if (!known.count(name)) return absl::InvalidArgumentError(absl::StrCat("unknown flag --", name));
  }
  return absl::OkStatus();
}

absl::Status ParseKeyValue(const std::string& text, std::string* key, std::string* value) {
  size_t eq = text.find('=');
  if (eq == std::string::npos || eq == 0) {
    return absl::InvalidArgumentError(absl::StrCat("expected key=value, got \"", text, "\""));
  }
  *key = text.substr(0, eq);
  *value = text.substr(eq + 1);
  return absl::OkStatus();
}

absl::StatusOr<absl::Duration> ParseDurationText(const std::string& text) {
  // absl::ParseDuration knows h, m, s, ms, us, ns; add days, which retention configs use.
  absl::Duration total;
  std::string rest = text;
  size_t d = rest.find('d');
  if (d != std::string::npos) {
    int64_t days;
    if (!absl::SimpleAtoi(rest.substr(0, d), &days) || days < 0) {
      return absl::InvalidArgumentError(absl::StrCat("bad duration \"", text, "\""));
    }
    total += absl::Hours(24 * days);
    rest = rest.substr(d + 1);
    if (rest.empty()) return total;
  }
  absl::Duration part;
  if (rest.empty() || !absl::ParseDuration(rest, &part) || part < absl::ZeroDuration()) {
    return absl::InvalidArgumentError(
        absl::StrCat("bad duration \"", text, "\": use a number with a unit, like 30s, 5m, 1h, 7d"));
  }
  return total + part;
}

}  // namespace plumb
