// The grants API: funders, grants and their status moves, deadlines and their occurrences, the
// calendar feed, and the subscriptions of the shared outbox. Each handler validates the body
// into plain fields, runs named SQL (queries.hpp) in one transaction with its audit entry, and
// answers the stored state.
#include "handlers.hpp"

#include <algorithm>
#include <memory>

#include "calendar.hpp"
#include "gabe/json.hpp"
#include "gabe/outbox.hpp"
#include "gabe/values.hpp"
#include "gabe/webhook_sender.hpp"
#include "grants_settings.hpp"
#include "queries.hpp"
#include "scheduler.hpp"
#include "status.hpp"

namespace gabe::grants {

namespace {

constexpr std::size_t kNotesBytes = 5000;
constexpr std::size_t kNameBytes = 200;
constexpr int kMaxOccurrences = 600;

using OptText = std::optional<std::string>;

// ---- reading bodies

// The request body as a JSON object (415 unless JSON, 400 unless parseable, 422 unless an
// object).
std::unique_ptr<rapidjson::Document> body_object(const http::Request& req) {
  req.require_json();
  auto doc = parse_json(req.body);
  if (!doc->IsObject()) throw unprocessable("The body must be a JSON object.");
  return doc;
}

bool present(const JsonValue& o, std::string_view key) {
  return o.FindMember(rapidjson::StringRef(key.data(), key.size())) != o.MemberEnd();
}

bool given_null(const JsonValue& o, std::string_view key) {
  auto it = o.FindMember(rapidjson::StringRef(key.data(), key.size()));
  return it != o.MemberEnd() && it->value.IsNull();
}

// Applies one field of a create or PATCH body to `field`: absent leaves it, null clears it (or
// is an error when `nullable` is false), a value replaces it after `read` checked it. On
// create, a required field must be there.
template <typename T, typename Read>
void apply(FieldReader& r, const JsonValue& o, std::string_view key, std::optional<T>& field,
           bool nullable, bool required, Read read) {
  if (!present(o, key)) {
    if (required) r.add_error(key, "is required");
    return;
  }
  if (given_null(o, key)) {
    if (nullable) {
      field.reset();
    } else {
      r.add_error(key, "must not be null");
    }
    return;
  }
  if (auto v = read()) field = std::move(*v);
}

void apply_text(FieldReader& r, const JsonValue& o, std::string_view key, OptText& field,
                std::size_t max, bool nullable, bool required = false) {
  apply(r, o, key, field, nullable, required, [&]() -> OptText {
    auto v = r.string(key, false, max);
    if (v && v->empty()) {
      // An empty string clears an optional text, as null does.
      if (nullable) {
        field.reset();
      } else {
        r.add_error(key, "must not be empty");
      }
      return std::nullopt;
    }
    return v;
  });
}

void apply_choice(FieldReader& r, const JsonValue& o, std::string_view key, OptText& field,
                  const std::vector<std::string_view>& allowed, bool required = false) {
  apply(r, o, key, field, false, required, [&] { return r.one_of(key, allowed); });
}

void apply_date(FieldReader& r, const JsonValue& o, std::string_view key, OptText& field) {
  apply(r, o, key, field, true, false, [&] { return r.date(key); });
}

void apply_money(FieldReader& r, const JsonValue& o, std::string_view key,
                 std::optional<std::int64_t>& field) {
  apply(r, o, key, field, true, false, [&]() -> std::optional<std::int64_t> {
    auto cents = r.money(key, false, false);
    if (cents && *cents < 0) {
      r.add_error(key, "must not be negative");
      return std::nullopt;
    }
    return cents;
  });
}

void check_website(FieldReader& r, const OptText& website) {
  if (website && !webhooks::parse_webhook_url(*website)) {
    r.add_error("website", "must be an http:// or https:// URL");
  }
}

std::string audit_fields(const JsonValue& body) {
  JsonWriter w;
  w.begin_object().key("fields").begin_array();
  for (auto it = body.MemberBegin(); it != body.MemberEnd(); ++it) {
    w.value(std::string_view(it->name.GetString(), it->name.GetStringLength()));
  }
  w.end_array().end_object();
  return w.take();
}

std::string id_json(std::int64_t id) {
  JsonWriter w;
  w.begin_object().field("id", id).end_object();
  return w.take();
}

OptText text_or_null(const pqxx::field& f) {
  if (f.is_null()) return std::nullopt;
  return std::string(f.c_str());
}

std::optional<std::int64_t> int_or_null(const pqxx::field& f) {
  if (f.is_null()) return std::nullopt;
  return f.as<std::int64_t>();
}

// The optional body of complete and reopen: {"occurrence": N}, or nothing.
std::optional<std::int64_t> occurrence_in(const http::Request& req) {
  if (req.body.empty()) return std::nullopt;
  auto doc = body_object(req);
  FieldReader r(*doc);
  r.refuse_unknown({"occurrence"});
  auto occurrence = r.integer("occurrence", false, 1, kMaxOccurrences);
  r.throw_if_errors();
  return occurrence;
}

http::Response deleted(std::int64_t id) {
  JsonWriter w;
  w.begin_object().field("id", id).field("deleted", true).end_object();
  return http::json_response(200, w.take());
}

// ---- funders

struct Funder {
  OptText name;
  OptText kind;
  OptText website;
  OptText notes;

