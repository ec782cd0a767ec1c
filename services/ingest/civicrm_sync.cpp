#include "civicrm_sync.hpp"

#include <algorithm>
#include <cstdio>
#include <ctime>
#include <deque>
#include <future>
#include <set>
#include <stdexcept>
#include <typeinfo>

#include "event_store.hpp"
#include "gabe/crypto.hpp"
#include "gabe/json.hpp"
#include "gabe/log.hpp"
#include "gabe/problem.hpp"
#include "gabe/values.hpp"

namespace gabe::ingest {

namespace {

namespace api = civicrm;

// Past the newest modification time read, the next incremental pass reads again this far
// back: changes committed late, clocks, and the hour that repeats when summer time ends
// (CiviCRM's times are local and have no offset).
constexpr long kOverlapSeconds = 65L * 60;
// Erasures and refunds found by the check of ids are applied this many per transaction.
constexpr std::size_t kDeletionBatch = 500;
// Page transactions at once, each on a pooled connection of its own: a sync holds at most
// this many connections, so webhooks keep the rest of the pool.
constexpr std::size_t kPagesInFlight = 2;
// How long a page transaction, its events applied, waits for the one before it to commit before
// it rolls back and waits without holding anything (the pool cuts a lease at 8 s).
constexpr std::chrono::milliseconds kPreviousWait{2000};

constexpr const char* kLoadSources =
    "SELECT p.source, p.url, p.api_key, st.pass, st.step, st.after_id, st.cursors::text, "
    "st.pass_cursors::text, st.pass_records::text, st.requested, "
    "extract(epoch FROM now() - st.last_full_at)::float8, "
    "extract(epoch FROM now() - st.last_sync_at)::float8 "
    "FROM ingest.source_pull p JOIN ingest.sync_state st ON st.source = p.source "
    "ORDER BY p.source";
constexpr const char* kLoadOptIn =
    "SELECT source, channel, group_id::text FROM ingest.source_optin_groups";
constexpr const char* kStartPass =
    "UPDATE ingest.sync_state SET pass = $2, step = 0, after_id = 0, pass_started_at = now(), "
    "pass_cursors = cursors, pass_records = '{}', requested = NULL WHERE source = $1";
constexpr const char* kClearSeen = "DELETE FROM ingest.sync_seen WHERE source = $1";
constexpr const char* kSavePosition =
    "UPDATE ingest.sync_state SET step = $2, after_id = $3, pass_cursors = $4::jsonb, "
    "pass_records = $5::jsonb WHERE source = $1";
// $1 source, $2 step, $3 after id, $4 cursors, $5 records, $6 and $7 the step and after id
// that the page before wrote: no row is updated when someone else moved the position.
constexpr const char* kSavePositionAfter =
    "UPDATE ingest.sync_state SET step = $2, after_id = $3, pass_cursors = $4::jsonb, "
    "pass_records = $5::jsonb WHERE source = $1 AND step = $6 AND after_id = $7";
constexpr const char* kInsertSeen =
    "INSERT INTO ingest.sync_seen (source, entity, id) "
    "SELECT $1, $2, unnest($3::bigint[]) ON CONFLICT DO NOTHING";
// Refs that resolve to a donor other than their own: merged away (also before the contact was
// ever read) or erased.
constexpr const char* kMergedRefs =
    "SELECT r.ref FROM ingest.donor_refs r JOIN donor.donors d ON d.id = r.donor_id "
    "WHERE r.source = $1 AND r.ref = ANY($2::text[]) "
    "AND (d.ref IS DISTINCT FROM r.ref OR d.source <> r.source)";
constexpr const char* kFinishPass =
    "UPDATE ingest.sync_state SET pass = NULL, step = 0, after_id = 0, cursors = $2::jsonb, "
    "last_sync_at = now(), last_full_at = CASE WHEN $3::boolean THEN now() ELSE last_full_at END, "
    "last_error = $4::text, last_error_at = CASE WHEN $4::text IS NULL THEN NULL ELSE now() END "
    "WHERE source = $1";
constexpr const char* kRecordError =
    "UPDATE ingest.sync_state SET last_error = $2, last_error_at = now() WHERE source = $1";
// The check of ids walks the refs Gabe holds in chunks of kCheckChunk along the (source, ref)
// index, each chunk two short statements whose plans do not depend on the statistics of the
// tables that the backfill has just filled (a plan made before autovacuum analysed them could
// scan ingest.sync_seen once per ref and pass the pool's statement timeout): $1 source, $2
// after ref, $3 chunk size -> the chunk's refs, and whether each may be missing (own refs of
// contacts, not merged-away ones, which resolve to their survivor; contributions not refunded
// already; CiviCRM ids); then $1 source, $2 entity, $3 those ids -> the ones the full pass did
// not read.
constexpr std::int64_t kCheckChunk = 20000;
constexpr const char* kContactChunk =
    "SELECT ref, merged_into IS NULL AND erased_at IS NULL AND ref ~ '^[1-9][0-9]{0,17}$' "
    "FROM donor.donors WHERE source = $1 AND ref > $2 ORDER BY ref LIMIT $3";
constexpr const char* kContributionChunk =
    "SELECT ref, status <> 'refunded' AND ref ~ '^[1-9][0-9]{0,17}$' "
    "FROM donor.gifts WHERE source = $1 AND ref > $2 ORDER BY ref LIMIT $3";
constexpr const char* kUnseen =
    "SELECT u.id FROM unnest($3::bigint[]) AS u(id) WHERE NOT EXISTS "
    "(SELECT 1 FROM ingest.sync_seen s WHERE s.source = $1 AND s.entity = $2 AND s.id = u.id)";
constexpr const char* kHeldContacts =
    "SELECT count(*) FROM donor.donors WHERE source = $1 AND ref IS NOT NULL "
    "AND merged_into IS NULL AND erased_at IS NULL";
constexpr const char* kHeldContributions = "SELECT count(*) FROM donor.gifts WHERE source = $1";

const std::vector<std::string> kContactFields = {
    "id",
    "contact_type",
    "first_name",
    "last_name",
    "organization_name",
    "household_name",
    "preferred_language",
    "is_deleted",
    "is_deceased",
    "do_not_email",
    "do_not_phone",
    "do_not_mail",
    "do_not_sms",
    "is_opt_out",
    "modified_date",
    "email_primary.email",
    "phone_primary.phone",
    "address_primary.street_address",
    "address_primary.postal_code",
    "address_primary.city",
    "address_primary.country_id:abbr",
};
const std::vector<std::string> kContributionFields = {
    "id",
    "contact_id",
    "total_amount",
    "currency",
    "receive_date",
    "contribution_status_id:name",
    "payment_instrument_id:name",
    "financial_type_id:name",
    "campaign_id",
    "contribution_recur_id",
    "is_test",
    "is_template",
    "cancel_date",
};
const std::vector<std::string> kRecurFields = {
    "id",
    "contact_id",
    "amount",
    "currency",
    "frequency_unit",
    "frequency_interval",
    "contribution_status_id:name",
    "start_date",
    "cancel_date",
    "cancel_reason",
    "is_test",
    "modified_date",
};
const std::vector<std::string> kCampaignFields = {
    "id", "name", "title", "start_date", "end_date", "goal_revenue", "last_modified_date",
};

// A failure of CiviCRM (or of what it answered): recorded in last_error, retried with backoff.
class SyncError : public std::runtime_error {
 public:
  SyncError(api::ApiError kind, const std::string& message)
      : std::runtime_error(message), kind(kind) {}
  api::ApiError kind;
};

[[noreturn]] void fail(const api::ApiResult& result) {
  throw SyncError(result.error, result.message);
}

std::optional<std::int64_t> int_of(const JsonValue* v) {
  if (v == nullptr) return std::nullopt;
  if (v->IsInt64()) return v->GetInt64();
  if (v->IsString()) {
    const std::string_view s(v->GetString(), v->GetStringLength());
    if (s.empty() || s.size() > 18 || s.find_first_not_of("0123456789") != std::string_view::npos)
      return std::nullopt;
    return std::stoll(std::string(s));
  }
  return std::nullopt;
}

std::optional<std::string> text_of(const JsonValue* v) {
  if (v == nullptr || !v->IsString()) return std::nullopt;
  return std::string(v->GetString(), v->GetStringLength());
}

template <typename T>
std::string map_json(const std::map<std::string, T>& m) {
  JsonWriter w;
  w.begin_object();
  for (const auto& [k, v] : m) w.field(k, v);
  w.end_object();
  return w.take();
}

template <typename T>
std::map<std::string, T> parse_map(const std::string& text) {
  std::map<std::string, T> out;
  if (text.empty()) return out;
  auto doc = parse_json(text);
  const JsonValue& object = *doc;
  if (!object.IsObject()) return out;
  for (const auto& m : object.GetObject()) {
    if constexpr (std::is_same_v<T, std::string>) {
      if (m.value.IsString()) out[m.name.GetString()] = m.value.GetString();
    } else {
      if (m.value.IsInt64()) out[m.name.GetString()] = m.value.GetInt64();
    }
  }
  return out;
}

std::string ids_literal(const std::vector<std::int64_t>& ids) {
  db::ArrayLiteral a;
  for (auto id : ids) a.add(id);
  return a.take();
}

// Today minus `days`, as CiviCRM's date-time "YYYY-MM-DD 00:00:00" (a day more than asked,
// since CiviCRM's day may be ahead of UTC).
std::string days_ago(long days) {
  const std::time_t t = std::time(nullptr) - (days + 1) * 86400;
  std::tm tm{};
  gmtime_r(&t, &tm);
  char out[64];
  std::snprintf(out, sizeof out, "%04d-%02d-%02d 00:00:00", tm.tm_year + 1900, tm.tm_mon + 1,
                tm.tm_mday);
  return out;
}

// The event id of what a full reconciliation found deleted in CiviCRM (ids are never reused).
std::string deletion_id(std::string_view entity, const std::string& ref) {
  std::string id = "civicrm:";
  id += entity;
  id += ':';
  id += ref;
  id += ":deleted";
  return id;
}

// A canonical event in the generic envelope, for what CiviCRM says only by omission or by
// an activity (merges, deletions): replayable like any webhook.
CanonicalEvent envelope_event(const std::string& source, const std::string& event_id,
                              const std::string& type, const std::string& data_json,
                              const std::string& now) {
  JsonWriter w;
  w.begin_object().field("type", type).field("timestamp", now).key("data").raw(data_json);
  w.end_object();
  return map_received("generic", source, event_id, w.take(), now);
}

// Runs one pass of one source; throws SyncError for CiviCRM's failures and what the pool throws
// for the database's.
class PassRunner {
 public:
  PassRunner(db::Pool& pool, PullSource& source, bool full, const SyncSettings& settings,
             const api::ApiClient& client, const Counter& records)
      : pool_(pool),
        source_(source),
        full_(full),
        settings_(settings),
        client_(client),
        records_(records),
        now_(now_instant()),
        written_(static_cast<int>(source.step), source.after_id) {
    for (const auto& [channel, group] : source_.config.optin_groups)
      optin_groups_.push_back(std::stoll(group));
    std::sort(optin_groups_.begin(), optin_groups_.end());
  }

