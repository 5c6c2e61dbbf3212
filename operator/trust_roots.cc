#include "operator/trust_roots.h"

#include <chrono>
#include <thread>
#include <utility>

#include "absl/strings/str_cat.h"
#include "ca/openssl_util.h"
#include "common/text_escape.h"
#include "spdlog/spdlog.h"

namespace meshgate::operator_ {

TrustRootManager::TrustRootManager(ca::CertificateAuthority& authority,
                                   std::function<void()> republish,
                                   std::function<bool(const std::string&)> trusted_everywhere,
                                   absl::Duration propagation_timeout,
                                   std::function<void()> signer_changed)
    : authority_(authority),
      republish_(std::move(republish)),
      trusted_everywhere_(std::move(trusted_everywhere)),
      signer_changed_(std::move(signer_changed)),
      propagation_timeout_(propagation_timeout) {}

TrustRootManager::~TrustRootManager() { Stop(); }

absl::StatusOr<std::string> TrustRootManager::Rotate() {
  std::lock_guard lock(republish_mu_);
  absl::StatusOr<std::string> staged = authority_.StageNextRoot();
  if (!staged.ok()) return staged.status();
  if (republish_) republish_();
  if (trusted_everywhere_) {
    // Real time: this waits for proxies, not for the CA's clock.
    auto deadline =
        std::chrono::steady_clock::now() + absl::ToChronoNanoseconds(propagation_timeout_);
    bool everywhere = trusted_everywhere_(*staged);
    while (!everywhere && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
      everywhere = trusted_everywhere_(*staged);
    }
    if (!everywhere) {
      spdlog::warn(
          "CA root rotation: not every proxy acknowledged the new root within {}; "
          "switching anyway (those proxies reject peers on the new root until they do)",
          absl::FormatDuration(propagation_timeout_));
    }
  }
  if (absl::Status s = authority_.RotateRoot(); !s.ok()) return s;
  if (republish_) republish_();
  if (signer_changed_) signer_changed_();
  absl::StatusOr<std::string> fingerprint = ca::Sha256Fingerprint(authority_.ActiveRootPem());
  if (fingerprint.ok()) {
    spdlog::info("CA root rotated: new root {}, {} roots trusted", *fingerprint,
                 authority_.TrustedRootsPem().size());
  }
  return fingerprint;
}

absl::StatusOr<int> TrustRootManager::PruneDue() {
  std::lock_guard lock(republish_mu_);
  absl::StatusOr<int> dropped = authority_.PruneRetiredRoots();
  if (!dropped.ok() || *dropped == 0) return dropped;
  if (republish_) republish_();
  spdlog::info("CA: dropped {} retired root(s) past their drop time, {} root(s) trusted", *dropped,
               authority_.TrustedRootsPem().size());
  return dropped;
}

std::string TrustRootManager::Describe() const {
  std::string out = "{\"roots\": [";
  bool first = true;
  for (const ca::TrustedRoot& root : authority_.TrustedRoots()) {
    absl::StatusOr<std::string> fingerprint = ca::Sha256Fingerprint(root.pem);
    if (!first) out += ", ";
    first = false;
    out += "{\"sha256\": " + JsonQuote(fingerprint.ok() ? *fingerprint : "unreadable") +
           ", \"active\": " + (root.active ? "true" : "false");
    if (root.staged) out += ", \"staged\": true";
    if (root.drop_after != absl::InfiniteFuture()) {
      out += ", \"drop_after\": " +
             JsonQuote(absl::FormatTime(absl::RFC3339_sec, root.drop_after, absl::UTCTimeZone()));
    }
    out += "}";
  }
  return out + "]}";
}

void TrustRootManager::StartPruning(absl::Duration interval, std::function<void()> also) {
  auto period = absl::ToChronoNanoseconds(interval);
  pruner_ = std::thread([this, period, also = std::move(also)] {
    std::unique_lock lock(mu_);
    while (!cv_.wait_for(lock, period, [this] { return stopping_; })) {
      lock.unlock();
      absl::StatusOr<int> dropped = PruneDue();
      if (!dropped.ok())
        spdlog::error("CA: pruning retired roots: {}", dropped.status().ToString());
      if (also) also();
      lock.lock();
    }
  });
}

void TrustRootManager::Stop() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (pruner_.joinable()) pruner_.join();
}

}  // namespace meshgate::operator_
