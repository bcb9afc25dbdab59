// SPDX-License-Identifier: Apache-2.0
// The atomics of the readers' headers (slotguard/reader.hpp's tree: the
// snapshot's hazard pointers, a schema's verified declarations, a content's
// release flag): a word (a pointer, a bool or an unsigned integer) with the
// operations of std::atomic that those headers use, in the same memory
// model. With GCC and Clang it is made of the compiler's __atomic builtins,
// which are what std::atomic is itself made of in libstdc++ and libc++; so a
// worker's translation unit does not parse <atomic>, whose specialisations
// for every integer type cost it about a tenth of its compile time. Other
// compilers get std_atomic_word (detail/atomic_word_std.hpp: the same
// interface over std::atomic, which the tests also run on GCC and Clang).
// The writers' side (slotguard/snapshot.hpp, the guard) uses the same type
// for the same objects.
#ifndef SLOTGUARD_DETAIL_ATOMIC_WORD_HPP
#define SLOTGUARD_DETAIL_ATOMIC_WORD_HPP

#include <slotguard/config.hpp>

#include <cstdint>
#include <type_traits>

namespace slotguard {
inline namespace SLOTGUARD_ABI_NAMESPACE {
namespace detail {

// std::memory_order's five orders a word's operations take (consume is not
// used; it is acquire in every compiler).
enum class order : int { relaxed, acquire, release, acq_rel, seq_cst };

// What a word may be: what both implementations hold without a lock.
template <class T>
struct atomic_word_type
    : std::integral_constant<bool, std::is_pointer<T>::value || std::is_same<T, bool>::value ||
                                       (std::is_integral<T>::value && std::is_unsigned<T>::value)> {};

#if defined(__GNUC__) || defined(__clang__)
template <class T>
class atomic_word {
  static_assert(atomic_word_type<T>::value, "atomic_word holds a pointer, a bool or an unsigned integer");

 public:
  constexpr atomic_word() noexcept : v_() {}
  constexpr atomic_word(T v) noexcept : v_(v) {}  // NOLINT: as std::atomic's
  atomic_word(const atomic_word&) = delete;
  atomic_word& operator=(const atomic_word&) = delete;

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
};
#else
template <class T>
class std_atomic_word;
template <class T>
using atomic_word = std_atomic_word<T>;
#endif

}  // namespace detail
}  // inline namespace SLOTGUARD_ABI_NAMESPACE
}  // namespace slotguard

#if !(defined(__GNUC__) || defined(__clang__))
#include <slotguard/detail/atomic_word_std.hpp>
#endif

#endif  // SLOTGUARD_DETAIL_ATOMIC_WORD_HPP
