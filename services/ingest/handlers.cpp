// The ingest API: each handler turns a request into calls of the event mapping and the store.
#include "handlers.hpp"

#include <algorithm>
#include <chrono>
#include <memory>

#include "adapters.hpp"
#include "canonical_event.hpp"
#include "civicrm_sync.hpp"
#include "event_batcher.hpp"
#include "event_store.hpp"
#include "gabe/json.hpp"
#include "gabe/log.hpp"
#include "gabe/text.hpp"
#include "gabe/values.hpp"
#include "importer.hpp"
#include "ndjson.hpp"
#include "queries.hpp"
#include "retention.hpp"
#include "webhook_signature.hpp"

namespace gabe::ingest {

namespace {

// An import applies up to three batches at once (on their own connections); the parser waits
// for the oldest before it reads on.
constexpr std::size_t kImportBatch = 2000;
constexpr std::size_t kImportInFlight = 3;

const char* signature_problem(SignatureCheck check) {
  switch (check) {
    case SignatureCheck::stale_timestamp:
      return "The webhook timestamp is more than 5 minutes from now.";
    case SignatureCheck::bad_timestamp:
      return "The webhook-timestamp must be Unix seconds.";
    case SignatureCheck::missing_headers:
      return "The webhook-id, webhook-timestamp and webhook-signature headers are required.";
    case SignatureCheck::ok:
    case SignatureCheck::mismatch:
      break;
  }
  return "Unknown webhook source or bad signature.";
}

// Why a person acted (an erasure, an export): ?reason= or a JSON body {"reason": "..."}.
// Kept in the audit entry; at most 500 bytes.
std::optional<std::string> reason_of(const http::Request& req) {
  std::optional<std::string> reason = req.query_text("reason", 500);
  if (!reason && !req.body.empty()) {
    req.require_json();
    auto doc = parse_json(req.body);
    FieldReader r(*doc);
    reason = r.string("reason", false, 500);
    r.throw_if_errors();
  }
  return reason;
}

// 404 for the source `name` of a path: at most 63 bytes of the name (no source has a longer
// one), cut where a character begins, so that the problem stays valid UTF-8.
Problem source_not_found(const std::string& name) {
  return not_found("No source '" + std::string(utf8_prefix(name, 63)) + "'.");
}

std::string reason_details(const http::Request& req) {
  JsonWriter w;
  w.begin_object();
  if (auto reason = reason_of(req)) w.field("reason", *reason);
  w.end_object();
  return w.take();
}

class IngestApi {
 public:
  explicit IngestApi(ServiceContext& ctx)
      : ctx_(ctx),
        sources_(ctx.pool),
        batcher_(
            [&pool = ctx.pool](const std::vector<CanonicalEvent>& events) {
              return pool.run([&](pqxx::connection& c) { return apply_events(c, events); });
            },
            static_cast<std::size_t>(ctx.settings.integer("GABE_INGEST_WRITERS")),
            static_cast<std::size_t>(ctx.settings.integer("GABE_INGEST_BATCH_MAX")),
            std::chrono::microseconds(ctx.settings.integer("GABE_INGEST_LINGER_US"))),
        events_(ctx.metrics.counter("gabe_ingest_events_total",
                                    "Events received, by channel (webhook/import) and outcome",
                                    {"channel", "outcome"})),
        retention_(ctx.pool, ctx.metrics, RetentionSettings::from(ctx.settings)),
        sync_(ctx.pool, ctx.metrics, SyncSettings::from(ctx.settings)) {}