  ~PassRunner() {
    // A failed pass leaves page transactions under way: they use this runner.
    for (auto& f : applying_) f.wait();
  }
  PassRunner(const PassRunner&) = delete;
  PassRunner& operator=(const PassRunner&) = delete;

  // Returns a note for last_error when the check of ids refused to erase (else nullopt).
  std::optional<std::string> run() {
    const auto& steps = pass_steps(full_);
    while (source_.step < steps.size()) {
      read(steps[source_.step]);
      drain();
      ++source_.step;
      source_.after_id = 0;
      save_position();
    }
    std::optional<std::string> note;
    const auto t0 = std::chrono::steady_clock::now();
    if (full_) note = check_deletions();
    finish(note);
    timings_.finish = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    // Where the pass's time went (no personal data): a large `wait` means CiviCRM is the slow
    // side, a large `apply` the database (the wait for a free page transaction).
    log::info("civicrm sync timings", {{"source", source_.name},
                                       {"pass", full_ ? "full" : "incremental"},
                                       {"pages", timings_.pages},
                                       {"fetch_seconds", timings_.fetch},
                                       {"map_seconds", timings_.map},
                                       {"wait_seconds", timings_.wait},
                                       {"apply_seconds", timings_.apply},
                                       {"finish_seconds", timings_.finish}});
    return note;
  }

 private:
  // The lower bound of an incremental read of `key`, with the overlap; nullopt: read all.
  std::optional<std::string> since(const std::string& key) const {
    auto it = source_.cursors.find(key);
    if (it == source_.cursors.end()) it = source_.cursors.find("site");
    if (it == source_.cursors.end()) return std::nullopt;
    return civicrm_time_minus(it->second, kOverlapSeconds);
  }

