// The Boost.Beast server: a listener accepts; a session reads one request (header first, so
// that streaming routes can take the body in chunks), hands it to the worker pool, writes the
// answer and reads again. Database and model work never runs on the I/O threads.
//
// Every byte a client sends counts against a limit (see http_framing.hpp): the read buffer is
// capped, so a header, chunk line or trailer cannot grow it; the body has its limit; chunk
// framing is counted per request. Idle keep-alive connections give way to new clients.
#include <boost/asio/dispatch.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include <sys/resource.h>

#include <atomic>
#include <cerrno>
#include <condition_variable>
#include <cstring>
#include <future>
#include <limits>
#include <map>
#include <mutex>
#include <thread>

#include "gabe/http.hpp"
#include "gabe/log.hpp"
#include "http_framing.hpp"

namespace gabe::http {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using tcp = net::ip::tcp;
using Clock = std::chrono::steady_clock;

// Beast 1.74 compares the Content-Length against an empty optional limit as if it were 0,
// so "no limit" must be spelled as the largest limit.
constexpr std::uint64_t kUnlimited = std::numeric_limits<std::uint64_t>::max();

std::size_t connections_for_file_limit(std::size_t reserve) {
  // The soft limit is raised to the hard one first (as nginx and Go do).
  rlimit limit{};
  if (::getrlimit(RLIMIT_NOFILE, &limit) != 0) return 16;
  if (limit.rlim_cur < limit.rlim_max) {
    rlimit raised = limit;
    raised.rlim_cur = limit.rlim_max;
    if (::setrlimit(RLIMIT_NOFILE, &raised) == 0) limit = raised;
  }
  if (limit.rlim_cur == RLIM_INFINITY) return std::numeric_limits<std::size_t>::max();
  const auto files = static_cast<std::size_t>(limit.rlim_cur);
  return files > reserve + 16 ? files - reserve : 16;
}

// A connection that waits for its next request and may be closed to make room.
class IdleConnection {
 public:
  virtual ~IdleConnection() = default;
  virtual void evict() = 0;
};

struct Server::Impl {
  ServerOptions options;
  framing::Limits limits;
  const Router& router;
  Authenticator authenticate;
  Observer observe;
  // Declared before the I/O objects: sessions destroyed with the io_context still count down.
  std::atomic<std::size_t> connections{0};
  std::atomic<std::size_t> in_flight{0};
  std::atomic<bool> stopping{false};
  std::mutex mutex;
  std::condition_variable drained;
  // Keep-alive connections waiting for their next request, oldest first.
  std::mutex idle_mutex;
  std::uint64_t idle_sequence = 0;
  std::map<std::uint64_t, std::weak_ptr<IdleConnection>> idle;
  net::io_context ioc;
  net::thread_pool workers;
  tcp::acceptor acceptor;
  net::steady_timer accept_pause;
  net::signal_set signals;

  Impl(ServerOptions o, const Router& r, Authenticator a, Observer ob)
      : options(std::move(o)),
        limits(framing::limits_of(options)),
        router(r),
        authenticate(std::move(a)),
        observe(std::move(ob)),
        ioc(options.io_threads),
        workers(static_cast<std::size_t>(options.workers)),
        acceptor(ioc),
        accept_pause(ioc),
        signals(ioc, SIGTERM, SIGINT) {}

  void request_started() { in_flight.fetch_add(1); }
  void request_finished() {
    if (in_flight.fetch_sub(1) == 1) {
      std::lock_guard lock(mutex);
      drained.notify_all();
    }
  }
  std::uint64_t add_idle(std::weak_ptr<IdleConnection> connection) {
    std::lock_guard lock(idle_mutex);
    idle.emplace(++idle_sequence, std::move(connection));
    return idle_sequence;
  }
  void remove_idle(std::uint64_t key) {
    std::lock_guard lock(idle_mutex);
    idle.erase(key);
  }
  // Closes the connection that has waited longest for its next request; false if none waits.
  bool evict_oldest_idle() {
    std::shared_ptr<IdleConnection> oldest;
    {
      std::lock_guard lock(idle_mutex);
      while (!idle.empty() && !oldest) {
        oldest = idle.begin()->second.lock();
        idle.erase(idle.begin());
      }
    }
    if (!oldest) return false;
    oldest->evict();
    return true;
  }
  void begin_stop();
  void accept();
};

namespace {

class Session;

// Hands the worker a streamed body: each read() posts an async read to the session's strand
// and waits for it, so that the read timeout and body limit still apply.
class StreamedBody : public BodyStream {
 public:
  StreamedBody(Session& session) : session_(session) {}
  std::size_t read(char* buffer, std::size_t size) override;

