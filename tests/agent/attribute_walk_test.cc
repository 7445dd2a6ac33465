// Walks every attribute of every resource type in common/resource_types.cc from a repository
// through the compiler and the wire to the agent's provider, which must read it back typed.
// Fails when an attribute is known to one side only: declared but never read by the provider
// (the walk finds it unread), or read by a provider but not declared (the reader refuses it,
// so the provider's spec parse fails), or declared but rejected by the compiler.

#include <cstring>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "agent/providers/directory_provider.h"
#include "agent/providers/exec_provider.h"
#include "agent/providers/file_provider.h"
#include "agent/host/filesystem.h"
#include "agent/providers/package_provider.h"
#include "agent/providers/resource_attributes.h"
#include "agent/providers/service_provider.h"
#include "agent/providers/symlink_provider.h"
#include "agent/providers/user_provider.h"
#include "common/compiler/compiler.h"
#include "common/digest.h"
#include "common/compiler/directory_tree.h"
#include "common/resource_types.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/agent/agent_test_fakes.h"
#include "tests/testing/test_util.h"

namespace plumb {
namespace {

using ::testing::HasSubstr;

constexpr char kWalked[] = "walked\n";

// Each provider's typed spec parse, by type: what the agent reads of a compiled resource.
using SpecParse = std::function<absl::Status(AttributeReader&)>;
const std::map<std::string, SpecParse>& ProviderSpecs() {
  static const auto* specs = new std::map<std::string, SpecParse>{
      {"file", [](AttributeReader& a) { return ParseFileSpec(a).status(); }},
      {"directory", [](AttributeReader& a) { return ParseDirectorySpec(a).status(); }},
      {"symlink", [](AttributeReader& a) { return ParseSymlinkSpec(a).status(); }},
      {"exec", [](AttributeReader& a) { return ParseExecSpec(a).status(); }},
      {"package", [](AttributeReader& a) { return ParsePackageSpec(a).status(); }},
      {"service", [](AttributeReader& a) { return ParseServiceSpec(a).status(); }},
      {"user", [](AttributeReader& a) { return ParseUserSpec(a).status(); }},
      {"group", [](AttributeReader& a) { return ParseGroupSpec(a).status(); }},
  };
  return *specs;
}

// A valid value as a repository writes it, and the typed value the agent must read from it
// (rendered as AttributeReader::read() renders it). Spellings that are not canonical ("yes",
// "750", "90") prove that the value was typed on both sides, not passed through.
struct Sample {
  std::string yaml;
  std::string typed;
};

Sample SampleFor(const AttributeDef& attr) {
  if (attr.carrier == AttributeCarrier::kContentDigest) {
    if (attr.name == "source") return {"walk.txt", Sha256Hex(kWalked)};
    if (attr.name == "template") return {"walk.mustache", Sha256Hex(kWalked)};
    return {"\"walked\\n\"", Sha256Hex(kWalked)};
  }
  switch (attr.kind) {
    case AttributeKind::kText:
    case AttributeKind::kString:
      return {"walker", "walker"};
    case AttributeKind::kBool:
      return {"yes", "true"};
    case AttributeKind::kUint:
      return {"0042", "42"};
    case AttributeKind::kDuration:
      return {"90", "1m30s"};
    case AttributeKind::kMode:
      return {"\"750\"", "0750"};
    case AttributeKind::kPath:
      return {"/srv/./walk/", "/srv/walk"};
    case AttributeKind::kCommand:
      return {"[/bin/echo, walked]", "/bin/echo walked"};
    case AttributeKind::kList:
      return {"[wheel, adm]", "wheel,adm"};
    case AttributeKind::kMap:
      return {"{LANG: C}", "LANG=C"};
    case AttributeKind::kEnsure:  // types that list none take any text (a package version)
      return {"1.2-3", "1.2-3"};
    case AttributeKind::kAccount:
      return {"staff", "staff"};
  }
  return {};
}

std::string ResourceName(const ResourceTypeDef& type) {
  return type.path_named ? "/srv/walk-item" : "walk-item";
}

// The YAML of one resource of `type` with `attr: value`, plus what the type requires.
std::string ResourceYaml(const ResourceTypeDef& type, absl::string_view attr,
                         const std::string& value) {
  std::string yaml = absl::StrCat("  - ", type.type, ": ", ResourceName(type), "\n");
  absl::StrAppend(&yaml, "    ", attr, ": ", value, "\n");
  bool absent = attr == "ensure" && value == "absent";
  for (const AttributeDef& def : type.attributes) {
    bool required = def.requirement == Requirement::kRequired ||
                    (def.requirement == Requirement::kRequiredUnlessAbsent && !absent);
    if (required && def.name != attr) {
      absl::StrAppend(&yaml, "    ", def.name, ": ", SampleFor(def).yaml, "\n");
    }
  }
  const AttributeDef* tested = FindAttribute(type, attr);
  bool gives_content = tested != nullptr && tested->carrier == AttributeCarrier::kContentDigest;
  if (type.type == "file" && !absent && !gives_content) {
    absl::StrAppend(&yaml, "    content: \"base\\n\"\n");  // a present file needs content
  }
  return yaml;
}

// A one-module repository in a temp dir holding `resource_yaml`.
class WalkRepo {
 public:
  explicit WalkRepo(const std::string& resource_yaml) {
    testing::WriteFileOrDie(dir_.Sub("plumb.yaml"),
                            "version: 1\ntargets:\n  - name: all\n    nodes: \"*\"\n"
                            "    modules: [walk]\n");
    testing::WriteFileOrDie(dir_.Sub("modules/walk/module.yaml"),
                            absl::StrCat("resources:\n", resource_yaml));
    testing::WriteFileOrDie(dir_.Sub("modules/walk/files/walk.txt"), kWalked);
    testing::WriteFileOrDie(dir_.Sub("modules/walk/templates/walk.mustache"), kWalked);
  }

