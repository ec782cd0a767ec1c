#include "gabe/outbox.hpp"

#include <algorithm>
#include <typeinfo>

#include "gabe/auth.hpp"
#include "gabe/json.hpp"
#include "gabe/log.hpp"
#include "gabe/values.hpp"
#include "gabe/webhook_sender.hpp"
#include "outbox_queries.hpp"

namespace gabe::outbox {

namespace {

constexpr std::size_t kMaxEventsPerSubscription = 20;

std::string events_literal(const std::vector<std::string>& events) {
  db::ArrayLiteral a;
  for (const auto& e : events) a.add(e);
  return a.take();
}

// What the audit entry keeps of a subscription: the host, not the URL (a path or query may
// carry the receiver's own token).
std::string audit_details(std::int64_t id, const webhooks::WebhookUrl& url,
                          const std::vector<std::string>& events) {
  JsonWriter w;
  w.begin_object().field("id", id).field("host", url.host).field("events", events).end_object();
  return w.take();
}

bool private_addresses_allowed(const config::Settings& settings) {
  return settings.text("GABE_WEBHOOK_ALLOW_PRIVATE") == "1";
}

http::Response create_route(ServiceContext& ctx, const EventTypes& allowed, http::Request& req) {
  req.require_json();
  auto doc = parse_json(req.body);
  if (!doc->IsObject()) throw unprocessable("The body must be a JSON object.");
  FieldReader r(*doc);
  r.refuse_unknown({"url", "events"});
  auto url = r.string("url", true, 2000);
  auto events = r.string_list("events", true, kMaxEventsPerSubscription);
  if (url) {
    auto parsed = webhooks::parse_webhook_url(*url);
    if (!parsed) {
      r.add_error("url",
                  "must be an http:// or https:// URL with a host, without user or fragment");
    } else if (!private_addresses_allowed(ctx.settings) && webhooks::is_internal_host(*parsed)) {
      r.add_error("url",
                  "must not point at a loopback, link-local, private or unspecified address");
    }
  }
  std::vector<std::string> wanted;
  if (events) {
    if (events->empty()) r.add_error("events", "must name at least one event type");
    for (const auto& e : *events) {
      if (std::find(allowed.begin(), allowed.end(), e) == allowed.end()) {
        r.add_error("events", "unknown event type");
      } else if (std::find(wanted.begin(), wanted.end(), e) == wanted.end()) {
        wanted.push_back(e);
      }
    }
  }
  r.throw_if_errors();
  auto created = ctx.pool.run([&](pqxx::connection& c) {
    pqxx::work tx(c);
    auto s = create_subscription(tx, ctx.service, *url, wanted, req.actor);
    tx.commit();
    return s;
  });
  JsonWriter w;
  w.begin_object()
      .field("id", created.id)
      .field("url", *url)
      .field("events", wanted)
      .field("secret", created.secret)
      .end_object();
  return http::json_response(201, w.take());
}

}  // namespace

config::SettingsTable settings() {
  using namespace config;
  return {
      integer_setting("GABE_WEBHOOK_RETRY_BASE_MS", 2000, 10, 5000,
                      "outgoing webhooks: milliseconds before the first retry, doubling after"),
      integer_setting("GABE_WEBHOOK_DEAD_LETTER_SECONDS", 86400, 1, 7L * 86400,
                      "outgoing webhooks: seconds of failures after which a message is dead"),
      integer_setting("GABE_WEBHOOK_TIMEOUT_SECONDS", 10, 1, 60,
                      "outgoing webhooks: seconds one delivery attempt may take"),
      choice_setting("GABE_WEBHOOK_ALLOW_PRIVATE", "0", {"0", "1"},
                     "outgoing webhooks: 1 lets subscribers use loopback, link-local and private "
                     "addresses (a receiver inside your own network); 0 refuses them"),
  };
}

DispatcherSettings DispatcherSettings::from(const config::Settings& settings) {
  DispatcherSettings s;
  s.retry_base = std::chrono::milliseconds(settings.integer("GABE_WEBHOOK_RETRY_BASE_MS"));
  s.dead_letter_after = std::chrono::seconds(settings.integer("GABE_WEBHOOK_DEAD_LETTER_SECONDS"));
  s.timeout = std::chrono::seconds(settings.integer("GABE_WEBHOOK_TIMEOUT_SECONDS"));
  s.allow_private = private_addresses_allowed(settings);
  return s;
}

std::chrono::milliseconds backoff(int failed_attempts, std::chrono::milliseconds base,
                                  std::chrono::milliseconds max) {
  if (failed_attempts < 1) failed_attempts = 1;
  auto wait = base;
  for (int i = 1; i < failed_attempts && wait < max; ++i) wait *= 2;
  return std::min(wait, max);
}

NewSubscription create_subscription(pqxx::transaction_base& tx, const std::string& service,
                                    const std::string& url, const std::vector<std::string>& events,
                                    const std::string& actor) {
  auto parsed = webhooks::parse_webhook_url(url);
  if (!parsed) throw unprocessable("Invalid subscription.", {{"url", "is not a webhook URL"}});
  NewSubscription created;
  created.secret = auth::generate_webhook_secret();
  auto row = tx.exec_params(sql::outbox::kInsertSubscription, service, url, events_literal(events),
                            created.secret, actor)[0];
  created.id = row[0].as<std::int64_t>();
  record_audit(tx, service, actor, "subscription.create",
               "subscription:" + std::to_string(created.id),
               audit_details(created.id, *parsed, events));
  return created;
}

bool delete_subscription(pqxx::transaction_base& tx, const std::string& service, std::int64_t id,
                         const std::string& actor) {
  if (tx.exec_params(sql::outbox::kDeleteSubscription, service, id).empty()) return false;
  tx.exec_params(sql::outbox::kCancelMessages, id);
  record_audit(tx, service, actor, "subscription.delete", "subscription:" + std::to_string(id),
               "{}");
  return true;
}

void register_subscription_routes(ServiceContext& ctx, EventTypes allowed, Role role) {
  using M = http::Method;
  auto types = std::make_shared<EventTypes>(std::move(allowed));
  ctx.router.add(M::post, "/v1/subscriptions", role,
                 [&ctx, types](http::Request& q) { return create_route(ctx, *types, q); });
  ctx.router.add(M::get, "/v1/subscriptions", role, [&ctx](http::Request& q) {
    const auto page = Page::of(q);
    return ctx.pool.run([&](pqxx::connection& c) {
      pqxx::read_transaction tx(c);
      return paged_list(tx, sql::outbox::kListSubscriptions, page, ctx.service);
    });
  });
  ctx.router.add(M::get, "/v1/subscriptions/{id}", role, [&ctx](http::Request& q) {
    const auto id = parse_id(q.param("id"));
    return ctx.pool.run([&](pqxx::connection& c) {
      pqxx::read_transaction tx(c);
      auto rows = tx.exec_params(sql::outbox::kSubscriptionById, ctx.service, id);
      if (rows.empty()) throw not_found("No such subscription.");
      return http::json_response(200, rows[0][0].c_str());
    });
  });
  ctx.router.add(M::del, "/v1/subscriptions/{id}", role, [&ctx](http::Request& q) {
    const auto id = parse_id(q.param("id"));
    ctx.pool.run([&](pqxx::connection& c) {
      pqxx::work tx(c);
      if (!delete_subscription(tx, ctx.service, id, q.actor)) {
        throw not_found("No such subscription.");
      }
      tx.commit();
    });
    JsonWriter w;
    w.begin_object().field("id", id).field("deleted", true).end_object();
    return http::json_response(200, w.take());
  });
}

int enqueue(pqxx::transaction_base& tx, const std::string& service,
            const std::vector<Event>& events) {
  if (events.empty()) return 0;
  db::ArrayLiteral types;
  db::ArrayLiteral keys;
  db::ArrayLiteral data;
  for (const auto& e : events) {
    types.add(e.type);
    keys.add(e.key);
    data.add(e.data_json);
  }
  return tx
      .exec_params(sql::outbox::kEnqueue, service, types.take(), keys.take(), data.take())[0][0]
      .as<int>();
}

Dispatcher::Dispatcher(db::Pool& pool, std::string service, DispatcherSettings settings,
                       Counter outcomes)
    : pool_(pool),
      service_(std::move(service)),
      settings_(settings),
      outcomes_(std::move(outcomes)) {
  // Every outcome is exported from the start, so that rate() and alerts have a zero.
  for (auto outcome : {"delivered", "failed", "dead_letter"}) outcomes_.add({outcome}, 0);
  // A full batch suggests more are waiting: the next round starts at once.
  worker_.start(settings_.poll, "webhook delivery round failed",
                [this] { return deliver_batch() >= settings_.batch; });
}

void Dispatcher::wake() {
  worker_.wake();
}

int Dispatcher::deliver_batch() {
  struct Claimed {
    std::int64_t id = 0;
    std::string webhook_id;
    std::string body;
    std::string url;
    std::string secret;
    int attempts = 0;
  };
  std::vector<Claimed> batch = pool_.run([&](pqxx::connection& c) {
    std::vector<Claimed> out;
    pqxx::work tx(c);
    for (const auto& row : tx.exec_params(sql::outbox::kClaimMessages, service_, settings_.batch,
                                          static_cast<std::int64_t>(settings_.lease().count()))) {
      out.push_back({row[0].as<std::int64_t>(), row[1].c_str(), row[2].c_str(), row[3].c_str(),
                     row[4].c_str(), row[5].as<int>()});
    }
    tx.commit();
    return out;
  });
  // Each message on a thread of its own, so that one slow receiver does not hold up the
  // others; each result is recorded as soon as it is known, which keeps the window in which an
  // acknowledged delivery could be repeated (a crash before the record commits) short.
  std::vector<std::thread> senders;
  senders.reserve(batch.size());
  for (const auto& m : batch) {
    senders.emplace_back([this, &m] {
      webhooks::DeliveryResult result;
      if (auto url = webhooks::parse_webhook_url(m.url)) {
        result = webhooks::post_signed(*url, m.secret, m.webhook_id, now_epoch_seconds(), m.body,
                                       settings_.timeout, settings_.allow_private);
      } else {
        result.error = "stored URL is no longer valid";
      }
      try {
        pool_.run([&](pqxx::connection& c) {
          pqxx::work tx(c);
          if (result.acknowledged()) {
            tx.exec_params(sql::outbox::kMarkDelivered, m.id, result.status);
            tx.commit();
            outcomes_.add({"delivered"});
            return;
          }
          const auto wait = backoff(m.attempts, settings_.retry_base, settings_.retry_max);
          std::optional<std::string> error;
          if (!result.error.empty()) error = result.error.substr(0, 200);
          auto rows =
              tx.exec_params(sql::outbox::kMarkFailed, m.id, result.status, error,
                             static_cast<std::int64_t>(wait.count()),
                             static_cast<std::int64_t>(settings_.dead_letter_after.count()));
          tx.commit();
          const bool dead = !rows.empty() && std::string_view(rows[0][0].c_str()) == "dead";
          outcomes_.add({dead ? "dead_letter" : "failed"});
          if (dead) {
            log::warn("webhook dead-lettered", {{"message", m.id}, {"attempts", m.attempts}});
          }
        });
      } catch (const std::exception& e) {
        // The lease runs out and the message is tried again.
        log::warn("webhook result not recorded", {{"message", m.id}, {"kind", typeid(e).name()}});
      }
    });
  }
  for (auto& t : senders) t.join();
  return static_cast<int>(batch.size());
}

}  // namespace gabe::outbox
