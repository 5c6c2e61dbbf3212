#include "proxy/network/buffer.h"

namespace meshgate::proxy::network {

void Buffer::Drain(size_t n) {
  start_ += n;
  if (start_ == data_.size()) {
    Clear();
  } else if (start_ > 4096 && start_ > data_.size() / 2) {
    data_.erase(0, start_);
    start_ = 0;
  }
}

void Buffer::ShrinkIfIdle() {
  if (empty() && data_.capacity() > kRetainedCapacity) {
    std::string().swap(data_);
    start_ = 0;
  }
}

}  // namespace meshgate::proxy::network
