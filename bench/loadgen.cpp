// gabe-loadgen: a closed-loop load generator for `POST /v1/webhooks/{source}`.
//
// C keep-alive connections, one thread each, send Standard-Webhooks-signed gift.created events
// (unique webhook-id and gift ref per request, donor refs spread over --donors) and wait for each
// answer before sending the next. Requests in the first --warmup seconds are not counted; then
// requests are measured for --duration seconds (or until --max-requests answers). Prints one JSON
// line on stdout: throughput, latency percentiles, answers by status. Loopback targets only.
//
// Plain POSIX sockets on purpose: small, fast to compile, and no HTTP library in the measurement.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <cerrno>
#include <chrono>
#include <cinttypes>
#include <cmath>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <mutex>
#include <stdexcept>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "webhook_signature.hpp"

namespace {

using Clock = std::chrono::steady_clock;

struct Options {
  std::string host = "127.0.0.1";
  int port = 0;
  std::string source;
  std::string secret;
  int connections = 32;
  double duration_s = 20.0;
  double warmup_s = 2.0;
  std::uint64_t max_requests = 5'000'000;  // measured answers at most (a bound, not a target)
  std::uint64_t donors = 10'000;
  std::string run_id;
  double io_timeout_s = 10.0;
  std::string get_path;  // GET mode when not empty
  std::string token;     // GET mode: bearer token (GABE_LOADGEN_TOKEN)
};

[[noreturn]] void usage(const char* why) {
  std::fprintf(stderr,
               "gabe-loadgen: %s\n"
               "usage: gabe-loadgen --port P --source NAME --secret whsec_... [--host 127.0.0.1]\n"
               "         [--connections 32] [--duration 20] [--warmup 2] [--max-requests N]\n"
               "         [--donors 10000] [--run-id ID] [--timeout 10]\n"
               "   or: gabe-loadgen --port P --get PATH [--donors N] [...] (GET PATH, \"{n}\" in\n"
               "         it replaced by 1..N; bearer token from GABE_LOADGEN_TOKEN)\n",
               why);
  std::exit(2);
}

double parse_double(const char* s, double lo, double hi, const char* what) {
  char* end = nullptr;
  errno = 0;
  const double v = std::strtod(s, &end);
  if (errno != 0 || end == s || *end != '\0' || !(v >= lo && v <= hi)) usage(what);
  return v;
}

std::uint64_t parse_u64(const char* s, std::uint64_t lo, std::uint64_t hi, const char* what) {
  char* end = nullptr;
  errno = 0;
  const unsigned long long v = std::strtoull(s, &end, 10);
  if (errno != 0 || end == s || *end != '\0' || v < lo || v > hi) usage(what);
  return v;
}

Options parse_args(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    const std::string_view a = argv[i];
    if (i + 1 >= argc) usage("missing value");
    const char* v = argv[++i];
    if (a == "--host") {
      o.host = v;
    } else if (a == "--port") {
      o.port = static_cast<int>(parse_u64(v, 1, 65535, "bad --port"));
    } else if (a == "--source") {
      o.source = v;
    } else if (a == "--secret") {
      o.secret = v;
    } else if (a == "--connections") {
      o.connections = static_cast<int>(parse_u64(v, 1, 1024, "bad --connections"));
    } else if (a == "--duration") {
      o.duration_s = parse_double(v, 0.1, 600, "bad --duration (0.1..600 s)");
    } else if (a == "--warmup") {
      o.warmup_s = parse_double(v, 0, 120, "bad --warmup (0..120 s)");
    } else if (a == "--max-requests") {
      o.max_requests = parse_u64(v, 1, 100'000'000, "bad --max-requests");
    } else if (a == "--donors") {
      o.donors = parse_u64(v, 1, 100'000'000, "bad --donors");
    } else if (a == "--run-id") {
      o.run_id = v;
    } else if (a == "--timeout") {
      o.io_timeout_s = parse_double(v, 0.1, 120, "bad --timeout");
    } else if (a == "--get") {
      o.get_path = v;
    } else {
      usage("unknown option");
    }
  }
  if (o.port == 0) usage("--port is required");
  if (!o.get_path.empty()) {
    if (o.get_path.front() != '/' || o.get_path.find_first_of(" \r\n") != std::string::npos) {
      usage("--get must be a path starting with '/'");
    }
    if (const char* t = std::getenv("GABE_LOADGEN_TOKEN")) o.token = t;
  } else if (o.source.empty() || o.secret.empty()) {
    usage("--source and --secret are required");
  }
  if (o.host == "localhost") o.host = "127.0.0.1";
  in_addr addr{};
  if (inet_pton(AF_INET, o.host.c_str(), &addr) != 1 || (ntohl(addr.s_addr) >> 24) != 127) {
    usage("--host must be an IPv4 loopback address (127.0.0.0/8)");
  }
  for (char c : o.source) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '_') {
      usage("--source may hold only letters, digits, '-' and '_'");
    }
  }
  if (o.run_id.empty()) {
    o.run_id = std::to_string(std::chrono::system_clock::now().time_since_epoch().count());
  }
  return o;
}

