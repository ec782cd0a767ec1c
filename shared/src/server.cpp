// The Boost.Beast server: a listener accepts; a session reads one request (header first, so
// that streaming routes can take the body in chunks), hands it to the worker pool, writes the
// answer and reads again. Database and model work never runs on the I/O threads.
#include <boost/asio/dispatch.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include <atomic>
#include <condition_variable>
#include <cstring>
#include <future>
#include <limits>
#include <mutex>
#include <thread>

#include "gabe/http.hpp"
#include "gabe/log.hpp"

namespace gabe::http {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using tcp = net::ip::tcp;
using Clock = std::chrono::steady_clock;

// Beast 1.74 compares the Content-Length against an empty optional limit as if it were 0,
// so "no limit" must be spelled as the largest limit.
constexpr std::uint64_t kUnlimited = std::numeric_limits<std::uint64_t>::max();

struct Server::Impl {
  ServerOptions options;
  const Router& router;
  Authenticator authenticate;
  Observer observe;
  // Declared before the I/O objects: sessions destroyed with the io_context still count down.
  std::atomic<std::size_t> connections{0};
  std::atomic<std::size_t> in_flight{0};
  std::atomic<bool> stopping{false};
  std::mutex mutex;
  std::condition_variable drained;
  net::io_context ioc;
  net::thread_pool workers;
  tcp::acceptor acceptor;
  net::signal_set signals;

  Impl(ServerOptions o, const Router& r, Authenticator a, Observer ob)
      : options(std::move(o)),
        router(r),
        authenticate(std::move(a)),
        observe(std::move(ob)),
        ioc(options.io_threads),
        workers(static_cast<std::size_t>(options.workers)),
        acceptor(ioc),
        signals(ioc, SIGTERM, SIGINT) {}

  void request_started() { in_flight.fetch_add(1); }
  void request_finished() {
    if (in_flight.fetch_sub(1) == 1) {
      std::lock_guard lock(mutex);
      drained.notify_all();
    }
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

class Session : public std::enable_shared_from_this<Session> {
 public:
  Session(tcp::socket&& socket, Server::Impl& server)
      : stream_(std::move(socket)), server_(server) {}
  ~Session() { server_.connections.fetch_sub(1); }

  void start() {
    net::dispatch(stream_.get_executor(), [self = shared_from_this()] { self->read_header(); });
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
    if (ec == beast::error::timeout)
      throw Problem(408, "timeout", "The request body arrived too slowly.");
    if (ec == bhttp::error::body_limit) throw payload_too_large("The request body is too large.");
    if (ec) throw bad_request("The request body could not be read.");
    if (n == 0) body_done_ = true;
    std::memcpy(buffer, chunk_.data(), n);
    return n;
  }

 private:
  using ChunkPromise = std::shared_ptr<std::promise<std::pair<beast::error_code, std::size_t>>>;

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
        [self = shared_from_this(), done](beast::error_code ec, std::size_t) {
          self->read_pending_ = false;
          if (ec == bhttp::error::need_buffer) ec = {};
          done->set_value({ec, self->chunk_.size() - self->stream_parser_->get().body().size});
        });
  }

  void read_header() {
    header_parser_.emplace();
    header_parser_->header_limit(static_cast<std::uint32_t>(server_.options.header_limit));
    // The limit depends on the route (streamed imports have none): checked in on_header.
    header_parser_->body_limit(kUnlimited);
    stream_.expires_after(first_request_ ? server_.options.read_timeout
                                         : server_.options.idle_timeout);
    bhttp::async_read_header(
        stream_, buffer_, *header_parser_,
        [self = shared_from_this()](beast::error_code ec, std::size_t) { self->on_header(ec); });
  }

