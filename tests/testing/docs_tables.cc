#include "tests/testing/docs_tables.h"

#include <fstream>
#include <regex>

namespace plumb::testing {

std::set<std::string> DocumentedConfigKeys(const std::string& heading) {
  std::ifstream in(std::string(PLUMB_SOURCE_DIR) + "/docs/configuration.md");
  std::string line;
  bool in_section = false;
  std::set<std::string> keys;
  std::regex row("^\\| `([a-z_.]+)` \\|");
  while (std::getline(in, line)) {
    if (line.rfind("## ", 0) == 0) in_section = line.rfind("## " + heading, 0) == 0;
    std::smatch m;
    if (in_section && std::regex_search(line, m, row)) keys.insert(m[1]);
  }
  return keys;
}

}  // namespace plumb::testing
