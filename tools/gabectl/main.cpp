// gabectl: the operator's command line. Every command reads GABE_DATABASE_URL (except
// demo-data) and prints a secret, where it makes one, alone on the last line of stdout.
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iostream>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "demo_data.hpp"
#include "event_store.hpp"
#include "gabe/auth.hpp"
#include "gabe/config.hpp"
#include "gabe/http.hpp"
#include "gabe/json.hpp"
#include "gabe/migrations.hpp"
#include "gabe/problem.hpp"
#include "gabe/service.hpp"
#include "gabe/values.hpp"
#include "importer.hpp"
#include "ndjson.hpp"
#include "purge.hpp"

namespace {

constexpr const char* kUsage = R"(Usage: gabectl COMMAND [OPTIONS]

Commands:
  migrate [--status]                          apply missing migrations (idempotent), or list them
  token create --role admin|fundraiser|viewer --name NAME
                                              create an API token; printed once, on the last line
  token revoke --name NAME                    revoke the active tokens of that name
  source add NAME --adapter generic|civicrm   register a webhook source; prints its whsec_ secret
  source rotate NAME [--retire-old]           add a new secret (old ones stay valid), or retire
                                              all but the newest
  demo-data --donors N [--seed S] [--source NAME] [--end-date YYYY-MM-DD] [--years Y]
                                              write canonical NDJSON demo events to stdout
  import FILE --source NAME                   bulk import canonical NDJSON (FILE or - for stdin)
  purge [--older-than-days N]                 delete raw inbox events older than N days (default
                                              GABE_RETENTION_DAYS, 90); for a CronJob

Environment:
  GABE_DATABASE_URL   libpq URI or conninfo (all commands but demo-data)
)";

class Args {
 public:
  Args(int argc, char** argv, int from) {
    for (int i = from; i < argc; ++i) {
      std::string a = argv[i];
      if (a.rfind("--", 0) == 0) {
        auto eq = a.find('=');
        if (eq != std::string::npos) {
          options_[a.substr(2, eq - 2)] = a.substr(eq + 1);
        } else if (i + 1 < argc && std::strncmp(argv[i + 1], "--", 2) != 0 &&
                   !is_flag(a.substr(2))) {
          options_[a.substr(2)] = argv[++i];
        } else {
          options_[a.substr(2)] = "";
        }
      } else {
        positional_.push_back(a);
      }
    }
  }
  std::optional<std::string> get(const std::string& k) const {
    auto it = options_.find(k);
    return it == options_.end() ? std::nullopt : std::optional<std::string>(it->second);
  }
  std::string need(const std::string& k) const {
    auto v = get(k);
    if (!v || v->empty()) throw std::invalid_argument("--" + k + " is required");
    return *v;
  }
  bool has(const std::string& k) const { return options_.count(k) > 0; }
  const std::vector<std::string>& positional() const { return positional_; }

 private:
  static bool is_flag(const std::string& name) { return name == "status" || name == "retire-old"; }
  std::map<std::string, std::string> options_;
  std::vector<std::string> positional_;
};

// {"<key>": n}, the details of an audit entry that counts something.
std::string count_details(const char* key, int n) {
  gabe::JsonWriter w;
  w.begin_object().field(key, n).end_object();
  return w.take();
}

std::string actor() {
  const char* user = std::getenv("USER");
  return std::string("gabectl:") + (user ? user : "unknown");
}

pqxx::connection connect() {
  return pqxx::connection(gabe::config::required("GABE_DATABASE_URL"));
}

int cmd_migrate(const Args& args) {
  auto conn = connect();
  if (args.has("status")) {
    for (const auto& s : gabe::migrations::status(conn)) {
      std::cout << s.version << "_" << s.name << "\t"
                << (s.applied
                        ? (s.checksum_matches ? "applied " + s.applied_at : "CHANGED AFTER APPLY")
                        : "pending")
                << "\n";
    }
    return 0;
  }
  int n = gabe::migrations::apply(conn, std::cout);
  std::cout << (n == 0 ? "up to date" : "done") << " at version "
            << gabe::migrations::latest_version() << "\n";
  return 0;
}

