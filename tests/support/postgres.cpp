#include "postgres.hpp"

#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/statvfs.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <mutex>
#include <random>
#include <stdexcept>

namespace gabe::test {

namespace {
constexpr const char* kPgBin = "/usr/lib/postgresql/15/bin";

// Where test clusters live: in memory (/dev/shm) when it has room, else /tmp. A test database
// is a 9 MB copy of the template; on a disk shared with compilers, creating one took
// 0.3-1 s, in memory 30-80 ms. The fixtures drop each test's database when the test ends, so
// a run needs little more than the parallel tests' databases.
std::string cluster_parent_dir() {
  struct statvfs fs {};
  constexpr unsigned long long kNeeded = 2ULL << 30;
  if (::statvfs("/dev/shm", &fs) == 0 && ::access("/dev/shm", W_OK) == 0 &&
      static_cast<unsigned long long>(fs.f_bavail) * fs.f_frsize >= kNeeded)
    return "/dev/shm";
  return "/tmp";
}
}  // namespace

int shell(const std::string& command, std::string* out) {
  std::FILE* pipe = ::popen(command.c_str(), "r");
  if (!pipe) return -1;
  std::array<char, 4096> buf{};
  std::size_t n;
  while ((n = std::fread(buf.data(), 1, buf.size(), pipe)) > 0) {
    if (out) out->append(buf.data(), n);
  }
  int status = ::pclose(pipe);
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

std::uint16_t free_port() {
  // The kernel hands out ephemeral ports (outgoing connections, binds to port 0) from
  // ip_local_port_range; ours come from below it.
  int ephemeral_low = 32768;
  std::ifstream("/proc/sys/net/ipv4/ip_local_port_range") >> ephemeral_low;
  constexpr int kFirst = 10000;
  const int last = std::max(kFirst + 2000, ephemeral_low) - 1;
  static std::mutex mutex;
  static std::mt19937 random(std::random_device{}() ^ static_cast<unsigned>(::getpid()));
  std::uniform_int_distribution<int> pick(kFirst, last);
  for (int attempt = 0; attempt < 200; ++attempt) {
    std::uint16_t port = 0;
    {
      std::lock_guard lock(mutex);
      port = static_cast<std::uint16_t>(pick(random));
    }
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0) throw std::runtime_error("cannot open a socket");
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = htons(port);
    const bool bound = ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
    ::close(fd);
    if (bound) return port;
  }
  throw std::runtime_error("cannot bind a free port");
}

bool port_was_taken(const std::string& log) {
  return log.find("Address already in use") != std::string::npos ||
         log.find("address already in use") != std::string::npos;
}

std::string PostgresCluster::run_as_owner(const std::string& command) const {
  if (::geteuid() == 0) return "runuser -u postgres -- " + command;
  return command;
}

PostgresCluster::PostgresCluster(Durability durability) : durability_(durability) {
  std::string tmpl = cluster_parent_dir() + "/gabe-test-pg-XXXXXX";
  if (!::mkdtemp(tmpl.data())) throw std::runtime_error("mkdtemp failed in " + tmpl);
  dir_ = tmpl;
  try {
    if (::geteuid() == 0 && shell("chown postgres:postgres " + dir_) != 0) {
      throw std::runtime_error("cannot chown the test cluster's directory to postgres");
    }
    std::string init = run_as_owner(std::string(kPgBin) + "/initdb -D " + dir_ +
                                    "/data -U gabe --auth=trust -E UTF8 --locale=C.UTF-8" +
                                    (durability_ == Durability::throwaway ? " --no-sync" : "") +
                                    " >/dev/null 2>&1");
    if (shell(init) != 0) throw std::runtime_error("initdb failed in " + dir_);
    // Another test may take the port between free_port() and the server's bind: then
    // another port.
    std::string log;
    for (int attempt = 1;; ++attempt) {
      port_ = free_port();
      if (try_start(&log)) break;
      if (attempt == 5 || !port_was_taken(log))
        throw std::runtime_error("pg_ctl start failed: " + log);
    }
  } catch (...) {
    shell("rm -rf " + dir_);
    throw;
  }
}

PostgresCluster::PostgresCluster(std::string dir, std::uint16_t port, bool take_ownership)
    : dir_(std::move(dir)), port_(port), running_(true), owned_(take_ownership) {}

PostgresCluster::~PostgresCluster() {
  if (!owned_) return;
  // Thrown away: no shutdown checkpoint (with many test databases it takes tens of seconds).
  if (running_) {
    shell(run_as_owner(std::string(kPgBin) + "/pg_ctl -D " + dir_ +
                       "/data -m immediate -w stop >/dev/null 2>&1"));
  }
  shell("rm -rf " + dir_);
}

void PostgresCluster::start() {
  if (running_) return;
  std::string log;
  if (!try_start(&log)) throw std::runtime_error("pg_ctl start failed: " + log);
}

bool PostgresCluster::try_start(std::string* log) {
  std::string settings = "-c listen_addresses=127.0.0.1 -c max_connections=300";
  if (durability_ == Durability::throwaway) {
    settings += " -c fsync=off -c synchronous_commit=off -c full_page_writes=off";
  } else {
    settings += " -c fsync=on";
  }
  std::string cmd = run_as_owner(std::string(kPgBin) + "/pg_ctl -D " + dir_ + "/data -l " + dir_ +
                                 "/postgres.log -w -t 30 -o \"-p " + std::to_string(port_) +
                                 " -k " + dir_ + " " + settings + "\" start >/dev/null 2>&1");
  if (shell(cmd) != 0) {
    log->clear();
    shell("tail -20 " + dir_ + "/postgres.log", log);
    return false;
  }
  running_ = true;
  return true;
}

void PostgresCluster::stop() {
  if (!running_) return;
  shell(run_as_owner(std::string(kPgBin) + "/pg_ctl -D " + dir_ +
                     "/data -m fast -w stop >/dev/null 2>&1"));
  running_ = false;
}

std::string PostgresCluster::url(const std::string& database) const {
  return "postgresql://gabe@127.0.0.1:" + std::to_string(port_) + "/" + database;
}

}  // namespace gabe::test
