// HeaderMap: the header fields of one HTTP message, in the shape both codecs
// (HTTP/1.1 and HTTP/2) agree on.
//
// Names are stored lowercase and compared case-insensitively; a name may occur
// more than once and insertion order is kept (order matters for repeated
// fields such as `set-cookie`). The request/response start line travels as
// HTTP/2-style pseudo-headers (`:method :path :authority :scheme`, `:status`),
// which always sit before the regular fields, so filters and the router see
// one representation whatever protocol the bytes came in.
//
// Storage is one character arena plus a vector of offsets: copying a map costs
// two allocations regardless of the number of fields, moving costs none.
// Views returned by accessors point into the arena and are invalidated by any
// mutation of the map.
//
// The map is a container and does not validate names or values; the codecs
// validate what they parse and what they serialize.
//
// Thread-safety: none; a map belongs to one stream on one worker.
#pragma once

#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace meshgate::proxy::http {

// Names of the pseudo-headers, shared by both codecs.
inline constexpr std::string_view kMethod = ":method";
inline constexpr std::string_view kPath = ":path";
inline constexpr std::string_view kAuthority = ":authority";
inline constexpr std::string_view kScheme = ":scheme";
inline constexpr std::string_view kStatus = ":status";

struct HeaderField {
  std::string_view name;   // lowercase
  std::string_view value;  // as given, without surrounding whitespace when parsed
};

class HeaderMap {
 public:
  HeaderMap() = default;
  HeaderMap(std::initializer_list<std::pair<std::string_view, std::string_view>> fields);

  // Appends a field (after the other pseudo-headers if `name` starts with ':').
  void Add(std::string_view name, std::string_view value);
  // Replaces every field called `name` by one with `value`, at the position of the first.
  void Set(std::string_view name, std::string_view value);
  // Removes every field called `name`; returns how many were removed.
  size_t Remove(std::string_view name);
  void Clear();

  // The first value of `name`, if any.
  std::optional<std::string_view> Get(std::string_view name) const;
  std::vector<std::string_view> GetAll(std::string_view name) const;
  // Calls `fn(value)` for each value of `name`, in order, without allocating.
  template <typename Fn>
  void ForEachValue(std::string_view name, Fn&& fn) const {
    for (const Slot& slot : slots_) {
      if (NameEquals(slot, name))
        fn(std::string_view(arena_.data() + slot.value_offset, slot.value_size));
    }
  }
  // True when some value of `name`, read as a comma-separated list, contains
  // `token` (case-insensitively): "close" in `Connection: keep-alive, close`.
  bool HasToken(std::string_view name, std::string_view token) const;
  // All values of `name` joined with ", " (the list syntax of RFC 9110 §5.3).
  std::string GetJoined(std::string_view name) const;
  bool Has(std::string_view name) const { return Find(name) != kNotFound; }
  size_t Count(std::string_view name) const;

  size_t size() const { return slots_.size(); }
  bool empty() const { return slots_.empty(); }
  // Bytes of names and values, as a rough measure for limits and statistics.
  size_t ByteSize() const { return arena_.size() - garbage_; }

  HeaderField at(size_t i) const;

  class const_iterator {
   public:
    using value_type = HeaderField;
    using difference_type = std::ptrdiff_t;
    const_iterator(const HeaderMap* map, size_t i) : map_(map), i_(i) {}
    HeaderField operator*() const { return map_->at(i_); }
    const_iterator& operator++() {
      ++i_;
      return *this;
    }
    bool operator==(const const_iterator& other) const { return i_ == other.i_; }
    bool operator!=(const const_iterator& other) const { return i_ != other.i_; }

   private:
    const HeaderMap* map_;
    size_t i_;
  };
  const_iterator begin() const { return {this, 0}; }
  const_iterator end() const { return {this, slots_.size()}; }

  // Hint for parsers that know the size of the header section up front.
  void Reserve(size_t fields, size_t bytes);

  // Equal when the same fields appear in the same order.
  friend bool operator==(const HeaderMap& a, const HeaderMap& b);

 protected:
  static constexpr size_t kNotFound = static_cast<size_t>(-1);
  size_t Find(std::string_view name) const;

 private:
  struct Slot {
    uint32_t name_offset;
    uint32_t name_size;
    uint32_t value_offset;
    uint32_t value_size;
  };
  Slot Append(std::string_view name, std::string_view value);
  bool NameEquals(const Slot& slot, std::string_view name) const;
  void CompactIfWasteful();

  std::string arena_;
  std::vector<Slot> slots_;
  size_t pseudo_count_ = 0;  // pseudo-header slots come first
  size_t garbage_ = 0;       // arena bytes no slot refers to any more
};

// A request's headers: :method, :path, :authority and :scheme plus fields.
class RequestHeaders : public HeaderMap {
 public:
  using HeaderMap::HeaderMap;
  std::string_view Method() const { return Get(kMethod).value_or(""); }
  std::string_view Path() const { return Get(kPath).value_or(""); }
  std::string_view Authority() const { return Get(kAuthority).value_or(""); }
  std::string_view Scheme() const { return Get(kScheme).value_or(""); }
};

// A response's headers: :status plus fields.
class ResponseHeaders : public HeaderMap {
 public:
  using HeaderMap::HeaderMap;
  // The :status as a number, or 0 when absent or not three digits.
  int Status() const;
  void SetStatus(int status);
};

// Trailers carry no pseudo-headers.
using TrailerMap = HeaderMap;

// True when `list` (a comma-separated field value) contains `token`,
// compared case-insensitively (e.g. "close" in "Keep-Alive, Close").
bool ListContainsToken(std::string_view list, std::string_view token);

}  // namespace meshgate::proxy::http
