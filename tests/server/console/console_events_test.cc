#include "server/console/console_events.h"

#include "absl/strings/match.h"
#include "gtest/gtest.h"

namespace plumb {
namespace {

TEST(ConsoleEventsTest, FrameIsOneEscapedDataLine) {
  v1::Event event;
  event.set_seq(7);
  event.set_kind(v1::EVENT_DRIFT_REPAIRED);
  event.set_node("web-1\n\ndata: forged");  // an agent-chosen name cannot forge an event
  event.set_message("</script><b>");
  std::string frame = ConsoleEvents::Frame(event);
  EXPECT_TRUE(absl::StartsWith(frame, "id: 7\ndata: {"));
  EXPECT_TRUE(absl::EndsWith(frame, "}\n\n"));
  EXPECT_EQ(frame.find('\n'), frame.find("\ndata: "));  // exactly two lines before the blank
  EXPECT_EQ(std::count(frame.begin(), frame.end(), '\n'), 3);
  EXPECT_TRUE(absl::StrContains(frame, "\"kind\":\"drift_repaired\""));
  EXPECT_FALSE(absl::StrContains(frame, "</script>"));
}

}  // namespace
}  // namespace plumb
