// A stand-in for CiviCRM's APIv4 REST interface in tests: a real HTTP/1.1 server on 127.0.0.1
// (one thread, plain sockets, one request per connection) that answers as
// civicrm-core's CRM/Api4/Page/AJAX.php does for `get` on Contact, Contribution,
// ContributionRecur, Campaign, GroupContact, SubscriptionHistory and ActivityContact: POST
// {base}/{Entity}/get with the form field `params` (select, where, orderBy, limit, offset),
// `X-Civi-Auth: Bearer KEY` (AuthX) and `X-Requested-With: XMLHttpRequest`; the answer {"entity",
// "action", "version", "values", "count", "countFetched"}. Records hold the field names and value
// formats of civicrm-core's entity definitions (see the builders below). Switches simulate a wrong
// key, a site that is down, a slow site and a malformed answer.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

namespace gabe::test {

class CivicrmStandin {
 public:
  explicit CivicrmStandin(std::string api_key = "standin-key");
  ~CivicrmStandin();
  CivicrmStandin(const CivicrmStandin&) = delete;
  CivicrmStandin& operator=(const CivicrmStandin&) = delete;

  std::uint16_t port() const { return port_; }
  // The APIv4 REST base: http://127.0.0.1:PORT/civicrm/ajax/api4
  std::string base_url() const;
  const std::string& api_key() const { return api_key_; }

  // Adds (or replaces, by id) one record: a JSON object with an integer "id".
  void put(const std::string& entity, const std::string& json_object);
  // Removes a record, as a permanent deletion in CiviCRM does.
  void erase(const std::string& entity, std::int64_t id);

  // Every request answers 401 as AuthX does for an unknown key.
  void set_reject_key(bool on) { reject_key_ = on; }
  // Every request answers 503 as CiviCRM in maintenance mode (or a proxy in front of it) does.
  void set_down(bool on) { down_ = on; }
  // Waits this long before each answer.
  void set_delay(std::chrono::milliseconds delay) { delay_ms_ = delay.count(); }
  // Answers 200 with a body cut in the middle of its JSON.
  void set_malformed(bool on) { malformed_ = on; }
  // Closes the listening socket: later connections are refused.
  void stop();

  // The decoded `params` JSON of every request so far, and the "Entity/action" they named.
  std::vector<std::pair<std::string, std::string>> requests() const;

 private:
  void serve();
  void handle(int fd);
  std::string answer(std::string_view method, std::string_view target,
                     const std::map<std::string, std::string>& headers, std::string_view body,
                     int& status);

  std::string api_key_;
  int listen_fd_ = -1;
  std::uint16_t port_ = 0;
  std::atomic<bool> stopping_{false};
  std::atomic<bool> reject_key_{false};
  std::atomic<bool> down_{false};
  std::atomic<bool> malformed_{false};
  std::atomic<std::int64_t> delay_ms_{0};
  mutable std::mutex mutex_;
  std::map<std::string, std::map<std::int64_t, std::string>> records_;  // entity -> id -> JSON
  std::vector<std::pair<std::string, std::string>> requests_;
  std::thread thread_;
};

// Records in the shape APIv4 returns them (its `get` with the select Gabe's sync uses). Dates
// are "YYYY-MM-DD HH:MM:SS" in the site's time zone, money a JSON number, flags booleans, ids
// integers, pseudo-constants by `:name` suffix.
namespace civicrm {
// schema/Contact/Contact.entityType.php, with the implicit joins email_primary.email
// (schema/Core/Email.entityType.php) and address_primary.country_id:abbr.
std::string contact(std::int64_t id, std::string_view contact_type, std::string_view first_name,
                    std::string_view last_name, std::string_view email,
                    std::string_view modified_date, bool is_deleted = false);
// schema/Contribute/Contribution.entityType.php (no modified_date: it has none).
std::string contribution(std::int64_t id, std::int64_t contact_id, std::string_view total_amount,
                         std::string_view receive_date, std::string_view status_name,
                         std::string_view instrument_name = "Credit Card", bool is_test = false);
// schema/Contribute/ContributionRecur.entityType.php
std::string contribution_recur(std::int64_t id, std::int64_t contact_id, std::string_view amount,
                               std::string_view frequency_unit, int frequency_interval,
                               std::string_view modified_date);
// schema/Campaign/Campaign.entityType.php (its modification time is last_modified_date)
std::string campaign(std::int64_t id, std::string_view name, std::string_view title,
                     std::string_view last_modified_date);
// schema/Contact/GroupContact.entityType.php (status: Added, Removed, Pending)
std::string group_contact(std::int64_t id, std::int64_t group_id, std::int64_t contact_id,
                          std::string_view status);
// schema/Contact/SubscriptionHistory.entityType.php: every change of a group membership, with
// its date (GroupContact itself has none).
std::string subscription_history(std::int64_t id, std::int64_t group_id, std::int64_t contact_id,
                                 std::string_view status, std::string_view date);
// A merge as CRM_Dedupe_Merger::createMergeActivities() records it, read through
// schema/Activity/ActivityContact.entityType.php with the joins
// activity_id.activity_type_id:name and activity_id.parent_id: a "Contact Merged" activity
// (`activity_id`) targeting the survivor and a "Contact Deleted by Merge" activity
// (`activity_id` + 1, parent the first) targeting the contact merged away. Two ActivityContact
// records with ids first_id and first_id + 1.
std::vector<std::string> merge_activity_targets(std::int64_t first_id, std::int64_t activity_id,
                                                std::int64_t survivor, std::int64_t merged);
}  // namespace civicrm

}  // namespace gabe::test
