#include "agent/facts.h"

#include <arpa/inet.h>
#include <ifaddrs.h>
#include <netdb.h>
#include <net/if.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <fstream>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"

namespace plumb {
namespace {

void ReadOsRelease(const std::string& path, std::map<std::string, std::string>* facts) {
  std::ifstream in(path);
  std::string line;
  while (std::getline(in, line)) {
    size_t eq = line.find('=');
    if (eq == std::string::npos) continue;
    std::string key = line.substr(0, eq);
    std::string value = line.substr(eq + 1);
    if (value.size() >= 2 && (value.front() == '"' || value.front() == '\'')) {
      value = value.substr(1, value.size() - 2);
    }
    if (key == "ID") (*facts)["os.id"] = value;
    if (key == "VERSION_ID") (*facts)["os.version"] = value;
    if (key == "VERSION_CODENAME") (*facts)["os.codename"] = value;
    if (key == "PRETTY_NAME") (*facts)["os.name"] = value;
  }
}

}  // namespace

std::map<std::string, std::string> GatherFacts(const std::string& os_release_path,
                                               const std::map<std::string, std::string>& extra) {
  std::map<std::string, std::string> facts;
  char host[256] = {0};
  gethostname(host, sizeof(host) - 1);
  facts["hostname"] = host;
  facts["fqdn"] = host;
  struct addrinfo hints = {}, *info = nullptr;
  hints.ai_flags = AI_CANONNAME;
  if (getaddrinfo(host, nullptr, &hints, &info) == 0 && info != nullptr) {
    if (info->ai_canonname != nullptr) facts["fqdn"] = info->ai_canonname;
    freeaddrinfo(info);
  }
  struct utsname uts;
  if (uname(&uts) == 0) {
    facts["kernel"] = uts.release;
    facts["arch"] = uts.machine;
  }
  facts["cpus"] = absl::StrCat(std::thread::hardware_concurrency());
  long pages = sysconf(_SC_PHYS_PAGES), page_size = sysconf(_SC_PAGE_SIZE);
  if (pages > 0 && page_size > 0) facts["memory_mb"] = absl::StrCat(pages / 1024 * page_size / 1024);
  ReadOsRelease(os_release_path, &facts);
  struct ifaddrs* addrs = nullptr;
  if (getifaddrs(&addrs) == 0) {
    for (struct ifaddrs* a = addrs; a != nullptr; a = a->ifa_next) {
      if (a->ifa_addr == nullptr || (a->ifa_flags & IFF_LOOPBACK)) continue;
      char buf[INET6_ADDRSTRLEN] = {0};
      if (a->ifa_addr->sa_family == AF_INET) {
        inet_ntop(AF_INET, &reinterpret_cast<sockaddr_in*>(a->ifa_addr)->sin_addr, buf, sizeof(buf));
        facts[absl::StrCat("ip.", a->ifa_name)] = buf;
      }
    }
    freeifaddrs(addrs);
  }
  for (const auto& [k, v] : extra) facts[k] = v;
  return facts;
}

}  // namespace plumb
