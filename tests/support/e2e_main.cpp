// main() of every end-to-end test binary: stops the cluster this process started, if any.
#include "service_fixture.hpp"

int main(int argc, char** argv) {
  ::testing::InitGoogleTest(&argc, argv);
  int rc = RUN_ALL_TESTS();
  gabe::test::shutdown_cluster();
  return rc;
}