  std::int64_t id_cursor(const std::string& key) const {
    auto it = source_.cursors.find(key);
    if (it == source_.cursors.end()) return 0;
    return std::stoll(it->second);
  }

  void advance_time(const std::string& key, const JsonValue& values, const char* field) {
    for (const auto& r : values.GetArray()) {
      auto t = text_of(member(r, field));
      if (!t || t->size() != 19) continue;
      auto& c = source_.pass_cursors[key];
      if (*t > c) c = *t;
    }
  }

  void advance_id(const std::string& key, std::int64_t id) {
    auto& c = source_.pass_cursors[key];
    if (c.empty() || id > std::stoll(c)) c = std::to_string(id);
  }

  void count(const std::string& entity, std::int64_t n) {
    source_.pass_records[entity] += n;
    records_.add({source_.name, entity}, static_cast<double>(n));
  }

  // One page read from CiviCRM (fetched and checked on a thread of its own), then mapped to
  // events and handed to a page transaction.
  struct Page {
    api::ApiResult result;  // owns the records
    std::int64_t last = 0;  // the page's highest id
    std::size_t size = 0;   // records in the page
    std::vector<CanonicalEvent> events;
    std::vector<std::int64_t> seen;  // ids for the check of ids (a full pass of contacts or
                                     // contributions), else empty
    std::size_t counted = 0;         // records counted for the page
    bool empty = false;              // nothing to apply: only the position moves
    double fetch_seconds = 0;
  };
  // What one page transaction writes (apply_page).
  struct PageJob {
    std::string entity;
    std::vector<CanonicalEvent> events;
    std::vector<std::int64_t> seen;
    int step = 0;
    std::int64_t after_id = 0;
    std::string cursors;  // pass_cursors and pass_records as of this page
    std::string records;
    std::pair<int, std::int64_t> expected;  // the position the page before it wrote
  };
  using Prepare = std::function<void(Page&)>;  // maps a page, while the next is fetched
  using Apply = std::function<void(Page&)>;    // hands it to apply_page, pages in order

  // Reads `entity` in pages after source_.after_id (at least `start_after`): each page is
  // fetched on another thread, then `prepare`d (mapped) and `apply`d in order.
  void read_entity(const std::string& entity, const api::ApiQuery& base,
                   const std::optional<api::ModifiedSince>& modified_since, const Prepare& prepare,
                   const Apply& apply, std::int64_t start_after = 0) {
    // Keyset paging as api::read_pages does it, as a pipeline: the next query needs only this
    // page's last id, so the next page is fetched while this one is mapped, and mapped pages
    // are applied on connections of their own (apply_page) while the sync reads on. CiviCRM's
    // time, the mapping and the database's time then overlap instead of adding up.
    const std::int64_t page_size = page_size_for(entity);
    auto fetch = [this, &entity, &base, &modified_since, page_size](std::int64_t after) {
      Page p;
      const auto t0 = std::chrono::steady_clock::now();
      p.result =
          client_.call(entity, "get", api::page_query(base, after, page_size, modified_since));
      p.fetch_seconds =
          std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      if (!p.result.ok()) return p;
      const JsonValue& values = p.result.values();
      std::int64_t previous = after;
      for (const auto& r : values.GetArray()) {
        const JsonValue* id = member(r, "id");
        if (id == nullptr || !id->IsInt64() || id->GetInt64() <= previous)
          throw SyncError(api::ApiError::malformed,
                          "CiviCRM answered a page without increasing integer ids");
        previous = id->GetInt64();
      }
      p.last = previous;
      p.size = values.Size();
      p.counted = p.size;
      return p;
    };
    using Clock = std::chrono::steady_clock;
    auto seconds_since = [](Clock::time_point t) {
      return std::chrono::duration<double>(Clock::now() - t).count();
    };
    auto next = std::async(std::launch::async, fetch, std::max(source_.after_id, start_after));
    for (;;) {
      auto t = Clock::now();
      Page page = next.get();
      timings_.wait += seconds_since(t);
      timings_.fetch += page.fetch_seconds;
      if (!page.result.ok()) fail(page.result);
      if (page.size == 0) return;
      ++timings_.pages;
      const bool more = static_cast<std::int64_t>(page.size) >= page_size;
      if (more) next = std::async(std::launch::async, fetch, page.last);
      // On a throw below, `next`'s destructor waits for its fetch.
      t = Clock::now();
      prepare(page);
      timings_.map += seconds_since(t);
      t = Clock::now();
      apply(page);
      timings_.apply += seconds_since(t);
      if (!more) return;
    }
  }

  // Records per request: GABE_CIVICRM_PAGE_SIZE, and GABE_CIVICRM_FULL_PAGE_SIZE (if larger)
  // for the bulk reads of a full pass: fewer, larger page transactions.
  std::int64_t page_size_for(const std::string& entity) const {
    if (full_ && (entity == "Contact" || entity == "Contribution"))
      return std::max(settings_.page_size, settings_.full_page_size);
    return settings_.page_size;
  }

  void read(SyncRead step) {
    switch (step) {
      case SyncRead::campaigns:
        return read_records("Campaign", kCampaignFields, "last_modified_date");
      case SyncRead::contacts: {
        api::ApiQuery q;
        q.select = kContactFields;
        // APIv4 leaves trashed contacts out unless the where names is_deleted.
        q.where.push_back({"is_deleted", "IN", std::vector<std::int64_t>{0, 1}});
        std::optional<api::ModifiedSince> ms;
        if (!full_) {
          if (auto s = since("Contact")) ms = api::ModifiedSince{"modified_date", *s};
        }
        return read_entity(
            "Contact", q, ms, [&](Page& p) { prepare_contacts(p.result.values(), p); },
            [&](Page& p) {
              advance_time("Contact", p.result.values(), "modified_date");
              apply_page(p, "Contact");
            });
      }
      case SyncRead::contacts_by_history:
        return read_history();
      case SyncRead::recurring:
        return read_records("ContributionRecur", kRecurFields, "modified_date");
      case SyncRead::contributions:
        return read_contributions({}, std::nullopt, 0);
      case SyncRead::contributions_new:
        return read_contributions({}, std::nullopt, id_cursor("Contribution.id"));
      case SyncRead::contributions_window:
        if (settings_.reread_days <= 0) return;
        return read_contributions({{"receive_date", ">=", days_ago(settings_.reread_days)}},
                                  std::nullopt, 0);
      case SyncRead::contributions_cancelled: {
        auto s = since("cancel_date");
        if (!s) return;  // no pass has completed: the other reads see everything
        return read_contributions({}, api::ModifiedSince{"cancel_date", *s}, 0);
      }
      case SyncRead::merges:
        return read_merges();
    }
  }

