// The HTTP layer's framing without a socket (shared/src/http_framing.*): the limits every
// byte a client sends counts against, and text checks at the edge (shared/src/text.cpp).
#include <gtest/gtest.h>

#include "gabe/text.hpp"
#include "http_framing.hpp"

namespace gabe::http::framing {
namespace {

const std::string kChunked =
    "POST /v1/webhooks/crm HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n";

int status_of(const Outcome& o) {
  return o.problem ? o.problem->status() : 0;
}

TEST(HttpFraming, PipelinedRequestsAreReadWithTheirBodies) {
  const std::string bytes =
      "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"
      "POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc" +
      kChunked + "2;ext=1\r\nde\r\n1\r\nf\r\n0\r\nX-T: y\r\n\r\n";
  for (std::size_t read_size : {1, 7, 4096}) {
    auto o = parse_requests(bytes, Limits{}, read_size);
    ASSERT_EQ(o.requests.size(), 3u) << read_size;
    EXPECT_FALSE(o.problem);
    EXPECT_EQ(o.requests[0].target, "/healthz");
    EXPECT_EQ(o.requests[1].body, "abc");
    EXPECT_EQ(o.requests[2].body, "def");
    EXPECT_EQ(o.requests[2].header("transfer-encoding"), "chunked");
  }
}

TEST(HttpFraming, ChunkLineTrailerOrSizeThatNeverEndsIsCutAtTheReadBuffer) {
  const Limits limits;
  for (const std::string& attack :
       {kChunked + "3;" + std::string(1 << 20, 'a'), kChunked + std::string(1 << 20, '0'),
        kChunked + "1\r\na\r\n0\r\nX-T: " + std::string(1 << 20, 'a')}) {
    auto o = parse_requests(attack, limits, 65536);
    EXPECT_EQ(status_of(o), 413);
    EXPECT_TRUE(o.requests.empty());
  }
  EXPECT_EQ(limits.read_buffer(), (8u << 10) + (16u << 10));
}

TEST(HttpFraming, ChunkFramingWithoutBodyCountsAgainstTheRequest) {
  std::string flood = kChunked;
  for (int i = 0; i < 100; ++i) flood += "1;" + std::string(4000, 'x') + "\r\na\r\n";
  flood += "0\r\n\r\n";
  EXPECT_EQ(status_of(parse_requests(flood, Limits{}, 65536)), 413);
  // The same framing with a body that carries it passes.
  std::string fair = kChunked;
  for (int i = 0; i < 100; ++i)
    fair += "1000;" + std::string(400, 'x') + "\r\n" + std::string(4096, 'b') + "\r\n";
  fair += "0\r\n\r\n";
  auto o = parse_requests(fair, Limits{}, 65536);
  EXPECT_FALSE(o.problem);
  ASSERT_EQ(o.requests.size(), 1u);
  EXPECT_EQ(o.requests[0].body.size(), 409600u);
}

TEST(HttpFraming, HeaderAndBodyLimits) {
  EXPECT_EQ(status_of(parse_requests("GET / HTTP/1.1\r\nX: " + std::string(20000, 'a') + "\r\n\r\n",
                                     Limits{}, 65536)),
            431);
  EXPECT_EQ(status_of(parse_requests("POST / HTTP/1.1\r\nContent-Length: 2000000\r\n\r\n", Limits{},
                                     65536)),
            413);
  EXPECT_EQ(status_of(parse_requests(kChunked + "200000\r\n" + std::string(1 << 21, 'a'), Limits{},
                                     65536)),
            413);
  EXPECT_EQ(status_of(parse_requests("NOT HTTP\r\n\r\n", Limits{}, 65536)), 400);
}

TEST(HttpFraming, HeaderValuesMustBeText) {
  auto o = parse_requests("POST / HTTP/1.1\r\nwebhook-id: id-\xe4\r\n\r\n", Limits{}, 65536);
  ASSERT_TRUE(o.problem);
  EXPECT_EQ(o.problem->status(), 400);
  ASSERT_EQ(o.problem->errors().size(), 1u);
  EXPECT_EQ(o.problem->errors()[0].field, "webhook-id");
  o = parse_requests("GET / HTTP/1.1\r\nX-Name: D\xc3\xbcsseldorf\r\n\r\n", Limits{}, 65536);
  EXPECT_FALSE(o.problem);
  EXPECT_EQ(o.requests.at(0).header("x-name"), "D\xc3\xbcsseldorf");
}

TEST(Text, Utf8IsCheckedStrictly) {
  EXPECT_TRUE(is_valid_utf8(""));
  EXPECT_TRUE(is_valid_utf8("D\xc3\xbcsseldorf \xe2\x82\xac \xf0\x9f\x98\x80"));
  EXPECT_FALSE(is_valid_utf8("\xff\xfe"));
  EXPECT_FALSE(is_valid_utf8("id-\xe4"));
  EXPECT_FALSE(is_valid_utf8("\xc0\xaf"));          // overlong '/'
  EXPECT_FALSE(is_valid_utf8("\xed\xb0\x80"));      // lone surrogate U+DC00
  EXPECT_FALSE(is_valid_utf8("\xf4\x90\x80\x80"));  // above U+10FFFF
  EXPECT_FALSE(is_valid_utf8("\xe2\x82"));          // cut short
  EXPECT_TRUE(is_valid_text("a b\tc"));
  EXPECT_FALSE(is_valid_text(std::string("d1\0x", 4)));
  EXPECT_TRUE(is_header_text("Bearer abc\tdef"));
  EXPECT_FALSE(is_header_text("a\x01z"));
  EXPECT_FALSE(is_header_text("a\x7fz"));
}

}  // namespace
}  // namespace gabe::http::framing