  void read(FieldReader& r, const JsonValue& o, bool create) {
    r.refuse_unknown({"name", "kind", "website", "notes"});
    apply_text(r, o, "name", name, kNameBytes, false, create);
    apply_choice(r, o, "kind", kind, funder_kinds(), create);
    apply_text(r, o, "website", website, 500, true);
    apply_text(r, o, "notes", notes, kNotesBytes, true);
    check_website(r, website);
  }
};

// ---- grants

struct Grant {
  std::optional<std::int64_t> funder_id;
  OptText title;
  OptText programme;
  OptText status;
  std::optional<std::int64_t> requested;
  std::optional<std::int64_t> awarded;
  std::optional<std::int64_t> received;
  OptText owner;
  OptText period_start;
  OptText period_end;
  OptText notes;

  static Grant from_row(const pqxx::row& row) {
    Grant g;
    g.funder_id = row[1].as<std::int64_t>();
    g.title = row[3].c_str();
    g.programme = text_or_null(row[4]);
    g.status = row[5].c_str();
    g.requested = int_or_null(row[6]);
    g.awarded = int_or_null(row[7]);
    g.received = int_or_null(row[8]);
    g.owner = text_or_null(row[9]);
    g.period_start = text_or_null(row[10]);
    g.period_end = text_or_null(row[11]);
    g.notes = text_or_null(row[12]);
    return g;
  }

  void read(FieldReader& r, const JsonValue& o, bool create) {
    r.refuse_unknown({"funder_id", "title", "programme", "status", "amount_requested",
                      "amount_awarded", "amount_received", "owner", "period_start", "period_end",
                      "notes"});
    apply(r, o, "funder_id", funder_id, false, create,
          [&] { return r.integer("funder_id", false, 1, INT64_MAX); });
    apply_text(r, o, "title", title, 300, false, create);
    apply_text(r, o, "programme", programme, kNameBytes, true);
    apply_choice(r, o, "status", status, grant_statuses());
    apply_money(r, o, "amount_requested", requested);
    apply_money(r, o, "amount_awarded", awarded);
    apply_money(r, o, "amount_received", received);
    apply_text(r, o, "owner", owner, kNameBytes, true);
    apply_date(r, o, "period_start", period_start);
    apply_date(r, o, "period_end", period_end);
    apply_text(r, o, "notes", notes, kNotesBytes, true);
    // Dates are normalised YYYY-MM-DD, so text order is date order.
    if (period_start && period_end && *period_end < *period_start) {
      r.add_error("period_end", "must not be before period_start");
    }
  }
};

// A grant row (kGrantById's columns) as JSON, amounts as exact money strings.
std::string grant_json(const pqxx::row& row) {
  const auto status = std::string(row[5].c_str());
  JsonWriter w;
  w.begin_object()
      .field("id", row[0].as<std::int64_t>())
      .field("funder_id", row[1].as<std::int64_t>())
      .field("funder", std::string_view(row[2].c_str()))
      .field("title", std::string_view(row[3].c_str()))
      .field("programme", text_or_null(row[4]))
      .field("status", status);
  for (int i = 6; i <= 8; ++i) {
    static constexpr const char* kNames[] = {"amount_requested", "amount_awarded",
                                             "amount_received"};
    w.key(kNames[i - 6]);
    if (row[i].is_null()) {
      w.null();
    } else {
      w.value(format_money(row[i].as<std::int64_t>()));
    }
  }
  w.field("owner", text_or_null(row[9]))
      .field("period_start", text_or_null(row[10]))
      .field("period_end", text_or_null(row[11]))
      .field("notes", text_or_null(row[12]))
      .field("created_at", std::string_view(row[13].c_str()))
      .field("updated_at", std::string_view(row[14].c_str()));
  w.key("next_statuses").begin_array();
  for (auto s : allowed_moves(status)) w.value(s);
  w.end_array().end_object();
  return w.take();
}

// ---- deadlines

struct Deadline {
  OptText kind;
  OptText due_at;
  OptText due_on;
  OptText internal_due_on;
  OptText owner;
  OptText notes;
  std::optional<std::int64_t> every_months;
  OptText until;

