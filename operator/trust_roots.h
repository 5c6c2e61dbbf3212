// TrustRootManager: the operator's half of CA root rotation.
//
// Rotate() replaces the CA's root in two steps, so that no workload ever
// holds a certificate a peer cannot verify yet: it stages the next root
// (ca::CertificateAuthority::StageNextRoot: trusted, not signing), pushes the
// grown trust bundle to every proxy through `republish`
// (XdsPublisher::Republish, which re-reads the bundle into each group's SDS
// `ROOTCA`), waits until `trusted_everywhere` says every connected proxy has
// accepted it (at most `propagation_timeout`; a proxy that never answers
// must not block rotation forever), and only then makes it the signer
// (RotateRoot: the old root stays trusted until every leaf it may have
// signed has expired), pushes again and calls `signer_changed` (the operator
// re-issues the CA's own serving certificate from the new root, which every
// proxy trusts by then). PruneDue() drops retired
// roots whose drop time has passed on the CA's clock and pushes the smaller
// bundle; StartPruning() runs it periodically on a thread of its own.
//
// Ownership: borrows the CA, which must outlive the manager. Thread-safety:
// Rotate, PruneDue and Describe may be called from any thread;
// StartPruning/Stop from one thread. `republish` may be called from the
// pruning thread and from Rotate's caller, never both at once.
#pragma once

#include <condition_variable>
#include <functional>
#include <mutex>
#include <string>
#include <thread>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "ca/certificate_authority.h"

namespace meshgate::operator_ {

class TrustRootManager {
 public:
  // `republish` pushes the CA's current trust bundle to the proxies;
  // `trusted_everywhere(root_pem)` tells whether every connected proxy has
  // acknowledged a bundle with that root. Either may be empty (nothing serves
  // xDS: nothing to push, nobody to wait for).
  // `signer_changed`, if set, runs after each rotation made the new root the
  // signer (on Rotate's caller's thread).
  TrustRootManager(ca::CertificateAuthority& authority, std::function<void()> republish,
                   std::function<bool(const std::string& root_pem)> trusted_everywhere = {},
                   absl::Duration propagation_timeout = absl::Seconds(10),
                   std::function<void()> signer_changed = {});
  ~TrustRootManager();
  TrustRootManager(const TrustRootManager&) = delete;
  TrustRootManager& operator=(const TrustRootManager&) = delete;

  // Rotates the root and republishes; returns the new root's fingerprint.
  // FAILED_PRECONDITION for a plugged-in CA (its roots are the user's files).
  absl::StatusOr<std::string> Rotate();

  // Drops the retired roots that are due and republishes when any was;
  // returns how many were dropped.
  absl::StatusOr<int> PruneDue();

  // The trust bundle as JSON: {"roots": [{"sha256": F, "active": true}, {"sha256": F,
  // "active": false, "drop_after": RFC3339}, ...]}, active first; a staged
  // root has "staged": true.
  std::string Describe() const;

  // Runs PruneDue() every `interval` on a thread of its own, and `also` after
  // it when set (the operator keeps the CA's serving certificate current
  // there). REQUIRES: interval > 0; not already started.
  void StartPruning(absl::Duration interval, std::function<void()> also = {});
  void Stop();

 private:
  ca::CertificateAuthority& authority_;
  const std::function<void()> republish_;
  const std::function<bool(const std::string&)> trusted_everywhere_;
  const std::function<void()> signer_changed_;
  const absl::Duration propagation_timeout_;
  std::mutex republish_mu_;  // one bundle push at a time, in the order of the changes

  std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;
  std::thread pruner_;
};

}  // namespace meshgate::operator_