// What every thread shares: the phase clock and the stop flag.
struct Shared {
  Clock::time_point start;
  Clock::time_point measure_from;
  Clock::time_point measure_until;
  std::atomic<std::uint64_t> measured{0};
  std::atomic<bool> stop{false};
};

struct ThreadResult {
  std::vector<std::uint32_t> latencies_us;  // measured requests only
  std::map<int, std::uint64_t> statuses;    // measured requests only
  std::uint64_t processed = 0;
  std::uint64_t duplicate = 0;
  std::uint64_t errors = 0;  // connection failures, timeouts, unparseable answers
  std::uint64_t connects = 0;
  std::uint64_t warmup_requests = 0;
  std::string first_error;
  Clock::time_point last_answer{};
};

class Connection {
 public:
  explicit Connection(const Options& o) : opts_(o) {}
  ~Connection() { close(); }
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  void close() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
    buf_.clear();
  }
  bool open() const { return fd_ >= 0; }

  void connect() {
    close();
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd_ < 0) throw std::runtime_error(std::string("socket: ") + std::strerror(errno));
    const int one = 1;
    ::setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    timeval tv{};
    tv.tv_sec = static_cast<time_t>(opts_.io_timeout_s);
    tv.tv_usec =
        static_cast<suseconds_t>((opts_.io_timeout_s - static_cast<double>(tv.tv_sec)) * 1e6);
    ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    ::setsockopt(fd_, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<std::uint16_t>(opts_.port));
    inet_pton(AF_INET, opts_.host.c_str(), &addr.sin_addr);
    if (::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
      const std::string why = std::strerror(errno);
      close();
      throw std::runtime_error("connect: " + why);
    }
  }

  void send_all(std::string_view data) {
    while (!data.empty()) {
      const ssize_t n = ::send(fd_, data.data(), data.size(), MSG_NOSIGNAL);
      if (n < 0) {
        if (errno == EINTR) continue;
        throw std::runtime_error(std::string("send: ") + std::strerror(errno));
      }
      data.remove_prefix(static_cast<std::size_t>(n));
    }
  }

  // Reads one HTTP/1.1 response; returns its status, fills `body` and `keep_alive`.
  int read_response(std::string& body, bool& keep_alive) {
    std::size_t header_end;
    while ((header_end = buf_.find("\r\n\r\n")) == std::string::npos) {
      if (buf_.size() > std::size_t{64} * 1024)
        throw std::runtime_error("response header too large");
      fill();
    }
    const std::string_view head(buf_.data(), header_end);
    if (head.size() < 12 || head.substr(0, 5) != "HTTP/") {
      throw std::runtime_error("bad status line");
    }
    const auto sp = head.find(' ');
    if (sp == std::string_view::npos || sp + 4 > head.size()) {
      throw std::runtime_error("bad status line");
    }
    int status = 0;
    for (std::size_t i = sp + 1; i < sp + 4; ++i) {
      if (head[i] < '0' || head[i] > '9') throw std::runtime_error("bad status code");
      status = status * 10 + (head[i] - '0');
    }
    const bool http10 = head.substr(0, 8) == "HTTP/1.0";
    keep_alive = !http10;
    std::size_t content_length = 0;
    bool have_length = false;
    std::size_t pos = head.find("\r\n");
    while (pos != std::string_view::npos && pos < head.size()) {
      const std::size_t start = pos + 2;
      std::size_t end = head.find("\r\n", start);
      if (end == std::string_view::npos) end = head.size();
      const std::string_view line = head.substr(start, end - start);
      const auto colon = line.find(':');
      if (colon != std::string_view::npos) {
        std::string name(line.substr(0, colon));
        for (auto& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        std::string_view value = line.substr(colon + 1);
        while (!value.empty() && (value.front() == ' ' || value.front() == '\t')) {
          value.remove_prefix(1);
        }
        if (name == "content-length") {
          content_length = std::strtoull(std::string(value).c_str(), nullptr, 10);
          have_length = true;
        } else if (name == "connection") {
          std::string v(value);
          for (auto& c : v) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
          if (v.find("close") != std::string::npos) keep_alive = false;
          if (v.find("keep-alive") != std::string::npos) keep_alive = true;
        } else if (name == "transfer-encoding") {
          throw std::runtime_error("chunked responses are not supported");
        }
      }
      pos = end;
    }
    if (!have_length) throw std::runtime_error("response without content-length");
    if (content_length > std::size_t{16} * 1024 * 1024)
      throw std::runtime_error("response body too large");
    const std::size_t total = header_end + 4 + content_length;
    while (buf_.size() < total) fill();
    body.assign(buf_, header_end + 4, content_length);
    buf_.erase(0, total);
    return status;
  }

 private:
  void fill() {
    char tmp[16 * 1024];
    for (;;) {
      const ssize_t n = ::recv(fd_, tmp, sizeof tmp, 0);
      if (n > 0) {
        buf_.append(tmp, static_cast<std::size_t>(n));
        return;
      }
      if (n == 0) throw std::runtime_error("connection closed by server");
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) throw std::runtime_error("read timeout");
      throw std::runtime_error(std::string("recv: ") + std::strerror(errno));
    }
  }

  const Options& opts_;
  int fd_ = -1;
  std::string buf_;
};

