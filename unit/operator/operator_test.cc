#include "operator/operator.h"

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace meshgate::operator_ {
namespace {

using ::testing::HasSubstr;

TEST(OperatorFlagsTest, ParsesEveryFlagInBothForms) {
  auto flags = ParseOperatorFlags({"--config-dir", "/c", "--state-dir=/s", "--log-level=debug",
                                   "--admin-port", "9901", "--strict"});
  ASSERT_TRUE(flags.ok()) << flags.status();
  EXPECT_FALSE(flags->help);
  EXPECT_EQ(flags->options.config_dir, "/c");
  EXPECT_EQ(flags->options.state_dir, "/s");
  EXPECT_EQ(flags->options.log_level, "debug");
  EXPECT_EQ(flags->options.admin_port, 9901);
  EXPECT_TRUE(flags->options.strict);
}

TEST(OperatorFlagsTest, ParsesTheControlPlaneFlags) {
  auto flags =
      ParseOperatorFlags({"--config-dir", "/c", "--xds-port", "0", "--ca-port=15999", "--ca-tokens",
                          "/t", "--trust-domain", "example.org", "--debounce", "20ms",
                          "--debounce-max=2s", "--listen-address", "0.0.0.0"});
  ASSERT_TRUE(flags.ok()) << flags.status();
  EXPECT_EQ(flags->options.xds_port, 0);
  EXPECT_EQ(flags->options.ca_port, 15999);
  EXPECT_EQ(flags->options.admin_port, 15014);  // default
  EXPECT_EQ(flags->options.ca_tokens, "/t");
  EXPECT_EQ(flags->options.trust_domain, "example.org");
  EXPECT_EQ(flags->options.debounce, absl::Milliseconds(20));
  EXPECT_EQ(flags->options.debounce_max, absl::Seconds(2));
  EXPECT_EQ(flags->options.listen_address, "0.0.0.0");
  EXPECT_TRUE(flags->options.ca_names.empty());
  auto names = ParseOperatorFlags(
      {"--config-dir", "/c", "--ca-names", "meshgate.meshgate-system.svc, 10.0.0.7,fd00::7"});
  ASSERT_TRUE(names.ok()) << names.status();
  EXPECT_EQ(names->options.ca_names,
            (std::vector<std::string>{"meshgate.meshgate-system.svc", "10.0.0.7", "fd00::7"}));
  auto bad_name = ParseOperatorFlags({"--config-dir", "/c", "--ca-names", "Bad_Name"});
  ASSERT_FALSE(bad_name.ok());
  EXPECT_THAT(std::string(bad_name.status().message()), HasSubstr("--ca-names: 'Bad_Name'"));
  auto bad = ParseOperatorFlags({"--config-dir", "/c", "--debounce", "soon"});
  ASSERT_FALSE(bad.ok());
  EXPECT_THAT(std::string(bad.status().message()), HasSubstr("--debounce"));
  auto bad_port = ParseOperatorFlags({"--config-dir", "/c", "--xds-port", "99999"});
  ASSERT_FALSE(bad_port.ok());
  EXPECT_THAT(std::string(bad_port.status().message()), HasSubstr("--xds-port"));
}

TEST(OperatorFlagsTest, ParsesTheCaLifetimes) {
  auto defaults = ParseOperatorFlags({"--config-dir", "/c"});
  ASSERT_TRUE(defaults.ok()) << defaults.status();
  EXPECT_EQ(defaults->options.ca_min_ttl, absl::Minutes(10));
  EXPECT_EQ(defaults->options.ca_default_ttl, absl::Hours(24));
  EXPECT_EQ(defaults->options.ca_max_ttl, absl::Hours(24 * 90));
  EXPECT_EQ(defaults->options.ca_clock_skew, absl::Minutes(5));

  auto flags =
      ParseOperatorFlags({"--config-dir", "/c", "--ca-min-ttl", "10s", "--ca-default-ttl=12s",
                          "--ca-max-ttl", "1m", "--ca-clock-skew", "0s"});
  ASSERT_TRUE(flags.ok()) << flags.status();
  EXPECT_EQ(flags->options.ca_min_ttl, absl::Seconds(10));
  EXPECT_EQ(flags->options.ca_default_ttl, absl::Seconds(12));
  EXPECT_EQ(flags->options.ca_max_ttl, absl::Minutes(1));
  EXPECT_EQ(flags->options.ca_clock_skew, absl::ZeroDuration());
}

TEST(OperatorFlagsTest, RejectsInconsistentCaLifetimes) {
  struct Case {
    std::vector<std::string> args;
    std::string message;
  };
  const Case cases[] = {
      {{"--ca-min-ttl", "soon"},
       "--ca-min-ttl must be a positive duration like 10m or 30s; got "
       "'soon'"},
      {{"--ca-min-ttl", "0s"}, "--ca-min-ttl must be a positive duration"},
      {{"--ca-max-ttl", "-1h"}, "--ca-max-ttl must be a positive duration"},
      {{"--ca-default-ttl", "inf"}, "--ca-default-ttl must be a positive duration"},
      {{"--ca-clock-skew", "-1s"}, "--ca-clock-skew must be a duration"},
      {{"--ca-min-ttl", "2h", "--ca-default-ttl", "1h"},
       "--ca-min-ttl 2h is longer than --ca-default-ttl 1h"},
      {{"--ca-default-ttl", "72h", "--ca-max-ttl", "48h"},
       "--ca-default-ttl 72h is longer than --ca-max-ttl 48h"},
      // Backdated by 5m, a 10s leaf would be renewed as soon as it arrives.
      {{"--ca-min-ttl", "10s", "--ca-default-ttl", "1m"},
       "--ca-clock-skew 5m is more than half of --ca-min-ttl 10s"},
  };
  for (const Case& c : cases) {
    std::vector<std::string> args = {"--config-dir", "/c"};
    args.insert(args.end(), c.args.begin(), c.args.end());
    auto flags = ParseOperatorFlags(args);
    ASSERT_FALSE(flags.ok()) << c.message;
    EXPECT_THAT(std::string(flags.status().message()), HasSubstr(c.message));
  }
}

TEST(OperatorFlagsTest, HelpWinsOverEverythingElse) {
  auto flags = ParseOperatorFlags({"--bogus", "--help"});
  EXPECT_FALSE(flags.ok());  // flags are read in order; the bogus one comes first
  flags = ParseOperatorFlags({"--help", "--bogus"});
  ASSERT_TRUE(flags.ok());
  EXPECT_TRUE(flags->help);
}

TEST(OperatorFlagsTest, RejectsBadCommandLines) {
  struct Case {
    std::vector<std::string> args;
    std::string message;
  };
  const Case cases[] = {
      {{}, "--config-dir is required"},
      {{"--config-dir"}, "--config-dir needs a value"},
      {{"--config-dir="}, "--config-dir needs a value"},
      {{"--config-dir", "a", "--config-dir", "b"}, "given twice"},
      {{"--config-dir", "a", "stray"}, "unexpected argument 'stray'"},
      {{"--config-dir", "a", "--nope"}, "unknown flag '--nope'"},
      {{"--config-dir", "a", "--admin-port", "http"}, "port number"},
      {{"--config-dir", "a", "--admin-port", "70000"}, "port number"},
      {{"--config-dir", "a", "--admin-port", "80x"}, "port number"},
      {{"--config-dir", "a", "--log-level", "loud"}, "--log-level must be one of"},
      {{"--config-dir", "a", "--strict=yes"}, "--strict takes no value"},
  };
  for (const Case& c : cases) {
    auto flags = ParseOperatorFlags(c.args);
    ASSERT_FALSE(flags.ok()) << c.message;
    EXPECT_THAT(std::string(flags.status().message()), HasSubstr(c.message));
  }
}

TEST(StoreSummaryTest, CountsEveryKind) {
  api::ConfigSnapshot snapshot;
  snapshot.resource_version = 7;
  auto add = [&](api::Kind kind, const std::string& name) {
    auto r = std::make_shared<api::Resource>();
    r->kind = kind;
    r->metadata.namespace_ = "ns";
    r->metadata.name = name;
    snapshot.objects.emplace(r->Key(), r);
  };
  add(api::Kind::kVirtualService, "a");
  add(api::Kind::kVirtualService, "b");
  add(api::Kind::kDestinationRule, "a");
  add(api::Kind::kPod, "p");
  EXPECT_EQ(FormatStoreSummary(snapshot),
            "store version=7 objects=4 VirtualService=2 DestinationRule=1 Gateway=0 "
            "ServiceEntry=0 APIProduct=0 Service=0 EndpointSlice=0 Pod=1 Namespace=0 Secret=0 "
            "ConfigMap=0 PeerAuthentication=0 Sidecar=0");
}

TEST(OperatorTest, ReportsTheInitialLoad) {
  char tmpl[] = "/tmp/meshgate-operator-XXXXXX";
  ASSERT_NE(mkdtemp(tmpl), nullptr);
  const std::string dir = tmpl;
  std::ofstream(dir + "/svc.yaml") << "apiVersion: v1\n"
                                      "kind: Service\n"
                                      "metadata:\n"
                                      "  name: echo\n"
                                      "  namespace: demo\n"
                                      "spec:\n"
                                      "  selector:\n"
                                      "    app: echo\n"
                                      "  ports:\n"
                                      "  - port: 8080\n";
  std::ostringstream out;
  {
    OperatorOptions options;
    options.config_dir = dir;
    // The store alone: no xDS, CA or admin endpoint in a unit test.
    options.xds_port = options.admin_port = options.ca_port = 0;
    Operator op(options, out);
    ASSERT_TRUE(op.Start().ok());
    EXPECT_EQ(op.store().Version(), 1);
    op.Stop();
  }
  EXPECT_EQ(out.str(),
            "upsert Service/demo/echo\n"
            "store version=1 objects=1 VirtualService=0 DestinationRule=0 Gateway=0 "
            "ServiceEntry=0 APIProduct=0 Service=1 EndpointSlice=0 Pod=0 Namespace=0 Secret=0 "
            "ConfigMap=0 PeerAuthentication=0 Sidecar=0\n");
  std::filesystem::remove_all(dir);
}

TEST(OperatorTest, ReportsAnEmptyConfigOnce) {
  char tmpl[] = "/tmp/meshgate-operator-XXXXXX";
  ASSERT_NE(mkdtemp(tmpl), nullptr);
  std::ostringstream out;
  {
    OperatorOptions options;
    options.config_dir = tmpl;
    // The store alone: no xDS, CA or admin endpoint in a unit test.
    options.xds_port = options.admin_port = options.ca_port = 0;
    Operator op(options, out);
    ASSERT_TRUE(op.Start().ok());
  }
  EXPECT_THAT(out.str(), HasSubstr("store version=0 objects=0 "));
  std::filesystem::remove_all(tmpl);
}

TEST(OperatorTest, StartFailsWithoutTheConfigDir) {
  std::ostringstream out;
  OperatorOptions options;
  options.config_dir = "/nonexistent/meshgate/config";
  // The store alone: no xDS, CA or admin endpoint in a unit test.
  options.xds_port = options.admin_port = options.ca_port = 0;
  Operator op(options, out);
  absl::Status status = op.Start();
  EXPECT_FALSE(status.ok());
  EXPECT_THAT(std::string(status.message()), HasSubstr("/nonexistent/meshgate/config"));
}

}  // namespace
}  // namespace meshgate::operator_
