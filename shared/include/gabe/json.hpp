// Safe JSON for untrusted input (RapidJSON underneath): iterative parsing, a nesting limit,
// UTF-8 validation, and field access that checks types and collects validation errors
// instead of touching undefined behaviour.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <rapidjson/document.h>

#include "gabe/problem.hpp"

namespace gabe {

using JsonValue = rapidjson::Value;

struct JsonLimits {
  std::size_t max_depth = 32;
};

// Parses a whole document. Throws Problem 400 naming what is wrong (syntax, depth, UTF-8).
std::unique_ptr<rapidjson::Document> parse_json(std::string_view text, JsonLimits limits = {});

// The member `key` of an object, or nullptr when it is absent or JSON null.
const JsonValue* member(const JsonValue& object, std::string_view key);

// Reads the fields of one object, checks their types and collects every error, so that a
// 422 names all bad fields at once. Field names are reported with `prefix` (e.g. "data.").
class FieldReader {
 public:
  FieldReader(const JsonValue& object, std::string prefix = {});

  std::optional<std::string> string(std::string_view key, bool required = false,
                                    std::size_t max_length = 256);
  // A string that must be one of `allowed`.
  std::optional<std::string> one_of(std::string_view key,
                                    const std::vector<std::string_view>& allowed,
                                    bool required = false);
  std::optional<bool> boolean(std::string_view key, bool required = false);
  std::optional<std::int64_t> integer(std::string_view key, bool required = false,
                                      std::int64_t min = INT64_MIN, std::int64_t max = INT64_MAX);
  // Money: a decimal string ("25.00") or a JSON number with at most two decimals -> cents.
  std::optional<std::int64_t> money(std::string_view key, bool required = false,
                                    bool positive = true);
  // An ISO 4217 currency code (is_currency_code), `fallback` when absent.
  std::string currency(std::string_view key, std::string fallback = "EUR");
  // A calendar date YYYY-MM-DD, returned normalised.
  std::optional<std::string> date(std::string_view key, bool required = false);
  // An RFC 3339 instant, returned normalised to UTC "YYYY-MM-DDTHH:MM:SS[.ffffff]Z".
  std::optional<std::string> instant(std::string_view key, bool required = false);
  std::optional<std::vector<std::string>> string_list(std::string_view key, bool required = false,
                                                      std::size_t max_items = 100);
  // A nested object, or nullptr (with an error when required or of the wrong type).
  const JsonValue* object(std::string_view key, bool required = false);

  // An error "<key>: is not a field of this request" for every member of the object that is
  // not one of `allowed` (the key cut to 64 bytes by utf8_prefix): a misspelt field ("ownr") is
  // refused, never silently ignored. Every request body is read with it.
  void refuse_unknown(std::initializer_list<std::string_view> allowed);

  void add_error(std::string_view key, std::string message);
  const std::vector<FieldError>& errors() const { return errors_; }
  bool ok() const { return errors_.empty(); }
  // Throws 422 with all collected errors, if any.
  void throw_if_errors(std::string_view detail = "The request contains invalid fields.") const;

 private:
  const JsonValue* find(std::string_view key, bool required);
  std::string name(std::string_view key) const;

  const JsonValue& object_;
  std::string prefix_;
  std::vector<FieldError> errors_;
};

// A compact JSON writer.
class JsonWriter {
 public:
  JsonWriter();
  ~JsonWriter();
  JsonWriter(const JsonWriter&) = delete;
  JsonWriter& operator=(const JsonWriter&) = delete;

  JsonWriter& begin_object();
  JsonWriter& end_object();
  JsonWriter& begin_array();
  JsonWriter& end_array();
  JsonWriter& key(std::string_view k);
  JsonWriter& value(std::string_view v);
  JsonWriter& value(const char* v) { return value(std::string_view(v)); }
  JsonWriter& value(const std::string& v) { return value(std::string_view(v)); }
  JsonWriter& value(std::int64_t v);
  JsonWriter& value(int v) { return value(static_cast<std::int64_t>(v)); }
  JsonWriter& value(bool v);
  JsonWriter& value(double v);
  JsonWriter& value(const std::vector<std::string>& v);
  JsonWriter& null();
  // Inserts already-serialised JSON (e.g. a jsonb column) as a value.
  JsonWriter& raw(std::string_view json);
  // Writes a RapidJSON value.
  JsonWriter& value(const JsonValue& v);
  template <typename T>
  JsonWriter& field(std::string_view k, const T& v) {
    key(k);
    return value(v);
  }
  template <typename T>
  JsonWriter& field(std::string_view k, const std::optional<T>& v) {
    key(k);
    return v ? value(*v) : null();
  }
  std::string take();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace gabe