 private:
  Session& session_;
};

class Session : public IdleConnection, public std::enable_shared_from_this<Session> {
 public:
  Session(tcp::socket&& socket, Server::Impl& server)
      : stream_(std::move(socket)), server_(server), buffer_(server.limits.read_buffer()) {}
  ~Session() override { server_.connections.fetch_sub(1); }

  void start() {
    net::dispatch(stream_.get_executor(), [self = shared_from_this()] { self->read_header(); });
  }

  // From any thread: the server needs this connection's file descriptor for a new client.
  void evict() override {
    net::post(stream_.get_executor(), [self = shared_from_this()] {
      if (!self->idle_key_) return;  // a request arrived meanwhile
      self->idle_key_ = 0;
      self->evicted_ = true;
      self->close();
    });
  }

  // Runs on a worker thread.
  std::size_t read_body_chunk(char* buffer, std::size_t size) {
    // The read fills the session's own chunk: if the caller gives up (timeout) while a read
    // is pending, the read still writes into memory that lives as long as the session.
    auto done = std::make_shared<std::promise<std::pair<beast::error_code, std::size_t>>>();
    auto result = done->get_future();
    chunk_.resize(size);
    net::post(stream_.get_executor(),
              [self = shared_from_this(), done] { self->start_chunk_read(done); });
    if (result.wait_for(server_.options.read_timeout + std::chrono::seconds(5)) !=
        std::future_status::ready) {
      throw Problem(408, "timeout", "The request body arrived too slowly.");
    }
    auto [ec, n] = result.get();
    if (ec == kMetadataExceeded) throw framing::metadata_problem(server_.limits);
    if (ec) {
      if (auto p = framing::body_problem(ec, server_.limits)) throw *p;
      throw bad_request("The request body could not be read.");
    }
    if (n == 0) body_done_ = true;
    std::memcpy(buffer, chunk_.data(), n);
    return n;
  }

 private:
  using ChunkPromise = std::shared_ptr<std::promise<std::pair<beast::error_code, std::size_t>>>;
  // Reported to the worker when a streamed body's chunk framing exceeds its limit.
  static inline const beast::error_code kMetadataExceeded =
      boost::system::errc::make_error_code(boost::system::errc::message_size);

  // Chunk framing read so far for this request (all bytes after the header that are not body).
  bool metadata_within_limit() const {
    return server_.limits.metadata_within(request_bytes_ - header_bytes_ - body_bytes_,
                                          body_bytes_);
  }

  void start_chunk_read(const ChunkPromise& done) {
    auto& parser = *stream_parser_;
    if (parser.is_done()) {
      done->set_value({{}, 0});
      return;
    }
    parser.get().body().data = chunk_.data();
    parser.get().body().size = chunk_.size();
    stream_.expires_after(server_.options.read_timeout);
    read_pending_ = true;
    bhttp::async_read(
        stream_, buffer_, parser,
        [self = shared_from_this(), done](beast::error_code ec, std::size_t consumed) {
          self->read_pending_ = false;
          if (ec == bhttp::error::need_buffer) ec = {};
          const std::size_t n = self->chunk_.size() - self->stream_parser_->get().body().size;
          self->request_bytes_ += consumed;
          self->body_bytes_ += n;
          if (!ec && !self->metadata_within_limit()) ec = kMetadataExceeded;
          done->set_value({ec, n});
        });
  }

  void read_header() {
    header_parser_.emplace();
    header_parser_->header_limit(static_cast<std::uint32_t>(server_.limits.header));
    // The limit depends on the route (streamed imports have none): checked in on_header.
    header_parser_->body_limit(kUnlimited);
    request_bytes_ = header_bytes_ = body_bytes_ = 0;
    authenticated_ = false;
    if (first_request_) {
      stream_.expires_after(server_.options.read_timeout);
    } else {
      // Between requests this connection may be closed to make room for a new client.
      stream_.expires_after(server_.options.idle_timeout);
      idle_key_ = server_.add_idle(weak_from_this());
    }
    bhttp::async_read_header(stream_, buffer_, *header_parser_,
                             [self = shared_from_this()](beast::error_code ec, std::size_t n) {
                               self->on_header(ec, n);
                             });
  }

