// SPDX-License-Identifier: Apache-2.0
// The two callback types through which content of any size flows without
// being held in memory: a positioned read of a source (a bundle or payload in
// a file, in memory, or anywhere else), and a sink that takes bytes chunk by
// chunk. Parts that stream (bundle.hpp, tree.hpp) take these instead of
// touching the OS themselves, so a test can feed them anything.
#ifndef SLOTGUARD_IO_FN_HPP
#define SLOTGUARD_IO_FN_HPP

#include <slotguard/config.hpp>

#include <slotguard/bytes.hpp>
#include <slotguard/error.hpp>

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <functional>

namespace slotguard {
inline namespace SLOTGUARD_ABI_NAMESPACE {

// Reads up to n bytes at offset into out; returns the count read, which is
// short only at the end of the source (0 at or past it).
using read_at_fn = std::function<result<std::size_t>(std::uint64_t offset, std::uint8_t* out, std::size_t n)>;

// Takes one chunk of a stream (possibly empty); an error stops the stream and
// is returned by whoever drives it.
using chunk_fn = std::function<result<void>(byte_view chunk)>;

// A read_at_fn over bytes in memory, which must outlive it.
inline read_at_fn read_at_memory(byte_view bytes) {
  return [bytes](std::uint64_t offset, std::uint8_t* out, std::size_t n) -> result<std::size_t> {
    if (offset >= bytes.size()) return std::size_t{0};
    const auto at = static_cast<std::size_t>(offset);
    const std::size_t k = n < bytes.size() - at ? n : bytes.size() - at;
    if (k != 0) std::memcpy(out, bytes.data() + at, k);
    return k;
  };
}

}  // inline namespace SLOTGUARD_ABI_NAMESPACE
}  // namespace slotguard

#endif  // SLOTGUARD_IO_FN_HPP
