#include "operator/operator.h"

#include <charconv>
#include <optional>
#include <set>
#include <string_view>
#include <utility>

#include "operator/file_source.h"
#include "spdlog/spdlog.h"

namespace meshgate::operator_ {
namespace {

constexpr api::Kind kAllKinds[] = {
    api::Kind::kVirtualService, api::Kind::kDestinationRule,
    api::Kind::kGateway,        api::Kind::kServiceEntry,
    api::Kind::kAPIProduct,     api::Kind::kService,
    api::Kind::kEndpointSlice,  api::Kind::kPod,
    api::Kind::kNamespace,      api::Kind::kSecret,
    api::Kind::kConfigMap,
};

const std::set<std::string_view> kLogLevels = {"trace", "debug", "info", "warn", "error", "off"};

}  // namespace

std::string OperatorUsage() {
  return "Usage: meshgate-operator --config-dir DIR [flags]\n"
         "\n"
         "The meshgate control plane. Reads VirtualService, DestinationRule and the other\n"
         "supported kinds from DIR (recursively, *.yaml/*.yml/*.json) and follows changes.\n"
         "\n"
         "Flags:\n"
         "  --config-dir DIR    directory of config files to load and watch (required)\n"
         "  --state-dir DIR     directory for the control plane's own state (CA keys)\n"
         "  --log-level LEVEL   trace, debug, info, warn, error or off (default info)\n"
         "  --admin-port PORT   port of the admin HTTP endpoint (default 15000)\n"
         "  --strict            reject objects with unknown fields instead of warning\n"
         "  -h, --help          print this help and exit\n";
}

absl::StatusOr<OperatorFlags> ParseOperatorFlags(const std::vector<std::string>& args) {
  OperatorFlags flags;
  std::set<std::string> seen;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& arg = args[i];
    if (arg == "-h" || arg == "--help") {
      flags.help = true;
      return flags;
    }
    if (arg.rfind("--", 0) != 0) {
      return absl::InvalidArgumentError("unexpected argument '" + arg + "'");
    }
    std::string name = arg.substr(2);
    std::optional<std::string> value;
    if (auto eq = name.find('='); eq != std::string::npos) {
      value = name.substr(eq + 1);
      name.resize(eq);
    }
    if (name == "strict") {
      if (value.has_value()) return absl::InvalidArgumentError("--strict takes no value");
      flags.options.strict = true;
      continue;
    }
    if (name != "config-dir" && name != "state-dir" && name != "log-level" &&
        name != "admin-port") {
      return absl::InvalidArgumentError("unknown flag '--" + name + "'");
    }
    if (!seen.insert(name).second) {
      return absl::InvalidArgumentError("--" + name + " given twice");
    }
    if (!value.has_value()) {
      if (i + 1 >= args.size()) return absl::InvalidArgumentError("--" + name + " needs a value");
      value = args[++i];
    }
    if (value->empty()) return absl::InvalidArgumentError("--" + name + " needs a value");
    if (name == "config-dir") {
      flags.options.config_dir = *value;
    } else if (name == "state-dir") {
      flags.options.state_dir = *value;
    } else if (name == "log-level") {
      if (!kLogLevels.contains(*value)) {
        return absl::InvalidArgumentError(
            "--log-level must be one of trace, debug, info, warn, "
            "error, off; got '" +
            *value + "'");
      }
      flags.options.log_level = *value;
    } else {
      int port = -1;
      auto [end, ec] = std::from_chars(value->data(), value->data() + value->size(), port);
      if (ec != std::errc() || end != value->data() + value->size() || port < 0 || port > 65535) {
        return absl::InvalidArgumentError("--admin-port must be a port number 0-65535; got '" +
                                          *value + "'");
      }
      flags.options.admin_port = port;
    }
  }
  if (flags.options.config_dir.empty()) {
    return absl::InvalidArgumentError("--config-dir is required");
  }
  return flags;
}

std::string FormatStoreSummary(const api::ConfigSnapshot& snapshot) {
  std::string out = "store version=" + std::to_string(snapshot.resource_version) +
                    " objects=" + std::to_string(snapshot.objects.size());
  for (api::Kind kind : kAllKinds) {
    out += " ";
    out += api::KindName(kind);
    out += "=" + std::to_string(snapshot.OfKind(kind).size());
  }
  return out;
}

Operator::Operator(OperatorOptions options, std::ostream& out)
    : options_(std::move(options)), out_(out) {}

Operator::~Operator() { Stop(); }

absl::Status Operator::Start() {
  subscription_ = store_.Subscribe([this](const StoreChange& change) { Report(change); });
  FileSourceOptions file_options;
  file_options.root = options_.config_dir;
  file_options.strict = options_.strict;
  sources_.push_back(std::make_unique<FileSource>(store_, std::move(file_options)));
  for (auto& source : sources_) {
    if (absl::Status status = source->Start(); !status.ok()) {
      Stop();
      return status;
    }
    spdlog::info("config source {} started", source->Name());
  }
  started_ = true;
  // An empty config produces no change; report the state once anyway so a
  // reader knows the initial load is done.
  if (store_.Version() == 0) {
    std::lock_guard lock(out_mu_);
    out_ << FormatStoreSummary(*store_.Snapshot()) << std::endl;
  }
  return absl::OkStatus();
}

void Operator::Stop() {
  for (auto& source : sources_) source->Stop();
  sources_.clear();
  if (subscription_ != 0) store_.Unsubscribe(subscription_);
  subscription_ = 0;
  if (started_) spdlog::info("stopped");
  started_ = false;
}

void Operator::Report(const StoreChange& change) {
  // Apply() is serialised and Snapshot() shows exactly the notified version.
  api::ConfigSnapshotPtr snapshot = store_.Snapshot();
  std::string block;
  for (const api::ObjectKey& key : change.upserted) block += "upsert " + key.ToString() + "\n";
  for (const api::ObjectKey& key : change.deleted) block += "delete " + key.ToString() + "\n";
  block += FormatStoreSummary(*snapshot);
  std::lock_guard lock(out_mu_);
  out_ << block << std::endl;
}

}  // namespace meshgate::operator_
