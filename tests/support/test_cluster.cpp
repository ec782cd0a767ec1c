// One PostgreSQL cluster for a whole CTest run, so that each test (a process of its own under
// gtest_discover_tests) does not pay for initdb and migrations:
//
//   gabe_test_cluster start <state-file>   initdb, start, migrate the template, make tokens
//   gabe_test_cluster stop <state-file>    stop and remove it
//
// CTest runs these as the setup and cleanup of the fixture e2e_cluster; the tests find the
// cluster through GABE_TEST_CLUSTER=<state-file> (tests/CMakeLists.txt).
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <string>

#include "service_fixture.hpp"

namespace {

using gabe::test::PostgresCluster;

// Stops and removes the cluster named in `file`, if there is one (also one left behind by an
// interrupted run).
void remove_cluster(const std::string& file) {
  if (!std::filesystem::exists(file)) return;
  auto state = gabe::test::read_cluster_state(file);
  if (state.count("dir") && state.count("port")) {
    PostgresCluster old(state["dir"], static_cast<std::uint16_t>(std::stoi(state["port"])), true);
  }
  std::filesystem::remove(file);
}

}  // namespace

int main(int argc, char** argv) {
  const std::string command = argc == 3 ? argv[1] : "";
  if (command != "start" && command != "stop") {
    std::cerr << "usage: gabe_test_cluster start|stop <state-file>\n";
    return 2;
  }
  const std::string file = argv[2];
  try {
    remove_cluster(file);
    if (command == "start") {
      PostgresCluster cluster;
      auto tokens = gabe::test::make_template(cluster);
      gabe::test::write_cluster_state(file, cluster, tokens);
      cluster.release();
      std::cout << "test cluster on port " << cluster.port() << "\n";
    }
    return 0;
  } catch (const std::exception& e) {
    std::cerr << "gabe_test_cluster " << command << ": " << e.what() << "\n";
    return 1;
  }
}
