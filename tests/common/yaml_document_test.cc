#include "common/yaml_document.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace plumb {
namespace {

using ::testing::HasSubstr;

TEST(YamlDocumentTest, KeepsOrderMarksAndQuoting) {
  absl::StatusOr<YamlNode> doc =
      ParseYaml("b: 1\na:\n  - x\n  - 'y'\nmode: \"0644\"\nplain: 0644\nnothing:\n", "f.yaml");
  ASSERT_TRUE(doc.ok()) << doc.status();
  ASSERT_TRUE(doc->IsMap());
  ASSERT_EQ(doc->entries().size(), 5u);
  EXPECT_EQ(doc->entries()[0].first.scalar(), "b");
  EXPECT_EQ(doc->entries()[1].first.scalar(), "a");
  const YamlNode* list = doc->Find("a");
  ASSERT_NE(list, nullptr);
  ASSERT_TRUE(list->IsSequence());
  EXPECT_EQ(list->items()[1].scalar(), "y");
  EXPECT_TRUE(list->items()[1].quoted());
  EXPECT_FALSE(list->items()[0].quoted());
  EXPECT_EQ(list->items()[1].mark().line, 4);
  EXPECT_EQ(list->items()[1].mark().column, 5);
  EXPECT_TRUE(doc->Find("mode")->quoted());
  EXPECT_FALSE(doc->Find("plain")->quoted());
  EXPECT_EQ(doc->Find("plain")->scalar(), "0644");
  // An empty value is null, located at its key.
  const YamlNode* nothing = doc->Find("nothing");
  ASSERT_NE(nothing, nullptr);
  EXPECT_TRUE(nothing->IsNull());
  EXPECT_EQ(nothing->mark().line, 7);
  EXPECT_EQ(doc->Find("missing"), nullptr);
}

TEST(YamlDocumentTest, EmptyTextIsNull) {
  absl::StatusOr<YamlNode> doc = ParseYaml("", "f.yaml");
  ASSERT_TRUE(doc.ok());
  EXPECT_TRUE(doc->IsNull());
}

TEST(YamlDocumentTest, SyntaxErrorsAreOneBasedAndNameTheFile) {
  YamlError error;
  absl::StatusOr<YamlNode> doc = ParseYaml("a: 1\n  b: 2\n", "dir/f.yaml", &error);
  ASSERT_FALSE(doc.ok());
  EXPECT_EQ(error.mark.line, 2);
  EXPECT_EQ(error.mark.column, 4);
  EXPECT_EQ(doc.status().message(), "dir/f.yaml:2:4: mapping values are not allowed in this context");
}

TEST(YamlDocumentTest, RejectsDuplicateKeysAndNonScalarKeys) {
  YamlError error;
  EXPECT_FALSE(ParseYaml("a: 1\nb: 2\na: 3\n", "f", &error).ok());
  EXPECT_EQ(error.mark.line, 3);
  EXPECT_THAT(error.message, HasSubstr("duplicate key 'a'"));
  EXPECT_FALSE(ParseYaml("? [a, b]\n: 1\n", "f", &error).ok());
  EXPECT_THAT(error.message, HasSubstr("map key must be a string"));
}

TEST(YamlDocumentTest, RejectsInvalidUtf8WithItsPosition) {
  YamlError error;
  EXPECT_TRUE(ParseYaml("name: \"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80\"\n", "f", &error).ok());
  EXPECT_FALSE(ParseYaml("a: 1\nname: x\xff\n", "f", &error).ok());
  EXPECT_EQ(error.mark.line, 2);
  EXPECT_EQ(error.mark.column, 8);
  EXPECT_EQ(error.message, "invalid UTF-8");
  EXPECT_FALSE(ParseYaml("a: \xc0\xaf\n", "f", &error).ok());      // overlong '/'
  EXPECT_FALSE(ParseYaml("a: \xed\xa0\x80\n", "f", &error).ok());  // surrogate
  EXPECT_FALSE(ParseYaml("a: \xe2\x82\n", "f", &error).ok());      // truncated
}

TEST(YamlDocumentTest, RejectsSecondDocument) {
  YamlError error;
  EXPECT_FALSE(ParseYaml("a: 1\n---\nb: 2\n", "f", &error).ok());
  EXPECT_THAT(error.message, HasSubstr("one YAML document"));
  EXPECT_EQ(error.mark.line, 2);
  EXPECT_TRUE(ParseYaml("---\na: 1\n...\n", "f", &error).ok());
}

// yaml-cpp 0.7's LoadAll never returned on these (jbeder/yaml-cpp#1040; found by fuzzing when
// the wrapper used yaml-cpp). Kept: no input may hang the parser.
TEST(YamlDocumentTest, StrayCommasDoNotHang) {
  for (const char* text : {",", "  ,", "- a\n,", "[a],", ", nodes: \"*\", modules: [m]}\n"}) {
    YamlError error;
    EXPECT_FALSE(ParseYaml(text, "f", &error).ok()) << text;
  }
}

TEST(YamlDocumentTest, SurvivesRecursiveAliasesAndBombs) {
  YamlError error;
  // A node that contains itself.
  EXPECT_FALSE(ParseYaml("&a [*a]\n", "f", &error).ok());
  EXPECT_THAT(error.message, HasSubstr("recursive alias"));
  EXPECT_EQ(error.mark.line, 1);
  EXPECT_EQ(error.mark.column, 5);
  // Each level doubles: 2^30 leaves once expanded.
  std::string bomb = "a0: &a0 [x, x]\n";
  for (int i = 1; i <= 30; ++i) {
    bomb += "a" + std::to_string(i) + ": &a" + std::to_string(i) + " [*a" + std::to_string(i - 1) +
            ", *a" + std::to_string(i - 1) + "]\n";
  }
  EXPECT_FALSE(ParseYaml(bomb, "f", &error).ok());
  EXPECT_THAT(error.message, HasSubstr("too many nodes"));
  EXPECT_FALSE(ParseYaml(std::string(200, '[') + std::string(200, ']'), "f", &error).ok());
  EXPECT_THAT(error.message, HasSubstr("nested too deeply"));
}

TEST(YamlDocumentTest, AliasesCopyTheirAnchorsWithTheirMarksAndKinds) {
  auto doc = ParseYaml("base: &b {mode: \"0644\", owner: root}\nfile: *b\nlist: [&x one, *x]\n",
                       "f");
  ASSERT_TRUE(doc.ok()) << doc.status();
  const YamlNode* file = doc->Find("file");
  ASSERT_NE(file, nullptr);
  ASSERT_TRUE(file->IsMap());
  EXPECT_EQ(file->Find("mode")->scalar(), "0644");
  EXPECT_TRUE(file->Find("mode")->quoted());
  EXPECT_FALSE(file->Find("owner")->quoted());
  EXPECT_EQ(file->Find("mode")->mark().line, 1);  // where the anchored node is written
  const YamlNode* list = doc->Find("list");
  ASSERT_EQ(list->items().size(), 2u);
  EXPECT_EQ(list->items()[1].scalar(), "one");
  // Documents with no content are null.
  for (const char* empty : {"", "# only a comment\n", "---\n"}) {
    auto e = ParseYaml(empty, "f");
    ASSERT_TRUE(e.ok()) << empty;
    EXPECT_TRUE(e->IsNull()) << empty;
    EXPECT_GE(e->mark().line, 1) << empty;
  }
}

}  // namespace
}  // namespace plumb
