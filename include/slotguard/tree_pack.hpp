// SPDX-License-Identifier: Apache-2.0
// The publisher's side of tree payloads (docs/FORMAT.md, "Tree payloads"):
// scans a directory into a tree index, refusing what a tree cannot hold
// (links, devices, FIFOs, sockets) and any name a reader would refuse, and
// writes the payload (table, then the files' bytes) to a sink, or only
// measures and hashes it so a manifest can be filled before anything is
// written. Memory stays bounded: files are read in chunks, never whole. Uses
// std::filesystem (its error_code overloads only: nothing here throws);
// readers never include this header.
#ifndef SLOTGUARD_TREE_PACK_HPP
#define SLOTGUARD_TREE_PACK_HPP

#include <slotguard/config.hpp>

#include <slotguard/bytes.hpp>
#include <slotguard/error.hpp>
#include <slotguard/hash.hpp>
#include <slotguard/io_fn.hpp>
#include <slotguard/tree.hpp>

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <limits>
#include <string>
#include <system_error>
#include <utility>
#include <vector>

namespace slotguard {
inline namespace SLOTGUARD_ABI_NAMESPACE {

// A tree payload's size and SHA-256: the manifest's payload_size and
// payload_sha256.
struct tree_payload_digest {
  std::uint64_t size = 0;
  sha256_digest sha256{};
};

// Scans dir (a directory; a link to one is followed for dir itself only)
// into an index in canonical order, each file's size and SHA-256 read in
// chunks. Refuses a symbolic link, device, FIFO or socket anywhere under dir
// (tree_not_regular), a name check_tree_path refuses (its errc), two names
// that fold together (tree_case_collision) and whatever else
// parse_tree_table would refuse; *problem_path then names the path at fault,
// relative to dir. Errors of the file system: not_found, permission_denied,
// io_error.
result<tree_index> scan_directory(const std::string& dir, const tree_limits& limits = {},
                                  std::string* problem_path = nullptr);

// Writes the payload of index, scanned from dir, to sink: the table, then
// each file's bytes, in chunks of at most tree_chunk_size. Each file is
// checked as it is read against the index (tree_size_mismatch when its size
// changed, payload_hash_mismatch when its bytes did, tree_not_regular when it
// is no longer a regular file), so what the sink received is exactly the
// payload the index describes, or the call failed.
result<void> write_tree_payload(const std::string& dir, const tree_index& index, const chunk_fn& sink,
                                std::string* problem_path = nullptr);

// The payload's size and SHA-256, streamed through the same checks as
// write_tree_payload without writing anything.
result<tree_payload_digest> digest_tree_payload(const std::string& dir, const tree_index& index,
                                                std::string* problem_path = nullptr);

// ---------------------------------------------------------------------------
// Implementation

namespace detail {

// A UTF-8 std::string as a path, in C++17 and C++20 alike (u8path is
// deprecated in C++20, where the u8string constructor takes char8_t).
inline std::filesystem::path tree_fs_path(const std::string& utf8) {
#if defined(__cpp_char8_t)
  std::u8string u;
  u.reserve(utf8.size());
  for (char c : utf8) u.push_back(static_cast<char8_t>(c));
  return std::filesystem::path(u);
#else
  return std::filesystem::u8path(utf8);
#endif
}

inline std::string tree_utf8(const std::filesystem::path& p) {
  const auto u = p.u8string();
  std::string out;
  out.reserve(u.size());
  for (auto c : u) out.push_back(static_cast<char>(c));
  return out;
}

inline errc tree_fs_errc(const std::error_code& ec) noexcept {
  if (ec == std::errc::no_such_file_or_directory || ec == std::errc::not_a_directory) return errc::not_found;
  if (ec == std::errc::permission_denied || ec == std::errc::operation_not_permitted)
    return errc::permission_denied;
  return errc::io_error;
}

// Reads the regular file at p in chunks into sink (may be empty), at most
// limit bytes and one more to notice a file longer than limit. Returns the
// bytes read and their SHA-256.
inline result<tree_payload_digest> tree_read_file(const std::filesystem::path& p, std::uint64_t limit,
                                                  std::vector<std::uint8_t>& buf, const chunk_fn* sink) {
  std::ifstream in(p, std::ios::binary);
  if (!in) {
    std::error_code ec;
    const bool there = std::filesystem::exists(std::filesystem::symlink_status(p, ec));
    return there ? errc::permission_denied : errc::not_found;
  }
  if (buf.size() < tree_chunk_size) buf.resize(tree_chunk_size);
  sha256 h;
  tree_payload_digest d;
  for (;;) {
    // One byte beyond limit at most, to tell a grown file.
    const std::uint64_t want64 = limit - d.size + 1 < buf.size() ? limit - d.size + 1 : buf.size();
    in.read(reinterpret_cast<char*>(buf.data()), static_cast<std::streamsize>(want64));
    const auto got = static_cast<std::size_t>(in.gcount());
    if (got == 0) {
      if (in.bad()) return errc::io_error;
      break;
    }
    d.size += got;
    if (d.size > limit) return errc::tree_size_mismatch;
    h.update(buf.data(), got);
    if (sink != nullptr) SLOTGUARD_TRY((*sink)(byte_view(buf.data(), got)));
    if (in.eof()) break;
    if (in.fail()) return errc::io_error;
  }
  d.sha256 = h.finish();
  return d;
}

}  // namespace detail

inline result<tree_index> scan_directory(const std::string& dir, const tree_limits& limits,
                                         std::string* problem_path) {
  namespace fs = std::filesystem;
  const fs::path root = detail::tree_fs_path(dir);
  std::error_code ec;
  const fs::file_status rs = fs::status(root, ec);
  if (ec) return detail::tree_fs_errc(ec);
  if (!fs::is_directory(rs)) return errc::not_found;
  std::vector<tree_entry> entries;
  std::vector<std::uint8_t> buf;
  fs::recursive_directory_iterator it(root, fs::directory_options::none, ec);
  const fs::recursive_directory_iterator end;
  for (; !ec && it != end; it.increment(ec)) {
    const fs::directory_entry& de = *it;
    std::string rel;
    for (const fs::path& c : de.path().lexically_relative(root)) {
      if (!rel.empty()) rel.push_back('/');
      rel += detail::tree_utf8(c);
    }
    const fs::file_status st = de.symlink_status(ec);
    if (ec) {
      detail::tree_set_problem(problem_path, rel);
      return detail::tree_fs_errc(ec);
    }
    if (!fs::is_directory(st) && !fs::is_regular_file(st)) {
      // Links included: a tree holds no links, so none can point outside it.
      detail::tree_set_problem(problem_path, rel);
      return errc::tree_not_regular;
    }
    // Checked as they come, so no deep or huge tree is scanned to the end.
    if (entries.size() >= limits.max_entries) return errc::tree_too_many_entries;
    const errc pe = check_tree_path(rel, limits);
    if (pe != errc::ok) {
      detail::tree_set_problem(problem_path, rel);
      return pe;
    }
    tree_entry e;
    e.path = std::move(rel);
    e.mode = static_cast<std::uint32_t>(st.permissions()) & 0777u;
    if (fs::is_directory(st)) {
      e.kind = tree_kind::directory;
    } else {
      e.kind = tree_kind::file;
      const result<tree_payload_digest> d =
          detail::tree_read_file(de.path(), (std::numeric_limits<std::uint64_t>::max)() - 1, buf, nullptr);
      if (!d) {
        detail::tree_set_problem(problem_path, e.path);
        return d.error();
      }
      e.size = d->size;
      e.sha256 = d->sha256;
    }
    entries.push_back(std::move(e));
  }
  if (ec) return detail::tree_fs_errc(ec);
  const std::size_t collision = detail::tree_find_case_collision(entries);
  if (collision != static_cast<std::size_t>(-1)) {
    detail::tree_set_problem(problem_path, entries[collision].path);
    return errc::tree_case_collision;
  }
  return build_tree_index(std::move(entries), limits);
}

inline result<void> write_tree_payload(const std::string& dir, const tree_index& index, const chunk_fn& sink,
                                       std::string* problem_path) {
  namespace fs = std::filesystem;
  const result<std::vector<std::uint8_t>> table = encode_tree_table(index);
  if (!table) return table.error();
  if (table->size() != index.table_size) return errc::invalid_argument;
  for (std::size_t at = 0; at < table->size(); at += tree_chunk_size) {
    const std::size_t n = table->size() - at < tree_chunk_size ? table->size() - at : tree_chunk_size;
    SLOTGUARD_TRY(sink(byte_view(table->data() + at, n)));
  }
  const fs::path root = detail::tree_fs_path(dir);
  std::vector<std::uint8_t> buf;
  for (const tree_entry& e : index.entries) {
    if (e.kind != tree_kind::file) continue;
    const result<void> r = [&]() -> result<void> {
      if (check_tree_path(e.path, detail::tree_loose_limits()) != errc::ok)
        return errc::invalid_argument;
      const fs::path p = root / detail::tree_fs_path(e.path);
      std::error_code ec;
      const fs::file_status st = fs::symlink_status(p, ec);
      if (ec) return detail::tree_fs_errc(ec);
      if (!fs::is_regular_file(st)) return errc::tree_not_regular;
      const result<tree_payload_digest> d = detail::tree_read_file(p, e.size, buf, &sink);
      if (!d) return d.error();
      if (d->size != e.size) return errc::tree_size_mismatch;
      if (d->sha256 != e.sha256) return errc::payload_hash_mismatch;
      return ok();
    }();
    if (!r) {
      detail::tree_set_problem(problem_path, e.path);
      return r;
    }
  }
  return ok();
}

inline result<tree_payload_digest> digest_tree_payload(const std::string& dir, const tree_index& index,
                                                       std::string* problem_path) {
  sha256 h;
  tree_payload_digest d;
  const chunk_fn sink = [&](byte_view chunk) -> result<void> {
    h.update(chunk);
    d.size += chunk.size();
    return ok();
  };
  SLOTGUARD_TRY(write_tree_payload(dir, index, sink, problem_path));
  d.sha256 = h.finish();
  return d;
}

}  // inline namespace SLOTGUARD_ABI_NAMESPACE
}  // namespace slotguard

#endif  // SLOTGUARD_TREE_PACK_HPP
