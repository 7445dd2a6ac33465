#include "server/console/console_text.h"

#include "gtest/gtest.h"

namespace plumb {
namespace {

TEST(ConsoleTextTest, HtmlEscapeNeutralisesMarkupAndAttributes) {
  EXPECT_EQ(HtmlEscape("<script>alert('x')</script> & \"q\""),
            "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; &quot;q&quot;");
  EXPECT_EQ(HtmlEscape("web-01"), "web-01");
}

TEST(ConsoleTextTest, JsonStringIsSafeInsideScriptAndOneLine) {
  EXPECT_EQ(JsonString("a\"b\\c\n</script>&"),
            "\"a\\u0022b\\u005cc\\u000a\\u003c/script\\u003e\\u0026\"");
  EXPECT_EQ(JsonString("h\xc3\xa9"), "\"h\xc3\xa9\"");  // valid UTF-8 is kept
  EXPECT_EQ(JsonString("\xff"), "\"\\ufffd\"");           // invalid bytes are replaced
}

TEST(ConsoleTextTest, UrlRoundTrip) {
  std::string hostile = "a b/&?=#<\"'>";
  EXPECT_EQ(UrlDecode(UrlEncode(hostile)), hostile);
  EXPECT_EQ(UrlEncode("web-01.example_x~"), "web-01.example_x~");
  EXPECT_EQ(UrlDecode("%zz%4"), "%zz%4");  // malformed escapes stay
}

TEST(ConsoleTextTest, ParseQueryTakesTheFirstValueAndDecodes) {
  auto q = ParseQuery("status=failed&name=web+01&label=role%3Dweb&status=converged&empty");
  EXPECT_EQ(q["status"], "failed");
  EXPECT_EQ(q["name"], "web 01");
  EXPECT_EQ(q["label"], "role=web");
  EXPECT_EQ(q.count("empty"), 1u);
}

TEST(ConsoleTextTest, ParseQueryIsBounded) {
  std::string many;
  for (int i = 0; i < 1000; ++i) many += "k" + std::to_string(i) + "=v&";
  EXPECT_EQ(ParseQuery(many).size(), 64u);
}

TEST(ConsoleTextTest, CookieValueFindsTheNamedCookieOnly) {
  EXPECT_EQ(CookieValue("a=1; plumb_session=abc; b=2", "plumb_session"), "abc");
  EXPECT_EQ(CookieValue("xplumb_session=abc", "plumb_session"), "");
  EXPECT_EQ(CookieValue("", "plumb_session"), "");
}

}  // namespace
}  // namespace plumb
