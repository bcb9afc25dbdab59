// SPDX-License-Identifier: Apache-2.0
// Arithmetic in GF(2^255 - 19) for Ed25519, in radix 2^25.5: ten signed 32-bit
// limbs of alternately 26 and 25 bits, multiplied with 64-bit products. No
// 128-bit integers are needed, so the same code is exact on 32-bit hosts, and
// nothing depends on byte order (encodings go through explicit shifts). Every
// operation runs the same instructions whatever the values, so the signer
// can use them on secrets.
#ifndef SLOTGUARD_DETAIL_FE25519_HPP
#define SLOTGUARD_DETAIL_FE25519_HPP

#include <slotguard/config.hpp>

#include <slotguard/bytes.hpp>

#include <cstddef>
#include <cstdint>

namespace slotguard {
inline namespace SLOTGUARD_ABI_NAMESPACE {
namespace detail {

// Limb i holds bits [ceil(25.5 i), ceil(25.5 (i+1))) of the value. Outside
// of fe_carry's input, limbs stay within about 2^26 in absolute value, which
// keeps every sum of products in fe_mul below 2^63.
struct fe25519 {
  std::int32_t v[10];
};

inline constexpr int fe_limb_bits(int i) noexcept { return (i & 1) ? 25 : 26; }

// Brings ten 64-bit limbs back to the limb bounds: carry upward, fold the
// carry out of the top limb back in as 19 * c (2^255 = 19 mod p), carry once
// more into limb 1. Shifts of negative values are arithmetic on every
// supported compiler.
inline fe25519 fe_carry(std::int64_t h[10]) noexcept {
  for (int i = 0; i < 9; ++i) {
    const int bits = fe_limb_bits(i);
    const std::int64_t c = h[i] >> bits;
    h[i] -= c * (std::int64_t{1} << bits);
    h[i + 1] += c;
  }
  const std::int64_t c9 = h[9] >> 25;
  h[9] -= c9 * (std::int64_t{1} << 25);
  h[0] += 19 * c9;
  const std::int64_t c0 = h[0] >> 26;
  h[0] -= c0 * (std::int64_t{1} << 26);
  h[1] += c0;
  fe25519 r;
  for (int i = 0; i < 10; ++i) r.v[i] = static_cast<std::int32_t>(h[i]);
  return r;
}

inline fe25519 fe_zero() noexcept { return fe25519{{0, 0, 0, 0, 0, 0, 0, 0, 0, 0}}; }
inline fe25519 fe_one() noexcept { return fe25519{{1, 0, 0, 0, 0, 0, 0, 0, 0, 0}}; }

inline fe25519 fe_add(const fe25519& f, const fe25519& g) noexcept {
  std::int64_t h[10];
  for (int i = 0; i < 10; ++i) h[i] = std::int64_t{f.v[i]} + g.v[i];
  return fe_carry(h);
}

inline fe25519 fe_sub(const fe25519& f, const fe25519& g) noexcept {
  std::int64_t h[10];
  for (int i = 0; i < 10; ++i) h[i] = std::int64_t{f.v[i]} - g.v[i];
  return fe_carry(h);
}

inline fe25519 fe_neg(const fe25519& f) noexcept { return fe_sub(fe_zero(), f); }

// Schoolbook product: limb weights multiply exactly except when both limbs
// are odd (25-bit), where the product carries an extra factor 2, and where
// the index wraps past limb 9, which brings a factor 19.
inline fe25519 fe_mul(const fe25519& f, const fe25519& g) noexcept {
  // Written out (generated from that rule) so that every product is a 32x32
  // to 64-bit multiply, a single instruction on 32-bit hosts too.
#define SLOTGUARD_FE_M(a, b) (static_cast<std::int64_t>(a) * (b))
  const std::int32_t f0 = f.v[0], f1 = f.v[1], f2 = f.v[2], f3 = f.v[3], f4 = f.v[4];
  const std::int32_t f5 = f.v[5], f6 = f.v[6], f7 = f.v[7], f8 = f.v[8], f9 = f.v[9];
  const std::int32_t g0 = g.v[0], g1 = g.v[1], g2 = g.v[2], g3 = g.v[3], g4 = g.v[4];
  const std::int32_t g5 = g.v[5], g6 = g.v[6], g7 = g.v[7], g8 = g.v[8], g9 = g.v[9];
  const std::int32_t f1_2 = 2 * f1, f3_2 = 2 * f3, f5_2 = 2 * f5, f7_2 = 2 * f7, f9_2 = 2 * f9;
  const std::int32_t g1_19 = 19 * g1, g2_19 = 19 * g2, g3_19 = 19 * g3, g4_19 = 19 * g4;
  const std::int32_t g5_19 = 19 * g5, g6_19 = 19 * g6, g7_19 = 19 * g7, g8_19 = 19 * g8;
  const std::int32_t g9_19 = 19 * g9;
  std::int64_t h[10];
  h[0] = SLOTGUARD_FE_M(f0, g0) + SLOTGUARD_FE_M(f1_2, g9_19) +
         SLOTGUARD_FE_M(f2, g8_19) + SLOTGUARD_FE_M(f3_2, g7_19) +
         SLOTGUARD_FE_M(f4, g6_19) + SLOTGUARD_FE_M(f5_2, g5_19) +
         SLOTGUARD_FE_M(f6, g4_19) + SLOTGUARD_FE_M(f7_2, g3_19) +
         SLOTGUARD_FE_M(f8, g2_19) + SLOTGUARD_FE_M(f9_2, g1_19);
  h[1] = SLOTGUARD_FE_M(f0, g1) + SLOTGUARD_FE_M(f1, g0) +
         SLOTGUARD_FE_M(f2, g9_19) + SLOTGUARD_FE_M(f3, g8_19) +
         SLOTGUARD_FE_M(f4, g7_19) + SLOTGUARD_FE_M(f5, g6_19) +
         SLOTGUARD_FE_M(f6, g5_19) + SLOTGUARD_FE_M(f7, g4_19) +
         SLOTGUARD_FE_M(f8, g3_19) + SLOTGUARD_FE_M(f9, g2_19);
  h[2] = SLOTGUARD_FE_M(f0, g2) + SLOTGUARD_FE_M(f1_2, g1) +
         SLOTGUARD_FE_M(f2, g0) + SLOTGUARD_FE_M(f3_2, g9_19) +
         SLOTGUARD_FE_M(f4, g8_19) + SLOTGUARD_FE_M(f5_2, g7_19) +
         SLOTGUARD_FE_M(f6, g6_19) + SLOTGUARD_FE_M(f7_2, g5_19) +
         SLOTGUARD_FE_M(f8, g4_19) + SLOTGUARD_FE_M(f9_2, g3_19);
  h[3] = SLOTGUARD_FE_M(f0, g3) + SLOTGUARD_FE_M(f1, g2) +
         SLOTGUARD_FE_M(f2, g1) + SLOTGUARD_FE_M(f3, g0) +
         SLOTGUARD_FE_M(f4, g9_19) + SLOTGUARD_FE_M(f5, g8_19) +
         SLOTGUARD_FE_M(f6, g7_19) + SLOTGUARD_FE_M(f7, g6_19) +
         SLOTGUARD_FE_M(f8, g5_19) + SLOTGUARD_FE_M(f9, g4_19);
  h[4] = SLOTGUARD_FE_M(f0, g4) + SLOTGUARD_FE_M(f1_2, g3) +
         SLOTGUARD_FE_M(f2, g2) + SLOTGUARD_FE_M(f3_2, g1) +
         SLOTGUARD_FE_M(f4, g0) + SLOTGUARD_FE_M(f5_2, g9_19) +
         SLOTGUARD_FE_M(f6, g8_19) + SLOTGUARD_FE_M(f7_2, g7_19) +
         SLOTGUARD_FE_M(f8, g6_19) + SLOTGUARD_FE_M(f9_2, g5_19);
  h[5] = SLOTGUARD_FE_M(f0, g5) + SLOTGUARD_FE_M(f1, g4) +
         SLOTGUARD_FE_M(f2, g3) + SLOTGUARD_FE_M(f3, g2) +
         SLOTGUARD_FE_M(f4, g1) + SLOTGUARD_FE_M(f5, g0) +
         SLOTGUARD_FE_M(f6, g9_19) + SLOTGUARD_FE_M(f7, g8_19) +
         SLOTGUARD_FE_M(f8, g7_19) + SLOTGUARD_FE_M(f9, g6_19);
  h[6] = SLOTGUARD_FE_M(f0, g6) + SLOTGUARD_FE_M(f1_2, g5) +
         SLOTGUARD_FE_M(f2, g4) + SLOTGUARD_FE_M(f3_2, g3) +
         SLOTGUARD_FE_M(f4, g2) + SLOTGUARD_FE_M(f5_2, g1) +
         SLOTGUARD_FE_M(f6, g0) + SLOTGUARD_FE_M(f7_2, g9_19) +
         SLOTGUARD_FE_M(f8, g8_19) + SLOTGUARD_FE_M(f9_2, g7_19);
  h[7] = SLOTGUARD_FE_M(f0, g7) + SLOTGUARD_FE_M(f1, g6) +
         SLOTGUARD_FE_M(f2, g5) + SLOTGUARD_FE_M(f3, g4) +
         SLOTGUARD_FE_M(f4, g3) + SLOTGUARD_FE_M(f5, g2) +
         SLOTGUARD_FE_M(f6, g1) + SLOTGUARD_FE_M(f7, g0) +
         SLOTGUARD_FE_M(f8, g9_19) + SLOTGUARD_FE_M(f9, g8_19);
  h[8] = SLOTGUARD_FE_M(f0, g8) + SLOTGUARD_FE_M(f1_2, g7) +
         SLOTGUARD_FE_M(f2, g6) + SLOTGUARD_FE_M(f3_2, g5) +
         SLOTGUARD_FE_M(f4, g4) + SLOTGUARD_FE_M(f5_2, g3) +
         SLOTGUARD_FE_M(f6, g2) + SLOTGUARD_FE_M(f7_2, g1) +
         SLOTGUARD_FE_M(f8, g0) + SLOTGUARD_FE_M(f9_2, g9_19);
  h[9] = SLOTGUARD_FE_M(f0, g9) + SLOTGUARD_FE_M(f1, g8) +
         SLOTGUARD_FE_M(f2, g7) + SLOTGUARD_FE_M(f3, g6) +
         SLOTGUARD_FE_M(f4, g5) + SLOTGUARD_FE_M(f5, g4) +
         SLOTGUARD_FE_M(f6, g3) + SLOTGUARD_FE_M(f7, g2) +
         SLOTGUARD_FE_M(f8, g1) + SLOTGUARD_FE_M(f9, g0);

#undef SLOTGUARD_FE_M
  return fe_carry(h);
}

// f^2: the products f_i f_j and f_j f_i coincide, which halves the work.
inline fe25519 fe_sq(const fe25519& f) noexcept {
#define SLOTGUARD_FE_M(a, b) (static_cast<std::int64_t>(a) * (b))
  const std::int32_t f0 = f.v[0], f1 = f.v[1], f2 = f.v[2], f3 = f.v[3], f4 = f.v[4];
  const std::int32_t f5 = f.v[5], f6 = f.v[6], f7 = f.v[7], f8 = f.v[8], f9 = f.v[9];
  const std::int32_t f0_2 = 2 * f0, f1_2 = 2 * f1, f1_4 = 4 * f1, f2_2 = 2 * f2;
  const std::int32_t f3_2 = 2 * f3, f3_4 = 4 * f3, f4_2 = 2 * f4, f5_2 = 2 * f5;
  const std::int32_t f5_4 = 4 * f5, f5_19 = 19 * f5, f6_2 = 2 * f6, f6_19 = 19 * f6;
  const std::int32_t f7_2 = 2 * f7, f7_4 = 4 * f7, f7_19 = 19 * f7, f8_2 = 2 * f8;
  const std::int32_t f8_19 = 19 * f8, f9_2 = 2 * f9, f9_19 = 19 * f9;
  std::int64_t h[10];
  h[0] = SLOTGUARD_FE_M(f0, f0) + SLOTGUARD_FE_M(f1_4, f9_19) +
         SLOTGUARD_FE_M(f2_2, f8_19) + SLOTGUARD_FE_M(f3_4, f7_19) +
         SLOTGUARD_FE_M(f4_2, f6_19) + SLOTGUARD_FE_M(f5_2, f5_19);
  h[1] = SLOTGUARD_FE_M(f0_2, f1) + SLOTGUARD_FE_M(f2_2, f9_19) +
         SLOTGUARD_FE_M(f3_2, f8_19) + SLOTGUARD_FE_M(f4_2, f7_19) +
         SLOTGUARD_FE_M(f5_2, f6_19);
  h[2] = SLOTGUARD_FE_M(f0_2, f2) + SLOTGUARD_FE_M(f1_2, f1) +
         SLOTGUARD_FE_M(f3_4, f9_19) + SLOTGUARD_FE_M(f4_2, f8_19) +
         SLOTGUARD_FE_M(f5_4, f7_19) + SLOTGUARD_FE_M(f6, f6_19);
  h[3] = SLOTGUARD_FE_M(f0_2, f3) + SLOTGUARD_FE_M(f1_2, f2) +
         SLOTGUARD_FE_M(f4_2, f9_19) + SLOTGUARD_FE_M(f5_2, f8_19) +
         SLOTGUARD_FE_M(f6_2, f7_19);
  h[4] = SLOTGUARD_FE_M(f0_2, f4) + SLOTGUARD_FE_M(f1_4, f3) +
         SLOTGUARD_FE_M(f2, f2) + SLOTGUARD_FE_M(f5_4, f9_19) +
         SLOTGUARD_FE_M(f6_2, f8_19) + SLOTGUARD_FE_M(f7_2, f7_19);
  h[5] = SLOTGUARD_FE_M(f0_2, f5) + SLOTGUARD_FE_M(f1_2, f4) +
         SLOTGUARD_FE_M(f2_2, f3) + SLOTGUARD_FE_M(f6_2, f9_19) +
         SLOTGUARD_FE_M(f7_2, f8_19);
  h[6] = SLOTGUARD_FE_M(f0_2, f6) + SLOTGUARD_FE_M(f1_4, f5) +
         SLOTGUARD_FE_M(f2_2, f4) + SLOTGUARD_FE_M(f3_2, f3) +
         SLOTGUARD_FE_M(f7_4, f9_19) + SLOTGUARD_FE_M(f8, f8_19);
  h[7] = SLOTGUARD_FE_M(f0_2, f7) + SLOTGUARD_FE_M(f1_2, f6) +
         SLOTGUARD_FE_M(f2_2, f5) + SLOTGUARD_FE_M(f3_2, f4) +
         SLOTGUARD_FE_M(f8_2, f9_19);
  h[8] = SLOTGUARD_FE_M(f0_2, f8) + SLOTGUARD_FE_M(f1_4, f7) +
         SLOTGUARD_FE_M(f2_2, f6) + SLOTGUARD_FE_M(f3_4, f5) +
         SLOTGUARD_FE_M(f4, f4) + SLOTGUARD_FE_M(f9_2, f9_19);
  h[9] = SLOTGUARD_FE_M(f0_2, f9) + SLOTGUARD_FE_M(f1_2, f8) +
         SLOTGUARD_FE_M(f2_2, f7) + SLOTGUARD_FE_M(f3_2, f6) +
         SLOTGUARD_FE_M(f4_2, f5);

#undef SLOTGUARD_FE_M
  return fe_carry(h);
}

// f^(2^n).
inline fe25519 fe_sqn(fe25519 f, int n) noexcept {
  for (int i = 0; i < n; ++i) f = fe_sq(f);
  return f;
}

// The shared prefix of the inversion and square-root chains: returns
// z^(2^250 - 1) and sets z11 = z^11.
inline fe25519 fe_pow_2_250_1(const fe25519& z, fe25519& z11) noexcept {
  const fe25519 z2 = fe_sq(z);
  const fe25519 z9 = fe_mul(fe_sqn(z2, 2), z);
  z11 = fe_mul(z9, z2);
  const fe25519 z5_0 = fe_mul(fe_sq(z11), z9);           // 2^5 - 1
  const fe25519 z10_0 = fe_mul(fe_sqn(z5_0, 5), z5_0);     // 2^10 - 1
  const fe25519 z20_0 = fe_mul(fe_sqn(z10_0, 10), z10_0);  // 2^20 - 1
  const fe25519 z40_0 = fe_mul(fe_sqn(z20_0, 20), z20_0);  // 2^40 - 1
  const fe25519 z50_0 = fe_mul(fe_sqn(z40_0, 10), z10_0);  // 2^50 - 1
  const fe25519 z100_0 = fe_mul(fe_sqn(z50_0, 50), z50_0); // 2^100 - 1
  const fe25519 z200_0 = fe_mul(fe_sqn(z100_0, 100), z100_0);
  return fe_mul(fe_sqn(z200_0, 50), z50_0);                // 2^250 - 1
}

// z^(p - 2) = 1/z (0 for z = 0).
inline fe25519 fe_invert(const fe25519& z) noexcept {
  fe25519 z11;
  const fe25519 t = fe_pow_2_250_1(z, z11);
  return fe_mul(fe_sqn(t, 5), z11);  // 2^255 - 32 + 11 = p - 2
}

// z^((p - 5) / 8) = z^(2^252 - 3), for square roots.
inline fe25519 fe_pow22523(const fe25519& z) noexcept {
  fe25519 z11;
  const fe25519 t = fe_pow_2_250_1(z, z11);
  return fe_mul(fe_sqn(t, 2), z);
}

// The canonical 32-byte little-endian encoding (value reduced below p).
inline void fe_tobytes(std::uint8_t out[32], const fe25519& f) noexcept {
  // Two carry passes: after the first, a borrow can still leave limb 1 at -1
  // (a value just below 0); the second turns that into value + p. Then all
  // limbs are non-negative and the value lies in [0, 2^255 + 2^27).
  std::int64_t h[10];
  for (int i = 0; i < 10; ++i) h[i] = f.v[i];
  fe25519 r = fe_carry(h);
  for (int i = 0; i < 10; ++i) h[i] = r.v[i];
  r = fe_carry(h);
  for (int i = 0; i < 10; ++i) h[i] = r.v[i];
  // q = floor((value + 19) / 2^255): 1 exactly when value >= p. Propagating
  // the carry of value + 19 through the limbs computes it exactly.
  std::int64_t q = 19;
  for (int i = 0; i < 10; ++i) q = (h[i] + q) >> fe_limb_bits(i);
  h[0] += 19 * q;
  for (int i = 0; i < 9; ++i) {
    const int bits = fe_limb_bits(i);
    const std::int64_t c = h[i] >> bits;
    h[i] -= c * (std::int64_t{1} << bits);
    h[i + 1] += c;
  }
  h[9] &= (std::int64_t{1} << 25) - 1;  // drops 2^255, i.e. subtracts q * p
  std::uint64_t acc = 0;
  int nbits = 0;
  int o = 0;
  for (int i = 0; i < 10; ++i) {
    acc |= static_cast<std::uint64_t>(h[i]) << nbits;
    nbits += fe_limb_bits(i);
    while (nbits >= 8) {
      out[o++] = static_cast<std::uint8_t>(acc);
      acc >>= 8;
      nbits -= 8;
    }
  }
  out[o] = static_cast<std::uint8_t>(acc);  // the last 7 bits (255 = 31 * 8 + 7)
}

// The value of the low 255 bits of `in` (the top bit is the caller's business).
inline fe25519 fe_frombytes(const std::uint8_t in[32]) noexcept {
  std::uint8_t padded[40] = {};
  for (int i = 0; i < 32; ++i) padded[i] = in[i];
  padded[31] &= 0x7F;
  fe25519 r;
  int pos = 0;
  for (int i = 0; i < 10; ++i) {
    const int bits = fe_limb_bits(i);
    const std::uint64_t w = load_le64(padded + pos / 8) >> (pos % 8);
    r.v[i] = static_cast<std::int32_t>(w & ((std::uint64_t{1} << bits) - 1));
    pos += bits;
  }
  return r;
}

inline bool fe_isnegative(const fe25519& f) noexcept {
  std::uint8_t s[32];
  fe_tobytes(s, f);
  return (s[0] & 1) != 0;
}

inline bool fe_iszero(const fe25519& f) noexcept {
  std::uint8_t s[32];
  fe_tobytes(s, f);
  std::uint8_t acc = 0;
  for (std::uint8_t b : s) acc = static_cast<std::uint8_t>(acc | b);
  return acc == 0;
}

inline bool fe_equal(const fe25519& f, const fe25519& g) noexcept { return fe_iszero(fe_sub(f, g)); }

// f = g when flag is 1, unchanged when 0, without a branch on flag.
inline void fe_cmov(fe25519& f, const fe25519& g, std::uint32_t flag) noexcept {
  const std::int32_t mask = -static_cast<std::int32_t>(flag);
  for (int i = 0; i < 10; ++i) f.v[i] ^= mask & (f.v[i] ^ g.v[i]);
}

}  // namespace detail
}  // inline namespace SLOTGUARD_ABI_NAMESPACE
}  // namespace slotguard

#endif  // SLOTGUARD_DETAIL_FE25519_HPP