  void read(FieldReader& r, const JsonValue& o, bool create) {
    r.refuse_unknown(
        {"kind", "due_at", "due_on", "internal_due_on", "owner", "notes", "recurrence"});
    apply_choice(r, o, "kind", kind, deadline_kinds(), create);
    const bool has_at = present(o, "due_at");
    const bool has_on = present(o, "due_on");
    if (has_at && has_on) {
      r.add_error("due_at", "give either due_at or due_on, not both");
    } else if (has_at) {
      apply(r, o, "due_at", due_at, false, false, [&] { return r.instant("due_at"); });
      if (due_at) due_on.reset();
    } else if (has_on) {
      apply(r, o, "due_on", due_on, false, false, [&] { return r.date("due_on"); });
      if (due_on) due_at.reset();
    } else if (create) {
      r.add_error("due_on", "due_on or due_at is required");
    }
    apply_date(r, o, "internal_due_on", internal_due_on);
    apply_text(r, o, "owner", owner, kNameBytes, true);
    apply_text(r, o, "notes", notes, kNotesBytes, true);
    if (given_null(o, "recurrence")) {
      every_months.reset();
      until.reset();
    } else if (present(o, "recurrence")) {
      if (const JsonValue* rec = r.object("recurrence")) {
        FieldReader rr(*rec, "recurrence.");
        rr.refuse_unknown({"every_months", "until"});
        every_months = rr.integer("every_months", true, 1, 120);
        until = rr.date("until", true);
        for (const auto& e : rr.errors()) r.add_error(e.field, e.message);
      }
    }
  }

  // Checks what needs the database: the first occurrence's local day against `until` and the
  // internal date, and the number of occurrences.
  void check(pqxx::transaction_base& tx, FieldReader& r) const {
    auto row = tx.exec_params(sql::kCheckDeadline, due_at, due_on, every_months, until)[0];
    const std::string first_day = row[0].c_str();
    const int count = row[1].as<int>();
    if (until && *until < first_day) {
      r.add_error("recurrence.until", "must not be before the first due day");
    } else if (count > kMaxOccurrences) {
      r.add_error("recurrence.until",
                  "gives more than " + std::to_string(kMaxOccurrences) + " occurrences");
    }
    if (internal_due_on && *internal_due_on > first_day) {
      r.add_error("internal_due_on", "must not be after the (first) due day");
    }
    r.throw_if_errors();
  }
};

// The cursor of the occurrence list: "<due epoch µs>.<deadline id>.<occurrence>".
struct OccurrenceCursor {
  std::optional<std::int64_t> due_us;
  std::optional<std::int64_t> id;
  std::optional<std::int64_t> occurrence;

