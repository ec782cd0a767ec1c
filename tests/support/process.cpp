#include "process.hpp"

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <thread>

#include "http_client.hpp"
#include "postgres.hpp"

extern char** environ;

namespace gabe::test {

namespace {

std::vector<std::string> merged_env(const std::map<std::string, std::string>& env) {
  std::map<std::string, std::string> all;
  for (char** e = environ; *e; ++e) {
    std::string kv = *e;
    auto eq = kv.find('=');
    if (eq != std::string::npos) all[kv.substr(0, eq)] = kv.substr(eq + 1);
  }
  for (const auto& [k, v] : env) {
    if (v.empty()) {
      all.erase(k);
    } else {
      all[k] = v;
    }
  }
  std::vector<std::string> out;
  for (const auto& [k, v] : all) out.push_back(k + "=" + v);
  return out;
}

pid_t spawn(const std::string& path, const std::vector<std::string>& args,
            const std::map<std::string, std::string>& env, const std::string& out_file,
            const std::string& err_file, const std::string& in_file) {
  auto env_strings = merged_env(env);
  std::vector<char*> envp;
  for (auto& s : env_strings) envp.push_back(s.data());
  envp.push_back(nullptr);
  std::vector<std::string> argv_strings{path};
  argv_strings.insert(argv_strings.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (auto& s : argv_strings) argv.push_back(s.data());
  argv.push_back(nullptr);
  pid_t pid = ::fork();
  if (pid < 0) throw std::runtime_error("fork failed");
  if (pid == 0) {
    int in = ::open(in_file.empty() ? "/dev/null" : in_file.c_str(), O_RDONLY);
    int out = ::open(out_file.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    int err = ::open(err_file.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    ::dup2(in, 0);
    ::dup2(out, 1);
    ::dup2(err, 2);
    ::execve(path.c_str(), argv.data(), envp.data());
    ::_exit(127);
  }
  return pid;
}

std::string read_file(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::string temp_path(const char* stem) {
  static std::atomic<int> counter{0};
  return "/tmp/gabe-test-" + std::to_string(::getpid()) + "-" + stem + "-" +
         std::to_string(counter++);
}

}  // namespace

std::string bin_dir() {
  const char* dir = std::getenv("GABE_BIN_DIR");
  if (!dir || !*dir)
    throw std::runtime_error("GABE_BIN_DIR is not set (run the tests through ctest or ./run test)");
  return dir;
}

Process::Process(const std::string& path, const std::vector<std::string>& args,
                 const std::map<std::string, std::string>& env, const std::string& stderr_file) {
  pid_ = spawn(path, args, env, "/dev/null", stderr_file, "");
}

Process::~Process() {
  if (running()) {
    ::kill(pid_, SIGKILL);
    wait(std::chrono::seconds(5));
  }
}

void Process::signal(int sig) {
  if (!reaped_) ::kill(pid_, sig);
}

bool Process::running() {
  if (reaped_) return false;
  int status = 0;
  pid_t r = ::waitpid(pid_, &status, WNOHANG);
  if (r == pid_) {
    reaped_ = true;
    status_ = status;
    return false;
  }
  return true;
}

int Process::wait(std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (running()) {
    if (std::chrono::steady_clock::now() > deadline) return -1;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return WIFEXITED(status_) ? WEXITSTATUS(status_) : -1;
}

Service::Service(const std::string& binary, const std::string& database_url,
                 std::map<std::string, std::string> env)
    : binary_(binary), env_(std::move(env)), port_(0), log_(temp_path("service-log")) {
  env_["GABE_DATABASE_URL"] = database_url;
  // A parallel test may take the port between free_port() and the service's bind: then
  // another port (only here: a restart keeps the port its clients know).
  for (int attempt = 1;; ++attempt) {
    port_ = free_port();
    env_["GABE_LISTEN"] = "127.0.0.1:" + std::to_string(port_);
    try {
      launch();
      return;
    } catch (const std::exception&) {
      if (attempt == 5 || process_->running() || !port_was_taken(read_file(log_))) throw;
      std::ofstream(log_, std::ios::trunc);  // the next attempt's log only
    }
  }
}

void Service::launch() {
  process_ =
      std::make_unique<Process>(bin_dir() + "/" + binary_, std::vector<std::string>{}, env_, log_);
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (std::chrono::steady_clock::now() < deadline) {
    if (!process_->running())
      throw std::runtime_error(binary_ + " exited at start: " + read_file(log_));
    try {
      HttpClient client(port_);
      if (client.get("/readyz").status == 200) return;
    } catch (const std::exception&) {
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  throw std::runtime_error(binary_ + " did not become ready: " + read_file(log_));
}

void Service::kill9() {
  process_->signal(SIGKILL);
  process_->wait(std::chrono::seconds(5));
}

void Service::restart() {
  if (process_->running()) kill9();
  launch();
}

int run_command(const std::string& path, const std::vector<std::string>& args,
                const std::map<std::string, std::string>& env, std::string* out, std::string* err,
                const std::string& stdin_file) {
  const std::string out_file = temp_path("out");
  const std::string err_file = temp_path("err");
  pid_t pid = spawn(path, args, env, out_file, err_file, stdin_file);
  int status = 0;
  ::waitpid(pid, &status, 0);
  if (out) *out = read_file(out_file);
  if (err) *err = read_file(err_file);
  std::remove(out_file.c_str());
  std::remove(err_file.c_str());
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

}  // namespace gabe::test
