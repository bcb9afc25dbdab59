// SPDX-License-Identifier: Apache-2.0
// The portable SHA-256 compression function: plain C++ for any host, with the
// 64 rounds unrolled and the message schedule kept in a 16-word ring so the
// compiler holds the working state in registers.
#ifndef SLOTGUARD_DETAIL_SHA256_PORTABLE_HPP
#define SLOTGUARD_DETAIL_SHA256_PORTABLE_HPP

#include <slotguard/config.hpp>

#include <slotguard/detail/sha256_common.hpp>

#include <cstddef>
#include <cstdint>

namespace slotguard {
inline namespace SLOTGUARD_ABI_NAMESPACE {
namespace detail {

inline constexpr std::uint32_t rotr32(std::uint32_t x, unsigned n) noexcept {
  return (x >> n) | (x << (32 - n));
}

// One round; the caller rotates the roles of the eight working variables by
// renaming them rather than by moving values.
#define SLOTGUARD_SHA256_ROUND(a, b, c, d, e, f, g, h, k, w)                               \
  do {                                                                                     \
    const std::uint32_t t1_ = h + (rotr32(e, 6) ^ rotr32(e, 11) ^ rotr32(e, 25)) +         \
                              (g ^ (e & (f ^ g))) + (k) + (w);                             \
    const std::uint32_t t2_ = (rotr32(a, 2) ^ rotr32(a, 13) ^ rotr32(a, 22)) +             \
                              ((a & b) | (c & (a | b)));                                   \
    d += t1_;                                                                              \
    h = t1_ + t2_;                                                                         \
  } while (0)

// W[t] for t >= 16, in place in the ring of the last 16 words.
#define SLOTGUARD_SHA256_SCHED(w, i)                                                        \
  (w[(i)&15] += (rotr32(w[((i) + 14) & 15], 17) ^ rotr32(w[((i) + 14) & 15], 19) ^         \
                 (w[((i) + 14) & 15] >> 10)) +                                             \
                w[((i) + 9) & 15] +                                                        \
                (rotr32(w[((i) + 1) & 15], 7) ^ rotr32(w[((i) + 1) & 15], 18) ^            \
                 (w[((i) + 1) & 15] >> 3)))

#define SLOTGUARD_SHA256_8ROUNDS(kk, W0, W1, W2, W3, W4, W5, W6, W7) \
  SLOTGUARD_SHA256_ROUND(a, b, c, d, e, f, g, h, kk[0], W0);       \
  SLOTGUARD_SHA256_ROUND(h, a, b, c, d, e, f, g, kk[1], W1);       \
  SLOTGUARD_SHA256_ROUND(g, h, a, b, c, d, e, f, kk[2], W2);       \
  SLOTGUARD_SHA256_ROUND(f, g, h, a, b, c, d, e, kk[3], W3);       \
  SLOTGUARD_SHA256_ROUND(e, f, g, h, a, b, c, d, kk[4], W4);       \
  SLOTGUARD_SHA256_ROUND(d, e, f, g, h, a, b, c, kk[5], W5);       \
  SLOTGUARD_SHA256_ROUND(c, d, e, f, g, h, a, b, kk[6], W6);       \
  SLOTGUARD_SHA256_ROUND(b, c, d, e, f, g, h, a, kk[7], W7)

inline void sha256_compress_portable(std::uint32_t* state, const std::uint8_t* data,
                                     std::size_t blocks) noexcept {
  while (blocks-- > 0) {
    std::uint32_t w[16];
    for (int i = 0; i < 16; ++i) w[i] = load_be32(data + 4 * i);
    std::uint32_t a = state[0], b = state[1], c = state[2], d = state[3];
    std::uint32_t e = state[4], f = state[5], g = state[6], h = state[7];
    const std::uint32_t* k = sha256_k;
    SLOTGUARD_SHA256_8ROUNDS(k, w[0], w[1], w[2], w[3], w[4], w[5], w[6], w[7]);
    SLOTGUARD_SHA256_8ROUNDS((k + 8), w[8], w[9], w[10], w[11], w[12], w[13], w[14], w[15]);
    for (int j = 16; j < 64; j += 16) {
      k = sha256_k + j;
      SLOTGUARD_SHA256_8ROUNDS(k, SLOTGUARD_SHA256_SCHED(w, 0), SLOTGUARD_SHA256_SCHED(w, 1),
                               SLOTGUARD_SHA256_SCHED(w, 2), SLOTGUARD_SHA256_SCHED(w, 3),
                               SLOTGUARD_SHA256_SCHED(w, 4), SLOTGUARD_SHA256_SCHED(w, 5),
                               SLOTGUARD_SHA256_SCHED(w, 6), SLOTGUARD_SHA256_SCHED(w, 7));
      SLOTGUARD_SHA256_8ROUNDS((k + 8), SLOTGUARD_SHA256_SCHED(w, 8), SLOTGUARD_SHA256_SCHED(w, 9),
                               SLOTGUARD_SHA256_SCHED(w, 10), SLOTGUARD_SHA256_SCHED(w, 11),
                               SLOTGUARD_SHA256_SCHED(w, 12), SLOTGUARD_SHA256_SCHED(w, 13),
                               SLOTGUARD_SHA256_SCHED(w, 14), SLOTGUARD_SHA256_SCHED(w, 15));
    }
    state[0] += a; state[1] += b; state[2] += c; state[3] += d;
    state[4] += e; state[5] += f; state[6] += g; state[7] += h;
    data += 64;
  }
}

#undef SLOTGUARD_SHA256_8ROUNDS
#undef SLOTGUARD_SHA256_SCHED
#undef SLOTGUARD_SHA256_ROUND

}  // namespace detail
}  // inline namespace SLOTGUARD_ABI_NAMESPACE
}  // namespace slotguard

#endif  // SLOTGUARD_DETAIL_SHA256_PORTABLE_HPP
