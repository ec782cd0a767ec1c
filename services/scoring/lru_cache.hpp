// A small map that keeps at most `capacity` entries and forgets the least recently used one
// first; safe to use from several request threads. The scoring API keeps its loaded models in
// one (a model's trees take memory, and every trained model id could be asked for).
#pragma once

#include <cstddef>
#include <list>
#include <map>
#include <mutex>
#include <optional>
#include <utility>

namespace gabe::scoring {

template <typename Key, typename Value>
class LruCache {
 public:
  explicit LruCache(std::size_t capacity) : capacity_(capacity < 1 ? 1 : capacity) {}

  // The value of `key`, now the most recently used, if it is kept.
  std::optional<Value> find(const Key& key) {
    std::lock_guard lock(mutex_);
    const auto it = index_.find(key);
    if (it == index_.end()) return std::nullopt;
    order_.splice(order_.begin(), order_, it->second);
    return it->second->second;
  }

  // Keeps `value` for `key` (unless another thread kept one first: that one is returned) and
  // forgets the least recently used entries beyond the capacity.
  Value insert(const Key& key, Value value) {
    std::lock_guard lock(mutex_);
    if (const auto it = index_.find(key); it != index_.end()) {
      order_.splice(order_.begin(), order_, it->second);
      return it->second->second;
    }
    order_.emplace_front(key, std::move(value));
    index_.emplace(key, order_.begin());
    while (order_.size() > capacity_) {
      index_.erase(order_.back().first);
      order_.pop_back();
    }
    return order_.front().second;
  }

  std::size_t size() {
    std::lock_guard lock(mutex_);
    return order_.size();
  }

 private:
  std::size_t capacity_;
  std::mutex mutex_;
  std::list<std::pair<Key, Value>> order_;  // most recently used first
  std::map<Key, typename std::list<std::pair<Key, Value>>::iterator> index_;
};

}  // namespace gabe::scoring
