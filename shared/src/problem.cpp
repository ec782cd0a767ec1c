#include "gabe/problem.hpp"

#include "gabe/json.hpp"

namespace gabe {

namespace {

struct Titles {
  int status;
  const char* de;
  const char* en;
};

constexpr Titles kTitles[] = {
    {400, "Ungültige Anfrage", "Bad Request"},
    {401, "Nicht angemeldet", "Unauthorized"},
    {403, "Keine Berechtigung", "Forbidden"},
    {404, "Nicht gefunden", "Not Found"},
    {405, "Methode nicht erlaubt", "Method Not Allowed"},
    {408, "Zeitüberschreitung der Anfrage", "Request Timeout"},
    {409, "Konflikt", "Conflict"},
    {413, "Anfrage zu groß", "Content Too Large"},
    {415, "Nicht unterstützter Inhaltstyp", "Unsupported Media Type"},
    {422, "Ungültige Daten", "Unprocessable Content"},
    {431, "Kopfzeilen zu groß", "Request Header Fields Too Large"},
    {500, "Interner Fehler", "Internal Server Error"},
    {503, "Dienst nicht verfügbar", "Service Unavailable"},
};

}  // namespace

void Problem::cap_errors() {
  if (errors_.size() <= kMaxProblemErrors) return;
  omitted_errors_ = errors_.size() - kMaxProblemErrors;
  errors_.resize(kMaxProblemErrors);
  errors_.shrink_to_fit();
}

std::string Problem::title(Language lang) const {
  for (const auto& t : kTitles) {
    if (t.status == status_) return lang == Language::de ? t.de : t.en;
  }
  return lang == Language::de ? "Fehler" : "Error";
}

std::string Problem::to_json(Language lang) const {
  JsonWriter w;
  w.begin_object();
  w.field("type", "urn:gabe:problem:" + type_);
  w.field("title", title(lang));
  w.field("status", static_cast<std::int64_t>(status_));
  w.field("detail", detail_);
  if (!errors_.empty()) {
    w.key("errors");
    w.begin_array();
    for (const auto& e : errors_) {
      w.begin_object();
      w.field("field", e.field);
      w.field("message", e.message);
      w.end_object();
    }
    if (omitted_errors_ > 0) {
      w.begin_object();
      w.field("field", "");
      w.field("message", std::to_string(omitted_errors_) + " more errors left out");
      w.end_object();
    }
    w.end_array();
  }
  w.end_object();
  return w.take();
}

Problem bad_request(std::string detail) {
  return {400, "bad-request", std::move(detail)};
}
Problem unauthorized(std::string detail) {
  return {401, "unauthorized", std::move(detail)};
}
Problem forbidden(std::string detail) {
  return {403, "forbidden", std::move(detail)};
}
Problem not_found(std::string detail) {
  return {404, "not-found", std::move(detail)};
}
Problem method_not_allowed(std::string detail) {
  return {405, "method-not-allowed", std::move(detail)};
}
Problem conflict(std::string detail) {
  return {409, "conflict", std::move(detail)};
}
Problem payload_too_large(std::string detail) {
  return {413, "payload-too-large", std::move(detail)};
}
Problem unsupported_media_type(std::string detail) {
  return {415, "unsupported-media-type", std::move(detail)};
}
Problem unprocessable(std::string detail, std::vector<FieldError> errors) {
  return {422, "validation", std::move(detail), std::move(errors)};
}
Problem service_unavailable(std::string detail, int retry_after_seconds) {
  Problem p{503, "unavailable", std::move(detail)};
  p.with_retry_after(retry_after_seconds);
  return p;
}
Problem internal_error() {
  return {500, "internal", "An unexpected error occurred."};
}

}  // namespace gabe