  // Campaign and ContributionRecur: one event per record.
  void read_records(const std::string& entity, const std::vector<std::string>& fields,
                    const char* modified_field) {
    api::ApiQuery q;
    q.select = fields;
    std::optional<api::ModifiedSince> ms;
    if (!full_) {
      if (auto s = since(entity)) ms = api::ModifiedSince{modified_field, *s};
    }
    read_entity(
        entity, q, ms,
        [&](Page& p) {
          for (const auto& r : p.result.values().GetArray())
            add_record_event(p.events, entity, r, nullptr);
        },
        [&](Page& p) {
          advance_time(entity, p.result.values(), modified_field);
          apply_page(p, entity);
        });
  }

  void read_contributions(std::vector<api::WhereClause> where,
                          const std::optional<api::ModifiedSince>& ms, std::int64_t start_after) {
    api::ApiQuery q;
    q.select = kContributionFields;
    q.where = std::move(where);
    read_entity(
        "Contribution", q, ms,
        [&](Page& p) {
          const JsonValue& values = p.result.values();
          if (full_) {
            p.seen.reserve(values.Size());
            for (const auto& r : values.GetArray()) p.seen.push_back(r["id"].GetInt64());
          }
          p.events = map_records(values, [&](std::vector<CanonicalEvent>& out, const JsonValue& r) {
            add_record_event(out, "Contribution", r, nullptr);
          });
        },
        [&](Page& p) {
          advance_id("Contribution.id", p.last);
          advance_time("cancel_date", p.result.values(), "cancel_date");
          apply_page(p, "Contribution");
        },
        start_after);
  }

  // The opt-in groups (status Added) of each contact of `contacts`.
  std::map<std::int64_t, std::vector<std::int64_t>> group_memberships(
      const std::vector<std::int64_t>& contacts) const {
    std::map<std::int64_t, std::vector<std::int64_t>> out;
    if (optin_groups_.empty() || contacts.empty()) return out;
    api::ApiQuery q;
    q.select = {"id", "contact_id", "group_id"};
    q.where = {{"contact_id", "IN", contacts},
               {"group_id", "IN", optin_groups_},
               {"status", "=", std::string("Added")}};
    // Keyset paging on the membership ids: a page of contacts has at most one membership per
    // contact and group.
    auto result = api::read_pages(client_, "GroupContact", q, settings_.page_size, 0,
                                  [&](const JsonValue& values) {
                                    for (const auto& r : values.GetArray()) {
                                      auto c = int_of(member(r, "contact_id"));
                                      auto g = int_of(member(r, "group_id"));
                                      if (c && g) out[*c].push_back(*g);
                                    }
                                    return true;
                                  });
    if (!result.last.ok()) fail(result.last);
    return out;
  }

  // Contacts with their opt-in groups as the push adapter reads them (`groups`), mapped into
  // `p` (on the fetching thread).
  void prepare_contacts(const JsonValue& values, Page& p) const {
    std::vector<std::int64_t> ids;
    ids.reserve(values.Size());
    for (const auto& r : values.GetArray()) ids.push_back(r["id"].GetInt64());
    const auto groups = group_memberships(ids);
    static const std::vector<std::int64_t> none;
    p.events = map_records(values, [&](std::vector<CanonicalEvent>& out, const JsonValue& r) {
      auto it = groups.find(r["id"].GetInt64());
      add_record_event(out, "Contact", r, it == groups.end() ? &none : &it->second);
    });
    p.counted = values.Size();
    if (full_) p.seen = std::move(ids);
  }

  // Contacts whose membership in an opt-in group changed: SubscriptionHistory keeps every
  // change of a group membership with its date (GroupContact itself has none).
  void read_history() {
    if (optin_groups_.empty()) return;
    auto s = since("SubscriptionHistory");
    if (!s) return;
    api::ApiQuery q;
    q.select = {"id", "contact_id", "group_id", "date"};
    q.where = {{"group_id", "IN", optin_groups_}};
    read_entity(
        "SubscriptionHistory", q, api::ModifiedSince{"date", *s},
        [&](Page& p) {
          std::set<std::int64_t> contacts;
          for (const auto& r : p.result.values().GetArray()) {
            if (auto c = int_of(member(r, "contact_id"))) contacts.insert(*c);
          }
          api::ApiQuery cq;
          cq.select = kContactFields;
          cq.where = {{"id", "IN", std::vector<std::int64_t>(contacts.begin(), contacts.end())},
                      {"is_deleted", "IN", std::vector<std::int64_t>{0, 1}}};
          cq.order_by = {{"id", true}};
          cq.limit = static_cast<std::int64_t>(contacts.size());
          auto answer = client_.call("Contact", "get", cq);
          if (!answer.ok()) fail(answer);
          for (const auto& r : answer.values().GetArray()) {
            if (!member(r, "id") || !r["id"].IsInt64())
              throw SyncError(api::ApiError::malformed,
                              "CiviCRM answered a contact without an integer id");
          }
          if (answer.values().Size() == 0) {
            p.empty = true;
            return;
          }
          prepare_contacts(answer.values(), p);
        },
        [&](Page& p) {
          advance_time("SubscriptionHistory", p.result.values(), "date");
          if (p.empty) {
            save_position(p.last);
            return;
          }
          apply_page(p, "SubscriptionHistory");
        });
  }

  // Merges: CRM_Dedupe_Merger::createMergeActivities() records a "Contact Merged" activity
  // whose target is the survivor and a "Contact Deleted by Merge" activity (parent_id: the
  // first) whose target is the contact merged away (Contact.getMergedTo reads them the same
  // way). ActivityContact ids only grow, so the incremental read starts after the newest.
  void read_merges() {
    api::ApiQuery q;
    q.select = {"id", "contact_id", "activity_id.parent_id"};
    q.where = {{"activity_id.activity_type_id:name", "=", std::string("Contact Deleted by Merge")},
               {"record_type_id:name", "=", std::string("Activity Targets")}};
    read_entity(
        "ActivityContact", q, std::nullopt, [&](Page& p) { prepare_merges(p); },
        [&](Page& p) {
          advance_id("merges.id", p.last);
          apply_page(p, "merges");
        },
        full_ ? 0 : id_cursor("merges.id"));
  }

