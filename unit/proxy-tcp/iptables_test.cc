// The sidecar capture rule builder: flag parsing (with errors naming the
// flag), the nat rules for install (exclusions, proxy uid, loopback), the
// removal of earlier MESHGATE rules found in iptables-save output, and a
// check of the generated text by the real `iptables-restore --test` when the
// binary is there.
#include "proxy/capture/iptables.h"

#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace meshgate::proxy::capture {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Not;

std::vector<std::string> Lines(const std::string& text) {
  std::vector<std::string> out;
  size_t start = 0;
  while (start < text.size()) {
    size_t nl = text.find('\n', start);
    out.push_back(text.substr(start, nl - start));
    if (nl == std::string::npos) break;
    start = nl + 1;
  }
  return out;
}

// Position of `line` in `text`'s lines, -1 when absent.
int IndexOf(const std::string& text, const std::string& line) {
  auto lines = Lines(text);
  for (size_t i = 0; i < lines.size(); ++i) {
    if (lines[i] == line) return static_cast<int>(i);
  }
  return -1;
}

TEST(IptablesFlagsTest, DefaultsAreIstios) {
  auto command = ParseIptablesFlags({});
  ASSERT_TRUE(command.ok()) << command.status();
  EXPECT_EQ(command->mode, IptablesCommand::Mode::kInstall);
  EXPECT_FALSE(command->dry_run);
  EXPECT_EQ(command->config.inbound_port, 15006);
  EXPECT_EQ(command->config.outbound_port, 15001);
  EXPECT_EQ(command->config.proxy_uid, 1337u);
}

TEST(IptablesFlagsTest, AllFlags) {
  auto command = ParseIptablesFlags(
      {"--inbound-port", "16006", "--outbound-port=16001", "--proxy-uid", "2000", "--proxy-gid",
       "2001", "--exclude-inbound-ports", "15020, 15090", "--exclude-outbound-ports", "53",
       "--exclude-outbound-cidrs", "169.254.169.254/32,10.0.0.0/8", "--dry-run"});
  ASSERT_TRUE(command.ok()) << command.status();
  const CaptureConfig& c = command->config;
  EXPECT_TRUE(command->dry_run);
  EXPECT_EQ(c.inbound_port, 16006);
  EXPECT_EQ(c.outbound_port, 16001);
  EXPECT_EQ(c.proxy_uid, 2000u);
  EXPECT_EQ(c.proxy_gid, 2001u);
  EXPECT_EQ(c.exclude_inbound_ports, (std::vector<uint16_t>{15020, 15090}));
  EXPECT_EQ(c.exclude_outbound_ports, (std::vector<uint16_t>{53}));
  EXPECT_EQ(c.exclude_outbound_cidrs,
            (std::vector<std::string>{"169.254.169.254/32", "10.0.0.0/8"}));
  auto cleanup = ParseIptablesFlags({"--cleanup"});
  ASSERT_TRUE(cleanup.ok());
  EXPECT_EQ(cleanup->mode, IptablesCommand::Mode::kCleanup);
}

TEST(IptablesFlagsTest, ErrorsNameTheFlag) {
  struct Case {
    std::vector<std::string> args;
    std::string expected;
  };
  for (const auto& c : std::vector<Case>{
           {{"--inbound-port", "70000"}, "--inbound-port: '70000'"},
           {{"--outbound-port", "0"}, "--outbound-port: must be 1..65535"},
           {{"--exclude-inbound-ports", "80,x"}, "--exclude-inbound-ports: 'x'"},
           {{"--exclude-outbound-cidrs", "10.0.0.0/40"}, "--exclude-outbound-cidrs: '40'"},
           {{"--exclude-outbound-cidrs", "example.com/8"}, "--exclude-outbound-cidrs: 'example"},
           {{"--exclude-outbound-cidrs", "fd00::/129", "--ipv6"},
            "--exclude-outbound-cidrs: '129'"},
           // An IPv6 exclusion without IPv6 capture would silently do nothing.
           {{"--exclude-outbound-cidrs", "fd00::/8"}, "'fd00::/8' is IPv6: add --ipv6"},
           {{"--proxy-uid"}, "--proxy-uid: needs a value"},
           {{"--frobnicate", "1"}, "unknown flag --frobnicate"},
           {{"install"}, "unexpected argument 'install'"},
       }) {
    auto command = ParseIptablesFlags(c.args);
    ASSERT_FALSE(command.ok()) << c.expected;
    EXPECT_THAT(std::string(command.status().message()), HasSubstr(c.expected));
  }
}

