// SPDX-License-Identifier: Apache-2.0
// Ed25519 keys as PEM text, in the forms `openssl genpkey -algorithm ed25519`
// and `openssl pkey -pubout` write: "PRIVATE KEY" holding a PKCS#8
// OneAsymmetricKey (RFC 5958 / RFC 8410) and "PUBLIC KEY" holding a
// SubjectPublicKeyInfo (RFC 5280 / RFC 8410). Publishers keep their keys in
// these files, so the same key works with openssl and with slotguard.
// Parsing is strict DER; errors say whether the text is malformed
// (pem_invalid) or well-formed but not an Ed25519 key (key_invalid).
#ifndef SLOTGUARD_PEM_HPP
#define SLOTGUARD_PEM_HPP

#include <slotguard/config.hpp>

#include <slotguard/bytes.hpp>
#include <slotguard/ed25519.hpp>
#include <slotguard/error.hpp>

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace slotguard {
inline namespace SLOTGUARD_ABI_NAMESPACE {
namespace detail {

// The base64 (RFC 4648, with padding, no line breaks) of `size` bytes at
// `data`.
SLOTGUARD_DECL std::string base64_encode(const std::uint8_t* data, std::size_t size);

}  // namespace detail

// Parses "-----BEGIN PRIVATE KEY-----" PEM (PKCS#8 v1 or v2, RFC 8410) holding
// an Ed25519 key. Returns pem_invalid when the framing, base64 or DER is
// malformed (including text after the block); key_invalid when it is
// well-formed but not an Ed25519 private key (another label or algorithm, a
// wrong length, or a v2 public key that does not match the seed);
// out_of_memory when the decoding buffer (at most 12 KiB) cannot be had.
// Every copy of the key it makes (base64 decoded, DER, seed) is wiped before
// it returns, on success and on failure; the text itself is the caller's.
SLOTGUARD_DECL result<ed25519_seed> parse_private_key_pem(std::string_view pem);

// Parses "-----BEGIN PUBLIC KEY-----" PEM (SubjectPublicKeyInfo, RFC 8410)
// holding an Ed25519 key. Returns pem_invalid for malformed framing, base64
// or DER; key_invalid for another label or algorithm, a wrong length, or 32
// bytes that are not a valid, non-small-order point encoding.
SLOTGUARD_DECL result<ed25519_public_key> parse_public_key_pem(std::string_view pem);

// The PKCS#8 "PRIVATE KEY" PEM of `seed`, byte for byte what openssl writes.
// The text is key material: it is made without leaving copies behind, and
// the caller should secure_wipe() it when done.
SLOTGUARD_DECL std::string private_key_pem(const ed25519_seed& seed);

// The SubjectPublicKeyInfo "PUBLIC KEY" PEM of `key`, as openssl writes it.
SLOTGUARD_DECL std::string public_key_pem(const ed25519_public_key& key);

}  // inline namespace SLOTGUARD_ABI_NAMESPACE
}  // namespace slotguard

#if SLOTGUARD_DETAIL_DEFINITIONS
#include <slotguard/detail/pem_impl.hpp>
#endif

#endif  // SLOTGUARD_PEM_HPP
