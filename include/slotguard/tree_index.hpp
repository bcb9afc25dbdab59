// SPDX-License-Identifier: Apache-2.0
// A tree payload's table as readers see it: the format's constants, the
// entries (tree_entry) and the parsed table (tree_index). Types only; the
// parser, the packer and the file operations are in slotguard/tree.hpp.
#ifndef SLOTGUARD_TREE_INDEX_HPP
#define SLOTGUARD_TREE_INDEX_HPP

#include <slotguard/config.hpp>

#include <slotguard/byte_view.hpp>

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace slotguard {
inline namespace SLOTGUARD_ABI_NAMESPACE {

// ---------------------------------------------------------------------------
// Format constants (docs/FORMAT.md, "Tree payloads")

// "\x89SGT" CR LF SUB LF: the bundle magic's shape, with T for tree.
inline constexpr std::array<std::uint8_t, 8> tree_magic = {0x89, 'S', 'G', 'T', 0x0D, 0x0A, 0x1A, 0x0A};
inline constexpr std::uint16_t tree_format_version = 1;
inline constexpr std::size_t tree_header_size = 24;
// kind u8, mode u32, size u64, SHA-256, path length u16; the path follows.
inline constexpr std::size_t tree_entry_fixed_size = 47;
// Bytes unpack_tree, verify_tree_data and verify_unpacked_tree move at once.
inline constexpr std::size_t tree_chunk_size = std::size_t{1} << 20;

enum class tree_kind : std::uint8_t { directory = 1, file = 2 };

// Hard limits on what a tree may hold; tree_table_size and parse_tree_table
// refuse anything beyond them before allocating for it.
struct tree_limits {
  std::uint32_t max_entries = 100000;   // tree_too_many_entries
  std::uint32_t max_path = 1024;        // bytes of a path; tree_path_too_long
  std::uint32_t max_depth = 32;         // components of a path; tree_too_deep
  std::uint32_t max_component = 255;    // bytes of a component; tree_component_too_long
  std::uint64_t max_table_size = std::uint64_t{32} << 20;  // header + table bytes; too_large
};

// One entry of a tree's table.
struct tree_entry {
  std::string path;  // relative, UTF-8, '/' between components
  tree_kind kind = tree_kind::file;
  // Permission bits as published (0777 at most). Recorded and reported, not
  // applied: unpacked files are created by storage::create (0600, the store
  // being private to its account).
  std::uint32_t mode = 0;
  std::uint64_t size = 0;    // 0 for a directory
  sha256_digest sha256{};    // all zero for a directory
  std::uint64_t data_offset = 0;  // of the file's bytes, from the payload's start
};

// A parsed (or built) table: the entries in canonical order.
struct tree_index {
  std::vector<tree_entry> entries;
  std::uint64_t table_size = 0;    // header + table bytes; the files' bytes start here
  std::uint64_t payload_size = 0;  // table_size + every file's size
};

}  // inline namespace SLOTGUARD_ABI_NAMESPACE
}  // namespace slotguard

#endif  // SLOTGUARD_TREE_INDEX_HPP