TEST(IptablesRulesTest, FreshInstall) {
  CaptureConfig c;
  c.exclude_inbound_ports = {15020};
  c.exclude_outbound_ports = {53};
  c.exclude_outbound_cidrs = {"169.254.169.254/32"};
  const std::string rules = BuildCaptureRules(c, "");
  EXPECT_EQ(rules,
            "*nat\n"
            "-N MESHGATE_INBOUND\n"
            "-N MESHGATE_IN_REDIRECT\n"
            "-N MESHGATE_OUTPUT\n"
            "-N MESHGATE_REDIRECT\n"
            "-A MESHGATE_REDIRECT -p tcp -j REDIRECT --to-ports 15001\n"
            "-A MESHGATE_IN_REDIRECT -p tcp -j REDIRECT --to-ports 15006\n"
            "-A PREROUTING -p tcp -j MESHGATE_INBOUND\n"
            "-A MESHGATE_INBOUND -p tcp --dport 15020 -j RETURN\n"
            "-A MESHGATE_INBOUND -p tcp -j MESHGATE_IN_REDIRECT\n"
            "-A OUTPUT -p tcp -j MESHGATE_OUTPUT\n"
            "-A MESHGATE_OUTPUT -m owner --uid-owner 1337 -j RETURN\n"
            "-A MESHGATE_OUTPUT -o lo -j RETURN\n"
            "-A MESHGATE_OUTPUT -d 127.0.0.0/8 -j RETURN\n"
            "-A MESHGATE_OUTPUT -p tcp --dport 53 -j RETURN\n"
            "-A MESHGATE_OUTPUT -d 169.254.169.254/32 -j RETURN\n"
            "-A MESHGATE_OUTPUT -j MESHGATE_REDIRECT\n"
            "COMMIT\n");
}

TEST(IptablesRulesTest, ExclusionsComeBeforeTheRedirect) {
  CaptureConfig c;
  c.proxy_uid = 4242;
  c.proxy_gid = 4343;
  c.exclude_outbound_ports = {5432, 6379};
  const std::string rules = BuildCaptureRules(c, "");
  const int redirect = IndexOf(rules, "-A MESHGATE_OUTPUT -j MESHGATE_REDIRECT");
  ASSERT_GE(redirect, 0);
  for (const std::string line :
       {"-A MESHGATE_OUTPUT -m owner --uid-owner 4242 -j RETURN",
        "-A MESHGATE_OUTPUT -m owner --gid-owner 4343 -j RETURN",
        "-A MESHGATE_OUTPUT -p tcp --dport 5432 -j RETURN",
        "-A MESHGATE_OUTPUT -p tcp --dport 6379 -j RETURN", "-A MESHGATE_OUTPUT -o lo -j RETURN"}) {
    int at = IndexOf(rules, line);
    EXPECT_GE(at, 0) << line;
    EXPECT_LT(at, redirect) << line;
  }
  // Only one jump from each built-in chain.
  EXPECT_EQ(IndexOf(rules, "-A OUTPUT -p tcp -j MESHGATE_OUTPUT") >= 0, true);
}

// What `iptables-save -t nat` prints with the rules installed (plus a rule
// of someone else's that must survive).
constexpr char kInstalledTable[] =
    "# Generated by iptables-save v1.8.9 (nf_tables)\n"
    "*nat\n"
    ":PREROUTING ACCEPT [0:0]\n"
    ":INPUT ACCEPT [0:0]\n"
    ":OUTPUT ACCEPT [0:0]\n"
    ":POSTROUTING ACCEPT [0:0]\n"
    ":MESHGATE_INBOUND - [0:0]\n"
    ":MESHGATE_IN_REDIRECT - [0:0]\n"
    ":MESHGATE_OUTPUT - [0:0]\n"
    ":MESHGATE_REDIRECT - [0:0]\n"
    "-A PREROUTING -p tcp -j MESHGATE_INBOUND\n"
    "-A OUTPUT -p tcp -j MESHGATE_OUTPUT\n"
    "-A POSTROUTING -s 10.1.0.0/16 -j MASQUERADE\n"
    "-A MESHGATE_INBOUND -p tcp -j MESHGATE_IN_REDIRECT\n"
    "-A MESHGATE_IN_REDIRECT -p tcp -j REDIRECT --to-ports 15006\n"
    "-A MESHGATE_OUTPUT -j MESHGATE_REDIRECT\n"
    "-A MESHGATE_REDIRECT -p tcp -j REDIRECT --to-ports 15001\n"
    "COMMIT\n"
    "# Completed\n";

TEST(IptablesRulesTest, CleanupRemovesJumpsThenFlushesThenDeletesChains) {
  const std::string rules = BuildCleanupRules(kInstalledTable);
  EXPECT_EQ(rules,
            "*nat\n"
            "-D PREROUTING -p tcp -j MESHGATE_INBOUND\n"
            "-D OUTPUT -p tcp -j MESHGATE_OUTPUT\n"
            "-F MESHGATE_INBOUND\n"
            "-F MESHGATE_IN_REDIRECT\n"
            "-F MESHGATE_OUTPUT\n"
            "-F MESHGATE_REDIRECT\n"
            "-X MESHGATE_INBOUND\n"
            "-X MESHGATE_IN_REDIRECT\n"
            "-X MESHGATE_OUTPUT\n"
            "-X MESHGATE_REDIRECT\n"
            "COMMIT\n");
  EXPECT_THAT(rules, Not(HasSubstr("MASQUERADE")));
}

