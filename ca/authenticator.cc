#include "ca/authenticator.h"

#include <openssl/crypto.h>
#include <openssl/sha.h>

#include <fstream>
#include <sstream>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

namespace meshgate::ca {
namespace {

std::array<unsigned char, 32> Digest(absl::string_view token) {
  std::array<unsigned char, 32> digest;
  SHA256(reinterpret_cast<const unsigned char*>(token.data()), token.size(), digest.data());
  return digest;
}

}  // namespace

absl::StatusOr<std::string> PeerCertificateAuthenticator::Authenticate(
    const CallerCredentials& credentials) const {
  if (!credentials.peer_certificate_pem || credentials.peer_certificate_pem->empty()) {
    return absl::NotFoundError("no client certificate");
  }
  auto id = authority_.VerifyWorkloadCertificate(*credentials.peer_certificate_pem);
  if (!id.ok()) return id.status();
  return id->uri();
}

absl::StatusOr<std::unique_ptr<BootstrapTokenAuthenticator>> BootstrapTokenAuthenticator::Parse(
    absl::string_view text) {
  auto authenticator =
      std::unique_ptr<BootstrapTokenAuthenticator>(new BootstrapTokenAuthenticator);
  int line_number = 0;
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    ++line_number;
    line = absl::StripAsciiWhitespace(line);
    if (line.empty() || line.front() == '#') continue;
    std::vector<absl::string_view> fields =
        absl::StrSplit(line, absl::ByAnyChar(" \t"), absl::SkipEmpty());
    if (fields.size() != 2) {
      return absl::InvalidArgumentError(
          absl::StrCat("tokens line ", line_number, ": expected `TOKEN SPIFFE_ID`"));
    }
    if (fields[0].size() < 16) {
      return absl::InvalidArgumentError(
          absl::StrCat("tokens line ", line_number, ": token shorter than 16 characters"));
    }
    auto id = SpiffeId::Parse(fields[1]);
    if (!id.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat("tokens line ", line_number, ": ", id.status().message()));
    }
    authenticator->entries_.push_back(Entry{Digest(fields[0]), id->uri()});
  }
  return authenticator;
}

absl::StatusOr<std::unique_ptr<BootstrapTokenAuthenticator>> BootstrapTokenAuthenticator::LoadFile(
    const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(absl::StrCat("cannot read tokens file ", path.string()));
  std::ostringstream text;
  text << in.rdbuf();
  auto parsed = Parse(text.str());
  if (!parsed.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(path.string(), ": ", parsed.status().message()));
  }
  return parsed;
}

absl::StatusOr<std::string> BootstrapTokenAuthenticator::Authenticate(
    const CallerCredentials& credentials) const {
  if (!credentials.bearer_token) return absl::NotFoundError("no bearer token");
  std::array<unsigned char, 32> presented = Digest(*credentials.bearer_token);
  // Compare against every entry so timing reveals neither the match nor its
  // position.
  const Entry* match = nullptr;
  for (const Entry& entry : entries_) {
    if (CRYPTO_memcmp(entry.digest.data(), presented.data(), presented.size()) == 0) {
      match = &entry;
    }
  }
  if (match == nullptr) return absl::UnauthenticatedError("bearer token not recognised");
  return match->spiffe_id;
}

}  // namespace meshgate::ca
