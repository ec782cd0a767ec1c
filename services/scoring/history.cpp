#include "history.hpp"

#include <algorithm>
#include <charconv>
#include <string_view>
#include <tuple>
#include <vector>

#include <pqxx/stream_from>

namespace gabe::scoring {

namespace {

// The fields of one COPY text line (tab-separated; \N is NULL). Our columns are numbers,
// booleans and dates as numbers, so no field carries escapes.
class Fields {
 public:
  explicit Fields(const std::string& line) : rest_(line) {
    if (!rest_.empty() && rest_.back() == '\n') rest_.remove_suffix(1);
  }
  std::string_view next() {
    const auto tab = rest_.find('\t');
    auto f = rest_.substr(0, tab);
    rest_ = tab == std::string_view::npos ? std::string_view{} : rest_.substr(tab + 1);
    return f;
  }
  std::int64_t integer() {
    const auto f = next();
    std::int64_t v = 0;
    std::from_chars(f.data(), f.data() + f.size(), v);
    return v;
  }
  std::optional<std::int64_t> optional_integer() {
    const auto f = next();
    if (f == "\\N") return std::nullopt;
    std::int64_t v = 0;
    std::from_chars(f.data(), f.data() + f.size(), v);
    return v;
  }
  bool boolean() { return next() == "t"; }

