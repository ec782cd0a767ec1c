// Child processes for end-to-end tests: the real service binaries on free ports.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace gabe::test {

// Where the binaries are: $GABE_BIN_DIR, set by CTest (tests/CMakeLists.txt).
std::string bin_dir();

class Process {
 public:
  Process(const std::string& path, const std::vector<std::string>& args,
          const std::map<std::string, std::string>& env,
          const std::string& stderr_file = "/dev/null");
  ~Process();
  Process(const Process&) = delete;
  Process& operator=(const Process&) = delete;

  pid_t pid() const { return pid_; }  // for /proc/<pid>/… (memory and CPU of a service)
  void signal(int sig);
  // Waits for exit up to `timeout`; returns the exit code, or -1 (killed by a signal / timeout).
  int wait(std::chrono::milliseconds timeout);
  bool running();

 private:
  pid_t pid_ = -1;
  bool reaped_ = false;
  int status_ = 0;
};

// A service binary started with GABE_DATABASE_URL and GABE_LISTEN on a free port; the
// constructor (and restart()) waits until /readyz answers 200.
class Service {
 public:
  Service(const std::string& binary, const std::string& database_url,
          std::map<std::string, std::string> extra_env = {});
  std::uint16_t port() const { return port_; }
  Process& process() { return *process_; }
  void kill9();
  void restart();
  const std::string& log_file() const { return log_; }

 private:
  void launch();
  std::string binary_;
  std::map<std::string, std::string> env_;
  std::uint16_t port_;
  std::string log_;
  std::unique_ptr<Process> process_;
};

// Runs a binary to completion; returns exit code, captures stdout (and stderr into err).
int run_command(const std::string& path, const std::vector<std::string>& args,
                const std::map<std::string, std::string>& env, std::string* out,
                std::string* err = nullptr, const std::string& stdin_file = "");

}  // namespace gabe::test
