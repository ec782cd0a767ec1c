// Real data: the CDNOW purchase history (../shared/datasets/cdnow/, see its README) as a donor
// file. A give_90d model as of 1998-06-30 (validated on the held-out window 1998-04-01 ..
// 1998-06-30, trained on the windows before) must beat the plain RFM ranking in ROC AUC on
// that same window, and its card must say so.
#include <gtest/gtest.h>

#include <fstream>
#include <iostream>
#include <sstream>

#include "scoring_fixture.hpp"

namespace gabe::test {
namespace {

std::string cdnow_file() {
  return std::string(GABE_SOURCE_DIR) + "/../shared/datasets/cdnow/CDNOW_master.txt";
}

class ScoringCdnowTest : public ScoringTest {
 protected:
  void prepare_database() override {
    std::ifstream in(cdnow_file());
    if (!in) return;
    std::string line;
    std::getline(in, line);  // header
    std::vector<SyntheticGift> gifts;
    std::int64_t max_id = 0;
    while (std::getline(in, line)) {
      std::istringstream fields(line);
      std::int64_t customer = 0;
      std::string date;
      int items = 0;
      double dollars = 0;
      if (!(fields >> customer >> date >> items >> dollars)) continue;
      const auto cents = static_cast<std::int64_t>(dollars * 100 + 0.5);
      if (cents <= 0) continue;  // a few zero-value lines: not a gift
      max_id = std::max(max_id, customer);
      gifts.push_back({customer,
                       date.substr(0, 4) + "-" + date.substr(4, 2) + "-" + date.substr(6, 2), cents,
                       "online", false});
    }
    insert_donors(max_id);
    insert_gifts(gifts);
  }
};

TEST_F(ScoringCdnowTest, ModelBeatsRfmOnAHeldOutWindow) {
  if (!std::ifstream(cdnow_file())) GTEST_SKIP() << "the CDNOW data set is not at " << cdnow_file();
  EXPECT_EQ(scalar("SELECT count(*) FROM donor.gifts"), "69579");
  auto card = train("give_90d", "1998-06-30", R"({"windows": 4})");
  ASSERT_STREQ((*card)["status"].GetString(), "ready");
  const auto& m = (*card)["metrics"];
  const double auc = m["auc"].GetDouble(), rfm = m["rfm_baseline_auc"].GetDouble();
  std::cerr << "CDNOW give_90d as of 1998-06-30: model AUC " << auc << ", RFM AUC " << rfm
            << ", validation " << (*card)["windows"]["validation"]["examples"].GetInt64()
            << " donors\n";
  EXPECT_EQ(std::string((*card)["windows"]["validation"]["cutoff"].GetString()), "1998-04-01");
  EXPECT_GT(auc, rfm);
  EXPECT_GT(auc, 0.7);
}

}  // namespace
}  // namespace gabe::test
