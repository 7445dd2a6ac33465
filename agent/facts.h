#pragma once

// Gathers the facts an agent reports in Hello: hostname, fqdn, os.id, os.version, kernel,
// arch, cpus, memory_mb, ip addresses (ip.<iface>), plus extra facts from the config.

#include <map>
#include <string>

namespace plumb {

// `os_release_path` is normally /etc/os-release (a parameter so tests can point elsewhere).
std::map<std::string, std::string> GatherFacts(const std::string& os_release_path,
                                               const std::map<std::string, std::string>& extra);

}  // namespace plumb
