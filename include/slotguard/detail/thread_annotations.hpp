// SPDX-License-Identifier: Apache-2.0
// Lock discipline the compiler checks: clang's thread-safety attributes
// behind SLOTGUARD_ macros (empty for other compilers), and a mutex and
// scoped lock that carry them, since the standard library's do not. A
// member marked SLOTGUARD_GUARDED_BY(mu_) may only be touched with mu_
// held; a function marked SLOTGUARD_REQUIRES(mu_) may only be called with
// it held, SLOTGUARD_EXCLUDES(mu_) only without. The clang build runs with
// -Wthread-safety -Werror, so a broken rule fails the build.
#ifndef SLOTGUARD_DETAIL_THREAD_ANNOTATIONS_HPP
#define SLOTGUARD_DETAIL_THREAD_ANNOTATIONS_HPP

#include <slotguard/config.hpp>

#include <mutex>

#if defined(__clang__)
#define SLOTGUARD_TSA(x) __attribute__((x))
#else
#define SLOTGUARD_TSA(x)
#endif

#define SLOTGUARD_CAPABILITY(x) SLOTGUARD_TSA(capability(x))
#define SLOTGUARD_SCOPED_CAPABILITY SLOTGUARD_TSA(scoped_lockable)
#define SLOTGUARD_GUARDED_BY(x) SLOTGUARD_TSA(guarded_by(x))
#define SLOTGUARD_PT_GUARDED_BY(x) SLOTGUARD_TSA(pt_guarded_by(x))
#define SLOTGUARD_REQUIRES(...) SLOTGUARD_TSA(requires_capability(__VA_ARGS__))
#define SLOTGUARD_EXCLUDES(...) SLOTGUARD_TSA(locks_excluded(__VA_ARGS__))
#define SLOTGUARD_ACQUIRE(...) SLOTGUARD_TSA(acquire_capability(__VA_ARGS__))
#define SLOTGUARD_TRY_ACQUIRE(...) SLOTGUARD_TSA(try_acquire_capability(__VA_ARGS__))
#define SLOTGUARD_RELEASE(...) SLOTGUARD_TSA(release_capability(__VA_ARGS__))
#define SLOTGUARD_ACQUIRED_AFTER(...) SLOTGUARD_TSA(acquired_after(__VA_ARGS__))
#define SLOTGUARD_NO_THREAD_SAFETY_ANALYSIS SLOTGUARD_TSA(no_thread_safety_analysis)

namespace slotguard {
inline namespace SLOTGUARD_ABI_NAMESPACE {
namespace detail {

// std::mutex with the capability attribute.
class SLOTGUARD_CAPABILITY("mutex") annotated_mutex {
 public:
  void lock() SLOTGUARD_ACQUIRE() { mu_.lock(); }
  bool try_lock() SLOTGUARD_TRY_ACQUIRE(true) { return mu_.try_lock(); }
  void unlock() SLOTGUARD_RELEASE() { mu_.unlock(); }
  std::mutex& native() noexcept { return mu_; }

 private:
  std::mutex mu_;
};

// std::lock_guard for annotated_mutex.
class SLOTGUARD_SCOPED_CAPABILITY scoped_lock {
 public:
  explicit scoped_lock(annotated_mutex& m) SLOTGUARD_ACQUIRE(m) : m_(m) { m_.lock(); }
  ~scoped_lock() SLOTGUARD_RELEASE() { m_.unlock(); }
  scoped_lock(const scoped_lock&) = delete;
  scoped_lock& operator=(const scoped_lock&) = delete;

 private:
  annotated_mutex& m_;
};

}  // namespace detail
}  // inline namespace SLOTGUARD_ABI_NAMESPACE
}  // namespace slotguard

#endif  // SLOTGUARD_DETAIL_THREAD_ANNOTATIONS_HPP
