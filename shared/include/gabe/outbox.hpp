// The transactional outbox of signed webhooks, for any service that sends events: subscribers
// register a URL and the event types they want (POST /v1/subscriptions, secret shown once); a
// service writes outbox messages in the same transaction as the decision to send them
// (outbox.enqueue() in SQL, or enqueue() here); a Dispatcher thread delivers them with
// Standard Webhooks signatures, retries failures with exponential backoff and dead-letters what
// still fails after a day. Tables in schema outbox (migrations/0008_grants.sql).
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include <pqxx/pqxx>

#include "gabe/config.hpp"
#include "gabe/db.hpp"
#include "gabe/metrics.hpp"
#include "gabe/periodic.hpp"
#include "gabe/service.hpp"

namespace gabe::outbox {

// GABE_WEBHOOK_* settings, added to a sending service's own table.
config::SettingsTable settings();

struct DispatcherSettings {
  std::chrono::milliseconds retry_base{2000};     // first retry after this, doubling each time
  std::chrono::milliseconds retry_max{3600000};   // longest wait between attempts
  std::chrono::seconds dead_letter_after{86400};  // failing this long after the first enqueue
  std::chrono::milliseconds timeout{10000};       // one delivery attempt
  std::chrono::milliseconds poll{500};            // how often the outbox is looked at
  int batch = 20;                                 // messages claimed at once
  bool allow_private = false;  // deliver to internal addresses (GABE_WEBHOOK_ALLOW_PRIVATE=1)
  // From settings read with settings() above.
  static DispatcherSettings from(const config::Settings& settings);
  // A claim lasts this long: longer than one attempt, so a live dispatcher never loses it; a
  // crashed one's claims are taken over once it has passed.
  std::chrono::milliseconds lease() const { return timeout + std::chrono::seconds(5); }
};

// The wait before the attempt after `failed_attempts` failures: base · 2^(failed − 1), at most
// `max`.
std::chrono::milliseconds backoff(int failed_attempts, std::chrono::milliseconds base,
                                  std::chrono::milliseconds max);

// Event types a subscriber may ask for, as listed in a service's API.
using EventTypes = std::vector<std::string>;

struct NewSubscription {
  std::int64_t id = 0;
  std::string secret;  // "whsec_…": shown once, to the caller who created it
};

// Subscription management inside the caller's transaction, each with its audit entry
// (subscription.create {"url host", "events"}, subscription.delete).
NewSubscription create_subscription(pqxx::transaction_base& tx, const std::string& service,
                                    const std::string& url, const std::vector<std::string>& events,
                                    const std::string& actor);
// False when there was no live subscription with that id; its pending messages are cancelled.
bool delete_subscription(pqxx::transaction_base& tx, const std::string& service, std::int64_t id,
                         const std::string& actor);

// POST /v1/subscriptions ({"url", "events"} -> 201 {"id", "secret", "url", "events"}),
// GET /v1/subscriptions (paged, no secrets), GET and DELETE /v1/subscriptions/{id}, for `role`.
void register_subscription_routes(ServiceContext& ctx, EventTypes allowed, Role role);

struct Event {
  std::string type;
  std::string key;        // unique per event of this service: makes the webhook-id
  std::string data_json;  // the "data" of the envelope
};
// Writes the messages of `events` for every subscriber of their type; returns how many.
int enqueue(pqxx::transaction_base& tx, const std::string& service,
            const std::vector<Event>& events);

// Delivers a service's pending messages on a thread of its own until destroyed. `outcomes` is
// a counter with one label, outcome: delivered, failed (an attempt that will be retried) or
// dead_letter.
class Dispatcher {
 public:
  Dispatcher(db::Pool& pool, std::string service, DispatcherSettings settings, Counter outcomes);
  Dispatcher(const Dispatcher&) = delete;
  Dispatcher& operator=(const Dispatcher&) = delete;

  // Looks at the outbox now rather than at the next poll (after a commit that enqueued).
  void wake();

 private:
  // Claims, sends and records one batch; returns how many were claimed.
  int deliver_batch();

  db::Pool& pool_;
  std::string service_;
  DispatcherSettings settings_;
  Counter outcomes_;
  PeriodicWorker worker_;  // last: stopped before anything a round uses is destroyed
};

}  // namespace gabe::outbox
