#include "proxy/http/header_map.h"

#include <algorithm>

#include "absl/strings/ascii.h"
#include "proxy/http/str_util.h"

namespace meshgate::proxy::http {
namespace {

bool IsPseudo(std::string_view name) { return !name.empty() && name[0] == ':'; }

}  // namespace

HeaderMap::HeaderMap(std::initializer_list<std::pair<std::string_view, std::string_view>> fields) {
  for (const auto& [name, value] : fields) Add(name, value);
}

HeaderMap::Slot HeaderMap::Append(std::string_view name, std::string_view value) {
  Slot slot;
  slot.name_offset = static_cast<uint32_t>(arena_.size());
  slot.name_size = static_cast<uint32_t>(name.size());
  const size_t start = arena_.size();
  arena_.append(name);
  for (size_t i = start; i < arena_.size(); ++i) arena_[i] = absl::ascii_tolower(arena_[i]);
  slot.value_offset = static_cast<uint32_t>(arena_.size());
  slot.value_size = static_cast<uint32_t>(value.size());
  arena_.append(value);
  return slot;
}

void HeaderMap::Add(std::string_view name, std::string_view value) {
  const Slot slot = Append(name, value);
  if (IsPseudo(name)) {
    slots_.insert(slots_.begin() + static_cast<std::ptrdiff_t>(pseudo_count_), slot);
    ++pseudo_count_;
  } else {
    slots_.push_back(slot);
  }
}

void HeaderMap::Set(std::string_view name, std::string_view value) {
  const size_t first = Find(name);
  if (first == kNotFound) {
    Add(name, value);
    return;
  }
  // Erase the later duplicates first so `first` stays valid.
  for (size_t i = slots_.size(); i-- > first + 1;) {
    if (NameEquals(slots_[i], name)) {
      garbage_ += slots_[i].name_size + slots_[i].value_size;
      if (i < pseudo_count_) --pseudo_count_;
      slots_.erase(slots_.begin() + static_cast<std::ptrdiff_t>(i));
    }
  }
  Slot& slot = slots_[first];
  garbage_ += slot.value_size;
  slot.value_offset = static_cast<uint32_t>(arena_.size());
  slot.value_size = static_cast<uint32_t>(value.size());
  arena_.append(value);
  CompactIfWasteful();
}

size_t HeaderMap::Remove(std::string_view name) {
  size_t removed = 0;
  size_t out = 0;
  size_t pseudo_removed = 0;
  for (size_t i = 0; i < slots_.size(); ++i) {
    if (NameEquals(slots_[i], name)) {
      garbage_ += slots_[i].name_size + slots_[i].value_size;
      if (i < pseudo_count_) ++pseudo_removed;
      ++removed;
    } else {
      slots_[out++] = slots_[i];
    }
  }
  slots_.resize(out);
  pseudo_count_ -= pseudo_removed;
  CompactIfWasteful();
  return removed;
}

void HeaderMap::Clear() {
  arena_.clear();
  slots_.clear();
  pseudo_count_ = 0;
  garbage_ = 0;
}

void HeaderMap::CompactIfWasteful() {
  if (garbage_ < 256 || garbage_ * 2 < arena_.size()) return;
  std::string compact;
  compact.reserve(arena_.size() - garbage_);
  for (Slot& slot : slots_) {
    const uint32_t name_offset = static_cast<uint32_t>(compact.size());
    compact.append(arena_, slot.name_offset, slot.name_size);
    const uint32_t value_offset = static_cast<uint32_t>(compact.size());
    compact.append(arena_, slot.value_offset, slot.value_size);
    slot.name_offset = name_offset;
    slot.value_offset = value_offset;
  }
  arena_ = std::move(compact);
  garbage_ = 0;
}

bool HeaderMap::NameEquals(const Slot& slot, std::string_view name) const {
  if (slot.name_size != name.size()) return false;
  const char* stored = arena_.data() + slot.name_offset;
  for (size_t i = 0; i < name.size(); ++i) {
    if (stored[i] != absl::ascii_tolower(name[i])) return false;
  }
  return true;
}

size_t HeaderMap::Find(std::string_view name) const {
  // Pseudo-headers live in the prefix, regular fields after it.
  const size_t begin = IsPseudo(name) ? 0 : pseudo_count_;
  const size_t end = IsPseudo(name) ? pseudo_count_ : slots_.size();
  for (size_t i = begin; i < end; ++i) {
    if (NameEquals(slots_[i], name)) return i;
  }
  return kNotFound;
}

std::optional<std::string_view> HeaderMap::Get(std::string_view name) const {
  const size_t i = Find(name);
  if (i == kNotFound) return std::nullopt;
  return at(i).value;
}

std::vector<std::string_view> HeaderMap::GetAll(std::string_view name) const {
  std::vector<std::string_view> values;
  for (const Slot& slot : slots_) {
    if (NameEquals(slot, name)) {
      values.emplace_back(arena_.data() + slot.value_offset, slot.value_size);
    }
  }
  return values;
}

std::string HeaderMap::GetJoined(std::string_view name) const {
  std::string joined;
  bool first = true;
  for (const Slot& slot : slots_) {
    if (!NameEquals(slot, name)) continue;
    if (!first) joined.append(", ");
    joined.append(arena_, slot.value_offset, slot.value_size);
    first = false;
  }
  return joined;
}

bool HeaderMap::HasToken(std::string_view name, std::string_view token) const {
  for (const Slot& slot : slots_) {
    if (NameEquals(slot, name) &&
        ListContainsToken(std::string_view(arena_.data() + slot.value_offset, slot.value_size),
                          token)) {
      return true;
    }
  }
  return false;
}

size_t HeaderMap::Count(std::string_view name) const {
  return static_cast<size_t>(std::count_if(slots_.begin(), slots_.end(),
                                           [&](const Slot& s) { return NameEquals(s, name); }));
}

HeaderField HeaderMap::at(size_t i) const {
  const Slot& slot = slots_[i];
  return HeaderField{std::string_view(arena_.data() + slot.name_offset, slot.name_size),
                     std::string_view(arena_.data() + slot.value_offset, slot.value_size)};
}

void HeaderMap::Reserve(size_t fields, size_t bytes) {
  slots_.reserve(fields);
  arena_.reserve(bytes);
}

bool operator==(const HeaderMap& a, const HeaderMap& b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    const HeaderField fa = a.at(i);
    const HeaderField fb = b.at(i);
    if (fa.name != fb.name || fa.value != fb.value) return false;
  }
  return true;
}

int ResponseHeaders::Status() const {
  const std::optional<std::string_view> status = Get(kStatus);
  if (!status || status->size() != 3) return 0;
  int code = 0;
  for (char c : *status) {
    if (!absl::ascii_isdigit(c)) return 0;
    code = code * 10 + (c - '0');
  }
  return code;
}

void ResponseHeaders::SetStatus(int status) { Set(kStatus, std::to_string(status)); }

bool ListContainsToken(std::string_view list, std::string_view token) {
  while (!list.empty()) {
    const size_t comma = list.find(',');
    std::string_view element = list.substr(0, comma);
    element = StripWhitespace(element);
    if (EqualsIgnoreCase(element, token)) return true;
    if (comma == std::string_view::npos) break;
    list.remove_prefix(comma + 1);
  }
  return false;
}

}  // namespace meshgate::proxy::http
