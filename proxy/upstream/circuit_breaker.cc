#include "proxy/upstream/circuit_breaker.h"

#include <utility>

namespace meshgate::proxy::upstream {

CircuitBreaker::Slot::Slot(Slot&& other) noexcept
    : breaker_(std::move(other.breaker_)), resource_(other.resource_) {
  other.breaker_ = nullptr;
}

CircuitBreaker::Slot& CircuitBreaker::Slot::operator=(Slot&& other) noexcept {
  if (this != &other) {
    Release();
    breaker_ = std::move(other.breaker_);
    resource_ = other.resource_;
    other.breaker_ = nullptr;
  }
  return *this;
}

void CircuitBreaker::Slot::Release() {
  if (breaker_ == nullptr) return;
  breaker_->Give(resource_);
  breaker_ = nullptr;
}

uint32_t CircuitBreaker::Limit(Resource resource) const {
  switch (resource) {
    case Resource::kConnections:
      return limits_.max_connections;
    case Resource::kPendingRequests:
      return limits_.max_pending_requests;
    case Resource::kRequests:
      return limits_.max_requests;
    case Resource::kRetries:
      return limits_.max_retries;
  }
  return 0;
}

CircuitBreaker::Slot CircuitBreaker::TryAcquire(Resource resource) {
  std::atomic<uint64_t>& count = in_use_[Index(resource)];
  const uint64_t limit = Limit(resource);
  // Workers race for the last unit: take it only if nobody else did.
  uint64_t current = count.load(std::memory_order_relaxed);
  do {
    if (current >= limit) return Slot();
  } while (!count.compare_exchange_weak(current, current + 1, std::memory_order_relaxed));
  return Slot(shared_from_this(), resource);
}

CircuitBreaker::Slot CircuitBreaker::AcquireConnection(bool pool_has_connections,
                                                       bool* overflowed) {
  Slot slot = TryAcquire(Resource::kConnections);
  *overflowed = !slot.held();
  if (slot.held() || pool_has_connections) return slot;
  in_use_[Index(Resource::kConnections)].fetch_add(1, std::memory_order_relaxed);
  return Slot(shared_from_this(), Resource::kConnections);
}

}  // namespace meshgate::proxy::upstream