std::int64_t unix_now() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// splitmix64: a cheap, deterministic spread of donor refs and amounts.
std::uint64_t mix(std::uint64_t z) {
  z += 0x9e3779b97f4a7c15ULL;
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

void run_thread(const Options& o, Shared& shared, int index, ThreadResult& r) {
  Connection conn(o);
  std::string request;
  std::string body;
  std::string answer;
  std::string id;
  request.reserve(1024);
  body.reserve(512);
  r.latencies_us.reserve(static_cast<std::size_t>(o.duration_s * 20000 / o.connections) + 1024);
  const std::string path = "/v1/webhooks/" + o.source;
  const std::string host = o.host + ":" + std::to_string(o.port);
  std::uint64_t seq = 0;
  int consecutive_failures = 0;

  while (!shared.stop.load(std::memory_order_relaxed)) {
    const auto now0 = Clock::now();
    if (now0 >= shared.measure_until) break;
    ++seq;
    const std::uint64_t h = mix((static_cast<std::uint64_t>(index) << 40) ^ seq);
    const std::uint64_t donor = h % o.donors;
    const std::uint64_t cents = 500 + (h >> 20) % 20000;  // 5.00 .. 204.99
    char amount[32];
    std::snprintf(amount, sizeof amount, "%" PRIu64 ".%02" PRIu64, cents / 100, cents % 100);
    if (!o.get_path.empty()) {
      std::string target = o.get_path;
      if (const auto at = target.find("{n}"); at != std::string::npos) {
        target.replace(at, 3, std::to_string(1 + donor));
      }
      request.clear();
      request.append("GET ").append(target).append(" HTTP/1.1\r\nHost: ").append(host);
      if (!o.token.empty()) request.append("\r\nAuthorization: Bearer ").append(o.token);
      request.append("\r\n\r\n");
    } else {
      const std::string gift_ref =
          "lg-" + o.run_id + "-" + std::to_string(index) + "-" + std::to_string(seq);
      id = "msg_" + gift_ref;
      body.clear();
      body.append(
              R"({"type":"gift.created","timestamp":"2026-11-24T10:00:00Z","data":{"gift_ref":")")
          .append(gift_ref)
          .append(R"(","donor_ref":"lgd-)")
          .append(std::to_string(donor))
          .append(R"(","amount":")")
          .append(amount)
          .append(R"(","currency":"EUR","received_on":"2026-11-20","channel":"online"}})");
      const std::int64_t ts = unix_now();
      const std::string signature = gabe::ingest::sign_webhook(o.secret, id, ts, body);
      request.clear();
      request.append("POST ")
          .append(path)
          .append(" HTTP/1.1\r\nHost: ")
          .append(host)
          .append("\r\nContent-Type: application/json\r\nwebhook-id: ")
          .append(id)
          .append("\r\nwebhook-timestamp: ")
          .append(std::to_string(ts))
          .append("\r\nwebhook-signature: ")
          .append(signature)
          .append("\r\nContent-Length: ")
          .append(std::to_string(body.size()))
          .append("\r\n\r\n")
          .append(body);
    }

    const auto t0 = Clock::now();
    int status = 0;
    bool keep_alive = true;
    try {
      if (!conn.open()) {
        conn.connect();
        ++r.connects;
      }
      conn.send_all(request);
      status = conn.read_response(answer, keep_alive);
      consecutive_failures = 0;
    } catch (const std::exception& e) {
      conn.close();
      ++r.errors;
      if (r.first_error.empty()) r.first_error = e.what();
      if (++consecutive_failures >= 50) {
        shared.stop.store(true);  // the service is gone; do not spin
        break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
      continue;
    }
    const auto t1 = Clock::now();
    if (!keep_alive) conn.close();
    if (t0 < shared.measure_from) {
      ++r.warmup_requests;
      continue;
    }
    if (t1 > shared.measure_until) break;  // finished after the window: not counted
    const auto us = std::chrono::duration_cast<std::chrono::microseconds>(t1 - t0).count();
    r.latencies_us.push_back(static_cast<std::uint32_t>(std::min<std::int64_t>(us, UINT32_MAX)));
    ++r.statuses[status];
    if (status == 200 && !o.get_path.empty()) {
      ++r.processed;
    } else if (status == 200) {
      if (answer.find("\"processed\"") != std::string::npos) {
        ++r.processed;
      } else if (answer.find("\"duplicate\"") != std::string::npos) {
        ++r.duplicate;
      }
    }
    r.last_answer = t1;
    if (shared.measured.fetch_add(1, std::memory_order_relaxed) + 1 >= o.max_requests) {
      shared.stop.store(true);
      break;
    }
  }
}

