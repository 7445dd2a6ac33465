#pragma once

// Reads the tables of docs/configuration.md, so tests can check docs against the code.

#include <set>
#include <string>

namespace plumb::testing {

// The `key` cells (first column, in backticks) of the tables under the "## <heading>..." section.
std::set<std::string> DocumentedConfigKeys(const std::string& heading);

}  // namespace plumb::testing
