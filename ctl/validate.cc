#include "ctl/validate.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <set>
#include <sstream>
#include <string_view>

#include "api/decode.h"

namespace meshgate::ctl {
namespace {

namespace fs = std::filesystem;

bool EndsWith(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}

// The same file selection as the operator's directory source: config
// extensions, no hidden files or directories, no editor backups.
bool IsConfigFileName(std::string_view name) {
  if (name.empty() || name.front() == '.' || name.front() == '#' || name.back() == '~') {
    return false;
  }
  return EndsWith(name, ".yaml") || EndsWith(name, ".yml") || EndsWith(name, ".json");
}

struct Options {
  std::vector<std::string> inputs;
  bool strict = false;
  bool help = false;
};

bool ParseArgs(const std::vector<std::string>& args, Options* options, std::string* error) {
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& arg = args[i];
    if (arg == "-h" || arg == "--help") {
      options->help = true;
      return true;
    }
    if (arg == "--strict") {
      options->strict = true;
    } else if (arg == "-f" || arg == "--filename") {
      if (i + 1 >= args.size()) {
        *error = arg + " needs a file or directory";
        return false;
      }
      options->inputs.push_back(args[++i]);
    } else if (arg.rfind("--filename=", 0) == 0) {
      options->inputs.push_back(arg.substr(sizeof("--filename=") - 1));
    } else if (arg.rfind("-f", 0) == 0 && arg.size() > 2 && arg[2] != '-') {
      options->inputs.push_back(arg.substr(2));
    } else if (!arg.empty() && arg[0] == '-' && arg != "-") {
      *error = "unknown flag '" + arg + "'";
      return false;
    } else {
      *error = "unexpected argument '" + arg + "' (use -f " + arg + ")";
      return false;
    }
  }
  if (options->inputs.empty()) {
    *error = "nothing to validate: give at least one -f FILE|DIR";
    return false;
  }
  for (const std::string& input : options->inputs) {
    if (input.empty()) {
      *error = "-f needs a file or directory";
      return false;
    }
  }
  return true;
}

struct Input {
  std::string name;  // as reported in diagnostics
  std::string text;
};

bool ReadFile(const std::string& path, std::string* text) {
  std::ifstream file(path, std::ios::binary);
  if (!file) return false;
  text->assign(std::istreambuf_iterator<char>(file), std::istreambuf_iterator<char>());
  return !file.bad();
}

// Expands the -f arguments into the files to read, in order; directories
// recursively and sorted. Returns false (after reporting) on I/O errors.
bool CollectInputs(const std::vector<std::string>& args, std::istream& in, std::ostream& err,
                   std::vector<Input>* inputs) {
  bool ok = true;
  bool stdin_read = false;
  for (const std::string& arg : args) {
    if (arg == "-") {
      if (stdin_read) continue;
      stdin_read = true;
      Input input{"<stdin>", std::string(std::istreambuf_iterator<char>(in),
                                         std::istreambuf_iterator<char>())};
      inputs->push_back(std::move(input));
      continue;
    }
    std::error_code ec;
    fs::file_status status = fs::status(arg, ec);
    if (ec || !fs::exists(status)) {
      err << "meshgatectl: " << arg << ": no such file or directory\n";
      ok = false;
      continue;
    }
    if (!fs::is_directory(status)) {
      Input input{arg, ""};
      if (!ReadFile(arg, &input.text)) {
        err << "meshgatectl: " << arg << ": cannot read\n";
        ok = false;
        continue;
      }
      inputs->push_back(std::move(input));
      continue;
    }
    std::vector<std::string> files;
    fs::recursive_directory_iterator it(arg, fs::directory_options::skip_permission_denied, ec);
    for (; !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
      const std::string name = it->path().filename().string();
      std::error_code type_ec;
      if (it->is_directory(type_ec)) {
        if (!name.empty() && name[0] == '.') it.disable_recursion_pending();
        continue;
      }
      if (IsConfigFileName(name) && it->is_regular_file(type_ec)) {
        files.push_back(it->path().string());
      }
    }
    if (ec) {
      err << "meshgatectl: " << arg << ": " << ec.message() << "\n";
      ok = false;
    }
    std::sort(files.begin(), files.end());
    for (const std::string& file : files) {
      Input input{file, ""};
      if (!ReadFile(file, &input.text)) {
        err << "meshgatectl: " << file << ": cannot read\n";
        ok = false;
        continue;
      }
      inputs->push_back(std::move(input));
    }
  }
  return ok;
}

std::string Location(const api::SourceLocation& location) {
  return location.file + (location.line > 0 ? ":" + std::to_string(location.line) : "");
}

}  // namespace

std::string ValidateUsage() {
  return "Usage: meshgatectl validate -f FILE|DIR [-f FILE|DIR]... [--strict]\n"
         "\n"
         "Validates config files offline, as the control plane would load them.\n"
         "Directories are read recursively (*.yaml, *.yml, *.json; hidden files skipped).\n"
         "Prints one line per problem: FILE:LINE: Kind/namespace/name: field.path: message\n"
         "\n"
         "Flags:\n"
         "  -f, --filename FILE|DIR  file or directory to validate; '-' reads stdin (repeatable)\n"
         "  --strict                 unknown fields are errors, not warnings\n"
         "  -h, --help               print this help\n"
         "\n"
         "Exit status: 0 all objects valid, 1 some object invalid, 2 usage or I/O error.\n";
}

int RunValidate(const std::vector<std::string>& args, std::istream& in, std::ostream& out,
                std::ostream& err) {
  Options options;
  std::string error;
  if (!ParseArgs(args, &options, &error)) {
    err << "meshgatectl validate: " << error << "\n\n" << ValidateUsage();
    return kExitUsage;
  }
  if (options.help) {
    out << ValidateUsage();
    return kExitOk;
  }
  std::vector<Input> inputs;
  const bool io_ok = CollectInputs(options.inputs, in, err, &inputs);

  size_t valid = 0;
  size_t invalid = 0;
  // First definition of every key across all inputs, to reject duplicates.
  std::map<api::ObjectKey, api::SourceLocation> first_seen;
  for (const Input& input : inputs) {
    api::DecodeOptions decode_options;
    decode_options.source_name = input.name;
    decode_options.strict = options.strict;
    api::DecodeResult result = api::Decode(input.text, decode_options);

    api::Diagnostics diagnostics = std::move(result.diagnostics);
    for (const api::ResourcePtr& resource : result.resources) {
      auto [it, inserted] = first_seen.emplace(resource->Key(), resource->source);
      if (inserted) {
        ++valid;
        continue;
      }
      api::Diagnostic d;
      d.location = resource->source;
      d.object = resource->Key().ToString();
      d.message = "already defined at " + Location(it->second);
      diagnostics.push_back(std::move(d));
    }
    // An object with several errors is one invalid object; an error that
    // names no object (a document that does not parse) counts as one too.
    // Counted per input, so a name reused across files counts each time.
    std::set<std::string> invalid_objects;
    for (const api::Diagnostic& d : diagnostics) {
      out << d.ToString() << "\n";
      if (d.severity != api::Diagnostic::Severity::kError) continue;
      invalid_objects.insert(d.object.empty() ? "@" + Location(d.location) + ":" + d.message
                                              : d.object);
    }
    invalid += invalid_objects.size();
  }
  out.flush();
  err << valid << " objects valid, " << invalid << " invalid in " << inputs.size() << " files\n";
  if (!io_ok) return kExitUsage;
  return invalid > 0 ? kExitInvalid : kExitOk;
}

}  // namespace meshgate::ctl
