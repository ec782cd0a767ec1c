// gabectl source add|rotate: webhook sources and secrets through ingest's own code.
#include <iostream>

#include "adapters.hpp"
#include "commands.hpp"
#include "sources.hpp"

namespace gabe::gabectl {

std::string source_add_synopsis() {
  std::string names;
  for (auto n : ingest::source_adapter_names())
    names += (names.empty() ? "" : "|") + std::string(n);
  return "NAME --adapter " + names;
}

int source_add(const Args& args) {
  const auto& name = args.operands().at(0);
  const auto adapter = args.get("adapter").value_or("generic");
  auto conn = connect_database();
  pqxx::work tx(conn);
  const auto secret = ingest::add_source(tx, name, adapter, operator_actor());
  tx.commit();
  std::cout << "Source '" << name << "' (" << adapter
            << ") added. Its signing secret is shown only now:\n"
            << secret << "\n";
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