  // The errors of parsing and compiling node n1, one per line; "" when it compiled.
  std::string Compile(v1::Catalog* catalog) const {
    DirectoryTree tree(dir_.path());
    std::shared_ptr<const DesiredState> state = DesiredState::Parse(tree, "rev1");
    std::string errors;
    for (const CompileError& e : state->errors()) absl::StrAppend(&errors, e.ToString(), "\n");
    if (!errors.empty()) return errors;
    NodeCompileResult result = state->CompileNode(NodeInputs{"n1", {}, {}});
    for (const CompileError& e : result.errors) absl::StrAppend(&errors, e.ToString(), "\n");
    if (result.catalog != nullptr) *catalog = *result.catalog;
    return errors;
  }

 private:
  testing::TempDir dir_;
};

// The resource of `type` in the catalog after a trip over the wire (serialize and parse).
v1::Resource OverTheWire(const v1::Catalog& compiled, absl::string_view type) {
  v1::Catalog received;
  EXPECT_TRUE(received.ParseFromString(compiled.SerializeAsString()));
  for (const v1::Resource& resource : received.resources()) {
    if (resource.type() == type) return resource;
  }
  ADD_FAILURE() << "no " << type << " resource in the catalog";
  return v1::Resource();
}

// Compiles `type` with `attr: yaml` and checks that the provider's spec reads `typed`.
void Walk(const ResourceTypeDef& type, absl::string_view attr, const Sample& sample) {
  SCOPED_TRACE(absl::StrCat(type.type, ".", attr, ": ", sample.yaml));
  WalkRepo repo(ResourceYaml(type, attr, sample.yaml));
  v1::Catalog catalog;
  std::string errors = repo.Compile(&catalog);
  ASSERT_EQ(errors, "") << "the compiler rejects an attribute the registry declares";
  v1::Resource resource = OverTheWire(catalog, type.type);
  AttributeReader attrs(resource, /*record_reads=*/true);
  auto spec = ProviderSpecs().find(std::string(type.type));
  ASSERT_NE(spec, ProviderSpecs().end()) << "no provider spec parse for " << type.type;
  absl::Status parsed = spec->second(attrs);
  ASSERT_TRUE(parsed.ok()) << parsed;
  auto read = attrs.read().find(std::string(attr));
  ASSERT_NE(read, attrs.read().end()) << "the " << type.type << " provider never reads " << attr;
  EXPECT_EQ(read->second, sample.typed);
}

TEST(AttributeWalkTest, EveryProviderHasASpecParseAndEveryTypeIsInTheRegistry) {
  std::vector<std::string> registry;
  for (const ResourceTypeDef& type : ResourceTypes()) registry.emplace_back(type.type);
  std::vector<std::string> providers;
  for (const auto& [type, parse] : ProviderSpecs()) providers.push_back(type);
  EXPECT_THAT(providers, ::testing::UnorderedElementsAreArray(registry));
}

TEST(AttributeWalkTest, EveryAttributeTravelsFromRepositoryToProviderTyped) {
  for (const ResourceTypeDef& type : ResourceTypes()) {
    for (const AttributeDef& attr : type.attributes) {
      if (attr.kind == AttributeKind::kEnsure && !type.ensures.empty()) {
        for (absl::string_view value : type.ensures) {
          Walk(type, attr.name, Sample{std::string(value), std::string(value)});
        }
      } else {
        Walk(type, attr.name, SampleFor(attr));
      }
    }
  }
}

TEST(AttributeWalkTest, AnAttributeTheRegistryDoesNotKnowIsRejectedByTheCompiler) {
  for (const ResourceTypeDef& type : ResourceTypes()) {
    SCOPED_TRACE(type.type);
    WalkRepo repo(ResourceYaml(type, "walk_unknown", "x"));
    v1::Catalog catalog;
    EXPECT_THAT(repo.Compile(&catalog),
                HasSubstr(absl::StrCat("unknown attribute 'walk_unknown' for ", type.type)));
  }
}

TEST(AttributeWalkTest, AProviderReadingAnUndeclaredAttributeFails) {
  v1::Resource resource = testing::MakeResource("directory", "/d", {{"walk_unknown", "true"}});
  AttributeReader attrs(resource, /*record_reads=*/true);
  absl::StatusOr<bool> value = attrs.Bool("walk_unknown", false);
  EXPECT_TRUE(absl::IsInternal(value.status())) << value.status();
  // Declared, but read as another kind than declared.
  EXPECT_TRUE(absl::IsInternal(attrs.Mode("force").status()));
}

// The drift that motivated the registry: `force` on a directory is now reachable from a
// repository, and the provider acts on it (a noop check, then an apply, on a temp root).
TEST(AttributeWalkTest, DirectoryForceFromARepositoryRemovesANonEmptyDirectory) {
  WalkRepo repo("  - directory: /srv/old\n    ensure: absent\n    force: true\n");
  v1::Catalog catalog;
  ASSERT_EQ(repo.Compile(&catalog), "");
  v1::Resource resource = OverTheWire(catalog, "directory");
  testing::TempDir root;
  testing::WriteFileOrDie(root.Sub("srv/old/inside/file"), "x");
  std::unique_ptr<Filesystem> fs = NewRootedFilesystem(root.path());
  DirectoryProvider provider(fs.get());
  absl::StatusOr<CheckResult> check = provider.Check(resource);
  ASSERT_TRUE(check.ok()) << check.status();
  EXPECT_EQ(check->message, "directory present, to be removed with its contents");
  ASSERT_TRUE(provider.Apply(resource, *check).ok());
  EXPECT_EQ(testing::StatPath(root.Sub("srv/old")).st_ino, 0u);
}

// Mode is parsed once, by the parser both sides share: what the compiler accepts the agent
// reads as the same number, and what it refuses never reaches the wire.
TEST(AttributeWalkTest, ModeIsValidatedByTheAgentsParser) {
  for (const char* bad : {"\"0999\"", "\"17777\"", "\"64\"", "\"0o644\""}) {
    SCOPED_TRACE(bad);
    WalkRepo repo(absl::StrCat("  - directory: /srv/m\n    mode: ", bad, "\n"));
    v1::Catalog catalog;
    std::string errors = repo.Compile(&catalog);
    EXPECT_THAT(errors, HasSubstr("is not an octal mode of 3 or 4 digits"));
    std::string text(bad + 1, std::strlen(bad) - 2);
    EXPECT_FALSE(ParseMode(text).ok());
  }
}

}  // namespace
}  // namespace plumb
