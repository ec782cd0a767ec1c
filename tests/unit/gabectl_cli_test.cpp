#include "cli.hpp"

#include <gtest/gtest.h>

#include <sstream>

#include "gabe/problem.hpp"

namespace gabe::gabectl {
namespace {

// What the last command run saw.
std::string g_called;
std::vector<std::string> g_operands;
std::optional<std::string> g_value;
bool g_flag = false;

int record(const std::string& name, const Args& a, const char* option, const char* flag) {
  g_called = name;
  g_operands = a.operands();
  g_value = a.get(option);
  g_flag = a.has(flag);
  return 0;
}

int show(const Args& a) {
  return record("thing show", a, "format", "verbose");
}
int thing_add(const Args& a) {
  return record("thing add", a, "kind", "force");
}
int fails_usage(const Args&) {
  throw UsageError("--kind must be big or small");
}
int fails_refused(const Args&) {
  throw not_found("No such thing.");
}
int fails_hard(const Args&) {
  throw std::runtime_error("connection lost");
}
int exits_three(const Args&) {
  return 3;
}

const std::vector<Command> kCommands = {
    {"thing show", "[WHICH] [--format F] [--verbose]", "show the things", &show},
    {"thing add", "NAME --kind big|small [--force]",
     "add a thing whose summary is long enough to need its own line", &thing_add},
    {"usage", "", "fails with a usage error", &fails_usage},
    {"refused", "", "fails with a 404", &fails_refused},
    {"hard", "", "fails with an exception", &fails_hard},
    {"three", "", "exits 3", &exits_three},
};

struct Run {
  int code;
  std::string out, err;
};

Run run_with(const std::vector<std::string>& argv) {
  std::ostringstream out, err;
  g_called.clear();
  int code = run(kCommands, "Environment: none\n", argv, out, err);
  return {code, out.str(), err.str()};
}

TEST(GabectlCli, DispatchesOnTheCommandsWordsAndReadsOptionsFromTheSynopsis) {
  auto r = run_with({"thing", "add", "lamp", "--kind", "big", "--force"});
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(g_called, "thing add");
  EXPECT_EQ(g_operands, std::vector<std::string>{"lamp"});
  EXPECT_EQ(g_value, "big");
  EXPECT_TRUE(g_flag);

  r = run_with({"thing", "show", "--verbose", "--format=json"});
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(g_called, "thing show");
  EXPECT_TRUE(g_operands.empty());
  EXPECT_EQ(g_value, "json");
  EXPECT_TRUE(g_flag);
  EXPECT_EQ(run_with({"thing", "show", "lamps"}).code, 0);  // the optional operand
  EXPECT_EQ(g_operands, std::vector<std::string>{"lamps"});
  EXPECT_EQ(run_with({"thing", "show", "lamps", "chairs"}).code, 2);
  EXPECT_EQ(run_with({"three"}).code, 3);
}

TEST(GabectlCli, ARepeatedOptionKeepsEveryValueInOrder) {
  Args a({"civi", "--optin-group", "email=12", "--optin-group=phone=13", "--optin-group", "sms="},
         "NAME [--optin-group CHANNEL=GROUP] [--force]");
  EXPECT_EQ(a.all("optin-group"), (std::vector<std::string>{"email=12", "phone=13", "sms="}));
  EXPECT_EQ(a.get("optin-group"), "sms=");  // the last one
  EXPECT_TRUE(a.all("force").empty());
  EXPECT_EQ(a.operands(), std::vector<std::string>{"civi"});
}

TEST(GabectlCli, MistakesOnTheCommandLineExitTwoAndSayWhatIsWrong) {
  auto r = run_with({"thing", "add", "lamp", "--colour", "red"});
  EXPECT_EQ(r.code, 2);
  EXPECT_EQ(g_called, "");
  EXPECT_EQ(r.err,
            "gabectl thing add: unknown option --colour (usage: gabectl thing add NAME --kind "
            "big|small [--force])\n");
  EXPECT_EQ(run_with({"thing", "add", "--kind", "big"}).code, 2);            // NAME missing
  EXPECT_EQ(run_with({"thing", "add", "a", "b", "--kind", "big"}).code, 2);  // one too many
  EXPECT_EQ(run_with({"thing", "show", "--verbose=yes"}).code, 2);           // a flag's value
  r = run_with({"thing", "remove"});
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find("gabectl thing show [WHICH] [--format F] [--verbose]"), std::string::npos);
  EXPECT_NE(r.err.find("gabectl thing add NAME"), std::string::npos);
  r = run_with({"frobnicate"});
  EXPECT_EQ(r.code, 2);
  EXPECT_EQ(r.err, "gabectl: unknown command 'frobnicate' (see --help)\n");
}

TEST(GabectlCli, FailuresMapToExitCodes) {
  auto r = run_with({"usage"});
  EXPECT_EQ(r.code, 2);
  EXPECT_EQ(r.err, "gabectl usage: --kind must be big or small\n");
  r = run_with({"refused"});
  EXPECT_EQ(r.code, 2);
  EXPECT_EQ(r.err, "gabectl refused: No such thing.\n");
  r = run_with({"hard"});
  EXPECT_EQ(r.code, 1);
  EXPECT_EQ(r.err, "gabectl hard: connection lost\n");
}

TEST(GabectlCli, HelpIsMadeFromTheRegistry) {
  auto r = run_with({"--help"});
  EXPECT_EQ(r.code, 0);
  EXPECT_EQ(r.out.substr(0, r.out.find("  usage")),
            "Usage: gabectl COMMAND [OPTIONS]\n\n"
            "Commands:\n"
            "  thing show [WHICH] [--format F] [--verbose]\n" +
                std::string(46, ' ') +
                "show the things\n"
                "  thing add NAME --kind big|small [--force]   add a thing whose summary is long "
                "enough to need its\n" +
                std::string(46, ' ') + "own line\n");
  EXPECT_NE(r.out.find("\nEnvironment: none\n"), std::string::npos);
  EXPECT_EQ(run_with({}).code, 2);  // no command: the help, but an error
  r = run_with({"thing", "--help"});
  EXPECT_EQ(r.code, 0);
  EXPECT_NE(r.out.find("thing add"), std::string::npos);
  EXPECT_EQ(r.out.find("usage"), std::string::npos) << "the help of one group only";

  const std::vector<Command> long_one = {
      {"token create", "--role admin|fundraiser|viewer --name NAME", "create a token", &show}};
  EXPECT_EQ(help_text(long_one, ""),
            "Usage: gabectl COMMAND [OPTIONS]\n\nCommands:\n"
            "  token create --role admin|fundraiser|viewer --name NAME\n" +
                std::string(46, ' ') + "create a token\n");
}

}  // namespace
}  // namespace gabe::gabectl