  void on_header(beast::error_code ec, std::size_t consumed) {
    if (idle_key_) {
      server_.remove_idle(idle_key_);
      idle_key_ = 0;
    }
    if (evicted_) return;
    if (ec) {
      if (auto p = framing::header_problem(ec)) {
        if (p->status() == 400) log::debug("unparseable request", {{"error", ec.message()}});
        return respond_now(*p);
      }
      return close();
    }
    // Draining: a request that arrives now on an idle keep-alive connection is not started
    // (the client sees the connection close and retries elsewhere).
    if (server_.stopping.load()) return close();
    first_request_ = false;
    body_done_ = false;
    started_ = Clock::now();
    server_.request_started();
    request_bytes_ = header_bytes_ = consumed;
    request_ = std::make_shared<Request>();
    const auto& h = header_parser_->get();
    keep_alive_ = h.keep_alive() && !server_.stopping.load();
    const Route* route = nullptr;
    try {
      framing::fill_request(*request_, h);
      route = &server_.router.match(*request_);
    } catch (const Problem& p) {
      return finish_without_body(p);
    }
    // A request without a body is authenticated with its handler, on one worker hop.
    if (!route->min_role || header_parser_->is_done()) return after_authentication(route);
    // Authenticate before reading the body (and before 100 Continue): a client without a
    // valid token gets 401/403 and its body is never read. The token check may need the
    // database, so it runs on a worker.
    net::post(server_.workers, [self = shared_from_this(), route] {
      std::optional<Problem> refused;
      try {
        self->server_.authenticate(*self->request_, *route->min_role);
      } catch (const Problem& p) {
        refused = p;
      } catch (const std::exception& e) {
        log::error("unhandled error",
                   {{"route", self->request_->route}, {"kind", typeid(e).name()}});
        refused = internal_error();
      }
      net::post(self->stream_.get_executor(), [self, route, refused = std::move(refused)] {
        if (refused) return self->finish_without_body(*refused);
        self->authenticated_ = true;
        self->after_authentication(route);
      });
    });
  }

  void after_authentication(const Route* route) {
    const bool expects_continue =
        beast::iequals(header_parser_->get()[bhttp::field::expect], "100-continue");
    if (route->stream_handler) {
      stream_parser_.emplace(std::move(*header_parser_));
      stream_parser_->body_limit(kUnlimited);
      if (expects_continue) return send_continue_then([this, route] { dispatch(route); });
      dispatch(route);
      return;
    }
    if (auto length = header_parser_->content_length(); length && *length > server_.limits.body) {
      keep_alive_ = false;
      return finish_without_body(*framing::body_problem(bhttp::error::body_limit, server_.limits));
    }
    if (header_parser_->is_done()) {
      // No body: the handler needs no further read (health checks answer without one).
      body_parser_.emplace(std::move(*header_parser_));
      return on_body({}, route);
    }
    body_parser_.emplace(std::move(*header_parser_));
    body_parser_->body_limit(server_.limits.body);
    if (expects_continue) return send_continue_then([this, route] { read_body(route); });
    read_body(route);
  }

  // Reads the body one socket read at a time, so that the chunk framing is counted as it
  // arrives; the whole body must arrive within the read timeout.
  void read_body(const Route* route) {
    stream_.expires_after(server_.options.read_timeout);
    read_body_some(route);
  }

  void read_body_some(const Route* route) {
    bhttp::async_read_some(
        stream_, buffer_, *body_parser_,
        [self = shared_from_this(), route](beast::error_code ec, std::size_t consumed) {
          self->request_bytes_ += consumed;
          self->body_bytes_ = self->body_parser_->get().body().size();
          if (!ec && !self->metadata_within_limit()) {
            self->keep_alive_ = false;
            return self->finish_without_body(framing::metadata_problem(self->server_.limits));
          }
          if (!ec && !self->body_parser_->is_done()) return self->read_body_some(route);
          self->on_body(ec, route);
        });
  }

  // A client that sent "Expect: 100-continue" waits for this before it sends the body.
  void send_continue_then(std::function<void()> next) {
    auto interim =
        std::make_shared<bhttp::response<bhttp::empty_body>>(bhttp::status::continue_, 11);
    stream_.expires_after(server_.options.write_timeout);
    bhttp::async_write(stream_, *interim,
                       [self = shared_from_this(), interim, next = std::move(next)](
                           beast::error_code ec, std::size_t) {
                         if (ec) {
                           self->server_.request_finished();
                           return self->close();
                         }
                         next();
                       });
  }