TEST(IptablesRulesTest, CleanupOfACleanTableIsEmpty) {
  EXPECT_EQ(BuildCleanupRules(""), "");
  EXPECT_EQ(BuildCleanupRules("*nat\n:PREROUTING ACCEPT [0:0]\nCOMMIT\n"), "");
  // MESHGATE chains of another table are not ours to touch here.
  EXPECT_EQ(BuildCleanupRules("*filter\n:MESHGATE_X - [0:0]\n-A INPUT -j MESHGATE_X\nCOMMIT\n"),
            "");
}

TEST(IptablesRulesTest, ReinstallReplacesTheEarlierRules) {
  const std::string rules = BuildCaptureRules(CaptureConfig{}, kInstalledTable);
  const int removed = IndexOf(rules, "-X MESHGATE_REDIRECT");
  const int created = IndexOf(rules, "-N MESHGATE_REDIRECT");
  ASSERT_GE(removed, 0);
  ASSERT_GE(created, 0);
  EXPECT_LT(removed, created);
  EXPECT_GE(IndexOf(rules, "-D PREROUTING -p tcp -j MESHGATE_INBOUND"), 0);
}

TEST(IptablesRulesTest, Ipv6RulesUseIpv6LoopbackAndCidrs) {
  auto command = ParseIptablesFlags(
      {"--ipv6", "--exclude-outbound-cidrs", "169.254.169.254/32,fd00:ec2::254,fd00::/8"});
  ASSERT_TRUE(command.ok()) << command.status();
  const CaptureConfig& c = command->config;
  EXPECT_TRUE(c.ipv6);
  EXPECT_THAT(c.exclude_outbound_cidrs, ElementsAre("169.254.169.254/32"));
  EXPECT_THAT(c.exclude_outbound_cidrs_v6, ElementsAre("fd00:ec2::254/128", "fd00::/8"));
  const std::string v6 = BuildCaptureRules(c, "", IpFamily::kIpv6);
  EXPECT_THAT(v6, HasSubstr("-A MESHGATE_OUTPUT -d ::1/128 -j RETURN\n"));
  EXPECT_THAT(v6, HasSubstr("-A MESHGATE_OUTPUT -d fd00::/8 -j RETURN\n"));
  EXPECT_THAT(v6, Not(HasSubstr("127.0.0.0/8")));
  EXPECT_THAT(v6, Not(HasSubstr("169.254.169.254")));
  EXPECT_THAT(v6, HasSubstr("-A MESHGATE_REDIRECT -p tcp -j REDIRECT --to-ports 15001\n"));
  const std::string v4 = BuildCaptureRules(c, "", IpFamily::kIpv4);
  EXPECT_THAT(v4, HasSubstr("-d 169.254.169.254/32 -j RETURN"));
  EXPECT_THAT(v4, Not(HasSubstr("fd00")));
}

// The real iptables-restore parses what we generate (--test: nothing is
// applied). Needs the iptables package and CAP_NET_ADMIN.
TEST(IptablesRulesTest, RealIptablesRestoreAcceptsTheRules) {
  if (access("/usr/sbin/iptables-restore", X_OK) != 0 || geteuid() != 0) {
    GTEST_SKIP() << "needs /usr/sbin/iptables-restore and root (CAP_NET_ADMIN)";
  }
  CaptureConfig c;
  c.proxy_gid = 1337;
  c.exclude_inbound_ports = {15020, 15090};
  c.exclude_outbound_ports = {53};
  c.exclude_outbound_cidrs = {"169.254.169.254/32"};
  c.exclude_outbound_cidrs_v6 = {"fd00::/8"};
  for (const auto& [tool, family] :
       {std::pair{"iptables", IpFamily::kIpv4}, std::pair{"ip6tables", IpFamily::kIpv6}}) {
    const std::string path = ::testing::TempDir() + "/meshgate_capture_rules.txt";
    {
      std::ofstream out(path);
      out << BuildCaptureRules(c, "", family);
    }
    const std::string command = std::string(tool) + "-restore --test --noflush < " + path + " 2>&1";
    FILE* pipe = popen(command.c_str(), "r");
    ASSERT_NE(pipe, nullptr);
    std::string output;
    char buf[512];
    size_t n;
    while ((n = fread(buf, 1, sizeof(buf), pipe)) > 0) output.append(buf, n);
    int status = pclose(pipe);
    if (output.find("Permission denied") != std::string::npos ||
        output.find("Operation not permitted") != std::string::npos) {
      GTEST_SKIP() << "no CAP_NET_ADMIN here: " << output;
    }
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << tool << ": " << output;
  }
}

}  // namespace
}  // namespace meshgate::proxy::capture
