// gabe-ingest against hostile and unlucky clients at the HTTP layer (issue 7): chunked
// framing that never ends, text that is not text, connection exhaustion at the file limit, a
// stalled database behind /healthz, and the smaller protocol points (Allow, bearer scheme,
// 100 Continue). Raw sockets on 127.0.0.1 only; each attack is bounded in bytes and time.
#include <gtest/gtest.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <fstream>
#include <mutex>
#include <pqxx/pqxx>
#include <sstream>
#include <thread>

#include "gabe/json.hpp"
#include "ingest_fixture.hpp"
#include "webhook_signature.hpp"

namespace gabe::test {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

constexpr std::size_t kMiB = 1 << 20;

int connect_socket(std::uint16_t port) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) throw std::runtime_error("socket failed");
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    ::close(fd);
    throw std::runtime_error("connect failed");
  }
  return fd;
}

// The resident set of a process in KiB (VmRSS of /proc/PID/status).
long rss_kib(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("VmRSS:", 0) == 0) return std::stol(line.substr(6));
  }
  return -1;
}

// CPU time (user + system) a process has used so far.
std::chrono::milliseconds cpu_time(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string stat((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::istringstream fields(stat.substr(stat.rfind(')') + 2));
  std::string skip;
  for (int i = 3; i < 14; ++i) fields >> skip;  // state .. cmajflt
  long utime = 0;
  long stime = 0;
  fields >> utime >> stime;
  return std::chrono::milliseconds((utime + stime) * 1000 / ::sysconf(_SC_CLK_TCK));
}

// A client connection that reads whatever the server sends on its own thread while the test
// sends: an answer that comes while the client is still sending is kept, even when the reset
// that follows the server's close would drop it from the socket.
class RawConnection {
 public:
  explicit RawConnection(std::uint16_t port) : fd_(connect_socket(port)) {
    timeval tv{0, 200 * 1000};
    ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    timeval send_tv{5, 0};
    ::setsockopt(fd_, SOL_SOCKET, SO_SNDTIMEO, &send_tv, sizeof send_tv);
    reader_ = std::thread([this] {
      char buf[4096];
      while (!stop_.load()) {
        ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
        if (n > 0) {
          std::lock_guard lock(mutex_);
          received_.append(buf, static_cast<std::size_t>(n));
        } else if (n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)) {
          closed_.store(true);
          return;
        }
      }
    });
  }
  ~RawConnection() {
    stop_.store(true);
    reader_.join();
    ::close(fd_);
  }

  // False once the server has closed (or reset) the connection.
  bool send(std::string_view bytes) {
    while (!bytes.empty()) {
      ssize_t n = ::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL);
      if (n <= 0) return false;
      bytes.remove_prefix(static_cast<std::size_t>(n));
    }
    return true;
  }

  // The status of the first answer, waiting up to `timeout`; 0 if none came.
  int status(std::chrono::milliseconds timeout) {
    const auto deadline = Clock::now() + timeout;
    while (Clock::now() < deadline) {
      {
        std::lock_guard lock(mutex_);
        if (received_.size() >= 12 && received_.find("\r\n") != std::string::npos) {
          return std::stoi(received_.substr(9, 3));
        }
      }
      if (closed_.load()) break;
      std::this_thread::sleep_for(10ms);
    }
    std::lock_guard lock(mutex_);
    return received_.size() >= 12 ? std::stoi(received_.substr(9, 3)) : 0;
  }
  bool closed() const { return closed_.load(); }

 private:
  int fd_;
  std::thread reader_;
  std::atomic<bool> stop_{false};
  std::atomic<bool> closed_{false};
  std::mutex mutex_;
  std::string received_;
};

struct AttackResult {
  int status = 0;
  std::size_t sent = 0;
  long max_rss_kib = 0;
};

