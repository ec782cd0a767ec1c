// gabectl migrate: the migration runner of shared/ against GABE_DATABASE_URL.
#include <iostream>

#include "commands.hpp"
#include "gabe/migrations.hpp"

namespace gabe::gabectl {

int migrate(const Args& args) {
  auto conn = connect_database();
  if (args.has("status")) {
    for (const auto& s : migrations::status(conn)) {
      std::cout << s.version << "_" << s.name << "\t"
                << (s.applied
                        ? (s.checksum_matches ? "applied " + s.applied_at : "CHANGED AFTER APPLY")
                        : "pending")
                << "\n";
    }
    for (const auto& f : migrations::function_status(conn)) {
      std::cout << "function " << f.name << "\t"
                << (f.state == "pending" ? f.state : f.state + " " + f.applied_at) << "\n";
    }
    return 0;
  }
  int n = migrations::apply(conn, std::cout);
  std::cout << (n == 0 ? "up to date" : "done") << " at version " << migrations::latest_version()
            << "\n";
  return 0;
}

}  // namespace gabe::gabectl
