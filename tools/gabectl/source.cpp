// gabectl source add|rotate: webhook sources and secrets through ingest's own code.
#include <iostream>
#include <map>
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
  return "NAME --adapter " + names + " " + kOptInOptions;
}

namespace {

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
  auto conn = connect_database();
  pqxx::work tx(conn);
  const auto secret = ingest::add_source(tx, name, adapter, operator_actor(), optin);
  tx.commit();
  std::cout << "Source '" << name << "' (" << adapter << ") added.\n";
  if (adapter == "civicrm") {
    std::map<std::string, std::int64_t> groups;
    for (const auto& [channel, group] : optin)
      if (group) groups[channel] = *group;
    print_optin_groups(groups);
  }
  std::cout << "Its signing secret is shown only now:\n" << secret << "\n";
  return 0;
}

int source_set(const Args& args) {
  const auto& name = args.operands().at(0);
  const auto optin = ingest::parse_optin_groups(optin_specs(args));
  if (optin.empty())
    throw UsageError(
        "one of --email-optin-group, --phone-optin-group, --sms-optin-group is required");
  auto conn = connect_database();
  pqxx::work tx(conn);
  const auto groups = ingest::set_source_optin_groups(tx, name, optin, operator_actor());
  tx.commit();
  std::cout << "Source '" << name << "' changed. ";
  print_optin_groups(groups);
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
