#include "agent/masterless_cache.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstring>
#include <limits>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/digest.h"
#include "common/secure_files.h"
#include "google/protobuf/arena.h"

namespace plumb {
namespace {

constexpr absl::string_view kMagic = "plumb-masterless-cache-1";
// A cache file is ours, but it is read before being trusted: bound what is allocated for it.
constexpr size_t kMaxCacheBytes = size_t{1} << 31;
constexpr char kFile = 'F', kDir = 'D';

void PutU64(std::string* out, uint64_t v) {
  char buf[8];
  std::memcpy(buf, &v, sizeof(buf));
  out->append(buf, sizeof(buf));
}

void PutStr(std::string* out, absl::string_view s) {
  PutU64(out, s.size());
  out->append(s.data(), s.size());
}

void PutMap(std::string* out, const std::map<std::string, std::string>& m) {
  PutU64(out, m.size());
  for (const auto& [k, v] : m) {
    PutStr(out, k);
    PutStr(out, v);
  }
}

// Reads what Put* wrote; any overrun makes ok() false and every later read empty.
class Decoder {
 public:
  explicit Decoder(absl::string_view in) : in_(in) {}
  bool ok() const { return ok_; }
  uint64_t U64() {
    if (!ok_ || in_.size() < 8) return Fail();
    uint64_t v;
    std::memcpy(&v, in_.data(), sizeof(v));
    in_.remove_prefix(8);
    return v;
  }
  absl::string_view Str() {
    uint64_t n = U64();
    if (!ok_ || n > in_.size()) return Fail(), absl::string_view();
    absl::string_view s = in_.substr(0, n);
    in_.remove_prefix(n);
    return s;
  }
  // The encoding of `m` must follow, byte for byte.
  bool MatchMap(const std::map<std::string, std::string>& m) {
    if (U64() != m.size()) return false;
    for (const auto& [k, v] : m) {
      if (Str() != k || Str() != v) return false;
    }
    return ok_;
  }

 private:
  uint64_t Fail() {
    ok_ = false;
    return 0;
  }
  absl::string_view in_;
  bool ok_ = true;
};

// The digest a recorded read is compared by: of the content, of the listing, or of the error.
std::string DigestOfFile(const absl::StatusOr<std::string>& r) {
  if (!r.ok()) return absl::StrCat("error ", static_cast<int>(r.status().code()));
  return Sha256Hex(*r);
}

std::string DigestOfListing(const absl::StatusOr<std::vector<std::string>>& r) {
  if (!r.ok()) return absl::StrCat("error ", static_cast<int>(r.status().code()));
  return Sha256Hex(absl::StrJoin(*r, std::string(1, '\0')));
}

std::string DigestOfRead(const RepoTree& tree, char kind, const std::string& path) {
  return kind == kFile ? DigestOfFile(tree.ReadFile(path)) : DigestOfListing(tree.ListDir(path));
}

std::string KeyOf(const std::string& identity, const NodeInputs& node) {
  std::string key;
  PutStr(&key, kMagic);
  PutStr(&key, identity);
  PutStr(&key, node.name);
  PutMap(&key, node.labels);
  PutMap(&key, node.facts);
  return key;
}

// Writes `content` through a temp file and a rename, mode 0600, without fsync.
absl::Status WriteReplacing(const std::string& path, const std::string& content) {
  std::string tmp = absl::StrCat(path, ".tmp.", getpid());
  int fd = open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600);
  if (fd < 0) return absl::InternalError(absl::StrCat("cannot create ", tmp, ": ", strerror(errno)));
  size_t done = 0;
  bool ok = true;
  while (ok && done < content.size()) {
    ssize_t n = write(fd, content.data() + done, content.size() - done);
    if (n < 0 && errno != EINTR) ok = false;
    if (n > 0) done += static_cast<size_t>(n);
  }
  int err = errno;
  ok = close(fd) == 0 && ok;
  if (ok && rename(tmp.c_str(), path.c_str()) == 0) return absl::OkStatus();
  if (ok) err = errno;
  unlink(tmp.c_str());
  return absl::InternalError(absl::StrCat("cannot write ", path, ": ", strerror(err)));
}

}  // namespace