  static OccurrenceCursor of(const http::Request& req) {
    OccurrenceCursor c;
    auto text = req.query_text("after", 100);
    if (!text) return c;
    std::int64_t parts[3] = {0, 0, 0};
    std::size_t part = 0;
    bool negative = false;
    bool digits = false;
    for (std::size_t i = 0; i < text->size(); ++i) {
      const char ch = (*text)[i];
      if (ch == '-' && i == 0) {
        negative = true;
      } else if (ch == '.' && digits && part < 2) {
        ++part;
        digits = false;
      } else if (ch >= '0' && ch <= '9' && parts[part] < 100'000'000'000'000'000) {
        parts[part] = parts[part] * 10 + (ch - '0');
        digits = true;
      } else {
        part = 99;
        break;
      }
    }
    if (part != 2 || !digits) {
      throw unprocessable("Invalid query parameter after.",
                          {{"after", "is not a cursor returned by this list"}});
    }
    c.due_us = negative ? -parts[0] : parts[0];
    c.id = parts[1];
    c.occurrence = parts[2];
    return c;
  }
};

// ---- the calendar

std::string_view kind_label(std::string_view kind, Language lang) {
  const bool de = lang == Language::de;
  if (kind == "loi") return de ? "Interessenbekundung (LOI)" : "Letter of intent";
  if (kind == "application") return de ? "Antrag" : "Application";
  if (kind == "interim_report") return de ? "Zwischenbericht" : "Interim report";
  if (kind == "final_report") return de ? "Verwendungsnachweis" : "Final report";
  if (kind == "financial_report") return de ? "Finanzbericht" : "Financial report";
  return de ? "Frist" : "Deadline";
}

CalendarEvent calendar_event(const pqxx::row& row, Language lang) {
  const bool de = lang == Language::de;
  CalendarEvent e;
  e.deadline_id = row[0].as<std::int64_t>();
  e.occurrence = row[1].as<int>();
  e.sequence = row[2].as<int>();
  e.due_epoch = row[3].as<std::int64_t>();
  e.modified_epoch = row[4].as<std::int64_t>();
  e.done = std::string_view(row[9].c_str()) == "done";
  e.cancelled = row[10].as<bool>();
  std::string summary(kind_label(row[5].c_str(), lang));
  if (!row[11].is_null()) summary += ": " + std::string(row[11].c_str());
  if (!row[14].is_null()) summary += " (" + std::string(row[14].c_str()) + ")";
  e.summary = (e.done ? (de ? "Erledigt – " : "Done – ") : "") + summary;
  std::string d;
  const auto line = [&](std::string_view label, const pqxx::field& f) {
    if (!f.is_null() && f.c_str()[0] != '\0') {
      d.append(label).append(": ").append(f.c_str()).append("\n");
    }
  };
  line(de ? "Förderer" : "Funder", row[14]);
  line(de ? "Programm" : "Programme", row[12]);
  line("Status", row[13]);
  line(de ? "Verantwortlich" : "Owner", row[6]);
  line(de ? "Interner Entwurf bis" : "Internal draft due", row[8]);
  if (!row[7].is_null()) d.append("\n").append(row[7].c_str());
  while (!d.empty() && d.back() == '\n') d.pop_back();
  e.description = std::move(d);
  return e;
}

class GrantsApi {
 public:
  explicit GrantsApi(ServiceContext& ctx)
      : ctx_(ctx),
        settings_(GrantsSettings::from(ctx.settings)),
        dispatcher_(ctx.pool, ctx.service, outbox::DispatcherSettings::from(ctx.settings),
                    ctx.metrics.counter("gabe_grants_reminders_total",
                                        "Reminder webhook attempts by outcome (delivered, failed "
                                        "and retried, dead_letter)",
                                        {"outcome"})),
        scheduler_(ctx.pool, ctx.metrics, settings_, [this] { dispatcher_.wake(); }) {}

  // -- funders

  http::Response create_funder(http::Request& req) {
    auto doc = body_object(req);
    FieldReader r(*doc);
    Funder f;
    f.read(r, *doc, true);
    r.throw_if_errors();
    return ctx_.pool.run([&](pqxx::connection& c) {
      pqxx::work tx(c);
      const auto id = tx.exec_params(sql::kInsertFunder, f.name, f.kind, f.website, f.notes)[0][0]
                          .as<std::int64_t>();
      record_audit(tx, ctx_.service, req.actor, "funder.create", entity("funder", id), id_json(id));
      std::string json = tx.exec_params(sql::kFunderJson, id)[0][0].c_str();
      tx.commit();
      return http::json_response(201, json);
    });
  }

  http::Response funder(http::Request& req) {
    const auto id = parse_id(req.param("id"));
    return ctx_.pool.run([&](pqxx::connection& c) {
      pqxx::read_transaction tx(c);
      auto rows = tx.exec_params(sql::kFunderJson, id);
      if (rows.empty()) throw not_found("No such funder.");
      return http::json_response(200, rows[0][0].c_str());
    });
  }

  http::Response funders(http::Request& req) {
    auto kind = req.query_enum("kind", funder_kinds());
    const auto page = Page::of(req);
    return ctx_.pool.run([&](pqxx::connection& c) {
      pqxx::read_transaction tx(c);
      return paged_list(tx, sql::kListFunders, page, kind);
    });
  }

  http::Response patch_funder(http::Request& req) {
    const auto id = parse_id(req.param("id"));
    auto doc = body_object(req);
    return ctx_.pool.run([&](pqxx::connection& c) {
      pqxx::work tx(c);
      auto rows = tx.exec_params(sql::kFunderForUpdate, id);
      if (rows.empty()) throw not_found("No such funder.");
      Funder f{rows[0][0].c_str(), rows[0][1].c_str(), text_or_null(rows[0][2]),
               text_or_null(rows[0][3])};
      FieldReader r(*doc);
      f.read(r, *doc, false);
      r.throw_if_errors();
      tx.exec_params(sql::kUpdateFunder, id, f.name, f.kind, f.website, f.notes);
      record_audit(tx, ctx_.service, req.actor, "funder.update", entity("funder", id),
                   audit_fields(*doc));
      std::string json = tx.exec_params(sql::kFunderJson, id)[0][0].c_str();
      tx.commit();
      return http::json_response(200, json);
    });
  }

