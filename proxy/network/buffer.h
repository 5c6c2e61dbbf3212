// Buffer: a growable byte queue for socket I/O — append at the back, drain
// from the front — with an amortised O(1) drain (the consumed prefix is
// compacted only when it dominates the storage).
//
// Thread-compatible: one owner at a time.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace meshgate::proxy::network {

class Buffer {
 public:
  size_t size() const { return data_.size() - start_; }
  bool empty() const { return size() == 0; }
  std::string_view View() const { return std::string_view(data_).substr(start_); }

  void Append(std::string_view bytes) { data_.append(bytes); }
  void Append(Buffer& other) {
    Append(other.View());
    other.Clear();
  }
  // Drops the first `n` bytes. REQUIRES: n <= size().
  void Drain(size_t n);
  void Clear() {
    data_.clear();
    start_ = 0;
  }

  // Capacity in bytes, for memory accounting.
  size_t capacity() const { return data_.capacity(); }
  // Gives back memory after a burst (idle connections should stay small).
  // Storage up to kRetainedCapacity is kept, so a keep-alive connection
  // does not allocate for every message it reads.
  void ShrinkIfIdle();
  static constexpr size_t kRetainedCapacity = 2048;

 private:
  std::string data_;
  size_t start_ = 0;
};

}  // namespace meshgate::proxy::network