  void prepare_merges(Page& p) const {
    const JsonValue& v = p.result.values();
    std::vector<std::int64_t> parents;
    for (const auto& r : v.GetArray()) {
      if (auto parent = int_of(member(r, "activity_id.parent_id"))) parents.push_back(*parent);
    }
    std::map<std::int64_t, std::int64_t> survivor_of;  // parent activity -> survivor
    if (!parents.empty()) {
      api::ApiQuery sq;
      sq.select = {"id", "activity_id", "contact_id"};
      sq.where = {{"activity_id", "IN", parents},
                  {"record_type_id:name", "=", std::string("Activity Targets")}};
      auto result = api::read_pages(client_, "ActivityContact", sq, settings_.page_size, 0,
                                    [&](const JsonValue& values) {
                                      for (const auto& r : values.GetArray()) {
                                        auto a = int_of(member(r, "activity_id"));
                                        auto c = int_of(member(r, "contact_id"));
                                        if (a && c) survivor_of[*a] = *c;
                                      }
                                      return true;
                                    });
      if (!result.last.ok()) fail(result.last);
    }
    for (const auto& r : v.GetArray()) {
      auto merged = int_of(member(r, "contact_id"));
      auto parent = int_of(member(r, "activity_id.parent_id"));
      if (!merged || !parent) continue;
      auto it = survivor_of.find(*parent);
      if (it == survivor_of.end() || it->second == *merged) continue;
      JsonWriter d;
      d.begin_object()
          .field("donor_ref", std::to_string(it->second))
          .key("merged_refs")
          .begin_array()
          .value(std::to_string(*merged))
          .end_array()
          .end_object();
      p.events.push_back(envelope_event(source_.name,
                                        "civicrm:merge:" + std::to_string(r["id"].GetInt64()),
                                        "donor.merged", d.take(), now_));
    }
  }

  // The events of `values`, in order, each record mapped by `map_one`; a large page in two
  // halves at once (mapping is the sync thread's largest share of CPU).
  template <typename MapOne>
  static std::vector<CanonicalEvent> map_records(const JsonValue& values, const MapOne& map_one) {
    constexpr rapidjson::SizeType kHalvesFrom = 256;
    const rapidjson::SizeType n = values.Size();
    auto map_range = [&](rapidjson::SizeType from, rapidjson::SizeType to) {
      std::vector<CanonicalEvent> out;
      out.reserve(to - from);
      for (auto i = from; i < to; ++i) map_one(out, values[i]);
      return out;
    };
    if (n < kHalvesFrom) return map_range(0, n);
    auto first = std::async(std::launch::async, map_range, 0, n / 2);
    auto second = map_range(n / 2, n);
    auto out = first.get();
    out.insert(out.end(), std::make_move_iterator(second.begin()),
               std::make_move_iterator(second.end()));
    return out;
  }

  // One record as the civicrm adapter's body {"entity", "action", "values"}, mapped and added
  // to `events` unless the adapter ignores it (test and template contributions).
  void add_record_event(std::vector<CanonicalEvent>& events, const std::string& entity,
                        const JsonValue& record, const std::vector<std::int64_t>* groups) const {
    JsonWriter v;
    v.begin_object();
    for (const auto& m : record.GetObject()) {
      if (groups && std::string_view(m.name.GetString()) == "groups") continue;
      v.key(std::string_view(m.name.GetString(), m.name.GetStringLength())).value(m.value);
    }
    if (groups) {
      v.key("groups").begin_array();
      for (auto g : *groups) v.value(g);
      v.end_array();
    }
    v.end_object();
    const std::string values = v.take();
    std::string body = R"({"entity":")" + entity + R"(","action":"edit","values":)" + values + "}";
    const auto event_id = pull_event_id(entity, record["id"].GetInt64(), values);
    auto event = map_received("civicrm", source_.name, event_id, body, now_, source_.config);
    if (event.ignored) return;
    events.push_back(std::move(event));
  }

  // Applies one page's events with the new position, in one transaction, on a connection of
  // its own while the sync reads on: up to kPagesInFlight page transactions run at once, and
  // each commits only after the one before it (apply_job, kSavePositionAfter), so the
  // stored position never passes a page that is not applied. Contacts merged away earlier are
  // not applied again: their ref resolves to the survivor, whose data they would overwrite
  // (CiviCRM keeps them in the trash). `p.seen`: the ids of `entity` a full pass read, for its
  // check of ids (empty in an incremental pass).
  void apply_page(Page& p, const std::string& entity) {
    source_.after_id = p.last;
    count(entity, static_cast<std::int64_t>(p.counted));
    auto job = std::make_shared<PageJob>();
    job->entity = entity;
    job->events = std::move(p.events);
    job->seen = std::move(p.seen);
    job->step = static_cast<int>(source_.step);
    job->after_id = p.last;
    job->cursors = map_json(source_.pass_cursors);
    job->records = map_json(source_.pass_records);
    job->expected = written_;
    written_ = {job->step, job->after_id};
    while (applying_.size() >= kPagesInFlight) {
      auto oldest = std::move(applying_.front());
      applying_.pop_front();
      oldest.get();  // rethrows its failure
    }
    std::shared_future<void> previous;
    if (!applying_.empty()) previous = applying_.back();
    applying_.push_back(std::async(std::launch::async, [this, job, previous] {
                          apply_job(*job, previous);
                        }).share());
  }

  // Waits for every page transaction under way; rethrows the first failure.
  void drain() {
    while (!applying_.empty()) {
      auto oldest = std::move(applying_.front());
      applying_.pop_front();
      oldest.get();
    }
  }

  // One page transaction (on its own thread); `previous`: the page transaction before it, if
  // one was still under way when this one started. This one commits only after `previous`
  // committed: it waits for it (kPreviousWait at most, holding its own locks), and when that
  // is not enough, it rolls back, so that `previous` can never wait for its locks in vain, and
  // is applied again once `previous` is done. Its position is written only where `previous`
  // left it (someone else moving it fails the pass).
  void apply_job(const PageJob& job, const std::shared_future<void>& previous) {
    bool previous_done = !previous.valid();
    for (;;) {
      const bool committed = pool_.run([&](pqxx::connection& c) {
        pqxx::work tx(c);
        apply_events_of(tx, job);
        if (!job.seen.empty())
          tx.exec_params(kInsertSeen, source_.name, job.entity, ids_literal(job.seen));
        if (!previous_done) {
          if (previous.wait_for(kPreviousWait) != std::future_status::ready) return false;
          try {
            previous.get();
          } catch (...) {
            return false;  // rolled back; its failure is rethrown below
          }
        }
        const auto saved =
            tx.exec_params(kSavePositionAfter, source_.name, job.step, job.after_id, job.cursors,
                           job.records, job.expected.first, job.expected.second);
        if (saved.affected_rows() != 1)
          throw std::runtime_error("the sync position was changed by someone else");
        tx.commit();
        return true;
      });
      if (committed) return;
      previous.get();  // rethrows the failure of the page before
      previous_done = true;
    }
  }

