#include "civicrm_standin.hpp"

#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <optional>
#include <stdexcept>

#include "civicrm_api.hpp"
#include "gabe/json.hpp"
#include "test_server.hpp"

namespace gabe::test {
namespace {

namespace api = gabe::ingest::civicrm;

constexpr std::string_view kBasePath = "/civicrm/ajax/api4/";
const std::vector<std::string> kEntities = {"Contact",        "Contribution", "ContributionRecur",
                                            "Campaign",       "GroupContact", "SubscriptionHistory",
                                            "ActivityContact"};

std::string lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

std::string error_body(int status, std::string_view message) {
  JsonWriter w;
  w.begin_object()
      .field("error_code", std::to_string(status))
      .field("error_message", message)
      .field("status", status)
      .end_object();
  return w.take();
}

// APIv4's comparison of one field with one value, for the operators the sync uses.
bool matches(const JsonValue* field, std::string_view op, const JsonValue& value) {
  if (op == "IS NULL") return field == nullptr;
  if (op == "IS NOT NULL") return field != nullptr;
  if (field == nullptr) return false;
  if (op == "IN") {
    if (!value.IsArray()) throw std::runtime_error("IN needs an array");
    for (const auto& v : value.GetArray()) {
      if (matches(field, "=", v)) return true;
    }
    return false;
  }
  int cmp = 0;
  if (field->IsNumber() && value.IsNumber()) {
    double a = field->GetDouble();
    double b = value.GetDouble();
    cmp = a < b ? -1 : (a > b ? 1 : 0);
  } else if (field->IsString() && value.IsString()) {
    cmp = std::string_view(field->GetString(), field->GetStringLength())
              .compare(std::string_view(value.GetString(), value.GetStringLength()));
  } else if (field->IsBool() && (value.IsBool() || value.IsInt())) {
    bool b = value.IsBool() ? value.GetBool() : value.GetInt() != 0;
    cmp = field->GetBool() == b ? 0 : 1;
  } else {
    return false;
  }
  if (op == "=") return cmp == 0;
  if (op == "!=" || op == "<>") return cmp != 0;
  if (op == ">") return cmp > 0;
  if (op == ">=") return cmp >= 0;
  if (op == "<") return cmp < 0;
  if (op == "<=") return cmp <= 0;
  throw std::runtime_error("unsupported operator");
}

}  // namespace

CivicrmStandin::CivicrmStandin(std::string api_key) : api_key_(std::move(api_key)) {
  listen_fd_ = listen_on_loopback(port_, "stand-in");
  thread_ = std::thread([this] { serve(); });
}

CivicrmStandin::~CivicrmStandin() {
  stopping_ = true;
  if (thread_.joinable()) thread_.join();
  std::lock_guard lock(mutex_);
  if (listen_fd_ >= 0) ::close(listen_fd_);
}

void CivicrmStandin::stop() {
  stopping_ = true;
  if (thread_.joinable()) thread_.join();
  std::lock_guard lock(mutex_);
  if (listen_fd_ >= 0) ::close(listen_fd_);
  listen_fd_ = -1;
}

std::string CivicrmStandin::base_url() const {
  return "http://127.0.0.1:" + std::to_string(port_) + "/civicrm/ajax/api4";
}

void CivicrmStandin::put(const std::string& entity, const std::string& json_object) {
  auto doc = parse_json(json_object);
  const JsonValue* id = member(*doc, "id");
  if (id == nullptr || !id->IsInt64()) throw std::invalid_argument("stand-in: record without id");
  std::lock_guard lock(mutex_);
  records_[entity][id->GetInt64()] = json_object;
}

void CivicrmStandin::erase(const std::string& entity, std::int64_t id) {
  std::lock_guard lock(mutex_);
  records_[entity].erase(id);
}

std::vector<std::pair<std::string, std::string>> CivicrmStandin::requests() const {
  std::lock_guard lock(mutex_);
  return requests_;
}

void CivicrmStandin::serve() {
  while (!stopping_) {
    pollfd p{listen_fd_, POLLIN, 0};
    if (::poll(&p, 1, 20) <= 0) continue;
    int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (fd < 0) continue;
    handle(fd);
    ::close(fd);
  }
}

void CivicrmStandin::handle(int fd) {
  auto request = read_request(fd, stopping_);
  if (!request) return;

  int status = 200;
  std::string answer_body =
      answer(request->method, request->target, request->headers, request->body, status);
  for (std::int64_t waited = 0; waited < delay_ms_ && !stopping_; waited += 10) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  if (malformed_ && status == 200) answer_body.resize(answer_body.size() / 2);
  std::string reason = status == 200 ? "OK" : "Error";
  std::string response = "HTTP/1.1 " + std::to_string(status) + " " + reason +
                         "\r\nContent-Type: application/json\r\nContent-Length: " +
                         std::to_string(answer_body.size()) + "\r\nConnection: close\r\n\r\n" +
                         answer_body;
  send_all(fd, response);
}

std::string CivicrmStandin::answer(std::string_view method, std::string_view target,
                                   const std::map<std::string, std::string>& headers,
                                   std::string_view body, int& status) {
  // ext/authx: a credential it cannot verify is refused with 401 before CiviCRM runs.
  auto auth = headers.find("x-civi-auth");
  if (reject_key_ || auth == headers.end() || auth->second != "Bearer " + api_key_) {
    status = 401;
    return error_body(401, "Invalid credential");
  }
  // CRM/Api4/Page/AJAX.php: maintenance mode answers 503 with status_code/status_message.
  if (down_) {
    status = 503;
    return R"({"status_code":503,"status_message":"Temporarily unavailable for maintenance."})";
  }
  // CRM_Api4_Page_AJAX::checkRequestMethod(): not a web-service request -> 400.
  auto xrw = headers.find("x-requested-with");
  if (xrw == headers.end() || xrw->second != "XMLHttpRequest") {
    status = 400;
    return error_body(400,
                      "SECURITY ALERT: Ajax requests can only be issued by javascript clients, "
                      "eg. CRM.api4().");
  }
  if (method != "POST" || target.rfind(kBasePath, 0) != 0) {
    status = 404;
    return error_body(404, "Not found");
  }
  std::string_view rest = target.substr(kBasePath.size());
  auto slash = rest.find('/');
  std::string entity(rest.substr(0, slash));
  std::string action(slash == std::string_view::npos ? "" : rest.substr(slash + 1));
  std::optional<std::string> params_text = api::form_field(body, "params");
  {
    std::lock_guard lock(mutex_);
    requests_.emplace_back(entity + "/" + action, params_text.value_or(""));
  }
  // Exceptions of the API (an unknown entity or action, a bad parameter) are 500 there.
  if (std::find(kEntities.begin(), kEntities.end(), entity) == kEntities.end() || action != "get") {
    status = 500;
    return error_body(500, "API (" + entity + ", " + action + ") does not exist");
  }
  try {
    auto params = parse_json(params_text.value_or("{}"));
    if (!params->IsObject()) throw std::runtime_error("params is not an object");
    struct Clause {
      std::string field;
      std::string op;
      const JsonValue* value;
    };
    static const JsonValue null_value;
    std::vector<Clause> clauses;
    std::optional<std::int64_t> id_above;  // a keyset page: where id > N
    if (const JsonValue* where = member(*params, "where")) {
      if (!where->IsArray()) throw std::runtime_error("where is not an array");
      for (const auto& clause : where->GetArray()) {
        if (!clause.IsArray() || clause.Size() < 2 || !clause[0].IsString() ||
            !clause[1].IsString()) {
          throw std::runtime_error("bad where clause");
        }
        const JsonValue& value = clause.Size() > 2 ? clause[2] : null_value;
        clauses.push_back({clause[0].GetString(), clause[1].GetString(), &value});
        if (clauses.back().field == "id" && clauses.back().op == ">" && value.IsInt64())
          id_above = std::max(id_above.value_or(value.GetInt64()), value.GetInt64());
      }
    }
    // Ordered by id (or not at all), without offset, a page can stop at its limit: records are
    // kept by id, so a keyset page reads only what it answers (the benchmark's million rows).
    bool by_id = true;
    if (const JsonValue* order = member(*params, "orderBy")) {
      by_id = order->IsObject() && order->MemberCount() == 1 && order->HasMember("id") &&
              order->FindMember("id")->value.IsString() &&
              lower(order->FindMember("id")->value.GetString()) == "asc";
    }
    std::int64_t page_limit = 0;
    if (const JsonValue* v = member(*params, "limit"); v != nullptr && v->IsInt64()) {
      page_limit = v->GetInt64();
    }
    const JsonValue* offset_value = member(*params, "offset");
    const bool can_stop =
        by_id && page_limit > 0 &&
        (offset_value == nullptr || !offset_value->IsInt64() || offset_value->GetInt64() == 0);
    std::vector<std::shared_ptr<rapidjson::Document>> rows;
    {
      std::lock_guard lock(mutex_);
      const auto& records = records_[entity];
      auto it = id_above ? records.upper_bound(*id_above) : records.begin();
      for (; it != records.end(); ++it) {
        auto row = parse_json(it->second);
        bool keep = true;
        for (const auto& c : clauses) keep = keep && matches(member(*row, c.field), c.op, *c.value);
        if (!keep) continue;
        rows.push_back(std::move(row));
        if (can_stop && static_cast<std::int64_t>(rows.size()) >= page_limit) break;
      }
    }
    if (const JsonValue* order = member(*params, "orderBy")) {
      if (!order->IsObject()) throw std::runtime_error("orderBy is not an object");
      for (auto it = order->MemberEnd(); it != order->MemberBegin();) {
        --it;
        std::string field = it->name.GetString();
        bool descending = it->value.IsString() && lower(it->value.GetString()) == "desc";
        std::stable_sort(rows.begin(), rows.end(), [&](const auto& a, const auto& b) {
          const JsonValue* fa = member(*a, field);
          const JsonValue* fb = member(*b, field);
          if (fb == nullptr) return false;
          if (fa == nullptr) return !descending;
          return descending ? matches(fa, ">", *fb) : matches(fa, "<", *fb);
        });
      }
    }
    std::int64_t offset = 0;
    std::int64_t limit = 0;
    if (const JsonValue* v = member(*params, "offset"); v != nullptr && v->IsInt64()) {
      offset = v->GetInt64();
    }
    if (const JsonValue* v = member(*params, "limit"); v != nullptr && v->IsInt64()) {
      limit = v->GetInt64();
    }
    auto begin = std::min<std::size_t>(static_cast<std::size_t>(std::max<std::int64_t>(offset, 0)),
                                       rows.size());
    auto end =
        limit > 0 ? std::min(rows.size(), begin + static_cast<std::size_t>(limit)) : rows.size();
    std::vector<std::string> select;
    if (const JsonValue* v = member(*params, "select"); v != nullptr && v->IsArray()) {
      for (const auto& s : v->GetArray()) {
        if (s.IsString() && std::string_view(s.GetString()) != "*")
          select.emplace_back(s.GetString());
      }
    }
    JsonWriter w;
    w.begin_object().field("entity", entity).field("action", action).field("version", 4);
    w.key("values").begin_array();
    for (std::size_t i = begin; i < end; ++i) {
      const auto& row = *rows[i];
      if (select.empty()) {
        w.value(static_cast<const JsonValue&>(row));
        continue;
      }
      // Api4SelectQuery always selects the id of the main entity.
      w.begin_object();
      if (std::find(select.begin(), select.end(), "id") == select.end()) {
        w.key("id").value(*member(row, "id"));
      }
      for (const auto& field : select) {
        w.key(field);
        if (const JsonValue* v = member(row, field)) {
          w.value(*v);
        } else {
          w.null();
        }
      }
      w.end_object();
    }
    w.end_array();
    auto count = static_cast<std::int64_t>(end - begin);
    w.field("count", count).field("countFetched", count).end_object();
    return w.take();
  } catch (const std::exception& e) {
    status = 500;
    return error_body(500, e.what());
  }
}

namespace civicrm {

std::string contact(std::int64_t id, std::string_view contact_type, std::string_view first_name,
                    std::string_view last_name, std::string_view email,
                    std::string_view modified_date, bool is_deleted) {
  // APIv4 answers NULL for an empty name and for a contact without a primary e-mail.
  auto text_or_null = [](JsonWriter& w, std::string_view key, std::string_view value) {
    w.key(key);
    if (value.empty()) {
      w.null();
    } else {
      w.value(value);
    }
  };
  JsonWriter w;
  w.begin_object().field("id", id).field("contact_type", contact_type);
  text_or_null(w, "first_name", first_name);
  text_or_null(w, "last_name", last_name);
  w.field("display_name", std::string(first_name) + " " + std::string(last_name))
      .field("is_deleted", is_deleted)
      .field("is_deceased", false)
      .field("do_not_email", false)
      .field("do_not_phone", false)
      .field("do_not_mail", false)
      .field("do_not_sms", false)
      .field("is_opt_out", false);
  text_or_null(w, "email_primary.email", email);
  w.field("address_primary.country_id:abbr", "DE")
      .field("modified_date", modified_date)
      .end_object();
  return w.take();
}

std::string contribution(std::int64_t id, std::int64_t contact_id, std::string_view total_amount,
                         std::string_view receive_date, std::string_view status_name,
                         std::string_view instrument_name, bool is_test) {
  JsonWriter w;
  w.begin_object().field("id", id).field("contact_id", contact_id);
  // APIv4 returns Money as a JSON number (FormattingUtil converts it to float).
  w.key("total_amount").raw(total_amount);
  w.field("currency", "EUR")
      .field("receive_date", receive_date)
      .field("contribution_status_id:name", status_name)
      .field("payment_instrument_id:name", instrument_name)
      .field("financial_type_id:name", "Donation")
      .field("is_test", is_test)
      .key("contribution_recur_id")
      .null()
      .key("campaign_id")
      .null()
      .key("cancel_date")
      .null()
      .end_object();
  return w.take();
}

std::string contribution_recur(std::int64_t id, std::int64_t contact_id, std::string_view amount,
                               std::string_view frequency_unit, int frequency_interval,
                               std::string_view modified_date) {
  JsonWriter w;
  w.begin_object().field("id", id).field("contact_id", contact_id);
  w.key("amount").raw(amount);
  w.field("currency", "EUR")
      .field("frequency_unit", frequency_unit)
      .field("frequency_interval", frequency_interval)
      .field("contribution_status_id:name", "In Progress")
      .field("modified_date", modified_date)
      .end_object();
  return w.take();
}

std::string campaign(std::int64_t id, std::string_view name, std::string_view title,
                     std::string_view last_modified_date) {
  JsonWriter w;
  w.begin_object()
      .field("id", id)
      .field("name", name)
      .field("title", title)
      .field("is_active", true)
      .field("last_modified_date", last_modified_date)
      .end_object();
  return w.take();
}

std::string group_contact(std::int64_t id, std::int64_t group_id, std::int64_t contact_id,
                          std::string_view status) {
  JsonWriter w;
  w.begin_object()
      .field("id", id)
      .field("group_id", group_id)
      .field("contact_id", contact_id)
      .field("status", status)
      .end_object();
  return w.take();
}

std::string subscription_history(std::int64_t id, std::int64_t group_id, std::int64_t contact_id,
                                 std::string_view status, std::string_view date) {
  JsonWriter w;
  w.begin_object()
      .field("id", id)
      .field("contact_id", contact_id)
      .field("group_id", group_id)
      .field("date", date)
      .field("method", "Admin")
      .field("status", status)
      .end_object();
  return w.take();
}

std::vector<std::string> merge_activity_targets(std::int64_t first_id, std::int64_t activity_id,
                                                std::int64_t survivor, std::int64_t merged) {
  auto target = [](std::int64_t id, std::int64_t activity, std::int64_t contact,
                   std::string_view type, std::optional<std::int64_t> parent) {
    JsonWriter w;
    w.begin_object()
        .field("id", id)
        .field("activity_id", activity)
        .field("contact_id", contact)
        .field("record_type_id", 3)
        .field("record_type_id:name", "Activity Targets")
        .field("activity_id.activity_type_id:name", type);
    w.key("activity_id.parent_id");
    if (parent) {
      w.value(*parent);
    } else {
      w.null();
    }
    w.end_object();
    return w.take();
  };
  return {target(first_id, activity_id, survivor, "Contact Merged", std::nullopt),
          target(first_id + 1, activity_id + 1, merged, "Contact Deleted by Merge", activity_id)};
}

}  // namespace civicrm
}  // namespace gabe::test
