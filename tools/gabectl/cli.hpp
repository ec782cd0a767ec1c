// gabectl's command registry: a command is a name of one or more words ("migrate",
// "token create"), a synopsis, a one-line summary and a function. The registry in main.cpp is
// the only list of commands: dispatch, option parsing and --help are derived from it.
#pragma once

#include <map>
#include <optional>
#include <ostream>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include <pqxx/pqxx>

namespace gabe::gabectl {

// A mistake on the command line or in what it names: exit code 2.
class UsageError : public std::invalid_argument {
 public:
  using std::invalid_argument::invalid_argument;
};

// The words after a command's name: operands and --options. Which options exist and which
// of them are flags (take no value) is read from the command's synopsis.
class Args {
 public:
  // Throws UsageError for an option the synopsis does not name, or for a wrong number of
  // operands.
  Args(const std::vector<std::string>& words, std::string_view synopsis);

  // The option's value (the last one when it is given more than once).
  std::optional<std::string> get(const std::string& option) const;
  // Every value of a repeatable option, in command-line order.
  std::vector<std::string> all(const std::string& option) const;
  // The option's value; throws UsageError when it is missing or empty.
  std::string need(const std::string& option) const;
  bool has(const std::string& option) const { return options_.count(option) > 0; }
  // The operands, as many as the synopsis has (NAME, FILE, …).
  const std::vector<std::string>& operands() const { return operands_; }

 private:
  std::map<std::string, std::vector<std::string>> options_;
  std::vector<std::string> operands_;
};

struct Command {
  std::string name;      // "migrate", "token create"
  std::string synopsis;  // operands and options, e.g. "NAME [--retire-old]"
  std::string summary;   // one line for --help
  int (*run)(const Args&);
};

// The --help text: a usage line, one entry per command, then `epilogue`.
std::string help_text(const std::vector<Command>& commands, std::string_view epilogue);

// Runs the command that argv names and returns the exit code: what the command returns;
// 2 for a usage error, a configuration error or a refused request (a Problem below 500);
// 1 for any other failure. Messages go to `err`, help to `out`.
int run(const std::vector<Command>& commands, std::string_view epilogue,
        const std::vector<std::string>& argv, std::ostream& out, std::ostream& err);

// What the commands share: the database of GABE_DATABASE_URL, and the actor of audit
// entries ("gabectl:<user>").
pqxx::connection connect_database();
std::string operator_actor();

}  // namespace gabe::gabectl