  void apply_events_of(pqxx::transaction_base& tx, const PageJob& job) {
    std::set<std::string> merged;
    if (job.entity == "Contact" || job.entity == "SubscriptionHistory") {
      db::ArrayLiteral refs;
      for (const auto& e : job.events) refs.add(e.donor_ref);
      for (const auto& r : tx.exec_params(kMergedRefs, source_.name, refs.take()))
        merged.insert(r[0].c_str());
    }
    std::vector<const CanonicalEvent*> todo;
    todo.reserve(job.events.size());
    bool whole = true;  // no event left out and no barrier: the page is one batch
    for (const auto& e : job.events) {
      if (e.is_barrier()) whole = false;
      if (e.type == "donor.upserted" && merged.count(e.donor_ref)) {
        whole = false;
        continue;
      }
      todo.push_back(&e);
    }
    if (!whole) {
      apply_in_runs(tx, todo);
    } else if (!job.events.empty()) {
      apply_events(tx, job.events);  // without copying the events
    }
  }

  // Merges and erasures go alone into their apply_events call, as in the importer.
  void apply_in_runs(pqxx::transaction_base& tx, const std::vector<const CanonicalEvent*>& todo) {
    std::vector<CanonicalEvent> run;
    auto flush = [&] {
      if (run.empty()) return;
      apply_events(tx, run);  // a rejected event stays in the inbox as rejected
      run.clear();
    };
    for (const auto* e : todo) {
      if (e->is_barrier()) {
        flush();
        run.push_back(*e);
        flush();
      } else {
        run.push_back(*e);
      }
    }
    flush();
  }

  void write_position(pqxx::transaction_base& tx) {
    tx.exec_params(kSavePosition, source_.name, static_cast<int>(source_.step), source_.after_id,
                   map_json(source_.pass_cursors), map_json(source_.pass_records));
  }

  void save_position(std::int64_t last = -1) {
    drain();
    if (last >= 0) source_.after_id = last;
    written_ = {static_cast<int>(source_.step), source_.after_id};
    pool_.run([&](pqxx::connection& c) {
      pqxx::work tx(c);
      write_position(tx);
      tx.commit();
    });
  }

  // Contacts and contributions that CiviCRM no longer returns at all were deleted there for
  // good: contacts are erased here (Art. 17), contributions no longer count (refunded). A
  // check that would remove more than GABE_CIVICRM_MAX_ERASE_PERCENT of what is held (an API
  // user that suddenly sees less, a wrong site) removes nothing and says so.
  std::optional<std::string> check_deletions() {
    std::optional<std::string> note;
    auto contacts = missing(kContactChunk, "Contact", kHeldContacts);
    const bool none_read = source_.pass_records["Contact"] == 0 && !contacts.first.empty();
    if (none_read || too_many(contacts)) {
      note = std::to_string(contacts.first.size()) + " of " + std::to_string(contacts.second) +
             " contacts are missing from CiviCRM's answer, more than "
             "GABE_CIVICRM_MAX_ERASE_PERCENT allows: nothing was erased. Check the API user's "
             "permissions, or raise the limit and run a full sync.";
    } else {
      apply_deletions("Contact", contacts.first, "donor_ref", "donor.erased");
    }
    auto gifts = missing(kContributionChunk, "Contribution", kHeldContributions);
    if (too_many(gifts)) {
      note = (note ? *note + " " : std::string()) + std::to_string(gifts.first.size()) + " of " +
             std::to_string(gifts.second) +
             " contributions are missing from CiviCRM's answer: none was marked refunded.";
    } else {
      apply_deletions("Contribution", gifts.first, "gift_ref", "gift.refunded");
    }
    return note;
  }

  // The refs missing from CiviCRM's answer, and how many Gabe holds.
  std::pair<std::vector<std::string>, std::int64_t> missing(const char* chunk_sql,
                                                            const char* entity,
                                                            const char* held_sql) {
    std::pair<std::vector<std::string>, std::int64_t> out{{}, 0};
    std::string after;
    for (;;) {
      const bool more = pool_.run([&](pqxx::connection& c) {
        pqxx::nontransaction tx(c);
        const auto chunk = tx.exec_params(chunk_sql, source_.name, after, kCheckChunk);
        if (chunk.empty()) return false;
        std::vector<std::int64_t> ids;
        for (const auto& r : chunk) {
          if (r[1].as<bool>()) ids.push_back(std::stoll(r[0].c_str()));
        }
        std::vector<std::string> unseen;
        if (!ids.empty()) {
          for (const auto& r : tx.exec_params(kUnseen, source_.name, entity, ids_literal(ids)))
            unseen.emplace_back(r[0].c_str());  // the ref: such ids have one spelling
        }
        out.first.insert(out.first.end(), unseen.begin(), unseen.end());
        after = chunk[chunk.size() - 1][0].c_str();
        return static_cast<std::int64_t>(chunk.size()) >= kCheckChunk;
      });
      if (!more) break;
    }
    out.second = pool_.run([&](pqxx::connection& c) {
      pqxx::nontransaction tx(c);
      return tx.exec_params(held_sql, source_.name)[0][0].as<std::int64_t>();
    });
    return out;
  }

  bool too_many(const std::pair<std::vector<std::string>, std::int64_t>& m) const {
    const auto n = static_cast<std::int64_t>(m.first.size());
    return n > 10 && n * 100 > m.second * settings_.max_erase_percent;
  }

  // Applies `type` to each ref of `entity` (as `ref_field`) that CiviCRM no longer returns,
  // kDeletionBatch per transaction, counted as "<entity>.deleted".
  void apply_deletions(const std::string& entity, const std::vector<std::string>& refs,
                       const char* ref_field, const char* type) {
    if (refs.empty()) return;
    std::vector<CanonicalEvent> events;
    for (const auto& ref : refs) {
      JsonWriter d;
      d.begin_object().field(ref_field, ref).end_object();
      events.push_back(
          envelope_event(source_.name, deletion_id(entity, ref), type, d.take(), now_));
    }
    for (std::size_t i = 0; i < events.size(); i += kDeletionBatch) {
      const auto end = std::min(events.size(), i + kDeletionBatch);
      pool_.run([&](pqxx::connection& c) {
        pqxx::work tx(c);
        std::vector<const CanonicalEvent*> todo;
        for (std::size_t j = i; j < end; ++j) todo.push_back(&events[j]);
        apply_in_runs(tx, todo);
        tx.commit();
      });
    }
    count(entity + ".deleted", static_cast<std::int64_t>(events.size()));
  }