  http::Response delete_funder(http::Request& req) {
    const auto id = parse_id(req.param("id"));
    ctx_.pool.run([&](pqxx::connection& c) {
      pqxx::work tx(c);
      if (tx.exec_params(sql::kFunderForUpdate, id).empty()) throw not_found("No such funder.");
      if (tx.exec_params(sql::kFunderGrantCount, id)[0][0].as<std::int64_t>() > 0) {
        throw conflict("The funder still has grants; delete or move them first.");
      }
      tx.exec_params(sql::kDeleteFunder, id);
      record_audit(tx, ctx_.service, req.actor, "funder.delete", entity("funder", id), "{}");
      tx.commit();
    });
    return deleted(id);
  }

  // -- grants

  http::Response create_grant(http::Request& req) {
    auto doc = body_object(req);
    FieldReader r(*doc);
    Grant g;
    g.status = "prospect";
    g.read(r, *doc, true);
    r.throw_if_errors();
    return ctx_.pool.run([&](pqxx::connection& c) {
      pqxx::work tx(c);
      require_funder(tx, *g.funder_id);
      const auto id = tx.exec_params(sql::kInsertGrant, g.funder_id, g.title, g.programme, g.status,
                                     g.requested, g.awarded, g.received, g.owner, g.period_start,
                                     g.period_end, g.notes)[0][0]
                          .as<std::int64_t>();
      tx.exec_params(sql::kInsertHistory, id, OptText{}, g.status, req.actor);
      record_audit(tx, ctx_.service, req.actor, "grant.create", entity("grant", id), id_json(id));
      auto json = grant_json(tx.exec_params(sql::kGrantById, id)[0]);
      tx.commit();
      return http::json_response(201, json);
    });
  }

  http::Response grant(http::Request& req) {
    const auto id = parse_id(req.param("id"));
    return ctx_.pool.run([&](pqxx::connection& c) {
      pqxx::read_transaction tx(c);
      auto rows = tx.exec_params(sql::kGrantById, id);
      if (rows.empty()) throw not_found("No such grant.");
      return http::json_response(200, grant_json(rows[0]));
    });
  }

  http::Response grants(http::Request& req) {
    auto status = req.query_enum("status", grant_statuses());
    auto funder = req.query_int("funder_id", 1, INT64_MAX);
    auto owner = req.query_text("owner", kNameBytes);
    const auto page = Page::of(req);
    return ctx_.pool.run([&](pqxx::connection& c) {
      pqxx::read_transaction tx(c);
      auto rows =
          tx.exec_params(sql::kListGrants, status, funder, owner, page.after, page.limit + 1);
      PageWriter out(page);
      for (const auto& row : rows) {
        if (!out.add(row[0].c_str(), grant_json(row))) break;
      }
      return http::json_response(200, out.finish());
    });
  }

  http::Response patch_grant(http::Request& req) {
    const auto id = parse_id(req.param("id"));
    auto doc = body_object(req);
    return ctx_.pool.run([&](pqxx::connection& c) {
      pqxx::work tx(c);
      auto rows = tx.exec_params(sql::kGrantForUpdate, id);
      if (rows.empty()) throw not_found("No such grant.");
      Grant g = Grant::from_row(rows[0]);
      const std::string from = *g.status;
      FieldReader r(*doc);
      g.read(r, *doc, false);
      r.throw_if_errors();
      if (*g.status != from && !is_allowed_move(from, *g.status)) {
        std::string allowed;
        for (auto s : allowed_moves(from))
          allowed += (allowed.empty() ? "" : ", ") + std::string(s);
        throw unprocessable(
            "A grant cannot move from " + from + " to " + *g.status + ".",
            {{"status", "cannot move from " + from + " to " + *g.status +
                            " (allowed: " + (allowed.empty() ? "none" : allowed) + ")"}});
      }
      if (*g.funder_id != rows[0][1].as<std::int64_t>()) require_funder(tx, *g.funder_id);
      tx.exec_params(sql::kUpdateGrant, id, g.funder_id, g.title, g.programme, g.status,
                     g.requested, g.awarded, g.received, g.owner, g.period_start, g.period_end,
                     g.notes);
      std::string details = audit_fields(*doc);
      if (*g.status != from) {
        tx.exec_params(sql::kInsertHistory, id, from, g.status, req.actor);
        JsonWriter w;
        w.begin_object().field("from", from).field("to", *g.status).end_object();
        record_audit(tx, ctx_.service, req.actor, "grant.status", entity("grant", id), w.take());
      }
      record_audit(tx, ctx_.service, req.actor, "grant.update", entity("grant", id), details);
      auto json = grant_json(tx.exec_params(sql::kGrantById, id)[0]);
      tx.commit();
      return http::json_response(200, json);
    });
  }

