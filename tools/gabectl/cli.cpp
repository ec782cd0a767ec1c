#include "cli.hpp"

#include <cstdlib>
#include <sstream>

#include "gabe/config.hpp"
#include "gabe/problem.hpp"

namespace gabe::gabectl {

namespace {

std::vector<std::string> words_of(std::string_view text) {
  std::vector<std::string> out;
  std::istringstream in{std::string(text)};
  for (std::string w; in >> w;) out.push_back(w);
  return out;
}

bool is_option(std::string_view word) {
  return word.rfind("--", 0) == 0;
}

// What a synopsis says: its options (true: a flag without value) and operand count.
struct Shape {
  std::map<std::string, bool> options;
  std::size_t operands = 0;           // required ones (NAME)
  std::size_t optional_operands = 0;  // [FILE]
};

Shape shape_of(std::string_view synopsis) {
  Shape s;
  const auto words = words_of(synopsis);
  for (std::size_t i = 0; i < words.size(); ++i) {
    std::string w = words[i];
    const bool closes = !w.empty() && w.back() == ']';
    if (!w.empty() && w.front() == '[') w.erase(0, 1);
    while (!w.empty() && w.back() == ']') w.pop_back();
    if (is_option(w)) {
      const bool flag =
          closes || i + 1 == words.size() || is_option(words[i + 1]) || words[i + 1].front() == '[';
      s.options[w.substr(2)] = flag;
      if (!flag) ++i;  // the value's placeholder
    } else {
      ++(words[i].front() == '[' ? s.optional_operands : s.operands);
    }
  }
  return s;
}

// The command whose name is the longest match of argv's first words, or nullptr.
const Command* find_command(const std::vector<Command>& commands,
                            const std::vector<std::string>& argv, std::size_t& name_words) {
  const Command* best = nullptr;
  name_words = 0;
  for (const auto& c : commands) {
    const auto name = words_of(c.name);
    if (name.size() > argv.size() || name.size() <= name_words) continue;
    bool match = true;
    for (std::size_t i = 0; i < name.size(); ++i) match = match && name[i] == argv[i];
    if (match) {
      best = &c;
      name_words = name.size();
    }
  }
  return best;
}

std::vector<Command> group_of(const std::vector<Command>& commands, const std::string& first) {
  std::vector<Command> out;
  for (const auto& c : commands) {
    if (words_of(c.name).front() == first) out.push_back(c);
  }
  return out;
}

std::string usage_of(const Command& c) {
  return "gabectl " + c.name + (c.synopsis.empty() ? "" : " " + c.synopsis);
}

}  // namespace

Args::Args(const std::vector<std::string>& words, std::string_view synopsis) {
  const Shape shape = shape_of(synopsis);
  for (std::size_t i = 0; i < words.size(); ++i) {
    const std::string& w = words[i];
    if (!is_option(w)) {
      operands_.push_back(w);
      continue;
    }
    std::string name = w.substr(2), value;
    const auto eq = name.find('=');
    bool has_value = eq != std::string::npos;
    if (has_value) {
      value = name.substr(eq + 1);
      name.erase(eq);
    }
    auto known = shape.options.find(name);
    if (known == shape.options.end()) throw UsageError("unknown option --" + name);
    if (known->second && has_value) throw UsageError("--" + name + " takes no value");
    if (!known->second && !has_value && i + 1 < words.size() && !is_option(words[i + 1])) {
      value = words[++i];
    }
    options_[name].push_back(value);
  }
  if (operands_.size() < shape.operands) throw UsageError("an operand is missing");
  if (operands_.size() > shape.operands + shape.optional_operands)
    throw UsageError("too many operands");
}

std::optional<std::string> Args::get(const std::string& option) const {
  auto it = options_.find(option);
  return it == options_.end() ? std::nullopt : std::optional<std::string>(it->second.back());
}

std::vector<std::string> Args::all(const std::string& option) const {
  auto it = options_.find(option);
  return it == options_.end() ? std::vector<std::string>{} : it->second;
}

std::string Args::need(const std::string& option) const {
  auto v = get(option);
  if (!v || v->empty()) throw UsageError("--" + option + " is required");
  return *v;
}

std::string help_text(const std::vector<Command>& commands, std::string_view epilogue) {
  constexpr std::size_t kColumn = 46, kWidth = 98;
  std::string out = "Usage: gabectl COMMAND [OPTIONS]\n\nCommands:\n";
  for (const auto& c : commands) {
    std::string line = "  " + c.name + (c.synopsis.empty() ? "" : " " + c.synopsis);
    if (line.size() + 2 > kColumn) {
      out += line + "\n";
      line.clear();
    }
    // The summary in the second column, wrapped at kWidth.
    line.resize(kColumn, ' ');
    for (const auto& word : words_of(c.summary)) {
      if (line.size() > kColumn && line.size() + 1 + word.size() > kWidth) {
        out += line + "\n";
        line.assign(kColumn, ' ');
      }
      line += (line.size() > kColumn ? " " : "") + word;
    }
    out += line + "\n";
  }
  if (!epilogue.empty()) out += "\n" + std::string(epilogue);
  return out;
}

int run(const std::vector<Command>& commands, std::string_view epilogue,
        const std::vector<std::string>& argv, std::ostream& out, std::ostream& err) {
  if (argv.empty()) {
    out << help_text(commands, epilogue);
    return 2;
  }
  for (const auto& w : argv) {
    if (w == "--help" || w == "-h") {
      auto group = group_of(commands, argv.front());
      out << help_text(group.empty() ? commands : group, group.empty() ? epilogue : "");
      return 0;
    }
  }
  std::size_t name_words = 0;
  const Command* command = find_command(commands, argv, name_words);
  const std::string label = command ? command->name : argv.front();
  try {
    if (!command) {
      auto group = group_of(commands, argv.front());
      if (group.empty()) {
        err << "gabectl: unknown command '" << argv.front() << "' (see --help)\n";
        return 2;
      }
      std::string usage;
      for (const auto& c : group) usage += "\n  " + usage_of(c);
      throw UsageError("usage:" + usage);
    }
    const std::vector<std::string> rest(argv.begin() + static_cast<long>(name_words), argv.end());
    Args args = [&] {
      try {
        return Args(rest, command->synopsis);
      } catch (const UsageError& e) {
        throw UsageError(std::string(e.what()) + " (usage: " + usage_of(*command) + ")");
      }
    }();
    return command->run(args);
  } catch (const std::invalid_argument& e) {
    err << "gabectl " << label << ": " << e.what() << "\n";
    return 2;
  } catch (const ConfigError& e) {
    err << "gabectl: configuration error: " << e.what() << "\n";
    return 2;
  } catch (const Problem& e) {
    err << "gabectl " << label << ": " << e.detail() << "\n";
    return e.status() < 500 ? 2 : 1;
  } catch (const std::exception& e) {
    err << "gabectl " << label << ": " << e.what() << "\n";
    return 1;
  }
}

pqxx::connection connect_database() {
  return pqxx::connection(config::required("GABE_DATABASE_URL"));
}

std::string operator_actor() {
  const char* user = std::getenv("USER");
  return std::string("gabectl:") + (user ? user : "unknown");
}

}  // namespace gabe::gabectl