double cpu_seconds() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return static_cast<double>(u.ru_utime.tv_sec + u.ru_stime.tv_sec) +
         static_cast<double>(u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6;
}

double percentile_ms(const std::vector<std::uint32_t>& sorted, double p) {
  if (sorted.empty()) return 0;
  // Nearest rank: the smallest value with at least p % of the samples at or below it.
  auto rank = static_cast<std::size_t>(std::ceil(p / 100.0 * static_cast<double>(sorted.size())));
  if (rank > 0) --rank;
  if (rank >= sorted.size()) rank = sorted.size() - 1;
  return sorted[rank] / 1000.0;
}

}  // namespace

int main(int argc, char** argv) {
  std::signal(SIGPIPE, SIG_IGN);
  const Options o = parse_args(argc, argv);

  Shared shared;
  shared.start = Clock::now();
  shared.measure_from = shared.start + std::chrono::duration_cast<Clock::duration>(
                                           std::chrono::duration<double>(o.warmup_s));
  shared.measure_until = shared.measure_from + std::chrono::duration_cast<Clock::duration>(
                                                   std::chrono::duration<double>(o.duration_s));

  std::vector<ThreadResult> results(static_cast<std::size_t>(o.connections));
  std::vector<std::thread> threads;
  threads.reserve(results.size());
  double cpu_at_measure = -1;
  for (int i = 0; i < o.connections; ++i) {
    threads.emplace_back(
        [&o, &shared, i, &results] { run_thread(o, shared, i, results[static_cast<size_t>(i)]); });
  }
  // Sample this process's CPU time at the start of the measured window.
  std::this_thread::sleep_until(shared.measure_from);
  cpu_at_measure = cpu_seconds();
  for (auto& t : threads) t.join();
  const auto finished = Clock::now();
  const double cpu_measured = cpu_seconds() - cpu_at_measure;

  std::vector<std::uint32_t> all;
  std::map<int, std::uint64_t> statuses;
  std::uint64_t processed = 0, duplicate = 0, errors = 0, connects = 0, warmup = 0;
  std::string first_error;
  Clock::time_point last{};
  for (auto& r : results) {
    all.insert(all.end(), r.latencies_us.begin(), r.latencies_us.end());
    for (const auto& [k, v] : r.statuses) statuses[k] += v;
    processed += r.processed;
    duplicate += r.duplicate;
    errors += r.errors;
    connects += r.connects;
    warmup += r.warmup_requests;
    if (first_error.empty()) first_error = r.first_error;
    last = std::max(last, r.last_answer);
  }
  std::sort(all.begin(), all.end());
  // The window is the planned one unless --max-requests or a failure ended it early.
  const auto window_end = std::min(shared.measure_until, std::max(last, shared.measure_from));
  const double window_s =
      shared.stop.load() ? std::chrono::duration<double>(window_end - shared.measure_from).count()
                         : o.duration_s;
  const double rps = window_s > 0 ? static_cast<double>(all.size()) / window_s : 0;
  std::uint64_t non_200 = 0;
  for (const auto& [k, v] : statuses) {
    if (k != 200) non_200 += v;
  }

  std::string status_json = "{";
  for (const auto& [k, v] : statuses) {
    if (status_json.size() > 1) status_json += ",";
    status_json += "\"" + std::to_string(k) + "\":" + std::to_string(v);
  }
  status_json += "}";
  std::string err_json;
  for (char c : first_error) {
    if (c == '"' || c == '\\') err_json += '\\';
    if (static_cast<unsigned char>(c) >= 0x20) err_json += c;
  }
  const double wall_s = std::chrono::duration<double>(finished - shared.start).count();

  std::printf(
      "{\"connections\":%d,\"warmup_s\":%.1f,\"duration_s\":%.3f,\"requests\":%zu,"
      "\"rps\":%.1f,\"p50_ms\":%.3f,\"p95_ms\":%.3f,\"p99_ms\":%.3f,\"max_ms\":%.3f,"
      "\"status\":%s,\"non_200\":%" PRIu64 ",\"processed\":%" PRIu64 ",\"duplicate\":%" PRIu64
      ",\"errors\":%" PRIu64 ",\"connects\":%" PRIu64 ",\"warmup_requests\":%" PRIu64
      ",\"loadgen_cpu_s\":%.2f,\"loadgen_cpu_cores\":%.2f,\"wall_s\":%.2f,\"first_error\":\"%s\"}"
      "\n",
      o.connections, o.warmup_s, window_s, all.size(), rps, percentile_ms(all, 50),
      percentile_ms(all, 95), percentile_ms(all, 99), all.empty() ? 0.0 : all.back() / 1000.0,
      status_json.c_str(), non_200, processed, duplicate, errors, connects, warmup, cpu_measured,
      window_s > 0 ? cpu_measured / window_s : 0.0, wall_s, err_json.c_str());
  return errors > 0 && all.empty() ? 1 : 0;
}
