// SPDX-License-Identifier: Apache-2.0
// The atomics of the readers' headers (slotguard/reader.hpp's tree: the
// snapshot's hazard pointers, a schema's verified declarations, a content's
// release flag): a word (a pointer, a bool or an unsigned integer) with the
// operations of std::atomic that those headers use, in the same memory
// model. With GCC and Clang it is made of the compiler's __atomic builtins,
// which are what std::atomic is itself made of in libstdc++ and libc++; so a
// worker's translation unit does not parse <atomic>, whose specialisations
// for every integer type cost it about a tenth of its compile time. Other
// compilers get std::atomic itself. The writers' side (slotguard/
// snapshot.hpp, the guard) uses the same type for the same objects.
#ifndef SLOTGUARD_DETAIL_ATOMIC_WORD_HPP
#define SLOTGUARD_DETAIL_ATOMIC_WORD_HPP

#include <slotguard/config.hpp>

#include <cstdint>
#include <type_traits>

#if !(defined(__GNUC__) || defined(__clang__))
#define SLOTGUARD_DETAIL_ATOMIC_WORD_USES_STD 1
#include <atomic>
#endif

namespace slotguard {
inline namespace SLOTGUARD_ABI_NAMESPACE {
namespace detail {

// std::memory_order's five orders a word's operations take (consume is not
// used; it is acquire in every compiler).
enum class order : int { relaxed, acquire, release, acq_rel, seq_cst };

// The failure order a compare-exchange with one order uses, as std::atomic
// derives it: acq_rel fails as acquire, release as relaxed.
constexpr order failure_order_of(order o) noexcept {
  return o == order::acq_rel ? order::acquire : o == order::release ? order::relaxed : o;
}

template <class T>
class atomic_word {
  static_assert(std::is_pointer<T>::value || std::is_same<T, bool>::value ||
                    (std::is_integral<T>::value && std::is_unsigned<T>::value),
                "atomic_word holds a pointer, a bool or an unsigned integer");

 public:
  constexpr atomic_word() noexcept : v_() {}
  constexpr atomic_word(T v) noexcept : v_(v) {}  // NOLINT: as std::atomic's
  atomic_word(const atomic_word&) = delete;
  atomic_word& operator=(const atomic_word&) = delete;

#if defined(SLOTGUARD_DETAIL_ATOMIC_WORD_USES_STD)
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
#else
  T load(order o = order::seq_cst) const noexcept { return __atomic_load_n(&v_, builtin(o)); }
  void store(T v, order o = order::seq_cst) noexcept { __atomic_store_n(&v_, v, builtin(o)); }
  T exchange(T v, order o = order::seq_cst) noexcept { return __atomic_exchange_n(&v_, v, builtin(o)); }
  bool compare_exchange_strong(T& expected, T desired, order success, order failure) noexcept {
    return __atomic_compare_exchange_n(&v_, &expected, desired, false, builtin(success), builtin(failure));
  }
  bool compare_exchange_weak(T& expected, T desired, order success, order failure) noexcept {
    return __atomic_compare_exchange_n(&v_, &expected, desired, true, builtin(success), builtin(failure));
  }

 private:
  static constexpr int builtin(order o) noexcept {
    return o == order::relaxed   ? __ATOMIC_RELAXED
           : o == order::acquire ? __ATOMIC_ACQUIRE
           : o == order::release ? __ATOMIC_RELEASE
           : o == order::acq_rel ? __ATOMIC_ACQ_REL
                                 : __ATOMIC_SEQ_CST;
  }
  // Aligned to its size, as std::atomic aligns it: an 8-byte integer is
  // only 4-aligned inside a structure on i686, where an access that may
  // straddle a cache line is not atomic.
  alignas(sizeof(T)) T v_;
  static_assert(__atomic_always_lock_free(sizeof(T), 0), "the readers' atomics never take a lock");
#endif
};

}  // namespace detail
}  // inline namespace SLOTGUARD_ABI_NAMESPACE
}  // namespace slotguard

#endif  // SLOTGUARD_DETAIL_ATOMIC_WORD_HPP