  http::Response delete_grant(http::Request& req) {
    const auto id = parse_id(req.param("id"));
    ctx_.pool.run([&](pqxx::connection& c) {
      pqxx::work tx(c);
      if (tx.exec_params(sql::kGrantForUpdate, id).empty()) throw not_found("No such grant.");
      tx.exec_params(sql::kTombstoneGrantDeadlines, id);
      tx.exec_params(sql::kDeleteGrant, id);
      record_audit(tx, ctx_.service, req.actor, "grant.delete", entity("grant", id), "{}");
      tx.commit();
    });
    return deleted(id);
  }

  http::Response history(http::Request& req) {
    const auto id = parse_id(req.param("id"));
    const auto page = Page::of(req);
    return ctx_.pool.run([&](pqxx::connection& c) {
      pqxx::read_transaction tx(c);
      if (tx.exec_params(sql::kGrantById, id).empty()) throw not_found("No such grant.");
      return paged_list(tx, sql::kListHistory, page, id);
    });
  }

  // -- deadlines

  http::Response create_deadline(http::Request& req) {
    const auto grant_id = parse_id(req.param("id"));
    auto doc = body_object(req);
    FieldReader r(*doc);
    Deadline d;
    d.read(r, *doc, true);
    r.throw_if_errors();
    return ctx_.pool.run([&](pqxx::connection& c) {
      pqxx::work tx(c);
      if (tx.exec_params(sql::kGrantForUpdate, grant_id).empty()) {
        throw not_found("No such grant.");
      }
      d.check(tx, r);
      const auto id =
          tx.exec_params(sql::kInsertDeadline, grant_id, d.kind, d.due_at, d.due_on,
                         d.internal_due_on, d.owner, d.notes, d.every_months, d.until)[0][0]
              .as<std::int64_t>();
      record_audit(tx, ctx_.service, req.actor, "deadline.create", entity("deadline", id),
                   id_json(id));
      std::string json = tx.exec_params(sql::kDeadlineJson, id)[0][0].c_str();
      tx.commit();
      return http::json_response(201, json);
    });
  }

  http::Response deadline(http::Request& req) {
    const auto id = parse_id(req.param("id"));
    return ctx_.pool.run([&](pqxx::connection& c) {
      pqxx::read_transaction tx(c);
      auto rows = tx.exec_params(sql::kDeadlineJson, id);
      if (rows.empty()) throw not_found("No such deadline.");
      return http::json_response(200, rows[0][0].c_str());
    });
  }

  http::Response grant_deadlines(http::Request& req) {
    const auto id = parse_id(req.param("id"));
    const auto page = Page::of(req);
    return ctx_.pool.run([&](pqxx::connection& c) {
      pqxx::read_transaction tx(c);
      if (tx.exec_params(sql::kGrantById, id).empty()) throw not_found("No such grant.");
      return paged_list(tx, sql::kGrantDeadlines, page, id);
    });
  }

  http::Response patch_deadline(http::Request& req) {
    const auto id = parse_id(req.param("id"));
    auto doc = body_object(req);
    return ctx_.pool.run([&](pqxx::connection& c) {
      pqxx::work tx(c);
      auto rows = tx.exec_params(sql::kDeadlineForUpdate, id);
      if (rows.empty()) throw not_found("No such deadline.");
      const auto& row = rows[0];
      Deadline d;
      d.kind = row[1].c_str();
      if (row[3].is_null()) {
        d.due_at = row[2].c_str();
      } else {
        d.due_on = row[3].c_str();
      }
      d.internal_due_on = text_or_null(row[4]);
      d.owner = text_or_null(row[5]);
      d.notes = text_or_null(row[6]);
      d.every_months = int_or_null(row[7]);
      d.until = text_or_null(row[8]);
      FieldReader r(*doc);
      d.read(r, *doc, false);
      r.throw_if_errors();
      d.check(tx, r);
      tx.exec_params(sql::kUpdateDeadline, id, d.kind, d.due_at, d.due_on, d.internal_due_on,
                     d.owner, d.notes, d.every_months, d.until);
      record_audit(tx, ctx_.service, req.actor, "deadline.update", entity("deadline", id),
                   audit_fields(*doc));
      std::string json = tx.exec_params(sql::kDeadlineJson, id)[0][0].c_str();
      tx.commit();
      return http::json_response(200, json);
    });
  }

