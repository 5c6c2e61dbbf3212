// The Helm chart (charts/meshgate/), checked without a helm binary: Chart.yaml,
// the values the templates refer to, the named templates they include, the
// CRD copies, and the RBAC rules the operator needs for every CRD.
#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "re2/re2.h"
#include "yaml-cpp/yaml.h"

namespace meshgate::charts {
namespace {

namespace fs = std::filesystem;
using ::testing::IsEmpty;
using ::testing::IsSupersetOf;

const fs::path kSource = MESHGATE_SOURCE_DIR;
const fs::path kChart = kSource / "charts" / "meshgate";

std::string ReadFile(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  EXPECT_TRUE(in.good()) << "cannot read " << path;
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

std::vector<fs::path> FilesIn(const fs::path& dir, const std::set<std::string>& extensions) {
  std::vector<fs::path> files;
  for (const auto& entry : fs::directory_iterator(dir)) {
    if (extensions.contains(entry.path().extension().string())) files.push_back(entry.path());
  }
  std::sort(files.begin(), files.end());
  return files;
}

std::vector<fs::path> Templates() { return FilesIn(kChart / "templates", {".yaml", ".tpl"}); }

// A value reference and where it was found.
struct Reference {
  std::string path;   // "ports.xds"
  std::string where;  // "deployment.yaml:42"
};

std::vector<Reference> ValueReferences() {
  static const RE2 value(R"(\.Values((?:\.[A-Za-z_][A-Za-z0-9_]*)+))");
  std::vector<Reference> references;
  for (const fs::path& file : Templates()) {
    const std::vector<std::string> lines = absl::StrSplit(ReadFile(file), '\n');
    for (size_t i = 0; i < lines.size(); ++i) {
      re2::StringPiece input(lines[i]);
      std::string path;
      while (RE2::FindAndConsume(&input, value, &path)) {
        references.push_back({path.substr(1), absl::StrCat(file.filename().string(), ":", i + 1)});
      }
    }
  }
  return references;
}

// Every leaf (scalar, or empty map/list) of a values tree, as dotted paths.
void CollectLeaves(const YAML::Node& node, const std::string& path,
                   std::vector<std::string>& leaves) {
  if (node.IsMap() && node.size() > 0) {
    for (const auto& entry : node) {
      CollectLeaves(entry.second,
                    path.empty() ? entry.first.Scalar() : path + "." + entry.first.Scalar(),
                    leaves);
    }
  } else {
    leaves.push_back(path);
  }
}

bool HasPath(const YAML::Node& root, const std::string& dotted) {
  YAML::Node node = root;
  const std::vector<std::string> keys = absl::StrSplit(dotted, '.');
  for (const std::string& key : keys) {
    if (!node.IsMap() || !node[key]) return false;
    node.reset(node[key]);  // reset(), not operator=, which would overwrite the node
  }
  return true;
}

TEST(ChartTest, ChartYamlNamesTheChart) {
  const YAML::Node chart = YAML::LoadFile((kChart / "Chart.yaml").string());
  EXPECT_EQ(chart["apiVersion"].Scalar(), "v2");
  EXPECT_EQ(chart["name"].Scalar(), "meshgate");
  EXPECT_EQ(chart["version"].Scalar(), "0.1.0");
  EXPECT_EQ(chart["appVersion"].Scalar(), "0.1.0");
}

TEST(ChartTest, EveryValueTheTemplatesUseIsDefined) {
  const YAML::Node values = YAML::LoadFile((kChart / "values.yaml").string());
  const std::vector<Reference> references = ValueReferences();
  std::vector<std::string> used;
  std::vector<std::string> undefined;
  for (const Reference& reference : references) {
    used.push_back(reference.path);
    if (!HasPath(values, reference.path)) {
      undefined.push_back(absl::StrCat(reference.where, ": .Values.", reference.path));
    }
  }
  EXPECT_THAT(undefined, IsEmpty())
      << "not in values.yaml:\n  " << absl::StrJoin(undefined, "\n  ");
  // The scan finds what the Deployment is known to use.
  EXPECT_THAT(used, IsSupersetOf({"ports.xds", "ports.ca", "ports.admin", "trustDomain",
                                  "image.repository", "image.tag", "resources", "replicaCount"}));
}

TEST(ChartTest, EveryDefinedValueIsUsed) {
  const YAML::Node values = YAML::LoadFile((kChart / "values.yaml").string());
  std::vector<std::string> leaves;
  CollectLeaves(values, "", leaves);
  std::set<std::string> used;
  for (const Reference& reference : ValueReferences()) used.insert(reference.path);
  std::vector<std::string> unused;
  for (const std::string& leaf : leaves) {
    // A leaf counts as used when it or a map above it is referenced
    // (`toYaml .Values.resources` uses resources.requests.cpu).
    bool covered = false;
    for (std::string prefix = leaf; !covered && !prefix.empty();) {
      covered = used.contains(prefix);
      const size_t dot = prefix.rfind('.');
      prefix = dot == std::string::npos ? "" : prefix.substr(0, dot);
    }
    if (!covered) unused.push_back(leaf);
  }
  EXPECT_THAT(unused, IsEmpty()) << "values no template uses:\n  " << absl::StrJoin(unused, "\n  ");
}

TEST(ChartTest, IncludedTemplatesAreDefinedAndActionsBalanced) {
  static const RE2 include(R"re(include\s+"([^"]+)")re");
  static const RE2 define(R"re(define\s+"([^"]+)")re");
  std::set<std::string> defined;
  std::map<std::string, std::string> included;  // name -> first file using it
  for (const fs::path& file : Templates()) {
    const std::string text = ReadFile(file);
    re2::StringPiece input(text);
    std::string name;
    while (RE2::FindAndConsume(&input, define, &name)) defined.insert(name);
    input = text;
    while (RE2::FindAndConsume(&input, include, &name)) {
      included.emplace(name, file.filename().string());
    }
    size_t opens = 0, closes = 0;
    for (size_t at = text.find("{{"); at != std::string::npos; at = text.find("{{", at + 2)) {
      ++opens;
    }
    for (size_t at = text.find("}}"); at != std::string::npos; at = text.find("}}", at + 2)) {
      ++closes;
    }
    EXPECT_EQ(opens, closes) << file.filename() << ": unbalanced {{ }}";
  }
  ASSERT_FALSE(included.empty());
  for (const auto& [name, file] : included) {
    EXPECT_TRUE(defined.contains(name)) << file << " includes \"" << name << "\", never defined";
  }
}

TEST(ChartTest, CrdCopiesAreByteIdenticalToCrdsDir) {
  auto names = [](const fs::path& dir) {
    std::vector<std::string> names;
    for (const fs::path& file : FilesIn(dir, {".yaml", ".yml", ".json"})) {
      names.push_back(file.filename().string());
    }
    return names;
  };
  const std::vector<std::string> originals = names(kSource / "crds");
  ASSERT_FALSE(originals.empty());
  EXPECT_EQ(names(kChart / "crds"), originals);
  for (const std::string& name : originals) {
    EXPECT_TRUE(ReadFile(kChart / "crds" / name) == ReadFile(kSource / "crds" / name))
        << "charts/meshgate/crds/" << name << " differs from crds/" << name
        << "; run crds/generate.py";
  }
}

std::set<std::string> Strings(const YAML::Node& list) {
  std::set<std::string> values;
  for (const auto& value : list) values.insert(value.Scalar());
  return values;
}

// Whether some rule grants all of `verbs` on group/resource.
bool Grants(const YAML::Node& rules, const std::string& group, const std::string& resource,
            const std::set<std::string>& verbs) {
  for (const auto& rule : rules) {
    const std::set<std::string> granted = Strings(rule["verbs"]);
    if (Strings(rule["apiGroups"]).contains(group) &&
        Strings(rule["resources"]).contains(resource) &&
        std::includes(granted.begin(), granted.end(), verbs.begin(), verbs.end())) {
      return true;
    }
  }
  return false;
}

TEST(ChartTest, ClusterRoleCoversEveryCrdAndItsStatus) {
  // The rules hold no template actions, so that part of the template is plain YAML.
  const std::string text = ReadFile(kChart / "templates" / "clusterrole.yaml");
  const size_t rules_at = text.find("\nrules:");
  ASSERT_NE(rules_at, std::string::npos);
  const std::string rules_text = text.substr(rules_at + 1);
  ASSERT_EQ(rules_text.find("{{"), std::string::npos);
  const YAML::Node rules = YAML::Load(rules_text)["rules"];
  ASSERT_TRUE(rules.IsSequence());

  for (const fs::path& file : FilesIn(kSource / "crds", {".yaml"})) {
    const YAML::Node crd = YAML::LoadFile(file.string());
    const std::string group = crd["spec"]["group"].Scalar();
    const std::string plural = crd["spec"]["names"]["plural"].Scalar();
    EXPECT_TRUE(Grants(rules, group, plural, {"get", "list", "watch"})) << group << "/" << plural;
    EXPECT_TRUE(Grants(rules, group, plural + "/status", {"update", "patch"}))
        << group << "/" << plural << "/status";
  }
  for (const char* kind : {"virtualservices", "destinationrules", "gateways", "serviceentries"}) {
    EXPECT_TRUE(Grants(rules, "networking.istio.io", kind, {"get", "list", "watch"})) << kind;
  }
  for (const char* core : {"services", "pods", "namespaces", "secrets", "configmaps"}) {
    EXPECT_TRUE(Grants(rules, "", core, {"get", "list", "watch"})) << core;
  }
  EXPECT_TRUE(Grants(rules, "discovery.k8s.io", "endpointslices", {"get", "list", "watch"}));
  // Read-only on everything but status: no rule grants writes elsewhere.
  for (const auto& rule : rules) {
    const std::set<std::string> verbs = Strings(rule["verbs"]);
    if (verbs.contains("update") || verbs.contains("patch") || verbs.contains("create") ||
        verbs.contains("delete")) {
      for (const std::string& resource : Strings(rule["resources"])) {
        EXPECT_TRUE(resource.ends_with("/status")) << "writes granted on " << resource;
      }
    }
  }
}

TEST(ChartTest, OperatorGetsThePortsTheServiceExposes) {
  const std::string deployment = ReadFile(kChart / "templates" / "deployment.yaml");
  const std::string service = ReadFile(kChart / "templates" / "service.yaml");
  for (const auto& [flag, value] :
       std::map<std::string, std::string>{{"--xds-port", ".Values.ports.xds"},
                                          {"--ca-port", ".Values.ports.ca"},
                                          {"--admin-port", ".Values.ports.admin"},
                                          {"--trust-domain", ".Values.trustDomain"},
                                          {"--cluster-domain", ".Values.clusterDomain"}}) {
    EXPECT_THAT(deployment, ::testing::HasSubstr(absl::StrCat("- ", flag, "={{ ", value, " }}")));
  }
  // Proxies dial the CA by the Service's name: its serving certificate must carry it.
  EXPECT_THAT(service, ::testing::HasSubstr("name: {{ include \"meshgate.fullname\" . }}\n"));
  EXPECT_THAT(deployment, ::testing::HasSubstr("- --ca-names={{ include \"meshgate.fullname\" . }}"
                                               ".{{ .Release.Namespace }}.svc,"));
  for (const char* port : {"xds", "ca", "admin"}) {
    const std::string value = absl::StrCat("{{ .Values.ports.", port, " }}");
    EXPECT_THAT(deployment, ::testing::HasSubstr("containerPort: " + value));
    EXPECT_THAT(service, ::testing::HasSubstr("port: " + value));
  }
}

TEST(ChartTest, ValuesDefaults) {
  const YAML::Node values = YAML::LoadFile((kChart / "values.yaml").string());
  EXPECT_EQ(values["trustDomain"].Scalar(), "cluster.local");
  EXPECT_EQ(values["clusterDomain"].Scalar(), "cluster.local");
  EXPECT_EQ(values["ports"]["xds"].as<int>(), 15010);
  EXPECT_EQ(values["ports"]["ca"].as<int>(), 15012);
  EXPECT_EQ(values["ports"]["admin"].as<int>(), 15014);
  EXPECT_EQ(values["replicaCount"].as<int>(), 1);
}

}  // namespace
}  // namespace meshgate::charts
