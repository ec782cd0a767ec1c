#include "service_fixture.hpp"

#include <errno.h>  // program_invocation_short_name

#include <cctype>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <mutex>
#include <stdexcept>
#include <thread>

#include "webhook_signature.hpp"

namespace gabe::test {

namespace {

std::unique_ptr<PostgresCluster> g_cluster;
RoleTokens g_tokens;
std::once_flag g_cluster_once;

std::string make_token(const std::string& url, const std::string& role, const std::string& name) {
  std::string out, err;
  if (run_command(bin_dir() + "/gabectl", {"token", "create", "--role", role, "--name", name},
                  {{"GABE_DATABASE_URL", url}}, &out, &err) != 0) {
    throw std::runtime_error("gabectl token create failed: " + err);
  }
  return last_line(out);
}

void start_cluster() {
  const char* state = std::getenv("GABE_TEST_CLUSTER");
  if (state && *state) {
    auto s = read_cluster_state(state);
    g_cluster = std::make_unique<PostgresCluster>(
        s.at("dir"), static_cast<std::uint16_t>(std::stoi(s.at("port"))), false);
    g_tokens = {s.at("admin"), s.at("fundraiser"), s.at("viewer")};
    return;
  }
  g_cluster = std::make_unique<PostgresCluster>();
  g_tokens = make_template(*g_cluster);
}

// The test's database name: t_<suite>_<test> in lower case, cut to 50 characters, and a hash of
// the binary, suite and test, so that no two tests share a database when they run in parallel
// (tests of different binaries may have the same names; long names agree in the first 50).
std::string database_name_of_test() {
  const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
  const std::string full = std::string(program_invocation_short_name) + "." +
                           info->test_suite_name() + "." + info->name();
  std::string name = std::string("t_") + info->test_suite_name() + "_" + info->name();
  for (auto& c : name)
    c = static_cast<char>(std::isalnum(static_cast<unsigned char>(c)) ? std::tolower(c) : '_');
  std::uint32_t hash = 2166136261u;  // FNV-1a
  for (unsigned char c : full) hash = (hash ^ c) * 16777619u;
  char suffix[10];
  std::snprintf(suffix, sizeof suffix, "_%08x", hash);
  return name.substr(0, 50) + suffix;
}

// Cluster-wide changes (roles) are rows of shared catalogs: two sessions changing one row at
// once fail with "tuple concurrently updated". Tests in parallel take this advisory lock (in
// the database "postgres", so that it is one lock for the whole cluster) around them.
constexpr long kClusterWideChangeLock = 4242001;

void allow_login(pqxx::connection& c, const std::string& role) {
  pqxx::work tx(c);
  tx.exec("SELECT pg_advisory_xact_lock(" + std::to_string(kClusterWideChangeLock) + ")");
  auto r = tx.exec_params("SELECT rolcanlogin FROM pg_roles WHERE rolname = $1", role);
  if (r.empty()) throw std::runtime_error("no role " + role);
  if (!r[0][0].as<bool>()) tx.exec("ALTER ROLE " + tx.quote_name(role) + " LOGIN");
  tx.commit();
}

}  // namespace

RoleTokens make_template(PostgresCluster& cluster) {
  {
    pqxx::connection c(cluster.url());
    pqxx::nontransaction tx(c);
    tx.exec("CREATE DATABASE " + tx.quote_name(kTemplateDatabase));
  }
  const std::string url = cluster.url(kTemplateDatabase);
  std::string out, err;
  if (run_command(bin_dir() + "/gabectl", {"migrate"}, {{"GABE_DATABASE_URL", url}}, &out, &err) !=
      0) {
    throw std::runtime_error("gabectl migrate failed: " + err);
  }
  // Every role the migrations made may log in, once, before tests run in parallel: tests
  // connect as a service's role (login_role, as_role) without changing shared catalogs.
  {
    pqxx::connection c(cluster.url());
    pqxx::nontransaction tx(c);
    for (const auto& row : tx.exec("SELECT rolname FROM pg_roles WHERE rolname LIKE 'gabe\\_%' "
                                   "AND NOT rolcanlogin"))
      tx.exec("ALTER ROLE " + tx.quote_name(row[0].c_str()) + " LOGIN");
  }
  return {make_token(url, "admin", "ops"), make_token(url, "fundraiser", "fundraiser"),
          make_token(url, "viewer", "reader")};
}

PostgresCluster& cluster() {
  std::call_once(g_cluster_once, start_cluster);
  return *g_cluster;
}

const RoleTokens& template_tokens() {
  cluster();
  return g_tokens;
}

void shutdown_cluster() {
  g_cluster.reset();
}

void write_cluster_state(const std::string& file, const PostgresCluster& cluster,
                         const RoleTokens& tokens) {
  std::ofstream out(file, std::ios::trunc);
  out << "dir=" << cluster.dir() << "\nport=" << cluster.port() << "\nadmin=" << tokens.admin
      << "\nfundraiser=" << tokens.fundraiser << "\nviewer=" << tokens.viewer << "\n";
  if (!out.flush()) throw std::runtime_error("cannot write " + file);
}

std::map<std::string, std::string> read_cluster_state(const std::string& file) {
  std::ifstream in(file);
  if (!in)
    throw std::runtime_error("no test cluster state in " + file +
                             " (started by the CTest fixture e2e_cluster)");
  std::map<std::string, std::string> state;
  std::string line;
  while (std::getline(in, line)) {
    auto eq = line.find('=');
    if (eq != std::string::npos) state[line.substr(0, eq)] = line.substr(eq + 1);
  }
  return state;
}

std::string last_line(const std::string& text) {
  auto end = text.find_last_not_of('\n');
  if (end == std::string::npos) return "";
  auto start = text.rfind('\n', end);
  start = start == std::string::npos ? 0 : start + 1;
  return text.substr(start, end - start + 1);
}

bool wait_until(const std::function<bool()>& done, std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!done()) {
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return true;
}

std::unique_ptr<rapidjson::Document> json(const HttpResponse& r) {
  return parse_json(r.body);
}

HttpResponse signed_post(HttpClient& client, const std::string& target, const std::string& secret,
                         const std::string& id, const std::string& body, long timestamp_offset) {
  const auto now = std::chrono::duration_cast<std::chrono::seconds>(
                       std::chrono::system_clock::now().time_since_epoch())
                       .count() +
                   timestamp_offset;
  return client.request("POST", target,
                        {{"webhook-id", id},
                         {"webhook-timestamp", std::to_string(now)},
                         {"webhook-signature", ingest::sign_webhook(secret, id, now, body)}},
                        body);
}

HttpResponse send_webhook(HttpClient& client, const std::string& secret, const std::string& id,
                          const std::string& body, const std::string& source,
                          long timestamp_offset) {
  return signed_post(client, "/v1/webhooks/" + source, secret, id, body, timestamp_offset);
}

ServiceTest::ServiceTest(std::string name, std::map<std::string, std::string> settings)
    : service_name_(std::move(name)), settings_(std::move(settings)) {}

void ServiceTest::SetUp() {
  RoleTokens tokens;
  if (own_cluster_) {
    // Its tests stop, pause or restart PostgreSQL: committed data is on disk.
    private_cluster_ = std::make_unique<PostgresCluster>(Durability::durable);
    tokens = make_template(*private_cluster_);
    cluster_ = private_cluster_.get();
  } else {
    cluster_ = &cluster();
    tokens = template_tokens();
  }
  db_name_ = database_name_of_test();
  {
    pqxx::connection c(cluster_->url());
    pqxx::nontransaction tx(c);
    tx.exec("DROP DATABASE IF EXISTS " + tx.quote_name(db_name_) + " WITH (FORCE)");
    // FILE_COPY: a copy of the files, not of every page through the WAL (half the time).
    tx.exec("CREATE DATABASE " + tx.quote_name(db_name_) + " TEMPLATE " +
            tx.quote_name(kTemplateDatabase) + " STRATEGY FILE_COPY");
  }
  url_ = cluster_->url(db_name_);
  admin_token_ = tokens.admin;
  fundraiser_token_ = tokens.fundraiser;
  viewer_token_ = tokens.viewer;
  prepare_database();
  if (HasFatalFailure()) return;
  service_ = std::make_unique<Service>("gabe-" + service_name_, url_, settings_);
  client_ = std::make_unique<HttpClient>(service_->port());
}

void ServiceTest::TearDown() {
  client_.reset();
  service_.reset();
  if (private_cluster_) {
    private_cluster_.reset();
  } else if (cluster_ && !db_name_.empty()) {
    // The shared cluster holds only the databases of the tests running now (it lives in
    // memory when it can, tests/support/postgres.cpp).
    try {
      pqxx::connection c(cluster_->url());
      pqxx::nontransaction tx(c);
      tx.exec("DROP DATABASE IF EXISTS " + tx.quote_name(db_name_) + " WITH (FORCE)");
    } catch (const std::exception& e) {
      ADD_FAILURE() << "cannot drop the test database " << db_name_ << ": " << e.what();
    }
  }
}

int ServiceTest::gabectl(const std::vector<std::string>& args, std::string* out, std::string* err,
                         const std::string& stdin_file) {
  return run_command(bin_dir() + "/gabectl", args, {{"GABE_DATABASE_URL", url_}}, out, err,
                     stdin_file);
}

HttpResponse ServiceTest::get(const std::string& target, const std::string& token) {
  return client_->get(target, token.empty() ? admin_token_ : token);
}

HttpResponse ServiceTest::admin(const std::string& method, const std::string& target,
                                const std::string& body) {
  return client_->request(method, target, {{"Authorization", "Bearer " + admin_token_}}, body);
}

std::string ServiceTest::scalar(const std::string& sql) {
  pqxx::connection c(url_);
  pqxx::nontransaction tx(c);
  auto r = tx.exec(sql);
  if (r.empty() || r[0][0].is_null()) return "";
  return r[0][0].c_str();
}

void ServiceTest::login_role(const std::string& role) {
  pqxx::connection c(cluster_->url());
  allow_login(c, role);
}

std::string ServiceTest::as_role(const std::string& role, const std::string& sql) {
  // No login_role() here: the template already lets every gabe_* role log in (make_template).
  try {
    pqxx::connection c("postgresql://" + role + "@127.0.0.1:" + std::to_string(cluster_->port()) +
                       "/" + db_name_);
    pqxx::nontransaction tx(c);
    tx.exec(sql);
    return "ok";
  } catch (const pqxx::insufficient_privilege&) {
    return "42501";  // libpqxx 6.4 leaves sqlstate() empty on its typed errors
  } catch (const pqxx::sql_error& e) {
    return e.what();
  }
}

}  // namespace gabe::test
