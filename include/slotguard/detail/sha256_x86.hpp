// SPDX-License-Identifier: Apache-2.0
// SHA-256 with the x86 SHA extensions (SHA-NI). Only the compression
// function is compiled for those instructions (a target attribute on it
// alone), so the rest of the program keeps the baseline instruction set and
// this code runs only after CPUID said the CPU has them.
#ifndef SLOTGUARD_DETAIL_SHA256_X86_HPP
#define SLOTGUARD_DETAIL_SHA256_X86_HPP

#include <slotguard/config.hpp>

#include <slotguard/detail/cpu.hpp>
#include <slotguard/detail/sha256_common.hpp>

#include <cstddef>
#include <cstdint>

#if SLOTGUARD_ARCH_X86_64 && !SLOTGUARD_CONFIG_NO_HW_ACCEL
#define SLOTGUARD_HAVE_SHA256_X86 1
#if defined(_MSC_VER) && !defined(__clang__)
#include <immintrin.h>
#else
// SSE4.1/SSSE3 from their own header, and the three SHA instructions through
// the compiler's builtins (what <immintrin.h>'s _mm_sha256* wrap): GCC lets
// <shaintrin.h> come only through <immintrin.h>, whose every x86 extension's
// intrinsics (some 47,000 lines) would otherwise reach each file that
// includes a hashing header.
#include <nmmintrin.h>
#endif