  void on_body(beast::error_code ec, const Route* route) {
    if (ec) {
      keep_alive_ = false;
      if (auto p = framing::body_problem(ec, server_.limits)) return finish_without_body(*p);
      server_.request_finished();
      return close();
    }
    request_->body = std::move(body_parser_->get().body());
    body_parser_.reset();
    dispatch(route);
  }

  // A request that ends before its body was read: answer and close the connection.
  void finish_without_body(const Problem& p) {
    auto response = problem_response(p, request_->language());
    // An unread body would be taken for the next request: then the connection closes.
    if (!header_parser_->is_done()) keep_alive_ = false;
    write(std::move(response));
  }

  Response handle(const Route* route) {
    Response response;
    const auto lang = request_->language();
    try {
      if (route->min_role && !authenticated_) server_.authenticate(*request_, *route->min_role);
      if (route->stream_handler) {
        StreamedBody body(*this);
        response = route->stream_handler(*request_, body);
      } else {
        response = route->handler(*request_);
      }
    } catch (const Problem& p) {
      if (p.status() >= 500 && p.status() != 503) {
        log::error("request failed", {{"route", request_->route}, {"status", p.status()}});
      }
      response = problem_response(p, lang);
    } catch (const std::exception& e) {
      log::error("unhandled error", {{"route", request_->route}, {"kind", typeid(e).name()}});
      response = problem_response(internal_error(), lang);
    } catch (...) {
      response = problem_response(internal_error(), lang);
    }
    // A streamed body the handler did not read to its end would be taken for the next request.
    if (route->stream_handler && !body_done_) keep_alive_ = false;
    return response;
  }

  void dispatch(const Route* route) {
    // Health and metrics answer here, on the I/O thread: never behind workers that wait for
    // a stalled database.
    if (route->on_io_thread) return write(handle(route));
    net::post(server_.workers, [self = shared_from_this(), route] {
      auto response = self->handle(route);
      net::post(self->stream_.get_executor(),
                [self, r = std::move(response)]() mutable { self->write(std::move(r)); });
    });
  }

  void write(Response r) {
    auto res = std::make_shared<bhttp::response<bhttp::string_body>>();
    res->version(11);
    res->result(static_cast<unsigned>(r.status));
    res->set(bhttp::field::server, "gabe");
    res->set(bhttp::field::content_type, r.content_type);
    for (auto& [k, v] : r.headers) res->set(k, v);
    if (server_.stopping.load()) keep_alive_ = false;
    res->keep_alive(keep_alive_);
    if (request_ && request_->method == Method::head) {
      res->content_length(r.body.size());
    } else {
      res->body() = std::move(r.body);
      res->prepare_payload();
    }
    status_ = r.status;
    stream_.expires_after(server_.options.write_timeout);
    bhttp::async_write(stream_, *res,
                       [self = shared_from_this(), res](beast::error_code ec, std::size_t) {
                         self->on_write(ec);
                       });
  }

  // For errors found before a request object exists (bad HTTP, huge headers).
  void respond_now(const Problem& p) {
    request_ = std::make_shared<Request>();
    started_ = Clock::now();
    server_.request_started();
    keep_alive_ = false;
    write(problem_response(p, Language::de));
  }

  void on_write(beast::error_code ec) {
    double seconds = std::chrono::duration<double>(Clock::now() - started_).count();
    if (server_.observe && request_) server_.observe(*request_, status_, seconds);
    request_.reset();
    // A worker that gave up on a slow body leaves its read pending: the parser stays until
    // that read completes (close() below cancels it).
    if (!read_pending_) stream_parser_.reset();
    server_.request_finished();
    if (ec || !keep_alive_) return close();
    read_header();
  }

  void close() {
    beast::error_code ignored;
    stream_.socket().shutdown(tcp::socket::shutdown_send, ignored);
    stream_.close();
  }

