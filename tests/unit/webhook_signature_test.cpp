#include "webhook_signature.hpp"

#include <gtest/gtest.h>

namespace gabe::ingest {
namespace {

const std::string kSecret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
const std::string kOther = "whsec_c2VjcmV0LW51bWJlci10d28tZm9yLXRlc3Rz";
constexpr std::int64_t kNow = 1795514400;

TEST(WebhookSignature, AcceptsAValidSignature) {
  const std::string body = R"({"type":"gift.created","data":{}})";
  auto sig = sign_webhook(kSecret, "msg_1", kNow, body);
  EXPECT_EQ(sig.substr(0, 3), "v1,");
  EXPECT_EQ(verify_webhook_signature({kSecret}, "msg_1", std::to_string(kNow), sig, body, kNow),
            SignatureCheck::ok);
}

// The example from the Standard Webhooks specification.
TEST(WebhookSignature, MatchesTheStandardWebhooksReferenceVector) {
  const std::string body = R"({"test": 2432232314})";
  EXPECT_EQ(sign_webhook(kSecret, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, body),
            "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
}

TEST(WebhookSignature, AnyListedSignatureMatchingAnyCurrentSecretSuffices) {
  const std::string body = "{}";
  auto sig = sign_webhook(kOther, "id", kNow, body);
  const std::string header = "v1,AAAA v2,zzz " + sig;
  EXPECT_EQ(
      verify_webhook_signature({kSecret, kOther}, "id", std::to_string(kNow), header, body, kNow),
      SignatureCheck::ok);
  EXPECT_EQ(verify_webhook_signature({kSecret}, "id", std::to_string(kNow), header, body, kNow),
            SignatureCheck::mismatch);
}

TEST(WebhookSignature, RejectsTamperingStaleTimestampsAndMissingHeaders) {
  const std::string body = "{\"amount\":\"10.00\"}";
  const auto ts = std::to_string(kNow);
  auto sig = sign_webhook(kSecret, "id", kNow, body);
  EXPECT_EQ(verify_webhook_signature({kSecret}, "id", ts, sig, "{\"amount\":\"99.00\"}", kNow),
            SignatureCheck::mismatch);
  EXPECT_EQ(verify_webhook_signature({kSecret}, "other-id", ts, sig, body, kNow),
            SignatureCheck::mismatch);
  EXPECT_EQ(verify_webhook_signature({kSecret}, "id", ts, sig, body, kNow + 301),
            SignatureCheck::stale_timestamp);
  EXPECT_EQ(verify_webhook_signature({kSecret}, "id", ts, sig, body, kNow - 301),
            SignatureCheck::stale_timestamp);
  EXPECT_EQ(verify_webhook_signature({kSecret}, "id", ts, sig, body, kNow + 299),
            SignatureCheck::ok);
  EXPECT_EQ(verify_webhook_signature({kSecret}, "id", "12abc", sig, body, kNow),
            SignatureCheck::bad_timestamp);
  EXPECT_EQ(verify_webhook_signature({kSecret}, "", ts, sig, body, kNow),
            SignatureCheck::missing_headers);
  EXPECT_EQ(verify_webhook_signature({kSecret}, "id", ts, "", body, kNow),
            SignatureCheck::missing_headers);
  EXPECT_EQ(verify_webhook_signature({}, "id", ts, sig, body, kNow), SignatureCheck::mismatch);
  EXPECT_EQ(verify_webhook_signature({kSecret}, "id", ts, "v1,!!!notbase64", body, kNow),
            SignatureCheck::mismatch);
}

}  // namespace
}  // namespace gabe::ingest