  http::Response webhook(http::Request& req) {
    const std::string source(req.param("source"));
    auto info = sources_.find(source);
    if (!info) {
      count("webhook", "unauthorized");
      throw unauthorized("Unknown webhook source or bad signature.");
    }
    auto id = req.header("webhook-id").value_or("");
    auto ts = req.header("webhook-timestamp").value_or("");
    auto sig = req.header("webhook-signature").value_or("");
    auto check =
        verify_webhook_signature(info->secrets, id, ts, sig, req.body, now_epoch_seconds());
    if (check != SignatureCheck::ok) {
      count("webhook", "unauthorized");
      throw unauthorized(signature_problem(check));
    }
    if (id.size() > 200) throw bad_request("The webhook-id is too long.");
    req.require_json();
    const std::string event_id(id);
    auto fallback = format_instant({std::strtoll(std::string(ts).c_str(), nullptr, 10), 0});
    CanonicalEvent event;
    try {
      event = map_received(info->adapter, source, event_id, req.body, fallback, info->config);
    } catch (const Problem&) {
      count("webhook", "bad_request");
      throw;
    }
    if (event.ignored) {
      // Answered so that the sender does not retry, but neither stored nor applied.
      count("webhook", "ignored");
      JsonWriter w;
      w.begin_object()
          .field("status", "ignored")
          .field("event_id", event_id)
          .field("reason", *event.ignored)
          .end_object();
      return http::json_response(200, w.take());
    }
    auto errors = event.errors;
    const auto o = batcher_.apply(std::move(event));
    count("webhook", o.status);
    if (o.status == "rejected") {
      if (errors.empty()) errors.push_back({"data", o.error});
      throw unprocessable(
          "The event was not applied: " + o.error + ". It is kept and can be replayed.", errors);
    }
    JsonWriter w;
    w.begin_object().field("status", o.status).field("event_id", event_id).end_object();
    return http::json_response(200, w.take());
  }

  http::Response import(http::Request& req, http::BodyStream& body) {
    req.require_media_type("application/x-ndjson");
    auto sources = ctx_.pool.run([](pqxx::connection& c) { return load_sources(c); });
    const auto default_source = req.query_text("source").value_or("");
    Importer importer(
        [this](const std::vector<CanonicalEvent>& events) {
          return ctx_.pool.run([&](pqxx::connection& c) { return apply_events(c, events); });
        },
        [&sources](const std::string& s) { return sources.count(s) > 0; }, default_source,
        now_instant(), kImportBatch, kImportInFlight);
    LineSplitter splitter(1 << 20, [&](std::string_view line, std::size_t n, bool too_long) {
      importer.line(line, n, too_long);
    });
    std::vector<char> buffer(256 << 10);
    while (std::size_t n = body.read(buffer.data(), buffer.size()))
      splitter.feed({buffer.data(), n});
    splitter.finish();
    const auto& summary = importer.finish();
    events_.add({"import", "processed"}, static_cast<double>(summary.processed));
    events_.add({"import", "duplicate"}, static_cast<double>(summary.duplicates));
    events_.add({"import", "rejected"}, static_cast<double>(summary.rejected));
    log::info("import finished", {{"received", static_cast<std::int64_t>(summary.received)},
                                  {"processed", static_cast<std::int64_t>(summary.processed)},
                                  {"rejected", static_cast<std::int64_t>(summary.rejected)}});
    return http::json_response(200, summary.to_json());
  }

  http::Response list_events(http::Request& req) {
    const auto page = Page::of(req);
    const auto status = req.query_enum("status", {"processed", "rejected"});
    return ctx_.pool.run([&](pqxx::connection& c) {
      pqxx::nontransaction tx(c);
      return paged_list(tx, sql::kEvents, page, status);
    });
  }

  http::Response replay(http::Request& req) {
    const auto id = parse_id(req.param("id"));
    struct Stored {
      std::string source, event_id, raw, status, adapter, occurred_at, type;
      bool erased;
    };
    auto stored = ctx_.pool.run([&](pqxx::connection& c) -> std::optional<Stored> {
      pqxx::nontransaction tx(c);
      auto rows = tx.exec_params(sql::kEventForReplay, id);
      if (rows.empty()) return std::nullopt;
      const auto& r = rows[0];
      return Stored{r[0].c_str(),
                    r[1].c_str(),
                    r[2].is_null() ? "" : r[2].c_str(),
                    r[3].c_str(),
                    r[4].c_str(),
                    r[5].is_null() ? now_instant() : r[5].c_str(),
                    r[6].is_null() ? "" : r[6].c_str(),
                    r[2].is_null()};
    });
    if (!stored) throw not_found("No such event.");
    if (stored->status != "rejected")
      throw conflict("Only rejected events can be replayed; this one was processed.");
    if (stored->erased) throw conflict("The event's content was erased with the person it named.");
    CanonicalEvent event;
    try {
      const auto info = sources_.find(stored->source);
      event = map_received(stored->adapter, stored->source, stored->event_id, stored->raw,
                           stored->occurred_at, info ? info->config : SourceConfig{});
    } catch (const Problem& p) {
      event.source = stored->source;
      event.event_id = stored->event_id;
      event.raw = stored->raw;
      event.adapter = stored->adapter;
      event.type = stored->type;
      event.occurred_at = stored->occurred_at;
      event.reject = p.detail();
    }
    // The replay and its audit entry commit together.
    auto outcome = ctx_.pool.run([&](pqxx::connection& c) {
      pqxx::work tx(c);
      ApplyOutcome o{stored->event_id, "ignored", event.ignored.value_or("")};
      if (event.ignored) {
        tx.exec_params(sql::kDeleteIgnoredEvent, id);
      } else {
        o = apply_events(tx, {event}).at(0);
      }
      JsonWriter d;
      d.begin_object()
          .field("event_id", stored->event_id)
          .field("source", stored->source)
          .field("outcome", o.status)
          .end_object();
      record_audit(tx, ctx_.service, req.actor, "event.replay", "event:" + std::to_string(id),
                   d.take());
      tx.commit();
      return o;
    });
    JsonWriter w;
    w.begin_object()
        .field("id", id)
        .field("event_id", stored->event_id)
        .field("status", outcome.status);
    if (!outcome.error.empty()) w.field("error", outcome.error);
    w.end_object();
    return http::json_response(200, w.take());
  }

