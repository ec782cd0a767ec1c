// A throwaway PostgreSQL cluster for tests: initdb in a temp dir, on a free port, run as the
// postgres user when the tests run as root (the server refuses root).
#pragma once

#include <cstdint>
#include <string>

namespace gabe::test {

// What a cluster promises about committed data. A throwaway cluster (the shared cluster of a
// test run, sql_tests') runs with fsync, synchronous_commit and full_page_writes off: nothing
// waits on the disk, and when it is thrown away there is no dirty data to write back first.
// Such a cluster survives a stop and start, and a service or client killed with -9, but not a
// crash of the machine or of PostgreSQL itself. A test that kills PostgreSQL and counts what
// survived needs a durable one.
enum class Durability { throwaway, durable };

class PostgresCluster {
 public:
  // A new cluster, started; the destructor stops and removes it unless release() was called.
  explicit PostgresCluster(Durability durability = Durability::throwaway);
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
  bool try_start(std::string* log);
  std::string dir_;
  std::uint16_t port_ = 0;
  Durability durability_ = Durability::durable;
  bool running_ = false;
  bool owned_ = true;
};

// A free TCP port on 127.0.0.1 (bound and released), chosen at random below the kernel's
// ephemeral range, so that neither the outgoing connections of parallel tests nor another
// test's port-0 bind takes it before its user binds it. Parallel tests can still pick the
// same port by chance: whoever binds it second retries with another (Service, PostgresCluster).
std::uint16_t free_port();

// Whether a log says that the port was taken ("Address already in use").
bool port_was_taken(const std::string& log);

// Runs a shell command, returns its exit status; stdout is captured into `out` if given.
int shell(const std::string& command, std::string* out = nullptr);

}  // namespace gabe::test