  beast::tcp_stream stream_;
  Server::Impl& server_;
  beast::flat_buffer buffer_;  // capped at limits.read_buffer()
  std::optional<bhttp::request_parser<bhttp::empty_body>> header_parser_;
  std::optional<bhttp::request_parser<bhttp::string_body>> body_parser_;
  std::optional<bhttp::request_parser<bhttp::buffer_body>> stream_parser_;
  std::vector<char> chunk_;
  bool read_pending_ = false;  // on the strand only
  bool body_done_ = false;     // on the worker that reads the body only
  std::shared_ptr<Request> request_;
  bool keep_alive_ = true;
  bool first_request_ = true;
  bool authenticated_ = false;
  bool evicted_ = false;        // on the strand only
  std::uint64_t idle_key_ = 0;  // on the strand only; nonzero while waiting between requests
  // Bytes of this request the parser has taken: all of them, the header's, the body's.
  std::uint64_t request_bytes_ = 0;
  std::uint64_t header_bytes_ = 0;
  std::uint64_t body_bytes_ = 0;
  int status_ = 0;
  Clock::time_point started_ = Clock::now();
};

std::size_t StreamedBody::read(char* buffer, std::size_t size) {
  return session_.read_body_chunk(buffer, size);
}

bool out_of_file_descriptors(const beast::error_code& ec) {
  return ec == net::error::no_descriptors || ec.value() == ENFILE;
}

}  // namespace

void Server::Impl::accept() {
  acceptor.async_accept(net::make_strand(ioc), [this](beast::error_code ec, tcp::socket socket) {
    if (ec) {
      if (!acceptor.is_open()) return;
      if (out_of_file_descriptors(ec)) {
        // The pending client stays in the backlog: make room, and try again in a moment
        // instead of failing the same accept in a busy loop.
        evict_oldest_idle();
        accept_pause.expires_after(options.accept_backoff);
        accept_pause.async_wait([this](beast::error_code) { accept(); });
        return;
      }
    } else if (connections.load() >= options.max_connections && !evict_oldest_idle()) {
      // Full, and every connection is busy with a request: this client is turned away.
      beast::error_code ignored;
      socket.close(ignored);
    } else {
      connections.fetch_add(1);
      std::make_shared<Session>(std::move(socket), *this)->start();
    }
    accept();
  });
}

void Server::Impl::begin_stop() {
  if (stopping.exchange(true)) return;
  { std::lock_guard lock(mutex); }
  drained.notify_all();
  net::post(ioc, [this] {
    beast::error_code ignored;
    acceptor.close(ignored);
    accept_pause.cancel();
    signals.cancel(ignored);
  });
}

Server::Server(ServerOptions options, const Router& router, Authenticator authenticate,
               Observer observe)
    : impl_(std::make_unique<Impl>(std::move(options), router, std::move(authenticate),
                                   std::move(observe))) {
  auto& a = impl_->acceptor;
  boost::system::error_code bad_address;
  const auto& host = impl_->options.listen.host;
  auto address = net::ip::make_address(host == "localhost" ? "127.0.0.1" : host, bad_address);
  if (bad_address) throw ConfigError("GABE_LISTEN: '" + host + "' is not an IP address");
  tcp::endpoint endpoint(address, impl_->options.listen.port);
  a.open(endpoint.protocol());
  a.set_option(net::socket_base::reuse_address(true));
  a.bind(endpoint);
  a.listen(net::socket_base::max_listen_connections);
}

Server::~Server() = default;

std::uint16_t Server::port() const {
  return impl_->acceptor.local_endpoint().port();
}
bool Server::draining() const {
  return impl_->stopping.load();
}

void Server::run() {
  auto& s = *impl_;
  s.signals.async_wait([&s](beast::error_code ec, int) {
    if (!ec) s.begin_stop();
  });
  s.accept();
  std::vector<std::thread> threads;
  threads.reserve(static_cast<std::size_t>(s.options.io_threads));
  auto guard = net::make_work_guard(s.ioc);
  for (int i = 0; i < s.options.io_threads; ++i) threads.emplace_back([&s] { s.ioc.run(); });
  {
    std::unique_lock lock(s.mutex);
    s.drained.wait(lock, [&s] { return s.stopping.load(); });
  }
  // Wait for in-flight requests (bounded), then stop the loop; idle keep-alive connections
  // are closed with it.
  {
    std::unique_lock lock(s.mutex);
    s.drained.wait_for(lock, s.options.drain_timeout, [&s] { return s.in_flight.load() == 0; });
  }
  guard.reset();
  s.ioc.stop();
  for (auto& t : threads) t.join();
  s.workers.join();
}

}  // namespace gabe::http
