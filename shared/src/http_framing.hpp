// HTTP/1.1 framing as the server reads it: the limits that bound every byte a client sends,
// what a client gets when it crosses one, and the request built from a parsed header. Private
// to the HTTP layer (server.cpp) and its fuzz target (tests/fuzz/fuzz_http.cpp), which feeds
// bytes through parse_requests() without a socket.
#pragma once

#include <boost/beast/http/error.hpp>
#include <boost/beast/http/fields.hpp>
#include <boost/beast/http/message.hpp>

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>
#include <vector>

#include "gabe/http.hpp"

namespace gabe::http::framing {

struct Limits {
  std::size_t header = 8 << 10;
  std::size_t body = 1 << 20;  // for routes that do not stream their body
  std::size_t chunk_metadata = 64 << 10;

  // The largest the connection's read buffer may grow: a header, or one chunk-size line with
  // its extensions, or a trailer, must fit in it. Without this cap Beast's buffer grows for as
  // long as a client sends a chunk line without CRLF.
  std::size_t read_buffer() const { return header + (16 << 10); }
  // Chunk framing (sizes, extensions, CRLFs, trailers) a request may carry: a fixed allowance
  // plus a quarter of its body, so that a long streamed import in small chunks still passes
  // while framing without body is cut.
  bool metadata_within(std::uint64_t metadata_bytes, std::uint64_t body_bytes) const {
    return metadata_bytes <= chunk_metadata + body_bytes / 4;
  }
};

Limits limits_of(const ServerOptions& options);

// What the client gets when reading the header failed with ec; nullopt when the connection
// just ended (closed, reset, timed out) and nothing is answered.
std::optional<Problem> header_problem(const boost::beast::error_code& ec);
// The same while reading the body.
std::optional<Problem> body_problem(const boost::beast::error_code& ec, const Limits& limits);
Problem metadata_problem(const Limits& limits);

// Method, target and headers (names in lower case) of a parsed header. Throws Problem 400
// naming the header when a value is not text (invalid UTF-8 or a control character).
void fill_request(Request& request, const boost::beast::http::request_header<>& header);

// Parses `bytes` as a connection that sent them, reading at most `read_size` bytes at a time
// (as the socket would), with the server's parsers, limits and checks. `requests` holds those
// read completely; `problem` what ended the connection, if anything did.
struct Outcome {
  std::vector<Request> requests;
  std::optional<Problem> problem;
};
Outcome parse_requests(std::string_view bytes, const Limits& limits, std::size_t read_size);

}  // namespace gabe::http::framing
