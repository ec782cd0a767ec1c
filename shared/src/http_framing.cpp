#include "http_framing.hpp"

#include <boost/asio/error.hpp>
#include <boost/beast/core/error.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/string_body.hpp>

#include <algorithm>
#include <cctype>
#include <cstring>
#include <limits>

#include "gabe/text.hpp"

namespace gabe::http::framing {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;

Limits limits_of(const ServerOptions& options) {
  return {options.header_limit, options.body_limit, options.chunk_metadata_limit};
}

std::optional<Problem> header_problem(const beast::error_code& ec) {
  if (ec == bhttp::error::header_limit || ec == bhttp::error::buffer_overflow) {
    return Problem(431, "header-too-large", "The request headers are too large.");
  }
  if (ec == bhttp::error::end_of_stream || ec == beast::error::timeout || ec == net::error::eof ||
      ec == net::error::connection_reset || ec == net::error::operation_aborted) {
    return std::nullopt;
  }
  return bad_request("The request could not be parsed as HTTP/1.1.");
}

Problem metadata_problem(const Limits& limits) {
  return payload_too_large("The request's chunk framing (sizes, extensions, trailers) exceeds " +
                           std::to_string(limits.chunk_metadata) + " bytes.");
}

std::optional<Problem> body_problem(const beast::error_code& ec, const Limits& limits) {
  if (ec == bhttp::error::body_limit) {
    return payload_too_large("The request body is larger than " + std::to_string(limits.body) +
                             " bytes.");
  }
  // A chunk-size line, chunk extension or trailer that does not fit in the read buffer.
  if (ec == bhttp::error::buffer_overflow || ec == bhttp::error::header_limit) {
    return metadata_problem(limits);
  }
  if (ec == beast::error::timeout) {
    return Problem(408, "timeout", "The request body arrived too slowly.");
  }
  if (ec == bhttp::error::end_of_stream || ec == net::error::eof ||
      ec == net::error::connection_reset || ec == net::error::operation_aborted) {
    return std::nullopt;
  }
  return bad_request("The request body could not be read (" + ec.message() + ").");
}

void fill_request(Request& request, const bhttp::request_header<>& h) {
  request.method =
      parse_method(std::string_view(h.method_string().data(), h.method_string().size()));
  request.target = std::string(h.target());
  request.headers.clear();
  for (const auto& field : h) {
    std::string name(field.name_string());
    std::transform(name.begin(), name.end(), name.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    const std::string_view value(field.value().data(), field.value().size());
    // Handlers read header values as text (webhook-id, authorization, accept-language):
    // PostgreSQL and the JSON writer need valid UTF-8, so the edge refuses anything else.
    if (!is_header_text(value)) {
      throw Problem(400, "bad-request",
                    "The header '" + name + "' is not valid UTF-8 text without control characters.",
                    {{name, "must be valid UTF-8 text without control characters"}});
    }
    request.headers.emplace_back(std::move(name), std::string(value));
  }
}

namespace {

// Moves up to read_size bytes of input into the buffer, as one socket read would; false when
// the buffer is full (beast's read answers buffer_overflow then) or the input is used up.
bool read_some(beast::flat_buffer& buffer, std::string_view& input, std::size_t read_size,
               beast::error_code& ec) {
  const std::size_t room = buffer.max_size() - buffer.size();
  if (room == 0) {
    ec = bhttp::error::buffer_overflow;
    return false;
  }
  if (input.empty()) return false;
  const std::size_t n = std::min({room, read_size, input.size()});
  auto mb = buffer.prepare(n);
  std::memcpy(mb.data(), input.data(), n);
  buffer.commit(n);
  input.remove_prefix(n);
  return true;
}

// Feeds the parser until `done` holds; false when the input ended first or ec is set.
template <class Parser, class Done>
bool feed(Parser& parser, beast::flat_buffer& buffer, std::string_view& input,
          std::size_t read_size, std::uint64_t& consumed, beast::error_code& ec, Done done) {
  while (!done()) {
    if (buffer.size() > 0) {
      const std::size_t used = parser.put(buffer.data(), ec);
      buffer.consume(used);
      consumed += used;
      if (ec == bhttp::error::need_more) {
        ec = {};
      } else if (ec) {
        return false;
      } else if (used > 0) {
        continue;
      }
    }
    if (!read_some(buffer, input, read_size, ec)) {
      if (ec) return false;
      // The client closed: what the parser holds is all there is.
      parser.put_eof(ec);
      if (ec == bhttp::error::partial_message) ec = {};
      return false;
    }
  }
  return true;
}

}  // namespace

Outcome parse_requests(std::string_view input, const Limits& limits, std::size_t read_size) {
  Outcome out;
  read_size = std::max<std::size_t>(read_size, 1);
  beast::flat_buffer buffer(limits.read_buffer());
  while (!input.empty() || buffer.size() > 0) {
    std::uint64_t consumed = 0;
    beast::error_code ec;
    bhttp::request_parser<bhttp::empty_body> header_parser;
    header_parser.header_limit(static_cast<std::uint32_t>(limits.header));
    header_parser.body_limit(std::numeric_limits<std::uint64_t>::max());
    if (!feed(header_parser, buffer, input, read_size, consumed, ec,
              [&] { return header_parser.is_header_done(); })) {
      if (ec) out.problem = header_problem(ec);
      return out;
    }
    Request request;
    try {
      fill_request(request, header_parser.get());
    } catch (const Problem& p) {
      out.problem = p;
      return out;
    }
    const std::uint64_t header_bytes = consumed;
    if (auto length = header_parser.content_length(); length && *length > limits.body) {
      out.problem = body_problem(bhttp::error::body_limit, limits);
      return out;
    }
    bhttp::request_parser<bhttp::string_body> body_parser(std::move(header_parser));
    body_parser.body_limit(limits.body);
    bool over_metadata = false;
    const bool complete = feed(body_parser, buffer, input, read_size, consumed, ec, [&] {
      const auto metadata = consumed - header_bytes - body_parser.get().body().size();
      over_metadata = !limits.metadata_within(metadata, body_parser.get().body().size());
      return over_metadata || body_parser.is_done();
    });
    if (over_metadata) {
      out.problem = metadata_problem(limits);
      return out;
    }
    if (!complete) {
      if (ec) out.problem = body_problem(ec, limits);
      return out;
    }
    request.body = std::move(body_parser.get().body());
    const bool keep_alive = body_parser.keep_alive();
    out.requests.push_back(std::move(request));
    if (!keep_alive) return out;
  }
  return out;
}

}  // namespace gabe::http::framing