absl::StatusOr<std::string> RecordingTree::ReadFile(absl::string_view path) const {
  absl::StatusOr<std::string> r = tree_->ReadFile(path);
  std::string digest = DigestOfFile(r);
  absl::MutexLock lock(&mu_);
  reads_[{kFile, std::string(path)}] = std::move(digest);
  return r;
}

absl::StatusOr<std::vector<std::string>> RecordingTree::ListDir(absl::string_view path) const {
  absl::StatusOr<std::vector<std::string>> r = tree_->ListDir(path);
  std::string digest = DigestOfListing(r);
  absl::MutexLock lock(&mu_);
  reads_[{kDir, std::string(path)}] = std::move(digest);
  return r;
}

RepoReads RecordingTree::reads() const {
  absl::MutexLock lock(&mu_);
  return reads_;
}

std::optional<NodeCompileResult> MasterlessCache::Lookup(const RepoTree& tree,
                                                         const NodeInputs& node) const {
  if (identity_.empty()) return std::nullopt;
  absl::StatusOr<std::string> file = ReadFileUpTo(path_, kMaxCacheBytes);
  if (!file.ok() || file->size() < 64) return std::nullopt;
  absl::string_view body = absl::string_view(*file).substr(64);
  if (Sha256Hex(body) != absl::string_view(*file).substr(0, 64)) return std::nullopt;
  std::string key = KeyOf(identity_, node);
  if (!absl::StartsWith(body, key)) return std::nullopt;
  Decoder in(body.substr(key.size()));
  for (uint64_t n = in.U64(); in.ok() && n > 0; --n) {
    absl::string_view kind = in.Str(), path = in.Str(), digest = in.Str();
    if (!in.ok() || kind.size() != 1) return std::nullopt;
    if (DigestOfRead(tree, kind[0], std::string(path)) != digest) return std::nullopt;
  }
  absl::string_view catalog = in.Str();
  // On an arena: 5,000 resources are some 60,000 strings, allocated and freed in one piece.
  google::protobuf::ArenaOptions options;
  options.start_block_size = 64 << 10;
  options.max_block_size = 1 << 20;
  auto arena = std::make_shared<google::protobuf::Arena>(options);
  auto* parsed = google::protobuf::Arena::CreateMessage<v1::Catalog>(arena.get());
  if (!in.ok() || !parsed->ParseFromArray(catalog.data(), static_cast<int>(catalog.size()))) {
    return std::nullopt;
  }
  NodeCompileResult result;
  result.catalog = std::shared_ptr<const v1::Catalog>(arena, parsed);
  for (uint64_t n = in.U64(); in.ok() && n > 0; --n) {
    absl::string_view digest = in.Str(), content = in.Str();
    result.blobs[std::string(digest)] = std::make_shared<const std::string>(content);
  }
  if (!in.ok()) return std::nullopt;
  return result;
}

absl::Status MasterlessCache::Store(const RepoReads& reads, const NodeInputs& node,
                                    const NodeCompileResult& result) const {
  if (identity_.empty() || !result.ok()) return absl::OkStatus();
  std::string body = KeyOf(identity_, node);
  PutU64(&body, reads.size());
  for (const auto& [read, digest] : reads) {
    PutStr(&body, std::string(1, read.first));
    PutStr(&body, read.second);
    PutStr(&body, digest);
  }
  PutStr(&body, result.catalog->SerializeAsString());
  PutU64(&body, result.blobs.size());
  for (const auto& [digest, content] : result.blobs) {
    PutStr(&body, digest);
    PutStr(&body, *content);
  }
  return WriteReplacing(path_, absl::StrCat(Sha256Hex(body), body));
}

std::string ExecutableIdentity() {
  struct stat st;
  if (stat("/proc/self/exe", &st) != 0) return "";
  return absl::StrCat(st.st_dev, ":", st.st_ino, ":", st.st_size, ":", st.st_mtim.tv_sec, ".",
                      st.st_mtim.tv_nsec);
}

}  // namespace plumb