  void finish(const std::optional<std::string>& note) {
    auto cursors = source_.pass_cursors;
    std::string site;
    for (const char* k : {"Contact", "ContributionRecur", "Campaign", "SubscriptionHistory"}) {
      auto it = cursors.find(k);
      if (it != cursors.end() && it->second > site) site = it->second;
    }
    if (!site.empty() && site > cursors["site"]) cursors["site"] = site;
    if (cursors["site"].empty()) cursors.erase("site");
    pool_.run([&](pqxx::connection& c) {
      pqxx::work tx(c);
      tx.exec_params(kFinishPass, source_.name, map_json(cursors), full_, note);
      if (full_) tx.exec_params(kClearSeen, source_.name);
      tx.commit();
    });
    source_.cursors = cursors;
  }

  db::Pool& pool_;
  PullSource& source_;
  bool full_;
  const SyncSettings& settings_;
  const api::ApiClient& client_;
  const Counter& records_;
  std::string now_;
  std::vector<std::int64_t> optin_groups_;
  // Page transactions under way, oldest first (apply_page).
  std::deque<std::shared_future<void>> applying_;
  std::pair<int, std::int64_t> written_;  // the position the newest page transaction writes
  // Seconds of this pass (since it started or resumed) by what they were spent on: `fetch`
  // on the fetching thread; on the sync thread `wait` for the fetch, `map`, and `apply`
  // (handing a page to apply_page: mostly the wait for a free page transaction).
  struct {
    std::int64_t pages = 0;
    double fetch = 0;
    double map = 0;
    double wait = 0;
    double apply = 0;
    double finish = 0;
  } timings_;
};

std::vector<PullSource> load_pull_sources(db::Pool& pool) {
  return pool.run([](pqxx::connection& c) {
    pqxx::nontransaction tx(c);
    std::vector<PullSource> out;
    for (const auto& r : tx.exec(kLoadSources)) {
      PullSource s;
      s.name = r[0].c_str();
      s.url = r[1].c_str();
      s.api_key = r[2].c_str();
      if (!r[3].is_null()) s.pass = r[3].c_str();
      s.step = r[4].as<std::size_t>();
      s.after_id = r[5].as<std::int64_t>();
      s.cursors = parse_map<std::string>(r[6].c_str());
      s.pass_cursors = parse_map<std::string>(r[7].c_str());
      s.pass_records = parse_map<std::int64_t>(r[8].c_str());
      if (!r[9].is_null()) s.requested = r[9].c_str();
      if (!r[10].is_null()) s.seconds_since_full = r[10].as<double>();
      if (!r[11].is_null()) s.seconds_since_sync = r[11].as<double>();
      out.push_back(std::move(s));
    }
    for (const auto& r : tx.exec(kLoadOptIn)) {
      for (auto& s : out) {
        if (s.name == r[0].c_str()) s.config.optin_groups[r[1].c_str()] = r[2].c_str();
      }
    }
    return out;
  });
}

}  // namespace

SyncSettings SyncSettings::from(const config::Settings& settings) {
  SyncSettings s;
  s.interval_seconds = settings.integer("GABE_CIVICRM_SYNC_SECONDS");
  s.full_hours = settings.integer("GABE_CIVICRM_FULL_SYNC_HOURS");
  s.page_size = settings.integer("GABE_CIVICRM_PAGE_SIZE");
  s.full_page_size = settings.integer("GABE_CIVICRM_FULL_PAGE_SIZE");
  s.timeout_seconds = settings.integer("GABE_CIVICRM_TIMEOUT_SECONDS");
  s.reread_days = settings.integer("GABE_CIVICRM_REREAD_DAYS");
  s.max_erase_percent = settings.integer("GABE_CIVICRM_MAX_ERASE_PERCENT");
  s.verify_tls = settings.integer("GABE_CIVICRM_VERIFY_TLS") != 0;
  return s;
}

std::string_view to_string(SyncRead read) {
  switch (read) {
    case SyncRead::campaigns:
      return "campaigns";
    case SyncRead::contacts:
      return "contacts";
    case SyncRead::contacts_by_history:
      return "contacts_by_history";
    case SyncRead::recurring:
      return "recurring";
    case SyncRead::contributions:
      return "contributions";
    case SyncRead::contributions_new:
      return "contributions_new";
    case SyncRead::contributions_window:
      return "contributions_window";
    case SyncRead::contributions_cancelled:
      return "contributions_cancelled";
    case SyncRead::merges:
      return "merges";
  }
  return "unknown";
}

const std::vector<SyncRead>& pass_steps(bool full) {
  // Merges first: the contact merged away (trashed in CiviCRM) is then known as merged and not
  // applied over its survivor. Contacts before what names them (no placeholders on a first
  // load).
  static const std::vector<SyncRead> full_steps = {SyncRead::campaigns, SyncRead::merges,
                                                   SyncRead::contacts, SyncRead::recurring,
                                                   SyncRead::contributions};
  static const std::vector<SyncRead> incremental_steps = {SyncRead::campaigns,
                                                          SyncRead::merges,
                                                          SyncRead::contacts,
                                                          SyncRead::contacts_by_history,
                                                          SyncRead::recurring,
                                                          SyncRead::contributions_new,
                                                          SyncRead::contributions_window,
                                                          SyncRead::contributions_cancelled};
  return full ? full_steps : incremental_steps;
}

std::optional<std::string> civicrm_time_minus(std::string_view t, long seconds) {
  int y = 0, mo = 0, d = 0, h = 0, mi = 0, s = 0;
  if (t.size() != 19 ||
      std::sscanf(std::string(t).c_str(), "%4d-%2d-%2d %2d:%2d:%2d", &y, &mo, &d, &h, &mi, &s) != 6)
    return std::nullopt;
  std::tm tm{};
  tm.tm_year = y - 1900;
  tm.tm_mon = mo - 1;
  tm.tm_mday = d;
  tm.tm_hour = h;
  tm.tm_min = mi;
  tm.tm_sec = s;
  const std::time_t at = timegm(&tm) - seconds;
  std::tm out{};
  gmtime_r(&at, &out);
  char text[64];
  std::snprintf(text, sizeof text, "%04d-%02d-%02d %02d:%02d:%02d", out.tm_year + 1900,
                out.tm_mon + 1, out.tm_mday, out.tm_hour, out.tm_min, out.tm_sec);
  return std::string(text);
}

std::string pull_event_id(std::string_view entity, std::int64_t id, std::string_view record_json) {
  return "civicrm:" + std::string(entity) + ":" + std::to_string(id) + ":" +
         crypto::hex(crypto::sha256(record_json)).substr(0, 24);
}

std::optional<std::string> due_pass(const PullSource& source, const SyncSettings& settings) {
  if (source.pass) return source.pass;
  if (!source.seconds_since_full ||
      *source.seconds_since_full >= static_cast<double>(settings.full_hours) * 3600.0)
    return "full";
  if (source.requested) return source.requested;
  if (!source.seconds_since_sync ||
      *source.seconds_since_sync >= static_cast<double>(settings.interval_seconds))
    return "incremental";
  return std::nullopt;
}

CivicrmSync::CivicrmSync(db::Pool& pool, Metrics& metrics, SyncSettings settings)
    : pool_(pool),
      settings_(settings),
      records_(metrics.counter("gabe_civicrm_sync_records_total",
                               "Records read from CiviCRM by the pull sync, by source and entity",
                               {"source", "entity"})),
      failures_(metrics.counter(
          "gabe_civicrm_sync_failures_total",
          "Failed sync attempts, by source and kind (bad_key, unavailable, malformed, rejected, "
          "database)",
          {"source", "kind"})),
      last_success_(metrics.gauge("gabe_civicrm_sync_last_success_timestamp_seconds",
                                  "When the last sync pass of a CiviCRM pull source completed",
                                  {"source"})),
      running_(metrics.gauge("gabe_civicrm_sync_running",
                             "1 while a sync pass of the source runs (full or incremental)",
                             {"source"})) {
  thread_ = std::thread([this] { run(); });
}

CivicrmSync::~CivicrmSync() {
  {
    std::lock_guard lock(mutex_);
    stop_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void CivicrmSync::wake() {
  {
    std::lock_guard lock(mutex_);
    woken_ = true;
    asked_ = true;
  }
  wake_.notify_all();
}

bool CivicrmSync::stopping() {
  std::lock_guard lock(mutex_);
  return stop_;
}

bool CivicrmSync::pause(double seconds) {
  std::unique_lock lock(mutex_);
  wake_.wait_for(lock, std::chrono::duration<double>(seconds), [this] { return stop_ || woken_; });
  woken_ = false;
  return stop_;
}

void CivicrmSync::run() {
  // New sources, requests from other replicas and due passes are looked for this often.
  constexpr double kPoll = 5.0;
  while (!stopping()) {
    std::vector<PullSource> sources;
    try {
      sources = load_pull_sources(pool_);
    } catch (const std::exception& e) {
      log::warn("civicrm sync: cannot read the pull sources", {{"kind", typeid(e).name()}});
    }
    {
      // An admin's request (POST /v1/sources/{name}/sync) tries at once, backoff or not.
      std::lock_guard lock(mutex_);
      if (asked_) retry_at_.clear();
      asked_ = false;
    }
    for (auto& s : sources) {
      if (stopping()) return;
      auto due = due_pass(s, settings_);
      if (!due) continue;
      const auto now = std::chrono::steady_clock::now();
      if (auto it = retry_at_.find(s.name); it != retry_at_.end() && now < it->second) continue;
      sync_source(s, *due);
    }
    if (pause(kPoll)) return;
  }
}

void CivicrmSync::sync_source(PullSource& source, const std::string& pass) {
  const bool full = pass == "full";
  std::string kind;
  std::string message;
  running_.set({source.name}, 1);
  try {
    if (!source.pass) {
      pool_.run([&](pqxx::connection& c) {
        pqxx::work tx(c);
        tx.exec_params(kStartPass, source.name, pass);
        if (full) tx.exec_params(kClearSeen, source.name);
        tx.commit();
      });
      source.pass = pass;
      source.step = 0;
      source.after_id = 0;
      source.pass_cursors = source.cursors;
      source.pass_records.clear();
      log::info("civicrm sync started", {{"source", source.name}, {"pass", pass}});
    } else {
      log::info("civicrm sync resumed", {{"source", source.name},
                                         {"pass", pass},
                                         {"step", static_cast<std::int64_t>(source.step)}});
    }
    auto endpoint = civicrm::parse_api_base(source.url);
    if (!endpoint) throw SyncError(civicrm::ApiError::rejected, "the pull URL is not valid");
    civicrm::ClientOptions options;
    options.request_timeout = std::chrono::seconds(settings_.timeout_seconds);
    options.connect_timeout = std::chrono::seconds(std::min<long>(settings_.timeout_seconds, 10));
    options.verify_tls = settings_.verify_tls;
    civicrm::ApiClient client(*endpoint, source.api_key, options);
    PassRunner runner(pool_, source, full, settings_, client, records_);
    auto note = runner.run();
    failures_in_row_.erase(source.name);
    retry_at_.erase(source.name);
    last_success_.set({source.name}, static_cast<double>(now_epoch_seconds()));
    running_.set({source.name}, 0);
    std::int64_t total = 0;
    for (const auto& [e, n] : source.pass_records) total += n;
    log::info(
        "civicrm sync finished",
        {{"source", source.name}, {"pass", pass}, {"records", total}, {"note", note.has_value()}});
    return;
  } catch (const SyncError& e) {
    kind = std::string(civicrm::to_string(e.kind));
    message = e.what();
  } catch (const Problem& p) {
    kind = "database";
    message = "The database was not available: " + p.detail();
  } catch (const std::exception& e) {
    kind = "database";
    message = std::string("The sync failed: ") + typeid(e).name();
  }
  running_.set({source.name}, 0);
  failures_.add({source.name, kind});
  const int n = ++failures_in_row_[source.name];
  const long backoff = std::min<long>(300, 5L << std::min(n - 1, 6));
  retry_at_[source.name] = std::chrono::steady_clock::now() + std::chrono::seconds(backoff);
  log::warn("civicrm sync failed", {{"source", source.name},
                                    {"kind", kind},
                                    {"attempt", n},
                                    {"retry_in_seconds", static_cast<std::int64_t>(backoff)}});
  try {
    pool_.run([&](pqxx::connection& c) {
      pqxx::work tx(c);
      tx.exec_params(kRecordError, source.name, message.substr(0, 500));
      tx.commit();
    });
  } catch (const std::exception&) {
    // The database is away too: the next attempt records it.
  }
}

}  // namespace gabe::ingest