int cmd_token_revoke(const Args& args) {
  const auto name = args.need("name");
  auto conn = connect();
  pqxx::work tx(conn);
  auto n =
      tx.exec_params(
            "UPDATE gabe.api_tokens SET revoked_at = now() WHERE name = $1 AND revoked_at IS NULL",
            name)
          .affected_rows();
  if (n == 0) throw std::invalid_argument("no active token named '" + name + "'");
  gabe::record_audit(tx, "gabectl", actor(), "token.revoke", "token:" + name,
                     count_details("revoked", static_cast<int>(n)));
  tx.commit();
  std::cout << "Revoked " << n << " token(s) named '" << name
            << "' (services notice within 5 s).\n";
  return 0;
}

int cmd_token(const Args& args) {
  if (args.positional().size() >= 2 && args.positional()[1] == "revoke")
    return cmd_token_revoke(args);
  if (args.positional().size() < 2 || args.positional()[1] != "create")
    throw std::invalid_argument("usage: token create|revoke");
  const auto role = gabe::parse_role(args.need("role"));
  if (!role) throw std::invalid_argument("--role must be admin, fundraiser or viewer");
  const auto name = args.need("name");
  const auto token = gabe::auth::generate_token();
  auto conn = connect();
  pqxx::work tx(conn);
  tx.exec_params(
      "INSERT INTO gabe.api_tokens (name, role, token_hash) VALUES ($1, $2, decode($3, 'hex'))",
      name, std::string(gabe::role_name(*role)), gabe::auth::token_hash_hex(token));
  gabe::JsonWriter d;
  d.begin_object().field("name", name).field("role", gabe::role_name(*role)).end_object();
  gabe::record_audit(tx, "gabectl", actor(), "token.create", "token:" + name, d.take());
  tx.commit();
  std::cout << "Created " << gabe::role_name(*role) << " token '" << name
            << "'. It is shown only now:\n"
            << token << "\n";
  return 0;
}

int cmd_source(const Args& args) {
  const auto& p = args.positional();
  if (p.size() < 3)
    throw std::invalid_argument("usage: source add NAME --adapter A | source rotate NAME");
  const auto& name = p[2];
  auto conn = connect();
  pqxx::work tx(conn);
  if (p[1] == "add") {
    const auto adapter = args.get("adapter").value_or("generic");
    if (adapter != "generic" && adapter != "civicrm")
      throw std::invalid_argument("--adapter must be generic or civicrm");
    if (!tx.exec_params("SELECT 1 FROM ingest.sources WHERE name = $1", name).empty()) {
      throw std::invalid_argument("source '" + name + "' exists already (use source rotate)");
    }
    tx.exec_params("INSERT INTO ingest.sources (name, adapter) VALUES ($1, $2)", name, adapter);
    const auto secret = gabe::auth::generate_webhook_secret();
    tx.exec_params("INSERT INTO ingest.source_secrets (source, secret) VALUES ($1, $2)", name,
                   secret);
    gabe::JsonWriter d;
    d.begin_object().field("adapter", adapter).end_object();
    gabe::record_audit(tx, "ingest", actor(), "source.add", "source:" + name, d.take());
    tx.commit();
    std::cout << "Source '" << name << "' (" << adapter
              << ") added. Its signing secret is shown only now:\n"
              << secret << "\n";
    return 0;
  }
  if (p[1] == "rotate") {
    if (tx.exec_params("SELECT 1 FROM ingest.sources WHERE name = $1", name).empty()) {
      throw std::invalid_argument("no source '" + name + "'");
    }
    if (args.has("retire-old")) {
      auto n = tx.exec_params(
                     "UPDATE ingest.source_secrets SET retired_at = now() WHERE source = $1 AND "
                     "retired_at IS NULL "
                     "AND id < (SELECT max(id) FROM ingest.source_secrets WHERE source = $1)",
                     name)
                   .affected_rows();
      gabe::record_audit(tx, "ingest", actor(), "source.retire_old", "source:" + name,
                         count_details("retired", static_cast<int>(n)));
      tx.commit();
      std::cout << "Retired " << n << " older secret(s) of '" << name << "'.\n";
      return 0;
    }
    const auto secret = gabe::auth::generate_webhook_secret();
    tx.exec_params("INSERT INTO ingest.source_secrets (source, secret) VALUES ($1, $2)", name,
                   secret);
    gabe::record_audit(tx, "ingest", actor(), "source.rotate", "source:" + name, "{}");
    tx.commit();
    std::cout << "New secret for '" << name
              << "' (the old ones stay valid until --retire-old), shown only now:\n"
              << secret << "\n";
    return 0;
  }
  throw std::invalid_argument("usage: source add|rotate NAME");
}