  void on_header(beast::error_code ec) {
    if (ec) {
      if (ec == bhttp::error::header_limit) {
        respond_now(Problem(431, "header-too-large", "The request headers are too large."));
        return;
      }
      if (ec != bhttp::error::end_of_stream && ec != beast::error::timeout &&
          ec != net::error::eof && ec != net::error::connection_reset) {
        log::debug("unparseable request", {{"error", ec.message()}});
        respond_now(bad_request("The request could not be parsed as HTTP/1.1."));
        return;
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
    request_ = std::make_shared<Request>();
    const auto& h = header_parser_->get();
    request_->method =
        parse_method(std::string_view(h.method_string().data(), h.method_string().size()));
    request_->target = std::string(h.target());
    for (const auto& field : h) {
      std::string name(field.name_string());
      std::transform(name.begin(), name.end(), name.begin(),
                     [](unsigned char c) { return std::tolower(c); });
      request_->headers.emplace_back(std::move(name), std::string(field.value()));
    }
    keep_alive_ = h.keep_alive() && !server_.stopping.load();
    const Route* route = nullptr;
    try {
      route = &server_.router.match(*request_);
    } catch (const Problem& p) {
      return finish_without_body(p);
    }
    const bool expects_continue =
        beast::iequals(header_parser_->get()[bhttp::field::expect], "100-continue");
    if (route->stream_handler) {
      stream_parser_.emplace(std::move(*header_parser_));
      stream_parser_->body_limit(kUnlimited);
      if (expects_continue) return send_continue_then([this, route] { dispatch_to_worker(route); });
      dispatch_to_worker(route);
      return;
    }
    if (auto length = header_parser_->content_length();
        length && *length > server_.options.body_limit) {
      keep_alive_ = false;
      return finish_without_body(payload_too_large("The request body is larger than " +
                                                   std::to_string(server_.options.body_limit) +
                                                   " bytes."));
    }
    body_parser_.emplace(std::move(*header_parser_));
    body_parser_->body_limit(server_.options.body_limit);
    if (expects_continue) return send_continue_then([this, route] { read_body(route); });
    read_body(route);
  }

  void read_body(const Route* route) {
    stream_.expires_after(server_.options.read_timeout);
    bhttp::async_read(stream_, buffer_, *body_parser_,
                      [self = shared_from_this(), route](beast::error_code ec, std::size_t) {
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
    if (ec == bhttp::error::body_limit) {
      keep_alive_ = false;
      return finish_without_body(payload_too_large("The request body is larger than " +
                                                   std::to_string(server_.options.body_limit) +
                                                   " bytes."));
    }
    if (ec) {
      server_.request_finished();
      return close();
    }
    request_->body = std::move(body_parser_->get().body());
    body_parser_.reset();
    dispatch_to_worker(route);
  }

  // A request that ends before its body was read: answer and close the connection.
  void finish_without_body(const Problem& p) {
    auto response = problem_response(p, request_->language());
    // An unread body would be taken for the next request: then the connection closes.
    if (!header_parser_->is_done()) keep_alive_ = false;
    write(std::move(response));
  }

  void dispatch_to_worker(const Route* route) {
    net::post(server_.workers, [self = shared_from_this(), route] {
      Response response;
      const auto lang = self->request_->language();
      try {
        if (route->min_role) self->server_.authenticate(*self->request_, *route->min_role);
        if (route->stream_handler) {
          StreamedBody body(*self);
          response = route->stream_handler(*self->request_, body);
        } else {
          response = route->handler(*self->request_);
        }
      } catch (const Problem& p) {
        if (p.status() >= 500 && p.status() != 503) {
          log::error("request failed", {{"route", self->request_->route}, {"status", p.status()}});
        }
        response = problem_response(p, lang);
      } catch (const std::exception& e) {
        log::error("unhandled error",
                   {{"route", self->request_->route}, {"kind", typeid(e).name()}});
        response = problem_response(internal_error(), lang);
      } catch (...) {
        response = problem_response(internal_error(), lang);
      }
      // A streamed body the handler did not read to its end would be taken for the next request.
      if (route->stream_handler && !self->body_done_) self->keep_alive_ = false;
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
  beast::flat_buffer buffer_;
  std::optional<bhttp::request_parser<bhttp::empty_body>> header_parser_;
  std::optional<bhttp::request_parser<bhttp::string_body>> body_parser_;
  std::optional<bhttp::request_parser<bhttp::buffer_body>> stream_parser_;
  std::vector<char> chunk_;
  bool read_pending_ = false;  // on the strand only
  bool body_done_ = false;     // on the worker that reads the body only
  std::shared_ptr<Request> request_;
  bool keep_alive_ = true;
  bool first_request_ = true;
  int status_ = 0;
  Clock::time_point started_ = Clock::now();
};

std::size_t StreamedBody::read(char* buffer, std::size_t size) {
  return session_.read_body_chunk(buffer, size);
}

}  // namespace

void Server::Impl::accept() {
  acceptor.async_accept(net::make_strand(ioc), [this](beast::error_code ec, tcp::socket socket) {
    if (ec) {
      if (!acceptor.is_open()) return;
    } else if (connections.load() >= options.max_connections) {
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
