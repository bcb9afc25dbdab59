// SPDX-License-Identifier: Apache-2.0
// The group and scalar arithmetic under Ed25519 (RFC 8032): points of the
// twisted Edwards curve -x^2 + y^2 = 1 + d x^2 y^2 in extended coordinates,
// strict point decoding, a constant-time fixed-base multiplication for the
// signer, a variable-time double multiplication for the verifier, and
// arithmetic modulo the group order L. Secrets only ever meet the
// constant-time paths: no branch and no memory index depends on them.
#ifndef SLOTGUARD_DETAIL_ED25519_CORE_HPP
#define SLOTGUARD_DETAIL_ED25519_CORE_HPP

#include <slotguard/config.hpp>

#include <slotguard/detail/fe25519.hpp>
#include <slotguard/detail/secure_wipe.hpp>

#include <cstddef>
#include <cstdint>

namespace slotguard {
inline namespace SLOTGUARD_ABI_NAMESPACE {
namespace detail {

// Zeroes the stack below the caller: the field and point temporaries of a
// scalar multiplication stay in the dead frames of ge_add and fe_mul, too
// many to wipe one by one. Signing writes about 3.4 KiB of stack under
// ed25519_sign (x86-64, gcc -O2; the test [ed25519.secrets] counts it);
// this covers 8 KiB. Not inlined, so the buffer lies below the
// caller's frame, where those frames were.
#if defined(__GNUC__) || defined(__clang__)
__attribute__((noinline))
#elif defined(_MSC_VER)
__declspec(noinline)
#endif
inline void burn_stack() noexcept {
  volatile std::uint8_t buf[8192];
  for (std::size_t i = 0; i < sizeof buf; ++i) buf[i] = 0;
#if defined(__GNUC__) || defined(__clang__)
  __asm__ __volatile__("" : : "r"(&buf[0]) : "memory");
#endif
}

// Constants, as limbs (generated from their definitions; the tests check
// each against that definition).
inline fe25519 fe_const_d() noexcept {  // -121665 / 121666
  return fe25519{{56195235, 13857412, 51736253, 6949390, 114729, 24766616, 60832955, 30306712,
                  48412415, 21499315}};
}
inline fe25519 fe_const_d2() noexcept {  // 2d
  return fe25519{{45281625, 27714825, 36363642, 13898781, 229458, 15978800, 54557047, 27058993,
                  29715967, 9444199}};
}
inline fe25519 fe_const_sqrtm1() noexcept {  // 2^((p - 1) / 4), a square root of -1
  return fe25519{{34513072, 25610706, 9377949, 3500415, 12389472, 33281959, 41962654, 31548777,
                  326685, 11406482}};
}

// (X : Y : Z : T) with x = X/Z, y = Y/Z, x y = T/Z.
struct ge25519 {
  fe25519 X, Y, Z, T;
};

inline ge25519 ge_identity() noexcept { return {fe_zero(), fe_one(), fe_one(), fe_zero()}; }

// The base point B: y = 4/5, x positive (even).
inline ge25519 ge_base() noexcept {
  return {fe25519{{52811034, 25909283, 16144682, 17082669, 27570973, 30858332, 40966398, 8378388,
                   20764389, 8758491}},
          fe25519{{40265304, 26843545, 13421772, 20132659, 26843545, 6710886, 53687091, 13421772,
                   40265318, 26843545}},
          fe_one(),
          fe25519{{28827043, 27438313, 39759291, 244362, 8635006, 11264893, 19351346, 13413597,
                   16611511, 27139452}}};
}

// P + Q by the unified formula for a = -1 (add-2008-hwcd-3). It is complete
// on this curve: it also doubles and handles the identity, so the signer
// never needs a data-dependent special case.
inline ge25519 ge_add(const ge25519& p, const ge25519& q) noexcept {
  const fe25519 a = fe_mul(fe_sub(p.Y, p.X), fe_sub(q.Y, q.X));
  const fe25519 b = fe_mul(fe_add(p.Y, p.X), fe_add(q.Y, q.X));
  const fe25519 c = fe_mul(fe_mul(p.T, q.T), fe_const_d2());
  const fe25519 zz = fe_mul(p.Z, q.Z);
  const fe25519 d = fe_add(zz, zz);
  const fe25519 e = fe_sub(b, a);
  const fe25519 f = fe_sub(d, c);
  const fe25519 g = fe_add(d, c);
  const fe25519 h = fe_add(b, a);
  return {fe_mul(e, f), fe_mul(g, h), fe_mul(f, g), fe_mul(e, h)};
}

// 2P (dbl-2008-hwcd with a = -1).
inline ge25519 ge_dbl(const ge25519& p) noexcept {
  const fe25519 a = fe_sq(p.X);
  const fe25519 b = fe_sq(p.Y);
  const fe25519 zz = fe_sq(p.Z);
  const fe25519 c = fe_add(zz, zz);
  const fe25519 e = fe_sub(fe_sub(fe_sq(fe_add(p.X, p.Y)), a), b);
  const fe25519 g = fe_sub(b, a);        // D + B with D = -A
  const fe25519 f = fe_sub(g, c);
  const fe25519 h = fe_neg(fe_add(a, b));  // D - B
  return {fe_mul(e, f), fe_mul(g, h), fe_mul(f, g), fe_mul(e, h)};
}

inline ge25519 ge_neg(const ge25519& p) noexcept { return {fe_neg(p.X), p.Y, p.Z, fe_neg(p.T)}; }

inline void ge_cmov(ge25519& p, const ge25519& q, std::uint32_t flag) noexcept {
  fe_cmov(p.X, q.X, flag);
  fe_cmov(p.Y, q.Y, flag);
  fe_cmov(p.Z, q.Z, flag);
  fe_cmov(p.T, q.T, flag);
}

// The 32-byte encoding: y, with the sign (lowest bit) of x in the top bit.
inline void ge_tobytes(std::uint8_t out[32], const ge25519& p) noexcept {
  const fe25519 zi = fe_invert(p.Z);
  const fe25519 x = fe_mul(p.X, zi);
  const fe25519 y = fe_mul(p.Y, zi);
  fe_tobytes(out, y);
  out[31] = static_cast<std::uint8_t>(out[31] | (fe_isnegative(x) ? 0x80 : 0));
}

// Whether the low 255 bits encode a value below p (RFC 8032 5.1.3 step 1).
inline bool ge_y_is_canonical(const std::uint8_t s[32]) noexcept {
  if ((s[31] & 0x7F) != 0x7F) return true;
  for (int i = 30; i >= 1; --i)
    if (s[i] != 0xFF) return true;
  return s[0] < 0xED;  // p = 2^255 - 19 ends in byte 0xED
}

// Decodes a point per RFC 8032 5.1.3, strictly: rejects y >= p, a y with no
// matching x on the curve, and x = 0 with the sign bit set (a second,
// non-canonical encoding of (0, 1) and (0, -1)). Public data only.
inline bool ge_frombytes(ge25519& out, const std::uint8_t s[32]) noexcept {
  if (!ge_y_is_canonical(s)) return false;
  const fe25519 y = fe_frombytes(s);
  const fe25519 yy = fe_sq(y);
  const fe25519 u = fe_sub(yy, fe_one());
  const fe25519 v = fe_add(fe_mul(yy, fe_const_d()), fe_one());
  const fe25519 v3 = fe_mul(fe_sq(v), v);
  const fe25519 v7 = fe_mul(fe_sq(v3), v);
  // x = u v^3 (u v^7)^((p - 5) / 8), a square root of u / v if one exists.
  fe25519 x = fe_mul(fe_mul(u, v3), fe_pow22523(fe_mul(u, v7)));
  const fe25519 vxx = fe_mul(v, fe_sq(x));
  if (!fe_equal(vxx, u)) {
    if (!fe_equal(vxx, fe_neg(u))) return false;
    x = fe_mul(x, fe_const_sqrtm1());
  }
  const bool sign = (s[31] >> 7) != 0;
  if (fe_iszero(x) && sign) return false;
  if (fe_isnegative(x) != sign) x = fe_neg(x);
  out = {x, y, fe_one(), fe_mul(x, y)};
  return true;
}

inline bool ge_is_identity(const ge25519& p) noexcept {
  return fe_iszero(p.X) && fe_equal(p.Y, p.Z);
}

// Whether [8]P is the identity, i.e. P lies in the small subgroup of order
// dividing the cofactor 8.
inline bool ge_has_small_order(const ge25519& p) noexcept {
  return ge_is_identity(ge_dbl(ge_dbl(ge_dbl(p))));
}

// [0]P .. [15]P.
struct ge_table16 {
  ge25519 p[16];
};

inline ge_table16 ge_make_table(const ge25519& base) noexcept {
  ge_table16 t;
  t.p[0] = ge_identity();
  t.p[1] = base;
  for (int i = 2; i < 16; ++i) t.p[i] = (i & 1) ? ge_add(t.p[i - 1], base) : ge_dbl(t.p[i / 2]);
  return t;
}

// Built on first use; a function-local static, not a global constructor.
inline const ge_table16& ge_base_table() noexcept {
  static const ge_table16 table = ge_make_table(ge_base());
  return table;
}

// [a]B for a secret 256-bit little-endian scalar, in constant time: fixed
// 4-bit windows, every table entry read for every window and the wanted one
// kept by masks, and the complete addition formula even for a zero digit.
inline ge25519 ge_scalarmult_base_ct(const std::uint8_t a[32]) noexcept {
  const ge_table16& table = ge_base_table();
  ge25519 q = ge_identity();
  ge25519 sel;
  for (int i = 63; i >= 0; --i) {
    if (i != 63) q = ge_dbl(ge_dbl(ge_dbl(ge_dbl(q))));
    const std::uint32_t digit = (static_cast<std::uint32_t>(a[i / 2]) >> (4 * (i & 1))) & 15u;
    sel = ge_identity();
    for (std::uint32_t k = 0; k < 16; ++k) {
      const std::uint32_t eq = ((k ^ digit) - 1u) >> 31;  // 1 iff k == digit
      ge_cmov(sel, table.p[k], eq);
    }
    q = ge_add(q, sel);
  }
  secure_wipe(&sel, sizeof sel);  // the last selected multiple reveals the scalar's low digit
  return q;
}

// [s]B + [k]P for public scalars, in variable time (the verifier's
// inputs are all public).
inline ge25519 ge_double_scalarmult_vartime(const std::uint8_t s[32], const std::uint8_t k[32],
                                            const ge25519& p) noexcept {
  const ge_table16& tb = ge_base_table();
  const ge_table16 tp = ge_make_table(p);
  ge25519 q = ge_identity();
  bool started = false;
  for (int i = 63; i >= 0; --i) {
    if (started) q = ge_dbl(ge_dbl(ge_dbl(ge_dbl(q))));
    const unsigned ds = (s[i / 2] >> (4 * (i & 1))) & 15u;
    const unsigned dk = (k[i / 2] >> (4 * (i & 1))) & 15u;
    if (ds != 0) {
      q = ge_add(q, tb.p[ds]);
      started = true;
    }
    if (dk != 0) {
      q = ge_add(q, tp.p[dk]);
      started = true;
    }
  }
  return q;
}

// ---- scalars modulo L = 2^252 + 27742317777372353535851937790883648493 ----

inline constexpr std::uint32_t sc_l[8] = {0x5cf5d3ed, 0x5812631a, 0xa2f79cd6, 0x14def9de,
                                          0x00000000, 0x00000000, 0x00000000, 0x10000000};

// x mod L for x of `words` 32-bit little-endian words, one bit at a time
// with a masked conditional subtraction: constant time, no table, and a
// shape simple enough to check by eye.
inline void sc_reduce_words(std::uint32_t out[8], const std::uint32_t* x, int words) noexcept {
  std::uint32_t acc[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  for (int bit = 32 * words - 1; bit >= 0; --bit) {
    // acc < L < 2^253, so 2 acc + 1 fits in 256 bits.
    for (int i = 7; i > 0; --i) acc[i] = (acc[i] << 1) | (acc[i - 1] >> 31);
    acc[0] = (acc[0] << 1) | ((x[bit / 32] >> (bit % 32)) & 1u);
    std::uint32_t t[8];
    std::uint64_t borrow = 0;
    for (int i = 0; i < 8; ++i) {
      const std::uint64_t d = std::uint64_t{acc[i]} - sc_l[i] - borrow;
      t[i] = static_cast<std::uint32_t>(d);
      borrow = (d >> 32) & 1u;
    }
    const std::uint32_t keep_t = static_cast<std::uint32_t>(borrow) - 1u;  // all ones iff acc >= L
    for (int i = 0; i < 8; ++i) acc[i] = (t[i] & keep_t) | (acc[i] & ~keep_t);
  }
  for (int i = 0; i < 8; ++i) out[i] = acc[i];
  secure_wipe(acc, sizeof acc);
}

inline void sc_to_bytes(std::uint8_t out[32], const std::uint32_t s[8]) noexcept {
  for (int i = 0; i < 8; ++i) store_le32(out + 4 * i, s[i]);
}

inline void sc_from_bytes(std::uint32_t out[8], const std::uint8_t in[32]) noexcept {
  for (int i = 0; i < 8; ++i) out[i] = load_le32(in + 4 * i);
}

// A 64-byte little-endian number (a SHA-512 digest) mod L, as 32 bytes.
inline void sc_reduce64(std::uint8_t out[32], const std::uint8_t in[64]) noexcept {
  std::uint32_t x[16];
  for (int i = 0; i < 16; ++i) x[i] = load_le32(in + 4 * i);
  std::uint32_t r[8];
  sc_reduce_words(r, x, 16);
  sc_to_bytes(out, r);
  secure_wipe(x, sizeof x);
  secure_wipe(r, sizeof r);
}

// (a b + c) mod L for 256-bit little-endian a, b, c, in constant time.
inline void sc_muladd(std::uint8_t out[32], const std::uint8_t a[32], const std::uint8_t b[32],
                      const std::uint8_t c[32]) noexcept {
  std::uint32_t aw[8], bw[8], x[16] = {};
  sc_from_bytes(aw, a);
  sc_from_bytes(bw, b);
  sc_from_bytes(x, c);  // x starts as c in its low half
  for (int i = 0; i < 8; ++i) {
    std::uint64_t carry = 0;
    for (int j = 0; j < 8; ++j) {
      const std::uint64_t t = std::uint64_t{aw[i]} * bw[j] + x[i + j] + carry;
      x[i + j] = static_cast<std::uint32_t>(t);
      carry = t >> 32;
    }
    // Propagate into the upper words; the total stays below 2^512.
    for (int k = i + 8; k < 16; ++k) {
      const std::uint64_t t = std::uint64_t{x[k]} + carry;
      x[k] = static_cast<std::uint32_t>(t);
      carry = t >> 32;
    }
  }
  std::uint32_t r[8];
  sc_reduce_words(r, x, 16);
  sc_to_bytes(out, r);
  secure_wipe(aw, sizeof aw);
  secure_wipe(bw, sizeof bw);
  secure_wipe(x, sizeof x);
  secure_wipe(r, sizeof r);
}

// Whether s < L (RFC 8032 5.1.7 step 1). Public data only.
inline bool sc_is_canonical(const std::uint8_t s[32]) noexcept {
  for (int i = 7; i >= 0; --i) {
    const std::uint32_t w = load_le32(s + 4 * i);
    if (w != sc_l[i]) return w < sc_l[i];
  }
  return false;  // s == L
}

}  // namespace detail
}  // inline namespace SLOTGUARD_ABI_NAMESPACE
}  // namespace slotguard

#endif  // SLOTGUARD_DETAIL_ED25519_CORE_HPP
