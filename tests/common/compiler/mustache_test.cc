#include "common/compiler/mustache.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace plumb {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

// The context templates see in the compiler: vars, facts (dotted keys), labels, node.name.
MustacheValue Context() {
  MustacheValue ctx;
  MustacheValue* vars = ctx.MutableChild("vars");
  vars->MutableChild("port")->SetString("8080");
  vars->MutableChild("html")->SetString("<a href=\"x\">&'</a>");
  vars->MutableChild("off")->SetString("false");
  vars->MutableChild("empty")->SetString("");
  *vars->MutableChild("servers") =
      MustacheValue::List({MustacheValue::String("a.example"), MustacheValue::String("b.example")});
  MustacheValue user1, user2;
  user1.MutableChild("name")->SetString("ann");
  user2.MutableChild("name")->SetString("bob");
  *vars->MutableChild("users") = MustacheValue::List({user1, user2});
  *vars->MutableChild("none") = MustacheValue::List({});
  MustacheValue* facts = ctx.MutableChild("facts");
  facts->SetPath("os.id", "debian");
  facts->SetPath("os", "linux");
  ctx.MutableChild("labels")->MutableChild("role")->SetString("web");
  ctx.MutableChild("node")->MutableChild("name")->SetString("web-01");
  return ctx;
}

std::string RenderOrDie(absl::string_view text) {
  MustacheError error;
  auto tmpl = MustacheTemplate::Parse(text, &error);
  EXPECT_NE(tmpl, nullptr) << error.line << ":" << error.column << ": " << error.message;
  if (tmpl == nullptr) return "<parse error>";
  std::string out;
  EXPECT_TRUE(tmpl->Render(Context(), &out, &error))
      << error.line << ":" << error.column << ": " << error.message;
  return out;
}

MustacheError RenderError(absl::string_view text) {
  MustacheError error;
  auto tmpl = MustacheTemplate::Parse(text, &error);
  if (tmpl == nullptr) return error;
  std::string out;
  EXPECT_FALSE(tmpl->Render(Context(), &out, &error)) << "rendered: " << out;
  return error;
}

MustacheError ParseError(absl::string_view text) {
  MustacheError error;
  EXPECT_EQ(MustacheTemplate::Parse(text, &error), nullptr) << text;
  return error;
}

TEST(MustacheTest, VariablesAndDottedNames) {
  EXPECT_EQ(RenderOrDie("listen {{vars.port}} on {{ node.name }} ({{labels.role}})"),
            "listen 8080 on web-01 (web)");
  EXPECT_EQ(RenderOrDie("{{facts.os.id}} {{facts.os}}"), "debian linux");
  EXPECT_EQ(RenderOrDie("no tags\n"), "no tags\n");
}

TEST(MustacheTest, EscapesUnlessTripleOrAmpersand) {
  EXPECT_EQ(RenderOrDie("{{vars.html}}"), "&lt;a href=&quot;x&quot;&gt;&amp;&#39;&lt;/a&gt;");
  EXPECT_EQ(RenderOrDie("{{{vars.html}}}"), "<a href=\"x\">&'</a>");
  EXPECT_EQ(RenderOrDie("{{& vars.html}}"), "<a href=\"x\">&'</a>");
}

TEST(MustacheTest, SectionsOverListsMapsAndTruthiness) {
  EXPECT_EQ(RenderOrDie("{{#vars.servers}}server {{.}};{{/vars.servers}}"),
            "server a.example;server b.example;");
  EXPECT_EQ(RenderOrDie("{{#vars.users}}[{{name}}@{{node.name}}]{{/vars.users}}"),
            "[ann@web-01][bob@web-01]");
  EXPECT_EQ(RenderOrDie("{{#vars.off}}on{{/vars.off}}{{^vars.off}}off{{/vars.off}}"), "off");
  EXPECT_EQ(RenderOrDie("{{#vars.port}}p={{.}}{{/vars.port}}"), "p=8080");
  EXPECT_EQ(RenderOrDie("{{#vars.empty}}x{{/vars.empty}}{{^vars.none}}none{{/vars.none}}"), "none");
  EXPECT_EQ(RenderOrDie("{{#labels}}{{role}}{{/labels}}"), "web");
  // A section over a name that does not resolve is falsy, not an error.
  EXPECT_EQ(RenderOrDie("{{#vars.nope}}x{{/vars.nope}}{{^vars.nope}}default{{/vars.nope}}"),
            "default");
}

TEST(MustacheTest, StandaloneSectionAndCommentLinesVanish) {
  EXPECT_EQ(RenderOrDie("begin\n  {{#vars.servers}}\nserver {{.}}\n  {{/vars.servers}}\n"
                        "{{! a comment }}\nend\n"),
            "begin\nserver a.example\nserver b.example\nend\n");
  // Not standalone: other text on the line.
  EXPECT_EQ(RenderOrDie("a {{#vars.port}}b{{/vars.port}} c\n"), "a b c\n");
  EXPECT_EQ(RenderOrDie("x{{! c }}y"), "xy");
}

TEST(MustacheTest, MissingVariableIsAnErrorWithLineAndName) {
  MustacheError error = RenderError("line one\nport = {{vars.prot}}\n");
  EXPECT_EQ(error.line, 2);
  EXPECT_EQ(error.column, 8);
  EXPECT_THAT(error.message, HasSubstr("vars.prot"));
  // Inside a section, on a later line.
  error = RenderError("{{#vars.users}}\n{{name}}\n{{nick}}\n{{/vars.users}}\n");
  EXPECT_EQ(error.line, 3);
  EXPECT_THAT(error.message, HasSubstr("'nick'"));
  // A dotted name whose head resolves but whose tail does not is still missing.
  error = RenderError("{{facts.os.version}}");
  EXPECT_THAT(error.message, HasSubstr("facts.os.version"));
}

TEST(MustacheTest, VariableNamingAListIsAnError) {
  MustacheError error = RenderError("\n\n{{vars.servers}}");
  EXPECT_EQ(error.line, 3);
  EXPECT_THAT(error.message, HasSubstr("a list"));
}

TEST(MustacheTest, ParseErrorsAreLocated) {
  MustacheError error = ParseError("a\n{{#vars.x}}\nb\n");
  EXPECT_EQ(error.line, 2);
  EXPECT_THAT(error.message, HasSubstr("never closed"));
  error = ParseError("{{#a}}\n{{/b}}");
  EXPECT_EQ(error.line, 2);
  EXPECT_THAT(error.message, HasSubstr("does not match"));
  error = ParseError("x\n  y {{vars.port");
  EXPECT_EQ(error.line, 2);
  EXPECT_EQ(error.column, 5);
  EXPECT_THAT(error.message, HasSubstr("unterminated"));
  EXPECT_THAT(ParseError("{{/a}}").message, HasSubstr("no open section"));
  EXPECT_THAT(ParseError("{{> part}}").message, HasSubstr("partials"));
  EXPECT_THAT(ParseError("{{}}").message, HasSubstr("empty"));
}

TEST(MustacheTest, NamesListsEveryTagName) {
  MustacheError error;
  auto tmpl = MustacheTemplate::Parse(
      "{{vars.a}}{{#facts.os}}{{id}}{{/facts.os}}{{{labels.x}}}{{vars.a}}{{! no }}", &error);
  ASSERT_NE(tmpl, nullptr);
  EXPECT_THAT(tmpl->names(), ElementsAre("vars.a", "facts.os", "id", "labels.x"));
}

}  // namespace
}  // namespace plumb
