// SPDX-License-Identifier: Apache-2.0
// Tree payloads: a bundle's payload that is a file tree (a YARA rule pack, a
// ClamAV signature database: directories of files). docs/FORMAT.md, "Tree
// payloads", specifies the encoding byte by byte: a fixed header, a table of
// entries in canonical order (path, kind, mode, size, SHA-256), then the
// files' bytes. Here: the table's parser, which checks every rule of that
// section (paths that could escape the destination or break an unpack on any
// supported system are refused), its encoder, the check of each file's bytes,
// and the durable unpack, verification and removal of a tree through the
// storage interface. Nothing here touches the OS directly or throws; memory
// is bounded by the limits, never by a size read from the input.
#ifndef SLOTGUARD_TREE_HPP
#define SLOTGUARD_TREE_HPP

#include <slotguard/config.hpp>

#include <slotguard/bytes.hpp>
#include <slotguard/error.hpp>
#include <slotguard/hash.hpp>
#include <slotguard/io_fn.hpp>
#include <slotguard/storage.hpp>
#include <slotguard/tree_index.hpp>

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <limits>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace slotguard {
inline namespace SLOTGUARD_ABI_NAMESPACE {

// The format constants, tree_entry and tree_index: tree_index.hpp.

// ---------------------------------------------------------------------------
// The API

// How many bytes the header and table take, from at least the payload's
// first tree_header_size bytes: checks the header (bad_magic, truncated,
// unsupported_format_version, bad_header), the entry count
// (tree_too_many_entries), the table size against limits (too_large), the
// minimum its entry count needs and payload_size (truncated).
result<std::uint64_t> tree_table_size(byte_view prefix, std::uint64_t payload_size,
                                      const tree_limits& limits = {}) noexcept;

// Parses and validates the table: every rule of docs/FORMAT.md, "Tree
// payloads", in its order, each with its own errc, and that the files' sizes
// add up to payload_size exactly. `table` holds at least the header and table
// (the whole payload will do; bytes after the table are not read).
result<tree_index> parse_tree_table(byte_view table, std::uint64_t payload_size,
                                    const tree_limits& limits = {});

// The path rules alone (docs/FORMAT.md, "Paths"), in their order: errc::ok or
// the first rule path breaks. For publishers' tools and tests.
errc check_tree_path(std::string_view path, const tree_limits& limits = {}) noexcept;

// Canonical order: -1, 0 or 1 as a sorts before, equals or sorts after b
// (component by component, each compared as unsigned bytes; a directory
// therefore precedes everything under it).
int tree_path_compare(std::string_view a, std::string_view b) noexcept;

// The encoded header and table of index.entries, as they stand (no check: a
// test may encode a broken table). invalid_argument when a path is longer
// than a u16 can say or there are more than 2^32 - 1 entries.
result<std::vector<std::uint8_t>> encode_tree_table(const tree_index& index);

// Sorts entries into canonical order, fills table_size, data_offset and
// payload_size, then encodes and parses the table under limits, so the index
// returned obeys every rule (the parser's errc otherwise).
result<tree_index> build_tree_index(std::vector<tree_entry> entries, const tree_limits& limits = {});

// Each file's bytes against its SHA-256 (payload_hash_mismatch, naming the
// path in *problem_path when given). The payload in memory must be exactly
// index.payload_size bytes (tree_size_mismatch otherwise); streamed, it is
// read in chunks of tree_chunk_size (truncated when it ends early).
result<void> verify_tree_data(byte_view payload, const tree_index& index,
                              std::string* problem_path = nullptr);
result<void> verify_tree_data(const read_at_fn& payload, const tree_index& index,
                              std::string* problem_path = nullptr);

// Writes the tree under dest, which must not exist (already_exists), through
// fs, durably: dest and every directory made, every file created, written in
// chunks read through payload (truncated when it ends early), hashed as
// written (payload_hash_mismatch when the bytes are not the table's),
// flushed and closed; then every directory synced, children before parents,
// dest, and dest's parent last. An entry whose name is taken already (two
// names one file system folds together) is already_exists. On failure what
// was written stays: remove it with remove_tree.
result<void> unpack_tree(storage& fs, const std::string& dest, const tree_index& index,
                         const read_at_fn& payload);

// Checks that dest holds exactly the index: every directory and file there
// (not_found, or the storage's error for the wrong kind), no other entry
// (tree_unexpected_entry), each file's size (payload_size_mismatch) and
// SHA-256 (payload_hash_mismatch). *problem_path names the entry at fault.
result<void> verify_unpacked_tree(storage& fs, const std::string& dest, const tree_index& index,
                                  std::string* problem_path = nullptr);

// Removes dest and everything under it, whatever it holds (a partial unpack
// included): files and links are removed as names (a link is never
// followed), directories emptied, synced and removed, deepest first, then
// dest's parent synced. Success when dest does not exist.
result<void> remove_tree(storage& fs, const std::string& dest);

// ---------------------------------------------------------------------------
// Implementation

namespace detail {

inline bool tree_utf8_valid(std::string_view s) noexcept {
  std::size_t i = 0;
  const std::size_t n = s.size();
  while (i < n) {
    const auto c = static_cast<std::uint8_t>(s[i]);
    if (c < 0x80) {
      ++i;
      continue;
    }
    std::size_t len = 0;
    std::uint32_t cp = 0, min = 0;
    if ((c & 0xE0) == 0xC0) {
      len = 2, cp = c & 0x1Fu, min = 0x80;
    } else if ((c & 0xF0) == 0xE0) {
      len = 3, cp = c & 0x0Fu, min = 0x800;
    } else if ((c & 0xF8) == 0xF0) {
      len = 4, cp = c & 0x07u, min = 0x10000;
    } else {
      return false;
    }
    if (n - i < len) return false;
    for (std::size_t k = 1; k < len; ++k) {
      const auto cc = static_cast<std::uint8_t>(s[i + k]);
      if ((cc & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (cc & 0x3Fu);
    }
    if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return false;
    i += len;
  }
  return true;
}

inline char tree_ascii_lower(char c) noexcept {
  return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c;
}

inline bool tree_iequal_ascii(std::string_view a, std::string_view b) noexcept {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i)
    if (tree_ascii_lower(a[i]) != tree_ascii_lower(b[i])) return false;
  return true;
}

// A byte no component may hold: C0 controls, DEL, and what Windows forbids
// in a name. (C1 controls, U+0080..U+009F, are caught as two-byte sequences.)
inline bool tree_bad_byte(std::uint8_t c) noexcept {
  if (c < 0x20 || c == 0x7F) return true;
  switch (c) {
    case '\\': case ':': case '*': case '?': case '"': case '<': case '>': case '|':
      return true;
    default:
      return false;
  }
}

// Windows maps these names to devices whatever the extension ("nul.txt",
// "COM1 .log") and drops a trailing dot or space: such a component would
// not unpack as itself there.
inline bool tree_reserved_component(std::string_view c) noexcept {
  const char last = c.back();
  if (last == '.' || last == ' ') return true;
  std::string_view base = c.substr(0, std::min(c.find('.'), c.size()));
  while (!base.empty() && base.back() == ' ') base.remove_suffix(1);
  static constexpr std::string_view fixed[] = {"con", "prn", "aux", "nul", "conin$", "conout$"};
  for (std::string_view f : fixed)
    if (tree_iequal_ascii(base, f)) return true;
  // COM and LPT followed by one digit, or by a superscript 1, 2 or 3.
  if (base.size() == 4 || base.size() == 5) {
    const std::string_view stem = base.substr(0, 3);
    if (!tree_iequal_ascii(stem, "com") && !tree_iequal_ascii(stem, "lpt")) return false;
    const std::string_view tail = base.substr(3);
    if (tail.size() == 1) return tail[0] >= '0' && tail[0] <= '9';
    return tail == "\xC2\xB9" || tail == "\xC2\xB2" || tail == "\xC2\xB3";
  }
  return false;
}

inline std::string_view tree_parent_of(std::string_view path) noexcept {
  const auto pos = path.rfind('/');
  return pos == std::string_view::npos ? std::string_view() : path.substr(0, pos);
}

inline std::string tree_join(const std::string& dest, std::string_view rel) {
  std::string p = dest;
  if (rel.empty()) return p;
  if (!p.empty() && p.back() != '/' && p.back() != '\\') p.push_back('/');
  p.append(rel.data(), rel.size());
  return p;
}

// Index of the second of two paths that fold to the same ASCII-lowercase
// string, or npos. Allocates a copy of every path (the table is in memory
// already, so this stays proportional to it).
inline std::size_t tree_find_case_collision(const std::vector<tree_entry>& entries) {
  std::vector<std::pair<std::string, std::size_t>> folded;
  folded.reserve(entries.size());
  for (std::size_t i = 0; i < entries.size(); ++i) {
    std::string f = entries[i].path;
    for (char& c : f) c = tree_ascii_lower(c);
    folded.emplace_back(std::move(f), i);
  }
  std::sort(folded.begin(), folded.end());
  std::size_t found = static_cast<std::size_t>(-1);
  for (std::size_t i = 1; i < folded.size(); ++i)
    if (folded[i].first == folded[i - 1].first) {
      const std::size_t later = std::max(folded[i].second, folded[i - 1].second);
      if (later < found) found = later;
    }
  return found;
}

inline bool tree_digest_is_zero(const sha256_digest& d) noexcept {
  for (std::uint8_t b : d)
    if (b != 0) return false;
  return true;
}

// Limits that let every path through that is safe at all: for indexes that
// did not come from the parser, whose limits are not known.
inline tree_limits tree_loose_limits() noexcept {
  tree_limits l;
  l.max_entries = l.max_path = l.max_depth = l.max_component = 0xFFFFFFFFu;
  l.max_table_size = (std::numeric_limits<std::uint64_t>::max)();
  return l;
}

inline void tree_set_problem(std::string* out, const std::string& path) {
  if (out != nullptr) *out = path;
}

// Reads exactly n bytes at offset through read; truncated when the source
// ends first.
inline result<void> tree_read_exact(const read_at_fn& read, std::uint64_t offset, std::uint8_t* out,
                                    std::size_t n) {
  std::size_t got = 0;
  while (got < n) {
    const result<std::size_t> r = read(offset + got, out + got, n - got);
    if (!r) return r.error();
    if (*r == 0 || *r > n - got) return errc::truncated;
    got += *r;
  }
  return ok();
}

// Hashes size bytes of read from offset in chunks; payload_hash_mismatch
// when they are not want.
inline result<void> tree_hash_range(const read_at_fn& read, std::uint64_t offset, std::uint64_t size,
                                    const sha256_digest& want, std::vector<std::uint8_t>& buf) {
  sha256 h;
  std::uint64_t done = 0;
  while (done < size) {
    const std::size_t n =
        static_cast<std::size_t>(std::min<std::uint64_t>(size - done, buf.size()));
    SLOTGUARD_TRY(tree_read_exact(read, offset + done, buf.data(), n));
    h.update(buf.data(), n);
    done += n;
  }
  if (h.finish() != want) return errc::payload_hash_mismatch;
  return ok();
}

// A file's size and SHA-256 against an entry's: read in chunks, or with one
// read_file of at most size bytes from a backend without streaming reads.
inline result<void> tree_check_file(storage& fs, const std::string& path, const tree_entry& e,
                                    std::vector<std::uint8_t>& buf) {
  {
    result<file_handle> f = fs.open_read(path);
    if (f) {
      const file_handle h = *f;
      result<void> r = [&]() -> result<void> {
        const result<std::uint64_t> size = fs.file_size(h);
        if (!size) return size.error();
        if (*size != e.size) return errc::payload_size_mismatch;
        if (buf.empty()) buf.resize(tree_chunk_size);
        sha256 hs;
        std::uint64_t done = 0;
        for (;;) {
          const result<std::size_t> n = fs.read_at(h, done, buf.data(), buf.size());
          if (!n) return n.error();
          if (*n == 0) break;
          hs.update(buf.data(), *n);
          done += *n;
          if (done > e.size) return errc::payload_size_mismatch;  // grew meanwhile
        }
        if (done != e.size) return errc::payload_size_mismatch;
        if (hs.finish() != e.sha256) return errc::payload_hash_mismatch;
        return ok();
      }();
      const result<void> c = fs.close(h);
      if (!r) return r;
      return c;
    }
    if (f.error() != errc::unsupported) return f.error();
  }
  result<std::vector<std::uint8_t>> bytes = fs.read_file(path, e.size);
  if (!bytes) return bytes.error() == errc::too_large ? errc::payload_size_mismatch : bytes.error();
  if (bytes->size() != e.size) return errc::payload_size_mismatch;
  if (sha256_of(*bytes) != e.sha256) return errc::payload_hash_mismatch;
  return ok();
}

}  // namespace detail

inline int tree_path_compare(std::string_view a, std::string_view b) noexcept {
  const std::size_t n = std::min(a.size(), b.size());
  for (std::size_t i = 0; i < n; ++i) {
    // '/' sorts below every byte a component may hold: component order.
    const unsigned x = a[i] == '/' ? 0u : static_cast<std::uint8_t>(a[i]);
    const unsigned y = b[i] == '/' ? 0u : static_cast<std::uint8_t>(b[i]);
    if (x != y) return x < y ? -1 : 1;
  }
  if (a.size() == b.size()) return 0;
  return a.size() < b.size() ? -1 : 1;
}

inline errc check_tree_path(std::string_view p, const tree_limits& limits) noexcept {
  if (p.empty()) return errc::tree_path_empty;
  if (p.size() > limits.max_path) return errc::tree_path_too_long;
  const auto c0 = static_cast<unsigned char>(p[0]);
  if (p[0] == '/' || p[0] == '\\' ||
      (p.size() >= 2 && p[1] == ':' && ((c0 >= 'A' && c0 <= 'Z') || (c0 >= 'a' && c0 <= 'z'))))
    return errc::tree_path_absolute;
  if (!detail::tree_utf8_valid(p)) return errc::invalid_utf8;
  std::size_t depth = 0;
  std::size_t start = 0;
  for (;;) {
    const std::size_t slash = p.find('/', start);
    const std::string_view c = p.substr(start, slash == std::string_view::npos ? p.size() - start : slash - start);
    if (++depth > limits.max_depth) return errc::tree_too_deep;
    if (c.empty() || c == ".") return errc::tree_path_empty;
    if (c == "..") return errc::tree_path_dotdot;
    if (c.size() > limits.max_component) return errc::tree_component_too_long;
    for (std::size_t i = 0; i < c.size(); ++i) {
      const auto b = static_cast<std::uint8_t>(c[i]);
      if (detail::tree_bad_byte(b)) return errc::tree_path_bad_char;
      if (b == 0xC2 && i + 1 < c.size()) {
        const auto b2 = static_cast<std::uint8_t>(c[i + 1]);
        if (b2 >= 0x80 && b2 <= 0x9F) return errc::tree_path_bad_char;
      }
    }
    if (detail::tree_reserved_component(c)) return errc::tree_reserved_name;
    if (slash == std::string_view::npos) break;
    start = slash + 1;
  }
  return errc::ok;
}

inline result<std::uint64_t> tree_table_size(byte_view in, std::uint64_t payload_size,
                                             const tree_limits& limits) noexcept {
  const std::size_t n = in.size();
  const std::size_t magic_len = n < tree_magic.size() ? n : tree_magic.size();
  if (magic_len > 0 && std::memcmp(in.data(), tree_magic.data(), magic_len) != 0) return errc::bad_magic;
  if (n < tree_magic.size() + 2) return errc::truncated;
  if (detail::load_le16(in.data() + 8) != tree_format_version) return errc::unsupported_format_version;
  if (n < tree_header_size) return errc::truncated;
  if (detail::load_le16(in.data() + 10) != 0) return errc::bad_header;
  const std::uint32_t count = detail::load_le32(in.data() + 12);
  const std::uint64_t table_size = detail::load_le64(in.data() + 16);
  if (count > limits.max_entries) return errc::tree_too_many_entries;
  if (table_size > limits.max_table_size) return errc::too_large;
  // count < 2^32 and the factor is 48: no overflow.
  if (table_size < tree_header_size + std::uint64_t{count} * (tree_entry_fixed_size + 1))
    return errc::truncated;
  if (table_size > payload_size) return errc::truncated;
  return table_size;
}

inline result<tree_index> parse_tree_table(byte_view in, std::uint64_t payload_size,
                                           const tree_limits& limits) {
  const result<std::uint64_t> ts = tree_table_size(in, payload_size, limits);
  if (!ts) return ts.error();
  if (*ts > in.size()) return errc::truncated;
  // *ts <= in.size(): fits in size_t.
  const byte_view table = in.sub(0, static_cast<std::size_t>(*ts));
  const std::uint32_t count = detail::load_le32(table.data() + 12);
  tree_index idx;
  idx.table_size = *ts;
  // Bounded twice: by max_entries and by the bytes of the table in memory.
  idx.entries.reserve(count);
  const std::uint64_t data_size = payload_size - *ts;
  std::uint64_t used = 0;  // bytes of file data the entries so far take
  std::vector<std::size_t> dirs;  // the directories that hold the current entry, as indices
  detail::le_reader r(table.sub(tree_header_size));
  for (std::uint32_t i = 0; i < count; ++i) {
    std::uint8_t kind = 0;
    std::uint32_t mode = 0;
    std::uint64_t size = 0;
    byte_view digest, path_bytes;
    std::uint16_t path_len = 0;
    if (!(r.u8(kind) && r.u32(mode) && r.u64(size) && r.bytes(32, digest) && r.u16(path_len)))
      return errc::truncated;
    if (kind != static_cast<std::uint8_t>(tree_kind::directory) &&
        kind != static_cast<std::uint8_t>(tree_kind::file))
      return errc::tree_bad_kind;
    if ((mode & ~std::uint32_t{0777}) != 0) return errc::tree_bad_mode;
    if (path_len == 0) return errc::tree_path_empty;
    if (path_len > limits.max_path) return errc::tree_path_too_long;
    if (!r.bytes(path_len, path_bytes)) return errc::truncated;
    const std::string_view path = path_bytes.as_chars();
    const errc pe = check_tree_path(path, limits);
    if (pe != errc::ok) return pe;
    tree_entry e;
    e.kind = static_cast<tree_kind>(kind);
    e.mode = mode;
    e.size = size;
    std::memcpy(e.sha256.data(), digest.data(), 32);
    if (e.kind == tree_kind::directory && (size != 0 || !detail::tree_digest_is_zero(e.sha256)))
      return errc::tree_directory_data;
    if (!idx.entries.empty()) {
      const int c = tree_path_compare(idx.entries.back().path, path);
      if (c == 0) return errc::tree_duplicate_path;
      if (c > 0) return errc::tree_not_canonical;
    }
    // In canonical order the directories above an entry are a chain; pop
    // those this entry is not under, then the innermost left must be its parent.
    const std::string_view parent = detail::tree_parent_of(path);
    while (!dirs.empty()) {
      const std::string& d = idx.entries[dirs.back()].path;
      if (path.size() > d.size() && path.compare(0, d.size(), d) == 0 && path[d.size()] == '/') break;
      dirs.pop_back();
    }
    if (!parent.empty() && (dirs.empty() || idx.entries[dirs.back()].path != parent))
      return errc::tree_missing_parent;
    if (e.kind == tree_kind::file) {
      if (size > data_size - used) return errc::tree_size_mismatch;
      e.data_offset = *ts + used;
      used += size;
    } else {
      e.data_offset = *ts + used;
      dirs.push_back(idx.entries.size());
    }
    e.path.assign(path.data(), path.size());
    idx.entries.push_back(std::move(e));
  }
  if (r.remaining() != 0) return errc::trailing_bytes;
  if (detail::tree_find_case_collision(idx.entries) != static_cast<std::size_t>(-1))
    return errc::tree_case_collision;
  if (used != data_size) return errc::tree_size_mismatch;
  idx.payload_size = payload_size;
  return idx;
}

inline result<std::vector<std::uint8_t>> encode_tree_table(const tree_index& index) {
  if (index.entries.size() > 0xFFFFFFFFu) return errc::invalid_argument;
  std::uint64_t size = tree_header_size;
  for (const tree_entry& e : index.entries) {
    if (e.path.size() > 0xFFFFu) return errc::invalid_argument;
    size += tree_entry_fixed_size + e.path.size();
  }
  if (size > (std::numeric_limits<std::size_t>::max)()) return errc::too_large;
  std::vector<std::uint8_t> out;
  out.reserve(static_cast<std::size_t>(size));
  out.insert(out.end(), tree_magic.begin(), tree_magic.end());
  detail::append_le16(out, tree_format_version);
  detail::append_le16(out, 0);
  detail::append_le32(out, static_cast<std::uint32_t>(index.entries.size()));
  detail::append_le64(out, size);
  for (const tree_entry& e : index.entries) {
    out.push_back(static_cast<std::uint8_t>(e.kind));
    detail::append_le32(out, e.mode);
    detail::append_le64(out, e.size);
    out.insert(out.end(), e.sha256.begin(), e.sha256.end());
    detail::append_le16(out, static_cast<std::uint16_t>(e.path.size()));
    out.insert(out.end(), e.path.begin(), e.path.end());
  }
  return out;
}

inline result<tree_index> build_tree_index(std::vector<tree_entry> entries, const tree_limits& limits) {
  if (entries.size() > limits.max_entries) return errc::tree_too_many_entries;
  std::sort(entries.begin(), entries.end(), [](const tree_entry& a, const tree_entry& b) {
    return tree_path_compare(a.path, b.path) < 0;
  });
  tree_index idx;
  idx.entries = std::move(entries);
  const result<std::vector<std::uint8_t>> table = encode_tree_table(idx);
  if (!table) return table.error();
  std::uint64_t total = table->size();
  for (const tree_entry& e : idx.entries) {
    if (e.kind != tree_kind::file) continue;
    if (e.size > (std::numeric_limits<std::uint64_t>::max)() - total) return errc::too_large;
    total += e.size;
  }
  return parse_tree_table(*table, total, limits);
}

inline result<void> verify_tree_data(const read_at_fn& payload, const tree_index& index,
                                     std::string* problem_path) {
  std::uint64_t largest = 0;
  for (const tree_entry& e : index.entries)
    if (e.kind == tree_kind::file) largest = std::max(largest, e.size);
  std::vector<std::uint8_t> buf(static_cast<std::size_t>(std::min<std::uint64_t>(largest, tree_chunk_size)));
  for (const tree_entry& e : index.entries) {
    if (e.kind != tree_kind::file) continue;
    const result<void> r = detail::tree_hash_range(payload, e.data_offset, e.size, e.sha256, buf);
    if (!r) {
      detail::tree_set_problem(problem_path, e.path);
      return r;
    }
  }
  return ok();
}

inline result<void> verify_tree_data(byte_view payload, const tree_index& index, std::string* problem_path) {
  if (static_cast<std::uint64_t>(payload.size()) != index.payload_size) return errc::tree_size_mismatch;
  for (const tree_entry& e : index.entries) {
    if (e.kind != tree_kind::file) continue;
    // Every offset and size is within payload.size(), a size_t.
    const byte_view bytes = payload.sub(static_cast<std::size_t>(e.data_offset), static_cast<std::size_t>(e.size));
    if (bytes.size() != e.size) return errc::tree_size_mismatch;
    if (sha256_of(bytes) != e.sha256) {
      detail::tree_set_problem(problem_path, e.path);
      return errc::payload_hash_mismatch;
    }
  }
  return ok();
}

inline result<void> unpack_tree(storage& fs, const std::string& dest, const tree_index& index,
                                const read_at_fn& payload) {
  if (dest.empty()) return errc::invalid_argument;
  // The index may not come from parse_tree_table: its paths are checked
  // again, so none can leave dest whatever the caller hands in.
  const tree_limits loose = detail::tree_loose_limits();
  std::uint64_t largest = 0;
  for (const tree_entry& e : index.entries) {
    if (check_tree_path(e.path, loose) != errc::ok) return errc::invalid_argument;
    if (e.kind != tree_kind::file && e.kind != tree_kind::directory) return errc::invalid_argument;
    if (e.kind == tree_kind::file) largest = std::max(largest, e.size);
  }
  const result<bool> there = fs.exists(dest);
  if (!there) return there.error();
  if (*there) return errc::already_exists;
  SLOTGUARD_TRY(fs.mkdir(dest));
  std::vector<std::uint8_t> buf(static_cast<std::size_t>(std::min<std::uint64_t>(largest, tree_chunk_size)));
  for (const tree_entry& e : index.entries) {
    const std::string path = detail::tree_join(dest, e.path);
    if (e.kind == tree_kind::directory) {
      // mkdir succeeds on an existing directory: a name this file system
      // folds onto an earlier one must not merge two directories.
      const result<bool> taken = fs.exists(path);
      if (!taken) return taken.error();
      if (*taken) return errc::already_exists;
      SLOTGUARD_TRY(fs.mkdir(path));
      continue;
    }
    const result<file_handle> f = fs.create(path);
    if (!f) return f.error();
    const file_handle h = *f;
    const result<void> written = [&]() -> result<void> {
      sha256 hs;
      std::uint64_t done = 0;
      while (done < e.size) {
        const std::size_t n = static_cast<std::size_t>(std::min<std::uint64_t>(e.size - done, buf.size()));
        SLOTGUARD_TRY(detail::tree_read_exact(payload, e.data_offset + done, buf.data(), n));
        hs.update(buf.data(), n);
        SLOTGUARD_TRY(fs.write(h, byte_view(buf.data(), n)));
        done += n;
      }
      if (hs.finish() != e.sha256) return errc::payload_hash_mismatch;
      return fs.flush(h);
    }();
    const result<void> closed = fs.close(h);
    if (!written) return written;
    if (!closed) return closed;
  }
  // Children before parents: in canonical order a directory precedes what
  // it holds, so the reverse order syncs every directory after its contents.
  for (auto it = index.entries.rbegin(); it != index.entries.rend(); ++it)
    if (it->kind == tree_kind::directory) SLOTGUARD_TRY(fs.sync_dir(detail::tree_join(dest, it->path)));
  SLOTGUARD_TRY(fs.sync_dir(dest));
  return fs.sync_dir(detail::parent_dir(dest));
}

inline result<void> verify_unpacked_tree(storage& fs, const std::string& dest, const tree_index& index,
                                         std::string* problem_path) {
  // Every path the index lists, sorted for lookups of listed names.
  std::vector<std::string_view> known;
  known.reserve(index.entries.size());
  for (const tree_entry& e : index.entries) known.push_back(e.path);
  std::sort(known.begin(), known.end());
  const auto check_dir = [&](const std::string& rel) -> result<void> {
    const std::string path = detail::tree_join(dest, rel);
    const result<std::vector<std::string>> names = fs.list(path);
    if (!names) {
      detail::tree_set_problem(problem_path, rel);
      return names.error();
    }
    for (const std::string& name : *names) {
      const std::string child = rel.empty() ? name : rel + "/" + name;
      if (!std::binary_search(known.begin(), known.end(), std::string_view(child))) {
        detail::tree_set_problem(problem_path, child);
        return errc::tree_unexpected_entry;
      }
    }
    return ok();
  };
  SLOTGUARD_TRY(check_dir(std::string()));
  std::vector<std::uint8_t> buf;
  for (const tree_entry& e : index.entries) {
    if (e.kind == tree_kind::directory) {
      SLOTGUARD_TRY(check_dir(e.path));  // names the entry at fault itself
      continue;
    }
    const result<void> r = detail::tree_check_file(fs, detail::tree_join(dest, e.path), e, buf);
    if (!r) {
      detail::tree_set_problem(problem_path, e.path);
      return r;
    }
  }
  return ok();
}

inline result<void> remove_tree(storage& fs, const std::string& dest) {
  if (dest.empty()) return errc::invalid_argument;
  return detail::remove_path_tree(fs, dest, true);
}

}  // inline namespace SLOTGUARD_ABI_NAMESPACE
}  // namespace slotguard

#endif  // SLOTGUARD_TREE_HPP