std::uint64_t parse_count(const std::string& text, const char* what) {
  char* end = nullptr;
  auto v = std::strtoull(text.c_str(), &end, 10);
  if (text.empty() || *end != '\0')
    throw std::invalid_argument(std::string(what) + " must be a whole number");
  return v;
}

int cmd_demo_data(const Args& args) {
  gabe::demo::Options o;
  o.donors = parse_count(args.need("donors"), "--donors");
  o.seed = parse_count(args.get("seed").value_or("1"), "--seed");
  o.source = args.get("source").value_or("demo");
  o.end_date = args.get("end-date").value_or(o.end_date);
  o.years = static_cast<int>(parse_count(args.get("years").value_or("3"), "--years"));
  if (!gabe::is_valid_date(o.end_date))
    throw std::invalid_argument("--end-date must be YYYY-MM-DD");
  if (o.years < 1 || o.years > 20) throw std::invalid_argument("--years must be from 1 to 20");
  auto n = gabe::demo::write_demo_data(o, stdout);
  std::fflush(stdout);
  std::cerr << "wrote " << n << " events\n";
  return 0;
}

int cmd_import(const Args& args) {
  if (args.positional().size() < 2) throw std::invalid_argument("usage: import FILE --source NAME");
  const auto file = args.positional()[1];
  const auto source = args.need("source");
  std::FILE* in = file == "-" ? stdin : std::fopen(file.c_str(), "rb");
  if (!in) throw std::invalid_argument("cannot open " + file);
  auto conn = connect();
  gabe::ingest::prepare_ingest_connection(conn);
  auto sources = gabe::ingest::load_sources(conn);
  if (!sources.count(source))
    throw std::invalid_argument("no source '" + source + "' (gabectl source add)");

  gabe::ingest::Importer importer(
      [&conn](const std::vector<gabe::ingest::CanonicalEvent>& events) {
        return gabe::ingest::apply_events(conn, events);
      },
      [&sources](const std::string& s) { return sources.count(s) > 0; }, source,
      gabe::now_instant());
  gabe::ingest::LineSplitter splitter(1 << 20,
                                      [&](std::string_view line, std::size_t n, bool too_long) {
                                        importer.line(line, n, too_long);
                                      });
  std::vector<char> buffer(1 << 20);
  while (std::size_t n = std::fread(buffer.data(), 1, buffer.size(), in))
    splitter.feed({buffer.data(), n});
  splitter.finish();
  if (in != stdin) std::fclose(in);
  const auto& summary = importer.finish();
  std::cout << summary.to_json() << "\n";
  return summary.rejected == 0 ? 0 : 3;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2 || std::strcmp(argv[1], "--help") == 0 || std::strcmp(argv[1], "-h") == 0) {
    std::cout << kUsage;
    return argc < 2 ? 2 : 0;
  }
  const std::string command = argv[1];
  Args args(argc, argv, 1);
  try {
    if (command == "migrate") return cmd_migrate(args);
    if (command == "token") return cmd_token(args);
    if (command == "source") return cmd_source(args);
    if (command == "demo-data") return cmd_demo_data(args);
    if (command == "import") return cmd_import(args);
    if (command == "purge") return gabe::ctl::purge(args.get("older-than-days"), actor());
    std::cerr << "gabectl: unknown command '" << command << "' (see --help)\n";
    return 2;
  } catch (const std::invalid_argument& e) {
    std::cerr << "gabectl " << command << ": " << e.what() << "\n";
    return 2;
  } catch (const gabe::ConfigError& e) {
    std::cerr << "gabectl: configuration error: " << e.what() << "\n";
    return 2;
  } catch (const gabe::Problem& e) {
    std::cerr << "gabectl " << command << ": " << e.detail() << "\n";
    return 1;
  } catch (const std::exception& e) {
    std::cerr << "gabectl " << command << ": " << e.what() << "\n";
    return 1;
  }
}
