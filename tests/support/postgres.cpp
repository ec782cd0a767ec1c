#include "postgres.hpp"

#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cstdio>
#include <cstdlib>
#include <stdexcept>

namespace gabe::test {

namespace {
constexpr const char* kPgBin = "/usr/lib/postgresql/15/bin";
}

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
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    ::close(fd);
    throw std::runtime_error("cannot bind a free port");
  }
  socklen_t len = sizeof addr;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  ::close(fd);
  return ntohs(addr.sin_port);
}

std::string PostgresCluster::run_as_owner(const std::string& command) const {
  if (::geteuid() == 0) return "runuser -u postgres -- " + command;
  return command;
}

PostgresCluster::PostgresCluster() {
  char tmpl[] = "/tmp/gabe-test-pg-XXXXXX";
  if (!::mkdtemp(tmpl)) throw std::runtime_error("mkdtemp failed");
  dir_ = tmpl;
  if (::geteuid() == 0 && shell("chown postgres:postgres " + dir_) != 0) {
    throw std::runtime_error("cannot chown the test cluster's directory to postgres");
  }
  port_ = free_port();
  std::string init =
      run_as_owner(std::string(kPgBin) + "/initdb -D " + dir_ +
                   "/data -U gabe --auth=trust -E UTF8 --locale=C.UTF-8 >/dev/null 2>&1");
  if (shell(init) != 0) throw std::runtime_error("initdb failed in " + dir_);
  start();
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
  std::string cmd =
      run_as_owner(std::string(kPgBin) + "/pg_ctl -D " + dir_ + "/data -l " + dir_ +
                   "/postgres.log -w -t 30 -o \"-p " + std::to_string(port_) + " -k " + dir_ +
                   " -c listen_addresses=127.0.0.1 -c max_connections=300 -c fsync=on\" start "
                   ">/dev/null 2>&1");
  if (shell(cmd) != 0) {
    std::string log;
    shell("tail -20 " + dir_ + "/postgres.log", &log);
    throw std::runtime_error("pg_ctl start failed: " + log);
  }
  running_ = true;
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