  http::Response complete_deadline(http::Request& req) {
    const auto id = parse_id(req.param("id"));
    const auto occurrence = occurrence_in(req);
    return ctx_.pool.run([&](pqxx::connection& c) {
      pqxx::work tx(c);
      if (tx.exec_params(sql::kLockDeadline, id).empty()) throw not_found("No such deadline.");
      auto rows = tx.exec_params(sql::kOccurrenceToComplete, id, occurrence);
      if (rows.empty()) {
        if (occurrence) {
          throw unprocessable("The deadline has no such occurrence.",
                              {{"occurrence", "is not an occurrence of this deadline"}});
        }
        throw conflict("Every occurrence of this deadline is already done.");
      }
      const int which = rows[0][0].as<int>();
      // Completing a done occurrence again changes nothing and is answered the same.
      if (std::string_view(rows[0][1].c_str()) != "done") {
        tx.exec_params(sql::kInsertCompletion, id, which, req.actor);
        tx.exec_params(sql::kBumpRevision, id);
        JsonWriter w;
        w.begin_object().field("occurrence", which).end_object();
        record_audit(tx, ctx_.service, req.actor, "deadline.complete", entity("deadline", id),
                     w.take());
      }
      std::string json = tx.exec_params(sql::kDeadlineJson, id)[0][0].c_str();
      tx.commit();
      return http::json_response(200, json);
    });
  }

  // Undoes a completion: the given occurrence, or the one completed last, is open (or overdue)
  // again, in the feed with a new SEQUENCE, and its reminders resume where they stood.
  http::Response reopen_deadline(http::Request& req) {
    const auto id = parse_id(req.param("id"));
    const auto occurrence = occurrence_in(req);
    return ctx_.pool.run([&](pqxx::connection& c) {
      pqxx::work tx(c);
      if (tx.exec_params(sql::kLockDeadline, id).empty()) throw not_found("No such deadline.");
      auto rows = tx.exec_params(sql::kDeleteCompletion, id, occurrence);
      if (!rows.empty()) {
        tx.exec_params(sql::kBumpRevision, id);
        JsonWriter w;
        w.begin_object().field("occurrence", rows[0][0].as<int>()).end_object();
        record_audit(tx, ctx_.service, req.actor, "deadline.reopen", entity("deadline", id),
                     w.take());
      } else if (!occurrence) {
        throw conflict("No occurrence of this deadline is done.");
      } else if (tx.exec_params(sql::kOccurrenceToComplete, id, occurrence).empty()) {
        throw unprocessable("The deadline has no such occurrence.",
                            {{"occurrence", "is not an occurrence of this deadline"}});
      }
      // Reopening an occurrence that is not done changes nothing and is answered the same.
      std::string json = tx.exec_params(sql::kDeadlineJson, id)[0][0].c_str();
      tx.commit();
      return http::json_response(200, json);
    });
  }

  http::Response delete_deadline(http::Request& req) {
    const auto id = parse_id(req.param("id"));
    ctx_.pool.run([&](pqxx::connection& c) {
      pqxx::work tx(c);
      if (tx.exec_params(sql::kDeleteDeadline, id).empty()) throw not_found("No such deadline.");
      record_audit(tx, ctx_.service, req.actor, "deadline.delete", entity("deadline", id), "{}");
      tx.commit();
    });
    return deleted(id);
  }

  http::Response deadlines(http::Request& req) {
    auto state = req.query_enum("state", {"open", "overdue", "done"});
    auto within = req.query_int("within_days", 0, 36500);
    auto grant = req.query_int("grant_id", 1, INT64_MAX);
    auto owner = req.query_text("owner", kNameBytes);
    auto limit = req.query_int("limit", 1, Page::kMaxLimit).value_or(Page::kDefaultLimit);
    const auto cursor = OccurrenceCursor::of(req);
    Page page;
    page.limit = static_cast<long>(limit);
    return ctx_.pool.run([&](pqxx::connection& c) {
      pqxx::read_transaction tx(c);
      std::optional<int> within_days;
      if (within) within_days = static_cast<int>(*within);
      auto rows = tx.exec_params(sql::kListOccurrences, state, within_days, grant, owner,
                                 cursor.due_us, cursor.id, cursor.occurrence, page.limit + 1);
      return http::json_response(200, page_json(rows, page));
    });
  }

  // -- the calendar feed