  http::Response donor(http::Request& req) {
    const auto id = parse_id(req.param("id"));
    return donor_by_id(id);
  }

  http::Response donors(http::Request& req) {
    const auto source = req.query_text("source");
    const auto ref = req.query_text("ref");
    if (ref) {
      if (!source) throw unprocessable("Invalid lookup.", {{"source", "is required with ref"}});
      auto id = ctx_.pool.run([&](pqxx::connection& c) -> std::optional<std::int64_t> {
        pqxx::nontransaction tx(c);
        auto rows = tx.exec_params(sql::kResolveRef, *source, *ref);
        if (rows.empty()) return std::nullopt;
        return rows[0][0].as<std::int64_t>();
      });
      if (!id) throw not_found("No donor with this source and ref.");
      return donor_by_id(*id);
    }
    const auto page = Page::of(req);
    return ctx_.pool.run([&](pqxx::connection& c) {
      pqxx::nontransaction tx(c);
      return paged_list(tx, sql::kDonorList, page, source);
    });
  }

  http::Response gifts(http::Request& req) {
    const auto id = parse_id(req.param("id"));
    const auto page = Page::of(req);
    return ctx_.pool.run([&](pqxx::connection& c) {
      pqxx::nontransaction tx(c);
      if (tx.exec_params(sql::kDonorExists, id).empty()) throw not_found("No such donor.");
      return paged_list(tx, sql::kDonorGifts, page, id);
    });
  }

  http::Response stats(http::Request&) {
    return ctx_.pool.run([&](pqxx::connection& c) {
      pqxx::nontransaction tx(c);
      return http::json_response(200, tx.exec(sql::kStats)[0][0].c_str());
    });
  }

  http::Response export_donor(http::Request& req) {
    const auto id = parse_id(req.param("id"));
    const auto details = reason_details(req);
    return ctx_.pool.run([&](pqxx::connection& c) {
      pqxx::work tx(c);
      if (tx.exec_params(sql::kDonorExists, id).empty()) throw not_found("No such donor.");
      auto body = std::string(tx.exec_params(sql::kDonorExport, id)[0][0].c_str());
      record_audit(tx, ctx_.service, req.actor, "donor.export", "donor:" + std::to_string(id),
                   details);
      tx.commit();
      auto r = http::json_response(200, std::move(body));
      r.headers.emplace_back("content-disposition",
                             "attachment; filename=\"donor-" + std::to_string(id) + ".json\"");
      return r;
    });
  }

  http::Response erase(http::Request& req) {
    const auto id = parse_id(req.param("id"));
    const auto reason = reason_of(req);
    ctx_.pool.run([&](pqxx::connection& c) {
      pqxx::work tx(c);
      auto rows = tx.exec_params(sql::kDonorForErasure, id);
      if (rows.empty()) throw not_found("No such donor.");
      // A merged-away record is the survivor's person under an old id: erasing it alone would
      // leave the person's data in place, erasing the survivor is not what the id says.
      if (!rows[0][0].is_null()) {
        const auto survivor = rows[0][0].as<std::int64_t>();
        throw conflict("Donor " + std::to_string(id) + " was merged into donor " +
                       std::to_string(survivor) + "; erase donor " + std::to_string(survivor) +
                       " to erase the person.");
      }
      tx.exec_params(sql::kEraseDonor, id, ctx_.service, req.actor, reason);
      tx.commit();
    });
    JsonWriter w;
    w.begin_object().field("id", id).field("erased", true).end_object();
    return http::json_response(200, w.take());
  }

