// gabectl source add|set|rotate: webhook and pull sources, secrets and CiviCRM API keys
// through ingest's own code.
#include <termios.h>
#include <unistd.h>

#include <iostream>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "adapters.hpp"
#include "commands.hpp"
#include "sources.hpp"

namespace gabe::gabectl {

const char* const kOptInOptions =
    "[--email-optin-group G] [--phone-optin-group G] [--sms-optin-group G]";

std::string source_add_synopsis() {
  std::string names;
  for (auto n : ingest::source_adapter_names())
    names += (names.empty() ? "" : "|") + std::string(n);
  return "NAME --adapter " + names + " [--pull URL] " + kOptInOptions;
}

std::string source_set_synopsis() {
  return std::string("NAME [--pull URL] [--new-key] ") + kOptInOptions;
}

namespace {

// The CiviCRM API key, from standard input (never an argument: arguments are visible to every
// user of the machine in `ps` and land in shell histories). On a terminal it is asked for
// without echo; otherwise the first line is read.
std::string read_api_key() {
  const bool terminal = ::isatty(STDIN_FILENO) == 1;
  termios saved{};
  if (terminal) {
    std::cerr << "CiviCRM API key (not shown): " << std::flush;
    if (::tcgetattr(STDIN_FILENO, &saved) == 0) {
      termios quiet = saved;
      quiet.c_lflag &= ~static_cast<tcflag_t>(ECHO);
      ::tcsetattr(STDIN_FILENO, TCSANOW, &quiet);
    }
  }
  std::string key;
  std::getline(std::cin, key);
  if (terminal) {
    ::tcsetattr(STDIN_FILENO, TCSANOW, &saved);
    std::cerr << "\n";
  }
  const auto first = key.find_first_not_of(" \t\r\n");
  const auto last = key.find_last_not_of(" \t\r\n");
  key = first == std::string::npos ? "" : key.substr(first, last - first + 1);
  if (key.empty())
    throw UsageError("the CiviCRM API key is read from standard input, and it was empty");
  return key;
}

// spec/api.md's --email-optin-group G, --phone-optin-group G, --sms-optin-group G; an empty G
// (with `source set`) removes that channel's group.
std::vector<std::string> optin_specs(const Args& args) {
  std::vector<std::string> specs;
  for (const char* channel : {"email", "phone", "sms"}) {
    const std::string option = std::string(channel) + "-optin-group";
    if (args.all(option).size() > 1) throw UsageError("--" + option + " is given twice");
    if (auto group = args.get(option)) {
      specs.push_back(std::string(channel) + "=" + *group);
    }
  }
  return specs;
}

void print_optin_groups(const std::map<std::string, std::int64_t>& groups) {
  std::cout << "Opt-in groups:";
  for (const char* channel : {"email", "phone", "sms"}) {
    auto it = groups.find(channel);
    std::cout << " " << channel << "="
              << (it == groups.end() ? "none (no consent)" : std::to_string(it->second));
  }
  std::cout << "\n";
}

}  // namespace

int source_add(const Args& args) {
  const auto& name = args.operands().at(0);
  const auto adapter = args.get("adapter").value_or("generic");
  const auto optin = ingest::parse_optin_groups(optin_specs(args));
  std::optional<ingest::PullConfig> pull;
  if (auto url = args.get("pull")) {
    if (adapter != "civicrm") throw UsageError("--pull needs --adapter civicrm");
    ingest::validate_pull_config(url, std::nullopt);
    pull = ingest::PullConfig{*url, read_api_key()};
  }
  auto conn = connect_database();
  pqxx::work tx(conn);
  const auto secret = ingest::add_source(tx, name, adapter, operator_actor(), optin, pull);
  tx.commit();
  std::cout << "Source '" << name << "' (" << adapter << ") added.\n";
  if (adapter == "civicrm") {
    std::map<std::string, std::int64_t> groups;
    for (const auto& [channel, group] : optin)
      if (group) groups[channel] = *group;
    print_optin_groups(groups);
  }
  if (pull) {
    std::cout << "gabe-ingest fetches it from " << pull->url
              << " (first a full load; see GET /v1/sources/" << name << ").\n";
    return 0;
  }
  std::cout << "Its signing secret is shown only now:\n" << secret << "\n";
  return 0;
}

int source_set(const Args& args) {
  const auto& name = args.operands().at(0);
  const auto optin = ingest::parse_optin_groups(optin_specs(args));
  const auto url = args.get("pull");
  const bool new_key = args.has("new-key");
  if (optin.empty() && !url && !new_key)
    throw UsageError(
        "one of --pull, --new-key, --email-optin-group, --phone-optin-group, --sms-optin-group "
        "is required");
  if (url) ingest::validate_pull_config(url, std::nullopt);
  const std::optional<std::string> key =
      new_key ? std::optional<std::string>(read_api_key()) : std::nullopt;
  auto conn = connect_database();
  pqxx::work tx(conn);
  std::map<std::string, std::int64_t> groups;
  if (!optin.empty()) groups = ingest::set_source_optin_groups(tx, name, optin, operator_actor());
  if (url || key) ingest::set_source_pull(tx, name, url, key, operator_actor());
  tx.commit();
  std::cout << "Source '" << name << "' changed.";
  if (url) std::cout << " Fetched from " << *url << ".";
  if (key) std::cout << " New API key stored.";
  std::cout << "\n";
  if (!optin.empty()) print_optin_groups(groups);
  return 0;
}

int source_rotate(const Args& args) {
  const auto& name = args.operands().at(0);
  auto conn = connect_database();
  pqxx::work tx(conn);
  if (args.has("retire-old")) {
    const auto n = ingest::retire_old_source_secrets(tx, name, operator_actor());
    tx.commit();
    std::cout << "Retired " << n << " older secret(s) of '" << name << "'.\n";
    return 0;
  }
  const auto secret = ingest::rotate_source_secret(tx, name, operator_actor());
  tx.commit();
  std::cout << "New secret for '" << name
            << "' (the old ones stay valid until --retire-old), shown only now:\n"
            << secret << "\n";
  return 0;
}

}  // namespace gabe::gabectl