 private:
  std::string_view rest_;
};

// libpqxx 6 copies "COPY <name> TO STDOUT": a parenthesised query in place of the table name
// streams its rows. Its parameters come from set_config (current_setting), so the SQL stays
// fixed text.
void stream_query(pqxx::transaction_base& tx, const std::string& query,
                  const std::function<void(const std::string&)>& line_fn) {
  pqxx::stream_from stream(tx, "(" + query + ")");
  std::string line;
  while (stream.get_raw_line(line)) line_fn(line);
  stream.complete();
}

constexpr const char* kDonorsQuery =
    "SELECT id, erased_at IS NOT NULL, profiling_objection FROM donor.donors "
    "WHERE merged_into IS NULL ORDER BY id";
constexpr const char* kRecurringQuery =
    "SELECT donor_id, amount_cents, interval, status = 'active', started_on - DATE '1970-01-01', "
    "cancelled_on - DATE '1970-01-01', (updated_at AT TIME ZONE 'Europe/Berlin')::date - DATE "
    "'1970-01-01' FROM donor.recurring ORDER BY donor_id, id";
constexpr const char* kAppealsQuery =
    "SELECT donor_id, sent_on - DATE '1970-01-01' FROM donor.appeals "
    "WHERE sent_on <= current_setting('gabe.until')::date";
constexpr const char* kGiftsQuery =
    "SELECT donor_id, received_on - DATE '1970-01-01', amount_cents, "
    "(coalesce(channel, '') = 'online')::int + 2 * (campaign_ref IS NOT NULL)::int + "
    "4 * (recurring_ref IS NOT NULL)::int "
    "FROM donor.gifts WHERE status = 'completed' AND received_on <= "
    "current_setting('gabe.until')::date";

std::int64_t monthly_cents(std::string_view interval, std::int64_t cents) {
  if (interval == "quarterly") return cents / 3;
  if (interval == "half_yearly") return cents / 6;
  if (interval == "yearly") return cents / 12;
  return cents;
}

std::uint64_t mix(std::uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

}  // namespace

bool Shard::contains(std::int64_t donor_id) const {
  return count <= 1 ||
         mix(static_cast<std::uint64_t>(donor_id)) % static_cast<std::uint64_t>(count) ==
             static_cast<std::uint64_t>(index);
}

void for_each_donor(pqxx::transaction_base& tx, Day until, const Shard& shard,
                    const std::function<void(const DonorHistory&, const DonorState&)>& visit) {
  tx.exec_params("SELECT set_config('gabe.until', $1, true)", format_day(until));

  struct DonorRow {
    std::int64_t id;
    DonorState state;
  };
  std::vector<DonorRow> donors;
  stream_query(tx, kDonorsQuery, [&](const std::string& line) {
    Fields f(line);
    const auto id = f.integer();
    if (!shard.contains(id)) return;
    DonorRow row{id, {}};
    row.state.erased = f.boolean();
    row.state.profiling_objection = f.boolean();
    donors.push_back(row);
  });

  std::vector<std::pair<std::int64_t, RecurringRecord>> recurring;
  stream_query(tx, kRecurringQuery, [&](const std::string& line) {
    Fields f(line);
    const auto id = f.integer();
    if (!shard.contains(id)) return;
    RecurringRecord r;
    const auto cents = f.integer();
    r.monthly_cents = monthly_cents(f.next(), cents);
    r.status_active = f.boolean();
    if (auto s = f.optional_integer()) r.started = static_cast<Day>(*s);
    if (auto c = f.optional_integer()) r.cancelled = static_cast<Day>(*c);
    r.status_day = static_cast<Day>(f.integer());
    recurring.emplace_back(id, r);
  });

  // Appeals and gifts come unordered (a sequential scan) and are sorted here: ordering ten
  // million gifts in PostgreSQL costs an index scan of random heap reads or a disk sort.
  std::vector<std::pair<std::int64_t, Day>> appeals;
  stream_query(tx, kAppealsQuery, [&](const std::string& line) {
    Fields f(line);
    const auto id = f.integer();
    if (!shard.contains(id)) return;
    appeals.emplace_back(id, static_cast<Day>(f.integer()));
  });
  std::sort(appeals.begin(), appeals.end());
  std::vector<std::int64_t> appeal_donor;
  std::vector<Day> appeal_day;
  appeal_donor.reserve(appeals.size());
  appeal_day.reserve(appeals.size());
  for (const auto& [id, day] : appeals) {
    appeal_donor.push_back(id);
    appeal_day.push_back(day);
  }
  appeals = {};

  struct GiftRow {
    std::int64_t donor;
    std::int64_t cents;
    Day day;
    std::uint8_t flags;
  };
  std::vector<GiftRow> rows;
  stream_query(tx, kGiftsQuery, [&](const std::string& line) {
    Fields f(line);
    const auto id = f.integer();
    if (!shard.contains(id)) return;
    GiftRow g{id, 0, 0, 0};
    g.day = static_cast<Day>(f.integer());
    g.cents = f.integer();
    g.flags = static_cast<std::uint8_t>(f.integer());
    rows.push_back(g);
  });
  // By donor and day; the rest only makes the order of same-day gifts a function of the data.
  std::sort(rows.begin(), rows.end(), [](const GiftRow& a, const GiftRow& b) {
    return std::tie(a.donor, a.day, a.cents, a.flags) < std::tie(b.donor, b.day, b.cents, b.flags);
  });

  std::size_t next_donor = 0, next_recurring = 0, next_appeal = 0;
  std::vector<RecurringRecord> donor_recurring;
  std::vector<GiftRecord> gifts;
  std::int64_t current = -1;
  const auto flush = [&] {
    if (current < 0 || gifts.empty()) return;
    while (next_donor < donors.size() && donors[next_donor].id < current) ++next_donor;
    if (next_donor >= donors.size() || donors[next_donor].id != current) return;  // merged
    donor_recurring.clear();
    while (next_recurring < recurring.size() && recurring[next_recurring].first < current)
      ++next_recurring;
    while (next_recurring < recurring.size() && recurring[next_recurring].first == current)
      donor_recurring.push_back(recurring[next_recurring++].second);
    while (next_appeal < appeal_donor.size() && appeal_donor[next_appeal] < current) ++next_appeal;
    const auto appeals_begin = next_appeal;
    while (next_appeal < appeal_donor.size() && appeal_donor[next_appeal] == current) ++next_appeal;
    DonorHistory h;
    h.donor_id = current;
    h.gifts = gifts;
    h.appeals =
        std::span<const Day>(appeal_day.data() + appeals_begin, next_appeal - appeals_begin);
    h.recurring = donor_recurring;
    visit(h, donors[next_donor].state);
  };
  for (const auto& r : rows) {
    if (r.donor != current) {
      flush();
      gifts.clear();
      current = r.donor;
    }
    GiftRecord g;
    g.day = r.day;
    g.cents = r.cents;
    g.flags = r.flags;
    gifts.push_back(g);
  }
  flush();
}

std::unordered_map<std::int64_t, AuditGroups> load_audit_attributes(pqxx::transaction_base& tx) {
  std::unordered_map<std::int64_t, AuditGroups> out;
  for (const auto& row : tx.exec("SELECT donor_id, gender, age_band FROM donor.audit_attributes")) {
    AuditGroups g;
    if (!row[1].is_null()) g.gender = row[1].c_str();
    if (!row[2].is_null()) g.age_band = row[2].c_str();
    out.emplace(row[0].as<std::int64_t>(), std::move(g));
  }
  return out;
}

}  // namespace gabe::scoring