// Sends `head`, then `filler` over and over (up to `total` bytes or 30 s), watching the
// service's RSS; then waits for its answer.
AttackResult attack(std::uint16_t port, pid_t pid, const std::string& head,
                    const std::string& filler, std::size_t total) {
  AttackResult result;
  RawConnection c(port);
  std::string block;
  while (block.size() < kMiB) block += filler;
  const auto deadline = Clock::now() + 30s;
  bool open = c.send(head);
  for (int i = 0; open && result.sent < total && Clock::now() < deadline; ++i) {
    open = c.send(block);
    if (open) result.sent += block.size();
    if (i % 8 == 0) result.max_rss_kib = std::max(result.max_rss_kib, rss_kib(pid));
  }
  result.max_rss_kib = std::max(result.max_rss_kib, rss_kib(pid));
  result.status = c.status(5s);
  return result;
}

class HostileHttp : public IngestTest {
 protected:
  std::uint16_t port() { return service_->port(); }
  pid_t pid() { return service_->process().pid(); }
};

const std::string kChunkedWebhook =
    "POST /v1/webhooks/crm HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
    "Transfer-Encoding: chunked\r\n\r\n";

TEST_F(HostileHttp, ChunkSizeLineWithoutEndIsCutAndMemoryStaysBounded) {
  auto r = attack(port(), pid(), kChunkedWebhook + "3;", "a", 256 * kMiB);
  EXPECT_TRUE(r.status == 400 || r.status == 413) << r.status;
  EXPECT_LT(r.sent, 256 * kMiB) << "the server kept reading";
  EXPECT_LT(r.max_rss_kib, 100 * 1024) << "RSS grew to " << r.max_rss_kib << " KiB";
  EXPECT_EQ(client_->get("/healthz").status, 200);
}

TEST_F(HostileHttp, ChunkSizeOfEndlessZerosIsCut) {
  auto r = attack(port(), pid(), kChunkedWebhook, "0", 256 * kMiB);
  EXPECT_TRUE(r.status == 400 || r.status == 413) << r.status;
  EXPECT_LT(r.sent, 256 * kMiB);
  EXPECT_LT(r.max_rss_kib, 100 * 1024) << "RSS grew to " << r.max_rss_kib << " KiB";
}

TEST_F(HostileHttp, EndlessTrailerIsCut) {
  auto r = attack(port(), pid(), kChunkedWebhook + "2\r\n{}\r\n0\r\nX-Trailer: ", "a", 256 * kMiB);
  EXPECT_TRUE(r.status == 400 || r.status == 413) << r.status;
  EXPECT_LT(r.sent, 256 * kMiB);
  EXPECT_LT(r.max_rss_kib, 100 * 1024) << "RSS grew to " << r.max_rss_kib << " KiB";
}

TEST_F(HostileHttp, StreamedImportChunkLineWithoutEndIsCut) {
  auto r = attack(port(), pid(),
                  "POST /v1/import HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer " +
                      admin_token_ +
                      "\r\nContent-Type: application/x-ndjson\r\nTransfer-Encoding: chunked\r\n\r\n"
                      "3;",
                  "a", 256 * kMiB);
  EXPECT_TRUE(r.status == 400 || r.status == 413) << r.status;
  EXPECT_LT(r.sent, 256 * kMiB);
  EXPECT_LT(r.max_rss_kib, 100 * 1024) << "RSS grew to " << r.max_rss_kib << " KiB";
}

// Each chunk line fits the read buffer, but chunk framing without body still counts: a
// flood of one-byte chunks with long extensions is cut long before the body limit.
TEST_F(HostileHttp, ChunkExtensionFloodCountsAgainstTheRequest) {
  const std::string chunk = "1;" + std::string(4000, 'x') + "\r\na\r\n";
  auto r = attack(port(), pid(), kChunkedWebhook, chunk, 64 * kMiB);
  EXPECT_EQ(r.status, 413);
  EXPECT_LT(r.sent, 8 * kMiB) << "the server kept reading chunk framing";
}

