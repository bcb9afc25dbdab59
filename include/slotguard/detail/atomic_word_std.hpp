// SPDX-License-Identifier: Apache-2.0
// detail::atomic_word's interface over std::atomic: what atomic_word is
// with a compiler that has no __atomic builtins (detail/atomic_word.hpp),
// and what the tests run the same checks on everywhere, so that this path is
// compiled and run although CI's compilers all take the other one.
#ifndef SLOTGUARD_DETAIL_ATOMIC_WORD_STD_HPP
#define SLOTGUARD_DETAIL_ATOMIC_WORD_STD_HPP

#include <slotguard/config.hpp>
#include <slotguard/detail/atomic_word.hpp>

#include <atomic>

namespace slotguard {
inline namespace SLOTGUARD_ABI_NAMESPACE {
namespace detail {

template <class T>
class std_atomic_word {
  static_assert(atomic_word_type<T>::value, "atomic_word holds a pointer, a bool or an unsigned integer");

 public:
  constexpr std_atomic_word() noexcept : v_(T()) {}
  constexpr std_atomic_word(T v) noexcept : v_(v) {}  // NOLINT: as std::atomic's
  std_atomic_word(const std_atomic_word&) = delete;
  std_atomic_word& operator=(const std_atomic_word&) = delete;

  T load(order o = order::seq_cst) const noexcept { return v_.load(std_order(o)); }
  void store(T v, order o = order::seq_cst) noexcept { v_.store(v, std_order(o)); }
  T exchange(T v, order o = order::seq_cst) noexcept { return v_.exchange(v, std_order(o)); }
  bool compare_exchange_strong(T& expected, T desired, order success, order failure) noexcept {
    return v_.compare_exchange_strong(expected, desired, std_order(success), std_order(failure));
  }
  bool compare_exchange_weak(T& expected, T desired, order success, order failure) noexcept {
    return v_.compare_exchange_weak(expected, desired, std_order(success), std_order(failure));
  }

 private:
  static constexpr std::memory_order std_order(order o) noexcept {
    return o == order::relaxed   ? std::memory_order_relaxed
           : o == order::acquire ? std::memory_order_acquire
           : o == order::release ? std::memory_order_release
           : o == order::acq_rel ? std::memory_order_acq_rel
                                 : std::memory_order_seq_cst;
  }
  std::atomic<T> v_;
  static_assert(std::atomic<T>::is_always_lock_free, "the readers' atomics never take a lock");
};

}  // namespace detail
}  // inline namespace SLOTGUARD_ABI_NAMESPACE
}  // namespace slotguard

#endif  // SLOTGUARD_DETAIL_ATOMIC_WORD_STD_HPP