namespace slotguard {
inline namespace SLOTGUARD_ABI_NAMESPACE {
namespace detail {

SLOTGUARD_TARGET("sha,sse4.1,ssse3")
inline __m128i sha256_rnds2(__m128i a, __m128i b, __m128i k) noexcept {
#if defined(_MSC_VER) && !defined(__clang__)
  return _mm_sha256rnds2_epu32(a, b, k);
#else
  return (__m128i)__builtin_ia32_sha256rnds2((__v4si)a, (__v4si)b, (__v4si)k);
#endif
}
SLOTGUARD_TARGET("sha,sse4.1,ssse3")
inline __m128i sha256_msg1(__m128i a, __m128i b) noexcept {
#if defined(_MSC_VER) && !defined(__clang__)
  return _mm_sha256msg1_epu32(a, b);
#else
  return (__m128i)__builtin_ia32_sha256msg1((__v4si)a, (__v4si)b);
#endif
}
SLOTGUARD_TARGET("sha,sse4.1,ssse3")
inline __m128i sha256_msg2(__m128i a, __m128i b) noexcept {
#if defined(_MSC_VER) && !defined(__clang__)
  return _mm_sha256msg2_epu32(a, b);
#else
  return (__m128i)__builtin_ia32_sha256msg2((__v4si)a, (__v4si)b);
#endif
}

// Four rounds: message words w (already with the round constants added).
#define SLOTGUARD_SHA256_NI_4ROUNDS(wk)                   \
  do {                                                    \
    __m128i m_ = (wk);                                    \
    s1 = sha256_rnds2(s1, s0, m_);               \
    m_ = _mm_shuffle_epi32(m_, 0x0E);                     \
    s0 = sha256_rnds2(s0, s1, m_);               \
  } while (0)

// W[i..i+3] from the previous 16 words: a, b, c, d hold W[i-16..i-13],
// W[i-12..i-9], W[i-8..i-5], W[i-4..i-1]; the result replaces a.
#define SLOTGUARD_SHA256_NI_SCHED(a, b, c, d) \
  a = sha256_msg2(_mm_add_epi32(sha256_msg1(a, b), _mm_alignr_epi8(d, c, 4)), d)

#define SLOTGUARD_SHA256_NI_K(i)                                                            \
  _mm_set_epi32(static_cast<int>(sha256_k[(i) + 3]), static_cast<int>(sha256_k[(i) + 2]), \
                static_cast<int>(sha256_k[(i) + 1]), static_cast<int>(sha256_k[(i)]))

SLOTGUARD_TARGET("sha,sse4.1,ssse3")
inline void sha256_compress_x86(std::uint32_t* state, const std::uint8_t* data,
                                std::size_t blocks) noexcept {
  const __m128i bswap = _mm_set_epi64x(0x0c0d0e0f08090a0bLL, 0x0405060700010203LL);
  // The instructions want the state as ABEF and CDGH.
  __m128i t = _mm_loadu_si128(reinterpret_cast<const __m128i*>(state));       // DCBA
  __m128i s1 = _mm_loadu_si128(reinterpret_cast<const __m128i*>(state + 4));  // HGFE
  t = _mm_shuffle_epi32(t, 0xB1);                                               // CDAB
  s1 = _mm_shuffle_epi32(s1, 0x1B);                                             // EFGH
  __m128i s0 = _mm_alignr_epi8(t, s1, 8);                                       // ABEF
  s1 = _mm_blend_epi16(s1, t, 0xF0);                                            // CDGH

  while (blocks-- > 0) {
    const __m128i save0 = s0;
    const __m128i save1 = s1;
    __m128i w0 = _mm_shuffle_epi8(_mm_loadu_si128(reinterpret_cast<const __m128i*>(data)), bswap);
    __m128i w1 = _mm_shuffle_epi8(_mm_loadu_si128(reinterpret_cast<const __m128i*>(data + 16)), bswap);
    __m128i w2 = _mm_shuffle_epi8(_mm_loadu_si128(reinterpret_cast<const __m128i*>(data + 32)), bswap);
    __m128i w3 = _mm_shuffle_epi8(_mm_loadu_si128(reinterpret_cast<const __m128i*>(data + 48)), bswap);
    SLOTGUARD_SHA256_NI_4ROUNDS(_mm_add_epi32(w0, SLOTGUARD_SHA256_NI_K(0)));
    SLOTGUARD_SHA256_NI_4ROUNDS(_mm_add_epi32(w1, SLOTGUARD_SHA256_NI_K(4)));
    SLOTGUARD_SHA256_NI_4ROUNDS(_mm_add_epi32(w2, SLOTGUARD_SHA256_NI_K(8)));
    SLOTGUARD_SHA256_NI_4ROUNDS(_mm_add_epi32(w3, SLOTGUARD_SHA256_NI_K(12)));
    SLOTGUARD_SHA256_NI_SCHED(w0, w1, w2, w3);
    SLOTGUARD_SHA256_NI_4ROUNDS(_mm_add_epi32(w0, SLOTGUARD_SHA256_NI_K(16)));
    SLOTGUARD_SHA256_NI_SCHED(w1, w2, w3, w0);
    SLOTGUARD_SHA256_NI_4ROUNDS(_mm_add_epi32(w1, SLOTGUARD_SHA256_NI_K(20)));
    SLOTGUARD_SHA256_NI_SCHED(w2, w3, w0, w1);
    SLOTGUARD_SHA256_NI_4ROUNDS(_mm_add_epi32(w2, SLOTGUARD_SHA256_NI_K(24)));
    SLOTGUARD_SHA256_NI_SCHED(w3, w0, w1, w2);
    SLOTGUARD_SHA256_NI_4ROUNDS(_mm_add_epi32(w3, SLOTGUARD_SHA256_NI_K(28)));
    SLOTGUARD_SHA256_NI_SCHED(w0, w1, w2, w3);
    SLOTGUARD_SHA256_NI_4ROUNDS(_mm_add_epi32(w0, SLOTGUARD_SHA256_NI_K(32)));
    SLOTGUARD_SHA256_NI_SCHED(w1, w2, w3, w0);
    SLOTGUARD_SHA256_NI_4ROUNDS(_mm_add_epi32(w1, SLOTGUARD_SHA256_NI_K(36)));
    SLOTGUARD_SHA256_NI_SCHED(w2, w3, w0, w1);
    SLOTGUARD_SHA256_NI_4ROUNDS(_mm_add_epi32(w2, SLOTGUARD_SHA256_NI_K(40)));
    SLOTGUARD_SHA256_NI_SCHED(w3, w0, w1, w2);
    SLOTGUARD_SHA256_NI_4ROUNDS(_mm_add_epi32(w3, SLOTGUARD_SHA256_NI_K(44)));
    SLOTGUARD_SHA256_NI_SCHED(w0, w1, w2, w3);
    SLOTGUARD_SHA256_NI_4ROUNDS(_mm_add_epi32(w0, SLOTGUARD_SHA256_NI_K(48)));
    SLOTGUARD_SHA256_NI_SCHED(w1, w2, w3, w0);
    SLOTGUARD_SHA256_NI_4ROUNDS(_mm_add_epi32(w1, SLOTGUARD_SHA256_NI_K(52)));
    SLOTGUARD_SHA256_NI_SCHED(w2, w3, w0, w1);
    SLOTGUARD_SHA256_NI_4ROUNDS(_mm_add_epi32(w2, SLOTGUARD_SHA256_NI_K(56)));
    SLOTGUARD_SHA256_NI_SCHED(w3, w0, w1, w2);
    SLOTGUARD_SHA256_NI_4ROUNDS(_mm_add_epi32(w3, SLOTGUARD_SHA256_NI_K(60)));
    s0 = _mm_add_epi32(s0, save0);
    s1 = _mm_add_epi32(s1, save1);
    data += 64;
  }

  t = _mm_shuffle_epi32(s0, 0x1B);     // FEBA
  s1 = _mm_shuffle_epi32(s1, 0xB1);    // DCHG
  s0 = _mm_blend_epi16(t, s1, 0xF0);   // DCBA
  s1 = _mm_alignr_epi8(s1, t, 8);      // HGFE
  _mm_storeu_si128(reinterpret_cast<__m128i*>(state), s0);
  _mm_storeu_si128(reinterpret_cast<__m128i*>(state + 4), s1);
}

#undef SLOTGUARD_SHA256_NI_K
#undef SLOTGUARD_SHA256_NI_SCHED
#undef SLOTGUARD_SHA256_NI_4ROUNDS

}  // namespace detail
}  // inline namespace SLOTGUARD_ABI_NAMESPACE
}  // namespace slotguard

#else
#define SLOTGUARD_HAVE_SHA256_X86 0
#endif

#endif  // SLOTGUARD_DETAIL_SHA256_X86_HPP