TEST_F(HostileHttp, OrdinaryChunkedBodiesStillWork) {
  const std::string body =
      R"({"type":"gift.created","timestamp":"2026-11-24T10:00:00Z","data":{"gift_ref":"g1",)"
      R"("donor_ref":"d1","amount":"5.00","received_on":"2026-11-20"}})";
  const auto now = std::chrono::duration_cast<std::chrono::seconds>(
                       std::chrono::system_clock::now().time_since_epoch())
                       .count();
  std::string framed;
  for (std::size_t i = 0; i < body.size(); i += 7) {
    auto part = body.substr(i, 7);
    char size[8];
    std::snprintf(size, sizeof size, "%zx", part.size());
    framed += std::string(size) + ";ext=1\r\n" + part + "\r\n";
  }
  framed += "0\r\nX-Trailer: fine\r\n\r\n";
  auto r = client_->raw(
      "POST /v1/webhooks/crm HTTP/1.1\r\nHost: 127.0.0.1\r\n"
      "Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n"
      "webhook-id: ev-chunked\r\nwebhook-timestamp: " +
      std::to_string(now) + "\r\nwebhook-signature: " +
      ingest::sign_webhook(secret_, "ev-chunked", now, body) + "\r\n\r\n" + framed);
  EXPECT_EQ(r.status, 200) << r.body;
}

// ---- text at the edge

TEST_F(HostileHttp, InvalidUtf8OrNulInPathQueryOrHeaderIs400NamingIt) {
  ASSERT_EQ(event("donor.upserted", R"({"donor_ref":"d1","first_name":"Anna"})", "ev-1").status,
            200);
  auto field = [](const HttpResponse& r) {
    auto doc = json(r);
    if (!doc || !doc->HasMember("errors") || (*doc)["errors"].Empty()) return std::string();
    return std::string((*doc)["errors"][0]["field"].GetString());
  };
  auto r = get("/v1/donors?source=crm&ref=%ff%fe");
  EXPECT_EQ(r.status, 400) << r.body;
  EXPECT_EQ(field(r), "ref");
  r = get("/v1/donors?source=crm&ref=d1%00x");
  EXPECT_EQ(r.status, 400) << r.body;  // not cut at the NUL to find d1
  EXPECT_EQ(field(r), "ref");
  r = get("/v1/audit?action=%ff");
  EXPECT_EQ(r.status, 400) << r.body;
  EXPECT_EQ(field(r), "action");
  r = admin("DELETE", "/v1/donors/1?reason=%ff");
  EXPECT_EQ(r.status, 400) << r.body;
  EXPECT_EQ(field(r), "reason");
  r = get("/v1/donors/%c3%28");
  EXPECT_EQ(r.status, 400) << r.body;
  EXPECT_EQ(field(r), "id");
  r = webhook(
      R"({"type":"donor.upserted","timestamp":"2026-11-24T10:00:00Z","data":{"donor_ref":"d2"}})",
      "id-\xe4");
  EXPECT_EQ(r.status, 400) << r.body;
  EXPECT_EQ(field(r), "webhook-id");
  // Valid UTF-8 still passes everywhere.
  EXPECT_EQ(get("/v1/donors?source=crm&ref=d%C3%BCsseldorf").status, 404);
  EXPECT_EQ(get("/v1/donors?source=crm&ref=d1").status, 200);
  EXPECT_EQ(scalar("SELECT count(*) FROM ingest.inbox"), "1");
}

// ---- connections

// Opens `n` keep-alive connections that each made one request; returns how many were served.
int open_idle_keep_alive(std::uint16_t port, int n,
                         std::vector<std::unique_ptr<HttpClient>>& clients) {
  int served = 0;
  for (int i = 0; i < n; ++i) {
    auto c = std::make_unique<HttpClient>(port, 3000);
    try {
      if (c->get("/healthz").status == 200) ++served;
    } catch (const std::exception&) {
    }
    clients.push_back(std::move(c));
  }
  return served;
}

TEST_F(HostileHttp, IdleKeepAliveConnectionsGiveWayToNewClients) {
  service_ = std::make_unique<Service>(
      "gabe-ingest", url_,
      std::map<std::string, std::string>{{"GABE_HTTP_WORKERS", "8"},
                                         {"GABE_HTTP_MAX_CONNECTIONS", "50"}});
  std::vector<std::unique_ptr<HttpClient>> idle;
  EXPECT_EQ(open_idle_keep_alive(service_->port(), 80, idle), 80);
  HttpClient fresh(service_->port(), 2000);
  const auto start = Clock::now();
  EXPECT_EQ(fresh.get("/healthz").status, 200);
  EXPECT_LT(Clock::now() - start, 1s);
}

