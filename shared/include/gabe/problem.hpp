// Typed errors. Handlers and domain code throw a Problem; the HTTP layer alone turns it into
// an RFC 9457 application/problem+json response (see problem.cpp).
#pragma once

#include <cstddef>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace gabe {

struct FieldError {
  std::string field;
  std::string message;
};

enum class Language { de, en };

// A problem lists at most this many field errors; the rest are counted in one final entry, so
// that a body with 100,000 bad keys does not earn an answer of 100,000 errors.
inline constexpr std::size_t kMaxProblemErrors = 50;

class Problem : public std::runtime_error {
 public:
  Problem(int status, std::string type, std::string detail, std::vector<FieldError> errors = {})
      : std::runtime_error(detail),
        status_(status),
        type_(std::move(type)),
        detail_(std::move(detail)),
        errors_(std::move(errors)) {
    cap_errors();
  }

  int status() const { return status_; }
  // A short machine-readable kind, e.g. "validation"; rendered as a URN in `type`.
  const std::string& type() const { return type_; }
  const std::string& detail() const { return detail_; }
  // At most kMaxProblemErrors; omitted_errors() says how many more there were.
  const std::vector<FieldError>& errors() const { return errors_; }
  std::size_t omitted_errors() const { return omitted_errors_; }
  int retry_after_seconds() const { return retry_after_; }
  Problem& with_retry_after(int seconds) {
    retry_after_ = seconds;
    return *this;
  }
  // For 405: the methods the resource supports, sent as the Allow header.
  const std::string& allow() const { return allow_; }
  Problem& with_allow(std::string methods) {
    allow_ = std::move(methods);
    return *this;
  }
  // Title in the requested language, fixed per status.
  std::string title(Language lang) const;
  // The problem+json body.
  std::string to_json(Language lang) const;

 private:
  int status_;
  std::string type_;
  std::string detail_;
  void cap_errors();

  std::vector<FieldError> errors_;
  std::size_t omitted_errors_ = 0;
  int retry_after_ = 0;
  std::string allow_;
};

// The usual kinds, so that a throw site says what went wrong and nothing about HTTP.
Problem bad_request(std::string detail);
Problem unauthorized(std::string detail);
Problem forbidden(std::string detail);
Problem not_found(std::string detail);
Problem method_not_allowed(std::string detail);
Problem conflict(std::string detail);
Problem payload_too_large(std::string detail);
Problem unsupported_media_type(std::string detail);
Problem unprocessable(std::string detail, std::vector<FieldError> errors = {});
Problem service_unavailable(std::string detail, int retry_after_seconds = 1);
Problem internal_error();

}  // namespace gabe