  http::Response source(http::Request& req) {
    const std::string name(req.param("name"));
    return ctx_.pool.run([&](pqxx::connection& c) {
      pqxx::nontransaction tx(c);
      auto rows = tx.exec_params(sql::kSourceStatus, name);
      if (rows.empty()) throw source_not_found(name);
      return http::json_response(200, rows[0][0].c_str());
    });
  }

  // POST /v1/sources/{name}/sync: asks the source's sync for a pass now (202); with
  // {"full": true} a full reconciliation. The request is stored, so any replica runs it.
  http::Response request_sync(http::Request& req) {
    const std::string name(req.param("name"));
    bool full = false;
    if (!req.body.empty()) {
      req.require_json();
      auto doc = parse_json(req.body);
      if (!doc->IsObject()) throw bad_request("The body must be a JSON object.");
      FieldReader r(*doc);
      r.refuse_unknown({"full"});
      full = r.boolean("full").value_or(false);
      r.throw_if_errors();
    }
    const auto requested = ctx_.pool.run([&](pqxx::connection& c) {
      pqxx::work tx(c);
      auto rows = tx.exec_params(sql::kSourceForSync, name);
      if (rows.empty()) throw source_not_found(name);
      if (!rows[0][0].as<bool>())
        throw conflict("Source '" + name +
                       "' receives webhooks; only a source added with --pull is fetched.");
      std::string kind = tx.exec_params(sql::kRequestSync, name, full)[0][0].c_str();
      JsonWriter d;
      d.begin_object().field("full", full).end_object();
      record_audit(tx, ctx_.service, req.actor, "source.sync", "source:" + name, d.take());
      tx.commit();
      return kind;
    });
    sync_.wake();
    JsonWriter w;
    w.begin_object()
        .field("source", name)
        .field("sync", requested)
        .field("status", "requested")
        .end_object();
    return http::json_response(202, w.take());
  }

 private:
  http::Response donor_by_id(std::int64_t id) {
    return ctx_.pool.run([&](pqxx::connection& c) {
      pqxx::nontransaction tx(c);
      auto rows = tx.exec_params(sql::kDonorJson, id);
      if (rows.empty()) throw not_found("No such donor.");
      return http::json_response(200, rows[0][0].c_str());
    });
  }

  void count(std::string_view channel, std::string_view outcome) {
    events_.add({channel, outcome});
  }

  ServiceContext& ctx_;
  SourceRegistry sources_;
  EventBatcher batcher_;
  Counter events_;
  RetentionLoop retention_;
  CivicrmSync sync_;  // last: stops before the rest goes
};

}  // namespace

void register_routes(ServiceContext& ctx) {
  auto api = std::make_shared<IngestApi>(ctx);
  using M = http::Method;
  auto& r = ctx.router;
  r.add(M::post, "/v1/webhooks/{source}", std::nullopt,
        [api](http::Request& q) { return api->webhook(q); });
  r.add_streaming(M::post, "/v1/import", Role::admin,
                  [api](http::Request& q, http::BodyStream& b) { return api->import(q, b); });
  r.add(M::get, "/v1/events", Role::admin, [api](http::Request& q) { return api->list_events(q); });
  r.add(M::post, "/v1/events/{id}/replay", Role::admin,
        [api](http::Request& q) { return api->replay(q); });
  r.add(M::get, "/v1/donors", Role::viewer, [api](http::Request& q) { return api->donors(q); });
  r.add(M::get, "/v1/donors/{id}", Role::viewer, [api](http::Request& q) { return api->donor(q); });
  r.add(M::del, "/v1/donors/{id}", Role::admin, [api](http::Request& q) { return api->erase(q); });
  r.add(M::get, "/v1/donors/{id}/gifts", Role::viewer,
        [api](http::Request& q) { return api->gifts(q); });
  r.add(M::get, "/v1/donors/{id}/export", Role::admin,
        [api](http::Request& q) { return api->export_donor(q); });
  r.add(M::get, "/v1/stats", Role::viewer, [api](http::Request& q) { return api->stats(q); });
  r.add(M::get, "/v1/sources/{name}", Role::admin,
        [api](http::Request& q) { return api->source(q); });
  r.add(M::post, "/v1/sources/{name}/sync", Role::admin,
        [api](http::Request& q) { return api->request_sync(q); });
}

}  // namespace gabe::ingest