// A service started under `prlimit --nofile=N:N` on a port of its own.
class LimitedService {
 public:
  LimitedService(const std::string& url, int files, std::map<std::string, std::string> env) {
    port_ = pick_port();
    env["GABE_DATABASE_URL"] = url;
    env["GABE_LISTEN"] = "127.0.0.1:" + std::to_string(port_);
    const std::string limit = std::to_string(files);
    process_ = std::make_unique<Process>(
        "/usr/bin/prlimit",
        std::vector<std::string>{"--nofile=" + limit + ":" + limit, bin_dir() + "/gabe-ingest"},
        env);
    const bool up = wait_until(
        [&] {
          try {
            HttpClient c(port_, 500);
            return c.get("/healthz").status == 200;
          } catch (const std::exception&) {
            return false;
          }
        },
        10s);
    if (!up) throw std::runtime_error("gabe-ingest did not start");
  }
  std::uint16_t port() const { return port_; }
  pid_t pid() const { return process_->pid(); }

 private:
  static std::uint16_t pick_port() {
    int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
    socklen_t len = sizeof addr;
    ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
    ::close(fd);
    return ntohs(addr.sin_port);
  }
  std::uint16_t port_;
  std::unique_ptr<Process> process_;
};

// At a file limit of 1,024 the default connection limit fits under it, and 1,100 idle
// keep-alive connections neither lock out a new client nor run the process out of files.
TEST_F(HostileHttp, AtAFileLimitOf1024IdleConnectionsDoNotLockOutNewClients) {
  service_.reset();
  LimitedService limited(url_, 1024, {{"GABE_HTTP_WORKERS", "8"}});
  std::vector<std::unique_ptr<HttpClient>> idle;
  EXPECT_EQ(open_idle_keep_alive(limited.port(), 1100, idle), 1100);
  HttpClient fresh(limited.port(), 2000);
  const auto start = Clock::now();
  EXPECT_EQ(fresh.get("/healthz").status, 200);
  EXPECT_LT(Clock::now() - start, 1s);
}

// The default connection limit fits the file limit (1,024 minus the pool of 16 minus 64):
// connections beyond it are closed at once instead of waiting, unaccepted, in the backlog
// while accept fails with EMFILE.
TEST_F(HostileHttp, DefaultConnectionLimitFitsTheFileLimit) {
  service_.reset();
  LimitedService limited(url_, 1024, {{"GABE_HTTP_WORKERS", "8"}});
  std::vector<int> silent;
  for (int i = 0; i < 1100; ++i) silent.push_back(connect_socket(limited.port()));
  std::this_thread::sleep_for(1s);
  int closed_by_server = 0;
  for (int fd : silent) {
    char byte;
    const ssize_t n = ::recv(fd, &byte, 1, MSG_DONTWAIT);
    if (n == 0 || (n < 0 && errno == ECONNRESET)) ++closed_by_server;
    ::close(fd);
  }
  EXPECT_GE(closed_by_server, 1100 - 944 - 10);
  EXPECT_LE(closed_by_server, 1100 - 900);
}

// Out of file descriptors (a connection limit set above the file limit, and clients that
// hold their connections without sending), accepting backs off instead of spinning.
TEST_F(HostileHttp, OutOfFileDescriptorsTheAcceptLoopBacksOff) {
  service_.reset();
  LimitedService limited(url_, 1024,
                         {{"GABE_HTTP_WORKERS", "8"},
                          {"GABE_HTTP_MAX_CONNECTIONS", "5000"},
                          {"GABE_HTTP_READ_TIMEOUT", "3"}});
  std::vector<int> silent;
  for (int i = 0; i < 1100; ++i) silent.push_back(connect_socket(limited.port()));
  std::this_thread::sleep_for(500ms);
  const auto before = cpu_time(limited.pid());
  std::this_thread::sleep_for(1s);
  const auto used = cpu_time(limited.pid()) - before;
  EXPECT_LT(used, 300ms) << "the accept loop spins";
  // The silent clients time out; then the service answers again.
  for (int fd : silent) ::close(fd);
  const bool answers = wait_until(
      [&] {
        try {
          HttpClient c(limited.port(), 1000);
          return c.get("/healthz").status == 200;
        } catch (const std::exception&) {
          return false;
        }
      },
      10s);
  EXPECT_TRUE(answers);
}

