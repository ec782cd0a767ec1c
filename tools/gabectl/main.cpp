// gabectl: the operator's command line, a thin client of library code. Every command reads
// GABE_DATABASE_URL (except demo-data) and prints a secret, where it makes one, alone on the
// last line of stdout. A new command is a file with its function (declared in commands.hpp)
// and one line in the registry below; dispatch, options and --help follow from that line.
#include <iostream>

#include "commands.hpp"

namespace {

using gabe::gabectl::Command;

const std::vector<Command>& registry() {
  namespace c = gabe::gabectl;
  static const std::vector<Command> commands = {
      {"migrate", "[--status]", "apply missing migrations (idempotent), or list them", &c::migrate},
      {"token create", "--role admin|fundraiser|viewer --name NAME",
       "create an API token; printed once, on the last line", &c::token_create},
      {"token revoke", "--name NAME", "revoke the active tokens of that name", &c::token_revoke},
      {"source add", c::source_add_synopsis(),
       "register a webhook source (prints its whsec_ secret), or with --pull a CiviCRM site that "
       "gabe-ingest fetches (API key on stdin)",
       &c::source_add},
      {"source set", c::source_set_synopsis(),
       "change a civicrm source's pull URL, API key (--new-key: on stdin) or opt-in groups (an "
       "empty G removes that channel's group)",
       &c::source_set},
      {"source rotate", "NAME [--retire-old]",
       "add a new secret (old ones stay valid), or retire all but the newest", &c::source_rotate},
      {"demo-data", "--donors N [--seed S] [--source NAME] [--end-date YYYY-MM-DD] [--years Y]",
       "write canonical NDJSON demo events to stdout", &c::demo_data},
      {"import", "FILE --source NAME", "bulk import canonical NDJSON (FILE or - for stdin)",
       &c::import_file},
      {"purge", "[--older-than-days N]",
       "delete raw inbox events older than N days (default GABE_RETENTION_DAYS); for a CronJob",
       &c::purge},
  };
  return commands;
}

constexpr const char* kEpilogue = R"(Environment:
  GABE_DATABASE_URL   libpq URI or conninfo (all commands but demo-data)

Long commands (import, demo-data to a file) show their progress on stderr when it is a terminal.
)";

}  // namespace

int main(int argc, char** argv) {
  return gabe::gabectl::run(registry(), kEpilogue, std::vector<std::string>(argv + 1, argv + argc),
                            std::cout, std::cerr);
}
