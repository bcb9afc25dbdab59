// SPDX-License-Identifier: Apache-2.0
// Defines what slotguard/ed25519.hpp declares: key derivation, signing,
// verification over the group and field arithmetic of detail/ed25519_core.hpp,
// and seeds from the OS's random source (whose headers are included from
// here only). Included by slotguard/ed25519.hpp only.
#ifndef SLOTGUARD_DETAIL_ED25519_IMPL_HPP
#define SLOTGUARD_DETAIL_ED25519_IMPL_HPP

#include <slotguard/ed25519.hpp>

#include <slotguard/detail/ed25519_core.hpp>

#include <cstring>

#if SLOTGUARD_OS_WINDOWS
#include <slotguard/detail/windows.hpp>
#include <bcrypt.h>
#else
#include <cerrno>
#include <fcntl.h>
#include <unistd.h>
#if defined(__linux__)
#include <sys/random.h>
#endif
#endif

namespace slotguard {
inline namespace SLOTGUARD_ABI_NAMESPACE {

namespace detail {

// The secret scalar a (clamped) and the nonce prefix from a seed.
struct ed25519_expanded {
  std::uint8_t a[32];
  std::uint8_t prefix[32];
  ~ed25519_expanded() { secure_wipe(this, sizeof *this); }
};

inline void ed25519_expand(ed25519_expanded& out, const ed25519_seed& seed) noexcept {
  sha512_digest h = sha512_of(seed);
  std::memcpy(out.a, h.data(), 32);
  std::memcpy(out.prefix, h.data() + 32, 32);
  secure_wipe(h.data(), h.size());
  out.a[0] &= 248;
  out.a[31] &= 127;
  out.a[31] |= 64;
}

}  // namespace detail

SLOTGUARD_DECL ed25519_public_key ed25519_public_key_from_seed(const ed25519_seed& seed) noexcept {
  detail::ed25519_expanded e;
  detail::ed25519_expand(e, seed);
  ed25519_public_key pk;
  detail::ge25519 a = detail::ge_scalarmult_base_ct(e.a);
  detail::ge_tobytes(pk.data(), a);
  detail::secure_wipe(&a, sizeof a);  // projective coordinates can leak scalar bits
  detail::burn_stack();               // and so do the multiplication's temporaries
  return pk;
}

SLOTGUARD_DECL ed25519_signature ed25519_sign(const ed25519_seed& seed, byte_view message) noexcept {
  ed25519_signature sig;
  {
    detail::ed25519_expanded e;
    detail::ed25519_expand(e, seed);
    std::uint8_t pk[32];
    detail::ge25519 point = detail::ge_scalarmult_base_ct(e.a);
    detail::scoped_wipe wipe_point(&point, sizeof point);  // projective coordinates leak scalar bits
    detail::ge_tobytes(pk, point);

    sha512 h;  // wipes its state on destruction
    h.update(e.prefix, 32);
    h.update(message);
    sha512_digest digest = h.finish();
    detail::scoped_wipe wipe_digest(digest.data(), digest.size());
    std::uint8_t r[32];
    detail::scoped_wipe wipe_r(r, sizeof r);  // the nonce: with it, S reveals the key
    detail::sc_reduce64(r, digest.data());

    point = detail::ge_scalarmult_base_ct(r);
    detail::ge_tobytes(sig.data(), point);

    h.update(sig.data(), 32);
    h.update(pk, 32);
    h.update(message);
    const sha512_digest kd = h.finish();
    std::uint8_t k[32];
    detail::sc_reduce64(k, kd.data());

    detail::sc_muladd(sig.data() + 32, k, e.a, r);
  }
  detail::burn_stack();
  return sig;
}

SLOTGUARD_DECL result<void> ed25519_verify(const ed25519_public_key& key, byte_view message,
                                           const ed25519_signature& sig) noexcept {
  detail::ge25519 a;
  if (!detail::ge_frombytes(a, key.data()) || detail::ge_has_small_order(a))
    return errc::key_invalid;
  const std::uint8_t* r_bytes = sig.data();
  const std::uint8_t* s_bytes = sig.data() + 32;
  if (!detail::sc_is_canonical(s_bytes)) return errc::signature_invalid;
  detail::ge25519 r;
  if (!detail::ge_frombytes(r, r_bytes) || detail::ge_has_small_order(r))
    return errc::signature_invalid;

  sha512 h;
  h.update(r_bytes, 32);
  h.update(key.data(), 32);
  h.update(message);
  const sha512_digest kd = h.finish();
  std::uint8_t k[32];
  detail::sc_reduce64(k, kd.data());

  // [S]B + [k](-A) must encode exactly as R; R was checked canonical, so
  // comparing encodings compares points.
  std::uint8_t check[32];
  detail::ge_tobytes(check, detail::ge_double_scalarmult_vartime(s_bytes, k, detail::ge_neg(a)));
  if (std::memcmp(check, r_bytes, 32) != 0) return errc::signature_invalid;
  return ok();
}

SLOTGUARD_DECL result<ed25519_seed> ed25519_generate_seed() noexcept {
  ed25519_seed seed{};
#if SLOTGUARD_OS_WINDOWS
  detail::scoped_wipe wipe_seed(seed.data(), seed.size());  // the result holds the copy
  if (BCryptGenRandom(nullptr, seed.data(), static_cast<ULONG>(seed.size()),
                      BCRYPT_USE_SYSTEM_PREFERRED_RNG) != 0)
    return errc::io_error;
  return result<ed25519_seed>(seed);
#else
  detail::scoped_wipe wipe_seed(seed.data(), seed.size());  // the result holds the copy
  std::size_t got = 0;
#if defined(__linux__)
  while (got < seed.size()) {
    const ssize_t n = getrandom(seed.data() + got, seed.size() - got, 0);
    if (n > 0) {
      got += static_cast<std::size_t>(n);
    } else if (n < 0 && errno == EINTR) {
      continue;
    } else {
      break;  // e.g. ENOSYS on an old kernel: fall back to the device
    }
  }
  if (got == seed.size()) return result<ed25519_seed>(seed);
  got = 0;
#endif
  int fd;
  do {
    fd = ::open("/dev/urandom", O_RDONLY | O_CLOEXEC);
  } while (fd < 0 && errno == EINTR);
  if (fd < 0) return errc::io_error;
  while (got < seed.size()) {
    const ssize_t n = ::read(fd, seed.data() + got, seed.size() - got);
    if (n > 0) {
      got += static_cast<std::size_t>(n);
    } else if (n < 0 && errno == EINTR) {
      continue;
    } else {
      break;
    }
  }
  ::close(fd);
  if (got != seed.size()) return errc::io_error;
  return result<ed25519_seed>(seed);
#endif
}

}  // inline namespace SLOTGUARD_ABI_NAMESPACE
}  // namespace slotguard

#endif  // SLOTGUARD_DETAIL_ED25519_IMPL_HPP