// ---- a stalled database

TEST_F(HostileHttp, HealthAndMetricsAnswerWhileTheDatabaseIsLocked) {
  pqxx::connection locker(url_);
  pqxx::work lock(locker);
  lock.exec("LOCK TABLE ingest.inbox IN ACCESS EXCLUSIVE MODE");
  // More webhooks than workers (8): every worker waits for the lock.
  std::vector<std::thread> senders;
  std::atomic<int> answered{0};
  for (int i = 0; i < 16; ++i) {
    senders.emplace_back([&, i] {
      try {
        HttpClient c(service_->port(), 60000);
        const std::string id = "locked-" + std::to_string(i);
        auto r = send_webhook(c, secret_, id,
                              R"({"type":"donor.upserted","timestamp":"2026-11-24T10:00:00Z",)"
                              R"("data":{"donor_ref":"d)" +
                                  std::to_string(i) + R"("}})");
        if (r.status == 200 || r.status == 503) ++answered;
      } catch (const std::exception&) {
      }
    });
  }
  std::this_thread::sleep_for(1s);
  for (const std::string target : {"/healthz", "/metrics"}) {
    HttpClient probe(service_->port(), 3000);
    const auto start = Clock::now();
    int status = 0;
    try {
      status = probe.get(target).status;
    } catch (const std::exception&) {
    }
    EXPECT_EQ(status, 200) << target;
    EXPECT_LT(Clock::now() - start, 1s) << target;
  }
  lock.abort();
  for (auto& t : senders) t.join();
  EXPECT_EQ(answered.load(), 16);
}

// ---- smaller protocol points

TEST_F(HostileHttp, MethodNotAllowedNamesTheAllowedMethods) {
  auto r = admin("PUT", "/v1/stats");
  EXPECT_EQ(r.status, 405);
  EXPECT_EQ(r.header("allow").value_or(""), "GET, HEAD");
  r = admin("POST", "/v1/donors/5");
  EXPECT_EQ(r.status, 405);
  EXPECT_EQ(r.header("allow").value_or(""), "GET, HEAD, DELETE");
}

TEST_F(HostileHttp, BearerSchemeIsCaseInsensitive) {
  for (const std::string scheme : {"bearer", "BEARER", "bEaReR"}) {
    auto r = client_->request("GET", "/v1/stats", {{"Authorization", scheme + " " + admin_token_}});
    EXPECT_EQ(r.status, 200) << scheme;
  }
  EXPECT_EQ(
      client_->request("GET", "/v1/stats", {{"Authorization", "Basic " + admin_token_}}).status,
      401);
}

TEST_F(HostileHttp, ContinueIsSentOnlyAfterTheTokenIsChecked) {
  const std::string head =
      "POST /v1/import HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/x-ndjson\r\n"
      "Content-Length: 100000\r\nExpect: 100-continue\r\n";
  {
    HttpClient c(port(), 3000);
    auto r = c.raw(head + "Authorization: Bearer gabe_nonsense\r\n\r\n");
    EXPECT_EQ(r.status, 401) << "the body was invited before the token was checked";
  }
  {
    HttpClient c(port(), 3000);
    auto r = c.raw(head + "Authorization: Bearer " + viewer_token_ + "\r\n\r\n");
    EXPECT_EQ(r.status, 403);
  }
  {
    HttpClient c(port(), 3000);
    auto r = c.raw(head + "Authorization: Bearer " + admin_token_ + "\r\n\r\n");
    EXPECT_EQ(r.status, 100);
  }
  // A route that reads its body whole: the same.
  HttpClient c(port(), 3000);
  auto r = c.raw(
      "POST /v1/events/1/replay HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 10\r\n"
      "Expect: 100-continue\r\nAuthorization: Bearer gabe_nonsense\r\n\r\n");
  EXPECT_EQ(r.status, 401);
}

}  // namespace
}  // namespace gabe::test
