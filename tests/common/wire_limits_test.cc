// Every limit of common/wire_limits.h: at the limit passes, over it fails naming the field.

#include "common/wire_limits.h"

#include <string>

#include "gtest/gtest.h"

namespace plumb::wire {
namespace {

v1::AgentMessage HelloMessage() {
  v1::AgentMessage msg;
  v1::Hello* hello = msg.mutable_hello();
  hello->set_node("web-01");
  (*hello->mutable_facts())["os.id"] = "debian";
  (*hello->mutable_labels())["role"] = "web";
  (*hello->mutable_resource_versions())["file:/etc/motd"] = std::string(64, 'a');
  return msg;
}

std::string Error(const v1::AgentMessage& msg) {
  absl::Status s = CheckAgentMessage(msg);
  EXPECT_TRUE(absl::IsInvalidArgument(s) || s.ok()) << s;
  return std::string(s.message());
}

TEST(WireLimitsTest, AnOrdinaryHelloPasses) {
  EXPECT_TRUE(CheckAgentMessage(HelloMessage()).ok());
}

TEST(WireLimitsTest, AMillionDotFactKeyIsRefusedByDepthWithoutEchoingIt) {
  v1::AgentMessage msg = HelloMessage();
  std::string key = "a";
  for (int i = 0; i < 1000000; ++i) key += ".a";
  (*msg.mutable_hello()->mutable_facts())[key] = "x";
  std::string error = Error(msg);
  // The key is over the length limit first: either way the field is named, the key cut.
  EXPECT_NE(error.find("hello.facts key \"a.a.a"), std::string::npos) << error;
  EXPECT_LT(error.size(), 200u);
}

TEST(WireLimitsTest, DepthIsCheckedOnShortKeys) {
  v1::AgentMessage msg = HelloMessage();
  std::string key = "a";
  for (int i = 1; i < kMaxKeyDepth; ++i) key += ".b";
  (*msg.mutable_hello()->mutable_labels())[key] = "x";
  EXPECT_TRUE(CheckAgentMessage(msg).ok()) << "depth exactly at the limit";
  (*msg.mutable_hello()->mutable_labels())[key + ".c"] = "x";
  EXPECT_EQ(Error(msg), absl::StrCat("hello.labels key \"", (key + ".c").substr(0, 32), "…\" has depth ",
                                     kMaxKeyDepth + 1, ", limit ", kMaxKeyDepth));
}

TEST(WireLimitsTest, CountsOfEveryMapAreBounded) {
  v1::AgentMessage msg = HelloMessage();
  for (size_t i = 0; i <= kMaxFacts; ++i) {
    (*msg.mutable_hello()->mutable_facts())[absl::StrCat("f", i)] = "v";
  }
  EXPECT_EQ(Error(msg), absl::StrCat("hello.facts: ", kMaxFacts + 2, " entries, limit ",
                                     kMaxFacts));
  msg = HelloMessage();
  for (size_t i = 0; i <= kMaxLabels; ++i) {
    (*msg.mutable_hello()->mutable_labels())[absl::StrCat("l", i)] = "v";
  }
  EXPECT_NE(Error(msg).find("hello.labels: "), std::string::npos);
  msg = HelloMessage();
  for (size_t i = 0; i <= kMaxResourceVersions; ++i) {
    (*msg.mutable_hello()->mutable_resource_versions())[absl::StrCat("file:/", i)] = "v";
  }
  EXPECT_NE(Error(msg).find("hello.resource_versions: "), std::string::npos);
}

TEST(WireLimitsTest, KeyAndValueLengthsAreBounded) {
  v1::AgentMessage msg = HelloMessage();
  (*msg.mutable_hello()->mutable_facts())["big"] = std::string(kMaxFactValueBytes + 1, 'x');
  EXPECT_EQ(Error(msg), absl::StrCat("hello.facts value of \"big\": ", kMaxFactValueBytes + 1,
                                     " bytes, limit ", kMaxFactValueBytes));
  msg = HelloMessage();
  (*msg.mutable_hello()->mutable_labels())[std::string(kMaxLabelKeyBytes + 1, 'k')] = "v";
  EXPECT_NE(Error(msg).find("hello.labels key \"kkk"), std::string::npos);
  msg = HelloMessage();
  (*msg.mutable_hello()->mutable_labels())[""] = "v";
  EXPECT_EQ(Error(msg), "hello.labels: empty key");
  msg = HelloMessage();
  msg.mutable_hello()->set_node(std::string(kMaxNodeNameBytes + 1, 'n'));
  EXPECT_EQ(Error(msg), absl::StrCat("hello.node: ", kMaxNodeNameBytes + 1, " bytes, limit ",
                                     kMaxNodeNameBytes));
}

TEST(WireLimitsTest, QuotedKeysAreEscaped) {
  v1::AgentMessage msg = HelloMessage();
  (*msg.mutable_hello()->mutable_facts())[std::string("evil\n") + std::string(300, 'x')] = "v";
  EXPECT_NE(Error(msg).find("\"evil\\nxxx"), std::string::npos) << Error(msg);
}

TEST(WireLimitsTest, ReportFieldsAndSizeAreBounded) {
  v1::AgentMessage msg;
  v1::Report* report = msg.mutable_report();
  report->set_id("r1");
  v1::ResourceResult* r = report->add_results();
  r->set_id("file:/etc/motd");
  r->set_message(std::string(kMaxResultMessageBytes, 'm'));
  r->set_diff(std::string(kMaxResultDiffBytes, 'd'));
  EXPECT_TRUE(CheckAgentMessage(msg).ok());
  r->mutable_diff()->push_back('d');
  EXPECT_EQ(Error(msg), absl::StrCat("report.results[0].diff: ", kMaxResultDiffBytes + 1,
                                     " bytes, limit ", kMaxResultDiffBytes));
  r->clear_diff();
  r->mutable_message()->push_back('m');
  EXPECT_NE(Error(msg).find("report.results[0].message: "), std::string::npos);
  r->clear_message();
  for (int i = 0; i < 5; ++i) report->add_results()->set_diff(std::string(kMaxResultDiffBytes, 'd'));
  EXPECT_NE(Error(msg).find("report: "), std::string::npos) << "5 MiB of diffs: over 4 MiB";
  msg.mutable_report()->Clear();
  msg.mutable_report()->set_id(std::string(kMaxShortFieldBytes + 1, 'i'));
  EXPECT_NE(Error(msg).find("report.id: "), std::string::npos);
}

TEST(WireLimitsTest, AckErrorIsBounded) {
  v1::AgentMessage msg;
  msg.mutable_ack()->set_nonce("1");
  msg.mutable_ack()->set_error(std::string(kMaxAckErrorBytes + 1, 'e'));
  EXPECT_NE(Error(msg).find("ack.error: "), std::string::npos);
}

TEST(WireLimitsTest, NoopResultFieldsAreBounded) {
  v1::AgentMessage msg;
  v1::NoopResult* result = msg.mutable_noop_result();
  result->set_request_id(std::string(kMaxShortFieldBytes, 'i'));
  result->set_error(std::string(kMaxNoopErrorBytes, 'e'));
  EXPECT_TRUE(CheckAgentMessage(msg).ok());
  result->mutable_request_id()->push_back('i');
  EXPECT_NE(Error(msg).find("noop_result.request_id: "), std::string::npos);
  result->clear_request_id();
  result->mutable_error()->push_back('e');
  EXPECT_NE(Error(msg).find("noop_result.error: "), std::string::npos);
  result->clear_error();
  result->mutable_report()->add_results()->set_diff(std::string(kMaxResultDiffBytes + 1, 'd'));
  EXPECT_NE(Error(msg).find("noop_result.report.results[0].diff: "), std::string::npos);
}

}  // namespace
}  // namespace plumb::wire
