// A throwaway PostgreSQL cluster for tests: initdb in a temp dir, on a free port, run as the
// postgres user when the tests run as root (the server refuses root).
#pragma once

#include <cstdint>
#include <string>

namespace gabe::test {

class PostgresCluster {
 public:
  // A new cluster, started; the destructor stops and removes it unless release() was called.
  PostgresCluster();
  // A running cluster started by another process (see tests/support/test_cluster.cpp); the
  // destructor leaves it alone unless `take_ownership`.
  PostgresCluster(std::string dir, std::uint16_t port, bool take_ownership);
  ~PostgresCluster();
  PostgresCluster(const PostgresCluster&) = delete;
  PostgresCluster& operator=(const PostgresCluster&) = delete;

  std::string url(const std::string& database = "postgres") const;
  std::uint16_t port() const { return port_; }
  void start();
  void stop();  // fast shutdown; start() again on the same port
  const std::string& dir() const { return dir_; }
  void release() { owned_ = false; }  // keep it running after this object is gone

 private:
  std::string run_as_owner(const std::string& command) const;
  std::string dir_;
  std::uint16_t port_ = 0;
  bool running_ = false;
  bool owned_ = true;
};

// A free TCP port on 127.0.0.1 (bound and released).
std::uint16_t free_port();

// Runs a shell command, returns its exit status; stdout is captured into `out` if given.
int shell(const std::string& command, std::string* out = nullptr);

}  // namespace gabe::test
