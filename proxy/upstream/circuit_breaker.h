// CircuitBreaker: Envoy's per-cluster resource limits
// (circuit_breakers.thresholds, default priority) — how many connections,
// queued requests, requests in flight and concurrent retries a cluster may
// have before new ones are refused. A refused request is answered 503 with
// response flag UO; the caller counts the overflow in the cluster's stats
// (upstream_cx_overflow, upstream_rq_pending_overflow,
// upstream_rq_retry_overflow).
//
// One breaker per cluster configuration, shared by every worker: like
// Envoy's ResourceManager, the counts are process-wide, so the limits hold
// for the whole proxy, not per worker. A new configuration of the cluster
// starts a new breaker; slots held on the old one are released there.
//
// Ownership: the cluster's config owns the breaker through a shared_ptr;
// every Slot holds a reference too, so a slot may outlive the config that
// handed it out. Thread-safety: all methods may be called from any thread
// (atomic counts); a Slot belongs to one thread.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <memory>

namespace meshgate::proxy::upstream {

struct CircuitBreakerLimits {
  // Envoy's defaults.
  uint32_t max_connections = 1024;
  uint32_t max_pending_requests = 1024;
  uint32_t max_requests = 1024;
  uint32_t max_retries = 3;
};

class CircuitBreaker : public std::enable_shared_from_this<CircuitBreaker> {
 public:
  enum class Resource { kConnections = 0, kPendingRequests, kRequests, kRetries };

  // One unit of a resource, given back when the slot is destroyed or reset.
  class Slot {
   public:
    Slot() = default;
    Slot(Slot&& other) noexcept;
    Slot& operator=(Slot&& other) noexcept;
    Slot(const Slot&) = delete;
    Slot& operator=(const Slot&) = delete;
    ~Slot() { Release(); }

    bool held() const { return breaker_ != nullptr; }
    void Release();

   private:
    friend class CircuitBreaker;
    Slot(std::shared_ptr<CircuitBreaker> breaker, Resource resource)
        : breaker_(std::move(breaker)), resource_(resource) {}
    std::shared_ptr<CircuitBreaker> breaker_;
    Resource resource_ = Resource::kConnections;
  };

  // REQUIRES: made through std::make_shared (slots share ownership).
  explicit CircuitBreaker(CircuitBreakerLimits limits) : limits_(limits) {}
  CircuitBreaker(const CircuitBreaker&) = delete;
  CircuitBreaker& operator=(const CircuitBreaker&) = delete;

  // A slot when the resource is below its limit; an empty slot (held() is
  // false) when the breaker is open for it.
  Slot TryAcquire(Resource resource);
  // A connection slot for a pool about to open one more connection: empty
  // at max_connections, unless the pool has no connection at all. That pool
  // gets one anyway, as in Envoy, so that its queued requests are not
  // stranded by other hosts' connections. `overflowed` says whether the
  // limit was reached either way (the pool counts upstream_cx_overflow).
  Slot AcquireConnection(bool pool_has_connections, bool* overflowed);

  uint64_t InUse(Resource resource) const {
    return in_use_[Index(resource)].load(std::memory_order_relaxed);
  }
  uint32_t Limit(Resource resource) const;
  // True while the resource is at its limit (Envoy's circuit_breakers.*_open).
  bool Open(Resource resource) const { return InUse(resource) >= Limit(resource); }
  const CircuitBreakerLimits& limits() const { return limits_; }

 private:
  static size_t Index(Resource resource) { return static_cast<size_t>(resource); }
  void Give(Resource resource) { in_use_[Index(resource)].fetch_sub(1, std::memory_order_relaxed); }

  const CircuitBreakerLimits limits_;
  std::array<std::atomic<uint64_t>, 4> in_use_{};
};

// What one upstream stream holds of its cluster's breaker, in either pool: a
// request slot from NewStream() to its end, and a pending slot while it
// waits for a connection. Single-threaded, like the stream that owns it.
class StreamSlots {
 public:
  bool AcquireRequest(CircuitBreaker& breaker) {
    request_ = breaker.TryAcquire(CircuitBreaker::Resource::kRequests);
    return request_.held();
  }
  bool AcquirePending(CircuitBreaker& breaker) {
    pending_ = breaker.TryAcquire(CircuitBreaker::Resource::kPendingRequests);
    return pending_.held();
  }
  // The stream got its connection.
  void ReleasePending() { pending_.Release(); }
  void ReleaseAll() {
    request_.Release();
    pending_.Release();
  }

 private:
  CircuitBreaker::Slot request_;
  CircuitBreaker::Slot pending_;
};

}  // namespace meshgate::proxy::upstream
