#include "gabe/json.hpp"

#include <rapidjson/error/en.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include "gabe/values.hpp"

namespace gabe {

namespace {

// Depth of the deepest array/object nesting, counted before RapidJSON sees the text, so that
// a 10,000-deep document is refused without recursion or large allocations.
bool exceeds_depth(std::string_view text, std::size_t max_depth) {
  std::size_t depth = 0;
  bool in_string = false;
  bool escaped = false;
  for (char c : text) {
    if (in_string) {
      if (escaped) {
        escaped = false;
      } else if (c == '\\') {
        escaped = true;
      } else if (c == '"') {
        in_string = false;
      }
      continue;
    }
    switch (c) {
      case '"':
        in_string = true;
        break;
      case '[':
      case '{':
        if (++depth > max_depth) return true;
        break;
      case ']':
      case '}':
        if (depth > 0) --depth;
        break;
      default:
        break;
    }
  }
  return false;
}

const char* type_name(const JsonValue& v) {
  if (v.IsString()) return "a string";
  if (v.IsNumber()) return "a number";
  if (v.IsBool()) return "a boolean";
  if (v.IsObject()) return "an object";
  if (v.IsArray()) return "an array";
  return "null";
}

}  // namespace

std::unique_ptr<rapidjson::Document> parse_json(std::string_view text, JsonLimits limits) {
  if (exceeds_depth(text, limits.max_depth)) {
    throw bad_request("JSON nesting deeper than " + std::to_string(limits.max_depth) +
                      " levels is not accepted.");
  }
  auto doc = std::make_unique<rapidjson::Document>();
  constexpr unsigned kFlags =
      rapidjson::kParseIterativeFlag | rapidjson::kParseValidateEncodingFlag;
  doc->Parse<kFlags>(text.data(), text.size());
  if (doc->HasParseError()) {
    throw bad_request(std::string("Invalid JSON at offset ") +
                      std::to_string(doc->GetErrorOffset()) + ": " +
                      rapidjson::GetParseError_En(doc->GetParseError()));
  }
  return doc;
}

const JsonValue* member(const JsonValue& object, std::string_view key) {
  if (!object.IsObject()) return nullptr;
  auto it = object.FindMember(rapidjson::Value(
      rapidjson::StringRef(key.data(), static_cast<rapidjson::SizeType>(key.size()))));
  if (it == object.MemberEnd() || it->value.IsNull()) return nullptr;
  return &it->value;
}

FieldReader::FieldReader(const JsonValue& object, std::string prefix)
    : object_(object), prefix_(std::move(prefix)) {}

std::string FieldReader::name(std::string_view key) const {
  return prefix_ + std::string(key);
}

void FieldReader::add_error(std::string_view key, std::string message) {
  errors_.push_back({name(key), std::move(message)});
}

const JsonValue* FieldReader::find(std::string_view key, bool required) {
  const JsonValue* v = member(object_, key);
  if (!v && required) add_error(key, "is required");
  return v;
}

std::optional<std::string> FieldReader::string(std::string_view key, bool required,
                                               std::size_t max_length) {
  const JsonValue* v = find(key, required);
  if (!v) return std::nullopt;
  if (!v->IsString()) {
    add_error(key, std::string("must be a string, not ") + type_name(*v));
    return std::nullopt;
  }
  std::string s(v->GetString(), v->GetStringLength());
  if (s.size() > max_length) {
    add_error(key, "must be at most " + std::to_string(max_length) + " bytes long");
    return std::nullopt;
  }
  if (s.find('\0') != std::string::npos) {
    add_error(key, "must not contain NUL characters");
    return std::nullopt;
  }
  if (required && s.empty()) {
    add_error(key, "must not be empty");
    return std::nullopt;
  }
  return s;
}

std::optional<std::string> FieldReader::one_of(std::string_view key,
                                               const std::vector<std::string_view>& allowed,
                                               bool required) {
  auto s = string(key, required, 64);
  if (!s) return std::nullopt;
  for (auto a : allowed) {
    if (*s == a) return s;
  }
  std::string list;
  for (auto a : allowed) {
    if (!list.empty()) list += ", ";
    list += a;
  }
  add_error(key, "must be one of: " + list);
  return std::nullopt;
}

std::optional<bool> FieldReader::boolean(std::string_view key, bool required) {
  const JsonValue* v = find(key, required);
  if (!v) return std::nullopt;
  if (!v->IsBool()) {
    add_error(key, std::string("must be a boolean, not ") + type_name(*v));
    return std::nullopt;
  }
  return v->GetBool();
}

std::optional<std::int64_t> FieldReader::integer(std::string_view key, bool required,
                                                 std::int64_t min, std::int64_t max) {
  const JsonValue* v = find(key, required);
  if (!v) return std::nullopt;
  if (!v->IsInt64()) {
    add_error(key, "must be a whole number");
    return std::nullopt;
  }
  auto n = v->GetInt64();
  if (n < min || n > max) {
    add_error(key, "must be between " + std::to_string(min) + " and " + std::to_string(max));
    return std::nullopt;
  }
  return n;
}

std::optional<std::int64_t> FieldReader::money(std::string_view key, bool required, bool positive) {
  const JsonValue* v = find(key, required);
  if (!v) return std::nullopt;
  std::optional<std::int64_t> cents;
  if (v->IsString()) {
    cents = parse_money(std::string_view(v->GetString(), v->GetStringLength()));
  } else if (v->IsNumber()) {
    // The number's own text is not kept by RapidJSON; re-serialise the double and accept it
    // only if it is exactly representable with two decimals.
    cents = money_from_double(v->GetDouble());
  }
  if (!cents) {
    add_error(key, "must be an amount like \"25.00\" (at most two decimals)");
    return std::nullopt;
  }
  if (positive && *cents <= 0) {
    add_error(key, "must be greater than 0");
    return std::nullopt;
  }
  if (*cents > kMaxMoneyCents) {
    add_error(key, "is larger than the accepted maximum of 1000000000.00");
    return std::nullopt;
  }
  return cents;
}

std::optional<std::string> FieldReader::date(std::string_view key, bool required) {
  auto s = string(key, required, 32);
  if (!s) return std::nullopt;
  if (!is_valid_date(*s)) {
    add_error(key, "must be a calendar date YYYY-MM-DD between 1900-01-01 and 2199-12-31");
    return std::nullopt;
  }
  return s;
}

std::optional<std::string> FieldReader::instant(std::string_view key, bool required) {
  auto s = string(key, required, 64);
  if (!s) return std::nullopt;
  auto norm = normalize_instant(*s);
  if (!norm) {
    add_error(key, "must be an RFC 3339 timestamp like 2026-11-24T10:00:00Z");
    return std::nullopt;
  }
  return norm;
}

std::optional<std::vector<std::string>> FieldReader::string_list(std::string_view key,
                                                                 bool required,
                                                                 std::size_t max_items) {
  const JsonValue* v = find(key, required);
  if (!v) return std::nullopt;
  if (!v->IsArray()) {
    add_error(key, std::string("must be an array of strings, not ") + type_name(*v));
    return std::nullopt;
  }
  if (v->Size() > max_items) {
    add_error(key, "must have at most " + std::to_string(max_items) + " items");
    return std::nullopt;
  }
  std::vector<std::string> out;
  for (const auto& item : v->GetArray()) {
    if (!item.IsString() || item.GetStringLength() == 0 || item.GetStringLength() > 256) {
      add_error(key, "must contain only non-empty strings of at most 256 bytes");
      return std::nullopt;
    }
    std::string s(item.GetString(), item.GetStringLength());
    if (s.find('\0') != std::string::npos) {
      add_error(key, "must not contain NUL characters");
      return std::nullopt;
    }
    out.push_back(std::move(s));
  }
  return out;
}

const JsonValue* FieldReader::object(std::string_view key, bool required) {
  const JsonValue* v = find(key, required);
  if (!v) return nullptr;
  if (!v->IsObject()) {
    add_error(key, std::string("must be an object, not ") + type_name(*v));
    return nullptr;
  }
  return v;
}

void FieldReader::throw_if_errors(std::string_view detail) const {
  if (!errors_.empty()) throw unprocessable(std::string(detail), errors_);
}

struct JsonWriter::Impl {
  rapidjson::StringBuffer buffer;
  rapidjson::Writer<rapidjson::StringBuffer> writer{buffer};
};

JsonWriter::JsonWriter() : impl_(std::make_unique<Impl>()) {}
JsonWriter::~JsonWriter() = default;

JsonWriter& JsonWriter::begin_object() {
  impl_->writer.StartObject();
  return *this;
}
JsonWriter& JsonWriter::end_object() {
  impl_->writer.EndObject();
  return *this;
}
JsonWriter& JsonWriter::begin_array() {
  impl_->writer.StartArray();
  return *this;
}
JsonWriter& JsonWriter::end_array() {
  impl_->writer.EndArray();
  return *this;
}
JsonWriter& JsonWriter::key(std::string_view k) {
  impl_->writer.Key(k.data(), static_cast<rapidjson::SizeType>(k.size()));
  return *this;
}
JsonWriter& JsonWriter::value(std::string_view v) {
  impl_->writer.String(v.data(), static_cast<rapidjson::SizeType>(v.size()));
  return *this;
}
JsonWriter& JsonWriter::value(std::int64_t v) {
  impl_->writer.Int64(v);
  return *this;
}
JsonWriter& JsonWriter::value(bool v) {
  impl_->writer.Bool(v);
  return *this;
}
JsonWriter& JsonWriter::value(double v) {
  impl_->writer.Double(v);
  return *this;
}
JsonWriter& JsonWriter::value(const std::vector<std::string>& v) {
  begin_array();
  for (const auto& s : v) value(s);
  return end_array();
}
JsonWriter& JsonWriter::null() {
  impl_->writer.Null();
  return *this;
}
JsonWriter& JsonWriter::raw(std::string_view json) {
  impl_->writer.RawValue(json.data(), json.size(), rapidjson::kObjectType);
  return *this;
}
JsonWriter& JsonWriter::value(const JsonValue& v) {
  v.Accept(impl_->writer);
  return *this;
}
std::string JsonWriter::take() {
  std::string out(impl_->buffer.GetString(), impl_->buffer.GetSize());
  impl_->buffer.Clear();
  impl_->writer.Reset(impl_->buffer);
  return out;
}

}  // namespace gabe