  http::Response calendar(http::Request& req) {
    // Calendar apps cannot send a header: they carry the token in the URL. A header wins.
    auto token = req.header("authorization") ? std::nullopt : req.query_param("token");
    if (token && !token->empty()) {
      ctx_.auth.authenticate_token(req, *token, Role::viewer);
    } else {
      ctx_.auth.authenticate(req, Role::viewer);
    }
    auto owner = req.query_text("owner", kNameBytes);
    const auto lang = req.language();
    std::vector<CalendarEvent> events;
    ctx_.pool.run([&](pqxx::connection& c) {
      events.clear();
      pqxx::read_transaction tx(c);
      for (const auto& row : tx.exec_params(sql::kCalendarRows, owner)) {
        events.push_back(calendar_event(row, lang));
      }
    });
    http::Response r;
    r.content_type = "text/calendar; charset=utf-8";
    r.headers.emplace_back("cache-control", "no-cache");
    r.body = write_calendar(events, settings_.calendar_alarms, now_epoch_seconds(),
                            lang == Language::de ? "Fördermittel-Fristen" : "Grant deadlines");
    return r;
  }

 private:
  static std::string entity(std::string_view kind, std::int64_t id) {
    return std::string(kind) + ":" + std::to_string(id);
  }

  static void require_funder(pqxx::transaction_base& tx, std::int64_t funder_id) {
    if (tx.exec_params(sql::kFunderExists, funder_id).empty()) {
      throw unprocessable("The request contains invalid fields.",
                          {{"funder_id", "no funder has this id"}});
    }
  }

  ServiceContext& ctx_;
  GrantsSettings settings_;
  outbox::Dispatcher dispatcher_;
  Scheduler scheduler_;  // last: stops first, before the dispatcher it wakes
};

}  // namespace

void register_routes(ServiceContext& ctx) {
  auto api = std::make_shared<GrantsApi>(ctx);
  using M = http::Method;
  auto& r = ctx.router;
  const auto route = [&](M method, const char* pattern, Role role,
                         http::Response (GrantsApi::*fn)(http::Request&)) {
    r.add(method, pattern, role, [api, fn](http::Request& q) { return ((*api).*fn)(q); });
  };
  route(M::post, "/v1/funders", Role::fundraiser, &GrantsApi::create_funder);
  route(M::get, "/v1/funders", Role::viewer, &GrantsApi::funders);
  route(M::get, "/v1/funders/{id}", Role::viewer, &GrantsApi::funder);
  route(M::patch, "/v1/funders/{id}", Role::fundraiser, &GrantsApi::patch_funder);
  route(M::del, "/v1/funders/{id}", Role::fundraiser, &GrantsApi::delete_funder);
  route(M::post, "/v1/grants", Role::fundraiser, &GrantsApi::create_grant);
  route(M::get, "/v1/grants", Role::viewer, &GrantsApi::grants);
  route(M::get, "/v1/grants/{id}", Role::viewer, &GrantsApi::grant);
  route(M::patch, "/v1/grants/{id}", Role::fundraiser, &GrantsApi::patch_grant);
  route(M::del, "/v1/grants/{id}", Role::fundraiser, &GrantsApi::delete_grant);
  route(M::get, "/v1/grants/{id}/history", Role::viewer, &GrantsApi::history);
  route(M::post, "/v1/grants/{id}/deadlines", Role::fundraiser, &GrantsApi::create_deadline);
  route(M::get, "/v1/grants/{id}/deadlines", Role::viewer, &GrantsApi::grant_deadlines);
  route(M::get, "/v1/deadlines", Role::viewer, &GrantsApi::deadlines);
  route(M::get, "/v1/deadlines/{id}", Role::viewer, &GrantsApi::deadline);
  route(M::patch, "/v1/deadlines/{id}", Role::fundraiser, &GrantsApi::patch_deadline);
  route(M::del, "/v1/deadlines/{id}", Role::fundraiser, &GrantsApi::delete_deadline);
  route(M::post, "/v1/deadlines/{id}/complete", Role::fundraiser, &GrantsApi::complete_deadline);
  route(M::post, "/v1/deadlines/{id}/reopen", Role::fundraiser, &GrantsApi::reopen_deadline);
  // The token may come as ?token=, so the route checks it itself.
  r.add(M::get, "/v1/calendar.ics", std::nullopt,
        [api](http::Request& q) { return api->calendar(q); });
  outbox::register_subscription_routes(ctx, {"deadline.reminder", "deadline.overdue"}, Role::admin);
}

}  // namespace gabe::grants
