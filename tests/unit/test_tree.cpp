// SPDX-License-Identifier: Apache-2.0
// Tree payloads (tree.hpp, tree_pack.hpp; docs/FORMAT.md, "Tree payloads"):
// the table's encoding and every rule of its parser, each with its errc; the
// worked example of the document; the files' bytes; unpacking into the
// simulator and into a real directory, durably (power cut at every storage
// call), verifying and removing what was unpacked; and the publisher's scan.
#include <slotguard/sim_storage.hpp>
#include <slotguard/storage.hpp>
#include <slotguard/tree.hpp>
#include <slotguard/tree_pack.hpp>

#include <catch2/catch.hpp>

#include "support.hpp"

#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#if !defined(_WIN32)
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>
#endif

namespace sg = slotguard;
using sg::errc;
using sg::tree_kind;

namespace {

// A tree in memory: its entries (for directories, content is ignored) and
// the bytes of each file.
struct spec {
  std::string path;
  tree_kind kind;
  std::string content;
  std::uint32_t mode = 0644;
};

sg::tree_entry entry_of(const spec& s) {
  sg::tree_entry e;
  e.path = s.path;
  e.kind = s.kind;
  e.mode = s.kind == tree_kind::directory && s.mode == 0644 ? 0755 : s.mode;
  if (s.kind == tree_kind::file) {
    e.size = s.content.size();
    e.sha256 = sg::sha256_of(sg::byte_view(s.content));
  }
  return e;
}

// The whole payload of a built index: table then the files' bytes in table order.
std::vector<std::uint8_t> payload_of(const sg::tree_index& idx, const std::vector<spec>& specs) {
  auto table = sg::encode_tree_table(idx);
  REQUIRE(table);
  std::vector<std::uint8_t> out = *table;
  for (const auto& e : idx.entries) {
    if (e.kind != tree_kind::file) continue;
    const auto it = std::find_if(specs.begin(), specs.end(), [&](const spec& s) { return s.path == e.path; });
    REQUIRE(it != specs.end());
    out.insert(out.end(), it->content.begin(), it->content.end());
  }
  return out;
}

sg::tree_index build(const std::vector<spec>& specs) {
  std::vector<sg::tree_entry> entries;
  for (const auto& s : specs) entries.push_back(entry_of(s));
  auto idx = sg::build_tree_index(entries);
  REQUIRE(idx);
  return std::move(*idx);
}

// Encodes entries as given (no sorting, no check) with a payload of the
// table plus the files' sizes, and parses it: the parser's verdict.
errc parse_raw(const std::vector<sg::tree_entry>& entries, const sg::tree_limits& limits = {},
               std::int64_t payload_delta = 0) {
  sg::tree_index idx;
  idx.entries = entries;
  auto table = sg::encode_tree_table(idx);
  REQUIRE(table);
  std::uint64_t total = table->size();
  for (const auto& e : entries)
    if (e.kind == tree_kind::file) total += e.size;
  total = static_cast<std::uint64_t>(static_cast<std::int64_t>(total) + payload_delta);
  auto r = sg::parse_tree_table(*table, total, limits);
  return r ? errc::ok : r.error();
}

sg::tree_entry dir(const std::string& p) { return entry_of({p, tree_kind::directory, ""}); }
sg::tree_entry file(const std::string& p, const std::string& content = "x") {
  return entry_of({p, tree_kind::file, content});
}

const std::vector<spec>& example_specs() {
  static const std::vector<spec> s = {
      {"rules", tree_kind::directory, "", 0755},
      {"rules/a.yar", tree_kind::file, "rule a { condition: true }\n", 0644},
      {"VERSION", tree_kind::file, "7\n", 0644},
  };
  return s;
}

std::vector<std::uint8_t> read_all(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  REQUIRE(in);
  return std::vector<std::uint8_t>((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

std::vector<std::uint8_t> hex_from_doc(const std::string& doc, const std::string& begin, const std::string& end) {
  const std::size_t b = doc.find(begin);
  const std::size_t e = doc.find(end);
  REQUIRE(b != std::string::npos);
  REQUIRE(e != std::string::npos);
  REQUIRE(b < e);
  std::istringstream in(doc.substr(b + begin.size(), e - b - begin.size()));
  std::string hex, line;
  while (std::getline(in, line)) {
    line = line.substr(0, line.find('#'));
    if (line.find("```") != std::string::npos) continue;
    for (char c : line)
      if (c != ' ' && c != '\t' && c != '\r') hex.push_back(c);
  }
  auto bytes = sg::from_hex(hex);
  REQUIRE(bytes);
  return std::move(*bytes);
}

}  // namespace

// ---------------------------------------------------------------------------
// Encoding, order and the worked example

TEST_CASE("canonical order is component by component, a directory before its contents", "[tree.order]") {
  CHECK(sg::tree_path_compare("a", "a/b") < 0);
  CHECK(sg::tree_path_compare("a/b", "a-b") < 0);  // plain bytewise order would put a-b first
  CHECK(sg::tree_path_compare("a/z", "a.b") < 0);
  CHECK(sg::tree_path_compare("ab/c", "a/c") > 0);
  CHECK(sg::tree_path_compare("B", "a") < 0);  // bytes, not letters: 'B' < 'a'
  CHECK(sg::tree_path_compare("x", "x") == 0);
  CHECK(sg::tree_path_compare("\xc3\xa9", "z") > 0);  // unsigned bytes
}

TEST_CASE("a built tree round-trips through its table and payload", "[tree.format]") {
  const std::vector<spec> specs = {
      {"z", tree_kind::file, "last"},
      {"a", tree_kind::directory, ""},
      {"a/b", tree_kind::directory, ""},
      {"a/b/c.txt", tree_kind::file, "hello"},
      {"a-b", tree_kind::file, ""},
      {"a/empty", tree_kind::file, ""},
      {"\xc3\xa9t\xc3\xa9", tree_kind::file, "utf-8 name", 0600},
  };
  const auto idx = build(specs);
  REQUIRE(idx.entries.size() == specs.size());
  std::vector<std::string> order;
  for (const auto& e : idx.entries) order.push_back(e.path);
  CHECK(order == std::vector<std::string>{"a", "a/b", "a/b/c.txt", "a/empty", "a-b", "z", "\xc3\xa9t\xc3\xa9"});
  const auto payload = payload_of(idx, specs);
  CHECK(idx.payload_size == payload.size());
  auto ts = sg::tree_table_size(sg::byte_view(payload).sub(0, sg::tree_header_size), payload.size());
  REQUIRE(ts);
  CHECK(*ts == idx.table_size);
  auto parsed = sg::parse_tree_table(payload, payload.size());
  REQUIRE(parsed);
  REQUIRE(parsed->entries.size() == idx.entries.size());
  for (std::size_t i = 0; i < idx.entries.size(); ++i) {
    const auto& a = parsed->entries[i];
    const auto& b = idx.entries[i];
    CHECK(a.path == b.path);
    CHECK(a.kind == b.kind);
    CHECK(a.mode == b.mode);
    CHECK(a.size == b.size);
    CHECK(a.sha256 == b.sha256);
    CHECK(a.data_offset == b.data_offset);
  }
  // Offsets: the files' bytes follow the table in table order.
  const auto& c = parsed->entries[2];
  CHECK(c.data_offset == parsed->table_size);
  CHECK(sg::byte_view(payload).sub(static_cast<std::size_t>(c.data_offset), 5) == sg::byte_view(std::string_view("hello")));
  CHECK(parsed->entries[6].data_offset == parsed->table_size + 5 + 0 + 0 + 4);
  CHECK(sg::verify_tree_data(payload, *parsed));
  CHECK(sg::verify_tree_data(sg::read_at_memory(payload), *parsed));
  // Only the table is needed to parse it.
  CHECK(sg::parse_tree_table(sg::byte_view(payload).sub(0, static_cast<std::size_t>(idx.table_size)), payload.size()));
}

TEST_CASE("an empty tree is its header alone", "[tree.format]") {
  const auto idx = build({});
  CHECK(idx.table_size == sg::tree_header_size);
  CHECK(idx.payload_size == sg::tree_header_size);
  const auto payload = payload_of(idx, {});
  CHECK(payload.size() == 24);
  CHECK(sg::parse_tree_table(payload, payload.size()));
}

TEST_CASE("the worked example in docs/FORMAT.md is what the code produces", "[tree.format][tree.doc]") {
  const auto doc_bytes = read_all(std::string(SLOTGUARD_TEST_SOURCE_DIR) + "/docs/FORMAT.md");
  const std::string doc(doc_bytes.begin(), doc_bytes.end());
  const auto example = hex_from_doc(doc, "<!-- tree-example-hex-begin -->", "<!-- tree-example-hex-end -->");
  const auto idx = build(example_specs());
  const auto payload = payload_of(idx, example_specs());
  CHECK(example == payload);
  CHECK(payload.size() == 217);
  CHECK(idx.table_size == 188);
  const std::string marker = "SHA-256 of the whole payload: `";
  const std::size_t at = doc.find(marker);
  REQUIRE(at != std::string::npos);
  CHECK(doc.substr(at + marker.size(), 64) == sg::to_hex(sg::sha256_of(payload)));
}

// ---------------------------------------------------------------------------
// The header, in check order

namespace {

std::vector<std::uint8_t> example_payload() { return payload_of(build(example_specs()), example_specs()); }

errc table_size_error(const std::vector<std::uint8_t>& p, std::uint64_t payload_size,
                      const sg::tree_limits& limits = {}) {
  auto r = sg::tree_table_size(p, payload_size, limits);
  auto q = sg::parse_tree_table(p, payload_size, limits);
  // The parser checks the header first, with the same verdict.
  CHECK((q ? errc::ok : q.error()) == (r ? errc::ok : r.error()));
  return r ? errc::ok : r.error();
}

}  // namespace

TEST_CASE("header: magic, version, flags", "[tree.header]") {
  auto p = example_payload();
  const auto n = p.size();
  CHECK(table_size_error(p, n) == errc::ok);
  auto bad = p;
  bad[3] = 'B';  // a bundle's magic is not a tree's
  CHECK(table_size_error(bad, n) == errc::bad_magic);
  CHECK(table_size_error(std::vector<std::uint8_t>{0x89, 'S', 'X'}, n) == errc::bad_magic);
  CHECK(table_size_error(std::vector<std::uint8_t>(p.begin(), p.begin() + 5), n) == errc::truncated);
  CHECK(table_size_error(std::vector<std::uint8_t>(p.begin(), p.begin() + 9), n) == errc::truncated);
  CHECK(table_size_error({}, n) == errc::truncated);
  bad = p;
  bad[8] = 2;
  CHECK(table_size_error(bad, n) == errc::unsupported_format_version);
  CHECK(table_size_error(std::vector<std::uint8_t>(bad.begin(), bad.begin() + 10), n) ==
        errc::unsupported_format_version);
  CHECK(table_size_error(std::vector<std::uint8_t>(p.begin(), p.begin() + 23), n) == errc::truncated);
  bad = p;
  bad[11] = 1;  // flags
  CHECK(table_size_error(bad, n) == errc::bad_header);
}

TEST_CASE("header: entry count and table size against limits and the payload", "[tree.header]") {
  auto p = example_payload();
  const auto n = p.size();
  sg::tree_limits two;
  two.max_entries = 2;
  CHECK(table_size_error(p, n, two) == errc::tree_too_many_entries);
  two.max_entries = 3;
  CHECK(table_size_error(p, n, two) == errc::ok);
  sg::tree_limits small;
  small.max_table_size = 187;
  CHECK(table_size_error(p, n, small) == errc::too_large);
  small.max_table_size = 188;
  CHECK(table_size_error(p, n, small) == errc::ok);
  // A count its table cannot hold (48 bytes an entry at least), checked
  // before anything is allocated for it.
  auto bad = p;
  sg::detail::store_le32(bad.data() + 12, 4);
  CHECK(table_size_error(bad, n) == errc::truncated);
  sg::detail::store_le32(bad.data() + 12, 0xFFFFFFFFu);
  sg::tree_limits huge;
  huge.max_entries = 0xFFFFFFFFu;
  CHECK(table_size_error(bad, n, huge) == errc::truncated);
  // A table larger than the payload.
  CHECK(table_size_error(p, 187) == errc::truncated);
  bad = p;
  sg::detail::store_le64(bad.data() + 16, 0xFFFFFFFFFFFFFFFFull);
  CHECK(table_size_error(bad, n) == errc::too_large);
  // The table in hand shorter than its stated size.
  CHECK_FALSE(sg::parse_tree_table(sg::byte_view(p).sub(0, 187), n));
  CHECK(sg::parse_tree_table(sg::byte_view(p).sub(0, 187), n).error() == errc::truncated);
}

TEST_CASE("table: an entry cut short, bytes after the last entry", "[tree.table]") {
  auto p = example_payload();
  const auto n = p.size();
  // One entry fewer than the table holds: its bytes are left over.
  auto bad = p;
  sg::detail::store_le32(bad.data() + 12, 2);
  CHECK(sg::parse_tree_table(bad, n).error() == errc::trailing_bytes);
  // A table size that ends inside the last entry's path, or its fixed part.
  bad = p;
  sg::detail::store_le64(bad.data() + 16, 187);
  CHECK(sg::parse_tree_table(bad, n).error() == errc::truncated);
  bad = p;
  sg::detail::store_le64(bad.data() + 16, 188 - 11 - 3);
  CHECK(sg::parse_tree_table(bad, n).error() == errc::truncated);
  // A path length past the table.
  bad = p;
  sg::detail::store_le16(bad.data() + 24 + 45, 300);
  CHECK(sg::parse_tree_table(bad, n).error() == errc::truncated);
}

// ---------------------------------------------------------------------------
// Entries: one test per rule and errc

TEST_CASE("entry: kind is 1 or 2 (tree_bad_kind)", "[tree.entry]") {
  auto e = file("a");
  for (int k : {0, 3, 255}) {
    e.kind = static_cast<tree_kind>(k);
    CHECK(parse_raw({e}) == errc::tree_bad_kind);
  }
}

TEST_CASE("entry: mode bits within 0777 (tree_bad_mode)", "[tree.entry]") {
  auto e = file("a");
  e.mode = 0777;
  CHECK(parse_raw({e}) == errc::ok);
  for (std::uint32_t m : {01000u, 04755u, 0100644u, 0x80000000u}) {
    e.mode = m;
    CHECK(parse_raw({e}) == errc::tree_bad_mode);
  }
}

TEST_CASE("path: absolute paths and drive letters (tree_path_absolute)", "[tree.path]") {
  for (const char* p : {"/etc/passwd", "/", "\\\\server\\share", "\\a", "C:", "c:x", "C:/Windows", "z:"})
    CHECK(parse_raw({file(p)}) == errc::tree_path_absolute);
  CHECK(sg::check_tree_path("/a") == errc::tree_path_absolute);
}

TEST_CASE("path: '..' components (tree_path_dotdot)", "[tree.path]") {
  for (const char* p : {"..", "../a", "a/..", "a/../b"}) CHECK(sg::check_tree_path(p) == errc::tree_path_dotdot);
  CHECK(parse_raw({dir("a"), file("a/..")}) == errc::tree_path_dotdot);
  CHECK(sg::check_tree_path("...") != errc::tree_path_dotdot);
  CHECK(sg::check_tree_path("..a") == errc::ok);
}

TEST_CASE("path: empty path, empty or '.' component (tree_path_empty)", "[tree.path]") {
  // (An entry with an empty path is 47 bytes: the header's minimum of 48 an
  // entry lets one through only beside a longer path.)
  CHECK(parse_raw({file("")}) == errc::truncated);
  CHECK(parse_raw({file(""), file("ab")}) == errc::tree_path_empty);
  for (const char* p : {"", "a//b", "a/", ".", "./a", "a/.", "a/./b"})
    CHECK(sg::check_tree_path(p) == errc::tree_path_empty);
  CHECK(parse_raw({dir("a"), file("a/./b")}) == errc::tree_path_empty);
  CHECK(parse_raw({dir("a"), file("a/")}) == errc::tree_path_empty);
  CHECK(sg::check_tree_path(".hidden") == errc::ok);
}

TEST_CASE("path: control characters, NUL, backslash and Windows' forbidden characters (tree_path_bad_char)",
          "[tree.path]") {
  for (const std::string& p : {std::string("a\0b", 3), std::string("a\nb"), std::string("\x01"), std::string("a\x7f"),
                              std::string("a\\b"), std::string("ab:c"), std::string("a*"), std::string("a?"),
                              std::string("\"a\""), std::string("<a>"), std::string("a|b"),
                              std::string("a\xc2\x85"), std::string("\xc2\x9f")}) {
    INFO(sg::to_hex(sg::byte_view(p)));
    CHECK(sg::check_tree_path(p) == errc::tree_path_bad_char);
    CHECK(parse_raw({file(p)}) == errc::tree_path_bad_char);
  }
  CHECK(sg::check_tree_path("a\xc2\xa0" "b") == errc::ok);  // U+00A0 is not a control
  CHECK(sg::check_tree_path("a b-c_d+e,f;g=h[i]j{k}l~m!n@o#p$q%r&s'(t)") == errc::ok);
}

TEST_CASE("path: invalid UTF-8 (invalid_utf8)", "[tree.path]") {
  for (const std::string& p : {std::string("\xff"), std::string("a\xc3"), std::string("\xc0\xaf"),
                              std::string("\xed\xa0\x80"), std::string("\xf4\x90\x80\x80")})
    CHECK(parse_raw({file(p)}) == errc::invalid_utf8);
}

TEST_CASE("path: names Windows reserves, trailing dot or space (tree_reserved_name)", "[tree.path]") {
  for (const char* p : {"CON", "con", "Nul", "aux.txt", "PRN.tar.gz", "com1", "COM9", "lpt0", "LPT5.log", "nul .txt",
                        "CONIN$", "conout$", "com\xc2\xb9", "LPT\xc2\xb3.x", "a.", "a ", "...", "d/x."}) {
    INFO(p);
    CHECK(sg::check_tree_path(p) == errc::tree_reserved_name);
  }
  CHECK(parse_raw({dir("d"), file("d/nul")}) == errc::tree_reserved_name);
  for (const char* p : {"CONS", "com10", "lpt", "xnul", "nul_", "com\xc2\xb4", ".con", "a.b", " a"}) {
    INFO(p);
    CHECK(sg::check_tree_path(p) == errc::ok);
  }
}

TEST_CASE("path: too long, component too long, too deep", "[tree.path]") {
  sg::tree_limits l;
  l.max_path = 10;
  l.max_component = 4;
  l.max_depth = 3;
  CHECK(parse_raw({file("abcdefghijk")}, l) == errc::tree_path_too_long);
  CHECK(parse_raw({file("abcdefghij")}, l) == errc::tree_component_too_long);
  CHECK(parse_raw({file("abcd")}, l) == errc::ok);
  CHECK(parse_raw({file("abcde")}, l) == errc::tree_component_too_long);
  CHECK(parse_raw({dir("a"), dir("a/b"), dir("a/b/c"), file("a/b/c/d")}, l) == errc::tree_too_deep);
  CHECK(parse_raw({dir("a"), dir("a/b"), file("a/b/c")}, l) == errc::ok);
  // Defaults: 1024, 255, 32.
  CHECK(sg::check_tree_path(std::string(255, 'a')) == errc::ok);
  CHECK(sg::check_tree_path(std::string(256, 'a')) == errc::tree_component_too_long);
  std::string deep = "a";
  for (int i = 0; i < 31; ++i) deep += "/a";
  CHECK(sg::check_tree_path(deep) == errc::ok);
  CHECK(sg::check_tree_path(deep + "/a") == errc::tree_too_deep);
  std::string long_path(1024, 'a');
  for (std::size_t i = 100; i < long_path.size(); i += 100) long_path[i] = '/';
  CHECK(sg::check_tree_path(long_path) == errc::ok);
  CHECK(sg::check_tree_path(long_path + "a") == errc::tree_path_too_long);
}

TEST_CASE("entry: a directory has no size and no SHA-256 (tree_directory_data)", "[tree.entry]") {
  auto d = dir("a");
  d.size = 1;
  CHECK(parse_raw({d}) == errc::tree_directory_data);
  d = dir("a");
  d.sha256[31] = 1;
  CHECK(parse_raw({d}) == errc::tree_directory_data);
}

TEST_CASE("entries: duplicates and canonical order", "[tree.order]") {
  CHECK(parse_raw({file("a"), file("a")}) == errc::tree_duplicate_path);
  CHECK(parse_raw({dir("a"), dir("a")}) == errc::tree_duplicate_path);
  CHECK(parse_raw({file("b"), file("a")}) == errc::tree_not_canonical);
  // Bytewise order of the whole path is not canonical order.
  CHECK(parse_raw({file("a-b"), dir("a"), file("a/b")}) == errc::tree_not_canonical);
  CHECK(parse_raw({dir("a"), file("a/b"), file("a-b")}) == errc::ok);
  // A directory's contents follow it directly.
  CHECK(parse_raw({dir("a"), file("b"), file("a/c")}) == errc::tree_not_canonical);
}

TEST_CASE("entries: every parent listed before, as a directory (tree_missing_parent)", "[tree.order]") {
  CHECK(parse_raw({file("a/b")}) == errc::tree_missing_parent);
  CHECK(parse_raw({dir("a"), file("a/b/c")}) == errc::tree_missing_parent);
  CHECK(parse_raw({file("a"), file("a/b")}) == errc::tree_missing_parent);  // a file is no parent
  CHECK(parse_raw({dir("a"), dir("a/b"), file("a/c"), file("a/c/d")}) == errc::tree_missing_parent);
  CHECK(parse_raw({dir("a"), dir("a/b"), file("a/b/c"), dir("a/d"), file("a/d/e"), file("f")}) == errc::ok);
  CHECK(parse_raw({dir("a"), dir("a/b"), file("a/b/c"), file("a/d/e")}) == errc::tree_missing_parent);
}

TEST_CASE("entries: names one ASCII case folding makes equal (tree_case_collision)", "[tree.order]") {
  CHECK(parse_raw({file("A"), file("a")}) == errc::tree_case_collision);
  CHECK(parse_raw({file("README"), file("ReadMe")}) == errc::tree_case_collision);
  CHECK(parse_raw({dir("D"), file("D/x"), dir("d")}) == errc::tree_case_collision);
  CHECK(parse_raw({dir("D"), file("D/x"), dir("d"), file("d/X")}) == errc::tree_case_collision);
  CHECK(parse_raw({dir("D"), file("D/x"), dir("d"), file("d/y")}) == errc::tree_case_collision);
  // Only ASCII letters fold: U+00C9 and U+00E9 are different names here.
  CHECK(parse_raw({file("\xc3\x89"), file("\xc3\xa9")}) == errc::ok);
}

TEST_CASE("entries: sizes add up to the payload exactly (tree_size_mismatch)", "[tree.size]") {
  CHECK(parse_raw({file("a", "abc"), file("b", "de")}, {}, 0) == errc::ok);
  CHECK(parse_raw({file("a", "abc"), file("b", "de")}, {}, -1) == errc::tree_size_mismatch);
  CHECK(parse_raw({file("a", "abc"), file("b", "de")}, {}, +1) == errc::tree_size_mismatch);
  // A size past the payload is caught at its entry, before any sum can wrap.
  auto big = file("a", "abc");
  big.size = 0xFFFFFFFFFFFFFFFFull;
  auto small = file("b", "de");
  CHECK(parse_raw({big, small}, {}, 0) == errc::tree_size_mismatch);
}

TEST_CASE("entries: too many for the limit (tree_too_many_entries)", "[tree.entry]") {
  sg::tree_limits l;
  l.max_entries = 2;
  CHECK(parse_raw({file("a"), file("b")}, l) == errc::ok);
  CHECK(parse_raw({file("a"), file("b"), file("c")}, l) == errc::tree_too_many_entries);
  std::vector<sg::tree_entry> many{file("a"), file("b"), file("c")};
  CHECK(sg::build_tree_index(many, l).error() == errc::tree_too_many_entries);
}

TEST_CASE("the files' bytes against their SHA-256", "[tree.data]") {
  const auto idx = build(example_specs());
  auto payload = payload_of(idx, example_specs());
  std::string where;
  CHECK(sg::verify_tree_data(payload, idx, &where));
  payload[payload.size() - 1] ^= 1;  // the last byte of rules/a.yar (VERSION's bytes come first)
  auto r = sg::verify_tree_data(payload, idx, &where);
  REQUIRE_FALSE(r);
  CHECK(r.error() == errc::payload_hash_mismatch);
  CHECK(where == "rules/a.yar");
  where.clear();
  auto s = sg::verify_tree_data(sg::read_at_memory(payload), idx, &where);
  REQUIRE_FALSE(s);
  CHECK(s.error() == errc::payload_hash_mismatch);
  CHECK(where == "rules/a.yar");
  payload.pop_back();
  CHECK(sg::verify_tree_data(payload, idx).error() == errc::tree_size_mismatch);
  CHECK(sg::verify_tree_data(sg::read_at_memory(payload), idx).error() == errc::truncated);
}

// ---------------------------------------------------------------------------
// Unpacking, verifying and removing, on the simulator

namespace {

const std::string store_dir = "/store";
const std::string dest = "/store/slot-1.d";

// A tree with a file bigger than one chunk (written and read in pieces).
const std::vector<spec>& big_specs() {
  static const std::vector<spec> s = [] {
    std::vector<spec> v = example_specs();
    const auto big = slotguard_test::pseudo_random_bytes(7, (std::size_t{5} << 20) / 2 + 3);
    v.push_back({"rules/big.bin", tree_kind::file, std::string(big.begin(), big.end())});
    v.push_back({"rules/sub", tree_kind::directory, ""});
    v.push_back({"rules/sub/deeper", tree_kind::directory, ""});
    v.push_back({"rules/sub/deeper/x.yar", tree_kind::file, "rule x { condition: false }\n"});
    v.push_back({"empty", tree_kind::directory, ""});
    v.push_back({"zero", tree_kind::file, ""});
    return v;
  }();
  return s;
}

struct sim_fixture {
  sg::sim_storage fs;
  sg::tree_index idx;
  std::vector<std::uint8_t> payload;
  explicit sim_fixture(const std::vector<spec>& specs = example_specs()) {
    REQUIRE(fs.mkdir(store_dir));
    idx = build(specs);
    payload = payload_of(idx, specs);
  }
  sg::result<void> unpack() { return sg::unpack_tree(fs, dest, idx, sg::read_at_memory(payload)); }
};

// Nothing at or under dest.
bool gone(sg::sim_storage& fs) {
  for (const auto& f : fs.files())
    if (f.compare(0, dest.size(), dest) == 0) return false;
  auto there = fs.exists(dest);
  return there && !*there;
}

}  // namespace

TEST_CASE("unpack into the simulator: every file and directory, verified, then removed", "[tree.unpack]") {
  sim_fixture s(big_specs());
  std::size_t largest_write = 0;
  s.fs.on_write([&](const std::string&, sg::byte_view d) { largest_write = std::max(largest_write, d.size()); });
  REQUIRE(s.unpack());
  CHECK(largest_write == sg::tree_chunk_size);
  for (const auto& sp : big_specs()) {
    INFO(sp.path);
    if (sp.kind == tree_kind::file) {
      const auto got = s.fs.peek(dest + "/" + sp.path);
      REQUIRE(got);
      CHECK(*got == std::vector<std::uint8_t>(sp.content.begin(), sp.content.end()));
    } else {
      CHECK(*s.fs.exists(dest + "/" + sp.path));
    }
  }
  std::string where;
  CHECK(sg::verify_unpacked_tree(s.fs, dest, s.idx, &where));
  CHECK(sg::remove_tree(s.fs, dest));
  CHECK(gone(s.fs));
  CHECK(*s.fs.exists(store_dir));
  // Removing what is not there succeeds.
  CHECK(sg::remove_tree(s.fs, dest));
}

TEST_CASE("verify_unpacked_tree finds an extra, a missing and a changed entry", "[tree.verify]") {
  sim_fixture s;
  REQUIRE(s.unpack());
  std::string where;
  SECTION("an extra file") {
    s.fs.poke(dest + "/rules/extra.yar", sg::byte_view(std::string_view("x")));
    const auto r = sg::verify_unpacked_tree(s.fs, dest, s.idx, &where);
    REQUIRE_FALSE(r);
    CHECK(r.error() == errc::tree_unexpected_entry);
    CHECK(where == "rules/extra.yar");
  }
  SECTION("an extra file at the top") {
    s.fs.poke(dest + "/extra", sg::byte_view(std::string_view("x")));
    CHECK(sg::verify_unpacked_tree(s.fs, dest, s.idx, &where).error() == errc::tree_unexpected_entry);
    CHECK(where == "extra");
  }
  SECTION("an extra directory") {
    REQUIRE(s.fs.mkdir(dest + "/rules/more"));
    CHECK(sg::verify_unpacked_tree(s.fs, dest, s.idx, &where).error() == errc::tree_unexpected_entry);
    CHECK(where == "rules/more");
  }
  SECTION("a missing file") {
    s.fs.erase(dest + "/VERSION");
    CHECK(sg::verify_unpacked_tree(s.fs, dest, s.idx, &where).error() == errc::not_found);
    CHECK(where == "VERSION");
  }
  SECTION("a changed file") {
    s.fs.poke(dest + "/rules/a.yar", sg::byte_view(std::string_view("rule a { condition: TRUE }\n")));
    CHECK(sg::verify_unpacked_tree(s.fs, dest, s.idx, &where).error() == errc::payload_hash_mismatch);
    CHECK(where == "rules/a.yar");
  }
  SECTION("a file of another size") {
    s.fs.poke(dest + "/VERSION", sg::byte_view(std::string_view("10\n")));
    CHECK(sg::verify_unpacked_tree(s.fs, dest, s.idx, &where).error() == errc::payload_size_mismatch);
    CHECK(where == "VERSION");
  }
  SECTION("removed whole") {
    REQUIRE(sg::remove_tree(s.fs, dest));
    CHECK_FALSE(sg::verify_unpacked_tree(s.fs, dest, s.idx, &where));
  }
  CHECK(sg::remove_tree(s.fs, dest));
  CHECK(gone(s.fs));
}

TEST_CASE("unpack refuses an existing destination, a short or altered payload, and unsafe paths",
          "[tree.unpack]") {
  sim_fixture s;
  SECTION("the destination exists") {
    REQUIRE(s.fs.mkdir(dest));
    CHECK(s.unpack().error() == errc::already_exists);
  }
  SECTION("the payload ends early") {
    s.payload.pop_back();
    CHECK(s.unpack().error() == errc::truncated);
    CHECK(sg::remove_tree(s.fs, dest));
    CHECK(gone(s.fs));
  }
  SECTION("a file's bytes are not the table's") {
    s.payload.back() ^= 0x20;
    CHECK(s.unpack().error() == errc::payload_hash_mismatch);
    CHECK(sg::remove_tree(s.fs, dest));
    CHECK(gone(s.fs));
  }
  SECTION("a path that would leave the destination, in an index not from the parser") {
    for (const char* bad : {"../escape", "/abs", "a/../../x", "C:x", "a\\..\\x"}) {
      auto idx = s.idx;
      idx.entries[0].path = bad;
      CHECK(sg::unpack_tree(s.fs, dest, idx, sg::read_at_memory(s.payload)).error() == errc::invalid_argument);
      CHECK(gone(s.fs));
    }
  }
  SECTION("the read callback's error is returned") {
    const sg::read_at_fn failing = [](std::uint64_t, std::uint8_t*, std::size_t) -> sg::result<std::size_t> {
      return errc::io_error;
    };
    CHECK(sg::unpack_tree(s.fs, dest, s.idx, failing).error() == errc::io_error);
  }
}

TEST_CASE("unpack: an I/O error at any storage call fails it, and what it left can be removed",
          "[tree.unpack][tree.crash]") {
  std::uint64_t total = 0;
  {
    sim_fixture s(big_specs());
    const auto before = s.fs.call_count();
    REQUIRE(s.unpack());
    total = s.fs.call_count() - before;
  }
  REQUIRE(total > 20);
  for (std::uint64_t n = 1; n <= total; ++n) {
    INFO("failing call " << n << " of " << total);
    sim_fixture s(big_specs());
    s.fs.fail_nth_call(n);
    const auto r = s.unpack();
    REQUIRE_FALSE(r);
    CHECK(r.error() == errc::io_error);
    REQUIRE(sg::remove_tree(s.fs, dest));
    CHECK(gone(s.fs));
  }
}

TEST_CASE("unpack: a power cut after any storage call leaves what remove_tree removes, and a finished unpack "
          "survives the cut whole",
          "[tree.unpack][tree.crash]") {
  std::uint64_t total = 0;
  {
    sim_fixture s(big_specs());
    const auto before = s.fs.call_count();
    REQUIRE(s.unpack());
    total = s.fs.call_count() - before;
  }
  std::size_t reboots = 0;
  for (std::uint64_t n = 1; n <= total; ++n) {
    sim_fixture s(big_specs());
    s.fs.cut_power_after(n);
    const auto r = s.unpack();
    CHECK(r.has_value() == (n == total));
    std::vector<sg::sim_power_cut> cuts(2);
    cuts[1].keep = sg::sim_power_cut::keep_mode::everything;
    for (std::uint64_t seed = 1; seed <= 4; ++seed) {
      sg::sim_power_cut c;
      c.keep = sg::sim_power_cut::keep_mode::random;
      c.seed = seed;
      cuts.push_back(c);
    }
    for (std::size_t k = 0; k < cuts.size(); ++k) {
      INFO("cut after call " << n << " of " << total << ", reboot " << k);
      sg::sim_storage machine = s.fs;  // the moment of the cut
      machine.reboot(cuts[k]);
      ++reboots;
      if (r) {
        // It returned: every byte and name is durable, whatever was lost.
        std::string where;
        CHECK(sg::verify_unpacked_tree(machine, dest, s.idx, &where));
        INFO(where);
      }
      REQUIRE(sg::remove_tree(machine, dest));
      CHECK(gone(machine));
      // And the removal itself is durable.
      machine.reboot();
      CHECK(gone(machine));
    }
  }
  CHECK(reboots == total * 6);
}

TEST_CASE("remove_tree: a power cut or an I/O error at any call leaves what a second remove_tree removes",
          "[tree.remove][tree.crash]") {
  std::uint64_t total = 0;
  {
    sim_fixture s(big_specs());
    REQUIRE(s.unpack());
    const auto before = s.fs.call_count();
    REQUIRE(sg::remove_tree(s.fs, dest));
    total = s.fs.call_count() - before;
  }
  for (std::uint64_t n = 1; n <= total; ++n) {
    for (int mode = 0; mode < 3; ++mode) {
      INFO("call " << n << " of " << total << ", mode " << mode);
      sim_fixture s(big_specs());
      REQUIRE(s.unpack());
      if (mode == 0) {
        // (A failure of a call whose failure remove_tree expects, removing
        // a directory as a file, changes nothing.)
        s.fs.fail_nth_call(n);
        if (sg::remove_tree(s.fs, dest)) CHECK(gone(s.fs));
      } else {
        s.fs.cut_power_after(n);
        (void)sg::remove_tree(s.fs, dest);
        sg::sim_power_cut c;
        c.keep = mode == 1 ? sg::sim_power_cut::keep_mode::durable_only : sg::sim_power_cut::keep_mode::random;
        c.seed = n;
        s.fs.reboot(c);
      }
      REQUIRE(sg::remove_tree(s.fs, dest));
      CHECK(gone(s.fs));
    }
  }
}

// ---------------------------------------------------------------------------
// Unpacking into a real directory

namespace {

std::string read_text(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

}  // namespace

TEST_CASE("unpack into a real directory with the native backend, verify and remove", "[tree.unpack][tree.native]") {
  slotguard_test::temp_dir tmp("tree");
  sg::native_storage fs;
  const std::string root = slotguard_test::utf8_path(tmp.path());
  const std::string d = root + "/slot-1.d";
  const auto idx = build(big_specs());
  const auto payload = payload_of(idx, big_specs());
  REQUIRE(sg::unpack_tree(fs, d, idx, sg::read_at_memory(payload)));
  for (const auto& sp : big_specs()) {
    INFO(sp.path);
    const auto p = tmp.path() / "slot-1.d" / std::filesystem::path(sp.path);
    if (sp.kind == tree_kind::file) {
      CHECK(std::filesystem::is_regular_file(p));
      CHECK(read_text(p) == sp.content);
    } else {
      CHECK(std::filesystem::is_directory(p));
    }
  }
#if !defined(_WIN32)
  // The mode is recorded, not applied: the store's files are its account's alone.
  struct stat st {};
  REQUIRE(::stat((d + "/VERSION").c_str(), &st) == 0);
  CHECK((st.st_mode & 077) == 0);
#endif
  std::string where;
  CHECK(sg::verify_unpacked_tree(fs, d, idx, &where));
  CHECK(sg::unpack_tree(fs, d, idx, sg::read_at_memory(payload)).error() == errc::already_exists);

  SECTION("an extra file") {
    std::ofstream(tmp.path() / "slot-1.d" / "rules" / "sub" / "extra") << "x";
    CHECK(sg::verify_unpacked_tree(fs, d, idx, &where).error() == errc::tree_unexpected_entry);
    CHECK(where == "rules/sub/extra");
  }
  SECTION("an extra directory") {
    std::filesystem::create_directory(tmp.path() / "slot-1.d" / "empty" / "more");
    CHECK(sg::verify_unpacked_tree(fs, d, idx, &where).error() == errc::tree_unexpected_entry);
    CHECK(where == "empty/more");
  }
  SECTION("a missing file") {
    std::filesystem::remove(tmp.path() / "slot-1.d" / "zero");
    CHECK(sg::verify_unpacked_tree(fs, d, idx, &where).error() == errc::not_found);
    CHECK(where == "zero");
  }
  SECTION("a changed byte in the big file") {
    {
      std::fstream f(tmp.path() / "slot-1.d" / "rules" / "big.bin", std::ios::in | std::ios::out | std::ios::binary);
      f.seekp(2000000);
      f.put('\x55' ^ static_cast<char>(big_specs()[3].content[2000000]));
    }
    CHECK(sg::verify_unpacked_tree(fs, d, idx, &where).error() == errc::payload_hash_mismatch);
    CHECK(where == "rules/big.bin");
  }
  SECTION("a directory where a file belongs") {
    std::filesystem::remove(tmp.path() / "slot-1.d" / "zero");
    std::filesystem::create_directory(tmp.path() / "slot-1.d" / "zero");
    CHECK_FALSE(sg::verify_unpacked_tree(fs, d, idx, &where));
    CHECK(where == "zero");
  }
  CHECK(sg::remove_tree(fs, d));
  CHECK_FALSE(std::filesystem::exists(tmp.path() / "slot-1.d"));
  CHECK(std::filesystem::is_directory(tmp.path()));
  CHECK(sg::remove_tree(fs, d));
}

#if !defined(_WIN32)
TEST_CASE("remove_tree removes a link as a name and never what it points to", "[tree.remove][tree.native]") {
  slotguard_test::temp_dir tmp("tree");
  sg::native_storage fs;
  const auto outside = tmp.path() / "outside";
  std::filesystem::create_directory(outside);
  std::ofstream(outside / "precious") << "keep me";
  const auto d = tmp.path() / "slot-1.d";
  std::filesystem::create_directories(d / "sub");
  std::ofstream(d / "sub" / "f") << "x";
  std::filesystem::create_directory_symlink(outside, d / "sub" / "link-to-dir");
  std::filesystem::create_symlink(outside / "precious", d / "link-to-file");
  std::filesystem::create_symlink(d / "nowhere", d / "dangling");
  REQUIRE(sg::remove_tree(fs, slotguard_test::utf8_path(d)));
  CHECK_FALSE(std::filesystem::exists(std::filesystem::symlink_status(d)));
  CHECK(read_text(outside / "precious") == "keep me");
  // A link as the destination itself goes as a name too.
  std::filesystem::create_directory_symlink(outside, d);
  REQUIRE(sg::remove_tree(fs, slotguard_test::utf8_path(d)));
  CHECK_FALSE(std::filesystem::exists(std::filesystem::symlink_status(d)));
  CHECK(read_text(outside / "precious") == "keep me");
}
#endif

// ---------------------------------------------------------------------------
// The publisher's side: scanning a directory, writing and digesting the payload

namespace {

void write_file(const std::filesystem::path& p, const std::string& content) {
  std::ofstream out(p, std::ios::binary);
  out << content;
  REQUIRE(out);
}

// Makes the tree of specs under root.
void make_tree(const std::filesystem::path& root, const std::vector<spec>& specs) {
  for (const auto& sp : specs) {
    const auto p = root / sg::detail::tree_fs_path(sp.path);
    if (sp.kind == tree_kind::directory)
      std::filesystem::create_directories(p);
    else {
      std::filesystem::create_directories(p.parent_path());
      write_file(p, sp.content);
    }
  }
}

std::vector<std::uint8_t> collect(const std::string& dir, const sg::tree_index& idx, std::size_t* chunks = nullptr,
                                  std::size_t* largest = nullptr) {
  std::vector<std::uint8_t> out;
  const sg::chunk_fn sink = [&](sg::byte_view c) -> sg::result<void> {
    out.insert(out.end(), c.begin(), c.end());
    if (chunks) ++*chunks;
    if (largest) *largest = std::max(*largest, c.size());
    return sg::ok();
  };
  REQUIRE(sg::write_tree_payload(dir, idx, sink));
  return out;
}

}  // namespace

TEST_CASE("scan a directory, write its payload, parse and unpack it as the same tree", "[tree.pack]") {
  slotguard_test::temp_dir tmp("treepack");
  const auto src = tmp.path() / "src";
  make_tree(src, big_specs());
  const std::string dir = slotguard_test::utf8_path(src);
  std::string where;
  auto idx = sg::scan_directory(dir, {}, &where);
  INFO(where);
  REQUIRE(idx);
  // The same index as one built from the specs (modes aside: the file system's).
  const auto want = build(big_specs());
  REQUIRE(idx->entries.size() == want.entries.size());
  for (std::size_t i = 0; i < want.entries.size(); ++i) {
    CHECK(idx->entries[i].path == want.entries[i].path);
    CHECK(idx->entries[i].kind == want.entries[i].kind);
    CHECK(idx->entries[i].size == want.entries[i].size);
    CHECK(idx->entries[i].sha256 == want.entries[i].sha256);
    CHECK(idx->entries[i].data_offset == want.entries[i].data_offset);
    CHECK((idx->entries[i].mode & ~0777u) == 0);
  }
  std::size_t chunks = 0, largest = 0;
  const auto payload = collect(dir, *idx, &chunks, &largest);
  CHECK(largest == sg::tree_chunk_size);  // the big file went in pieces
  CHECK(payload.size() == idx->payload_size);
  auto digest = sg::digest_tree_payload(dir, *idx);
  REQUIRE(digest);
  CHECK(digest->size == payload.size());
  CHECK(digest->sha256 == sg::sha256_of(payload));
  auto parsed = sg::parse_tree_table(payload, payload.size());
  REQUIRE(parsed);
  CHECK(sg::verify_tree_data(payload, *parsed));
  sg::native_storage fs;
  const std::string out = slotguard_test::utf8_path(tmp.path() / "out");
  REQUIRE(sg::unpack_tree(fs, out, *parsed, sg::read_at_memory(payload)));
  CHECK(sg::verify_unpacked_tree(fs, out, *parsed));
  // The unpacked tree scans to the same index (modes aside).
  auto again = sg::scan_directory(out);
  REQUIRE(again);
  REQUIRE(again->entries.size() == parsed->entries.size());
  for (std::size_t i = 0; i < again->entries.size(); ++i) CHECK(again->entries[i].sha256 == parsed->entries[i].sha256);
  CHECK(sg::remove_tree(fs, out));
}

TEST_CASE("scan the worked example: the document's bytes", "[tree.pack][tree.doc]") {
  slotguard_test::temp_dir tmp("treepack");
  make_tree(tmp.path(), example_specs());
#if !defined(_WIN32)
  std::filesystem::permissions(tmp.path() / "rules", std::filesystem::perms(0755));
  std::filesystem::permissions(tmp.path() / "VERSION", std::filesystem::perms(0644));
  std::filesystem::permissions(tmp.path() / "rules" / "a.yar", std::filesystem::perms(0644));
  const std::string dir = slotguard_test::utf8_path(tmp.path());
  auto idx = sg::scan_directory(dir);
  REQUIRE(idx);
  CHECK(collect(dir, *idx) == example_payload());
#endif
}

TEST_CASE("scan refuses what a tree cannot hold, naming the path", "[tree.pack]") {
  slotguard_test::temp_dir tmp("treepack");
  const auto src = tmp.path() / "src";
  make_tree(src, example_specs());
  const std::string dir = slotguard_test::utf8_path(src);
  std::string where;
  REQUIRE(sg::scan_directory(dir, {}, &where));
#if !defined(_WIN32)
  SECTION("a symbolic link to a file (tree_not_regular)") {
    std::filesystem::create_symlink(src / "VERSION", src / "rules" / "link");
    CHECK(sg::scan_directory(dir, {}, &where).error() == errc::tree_not_regular);
    CHECK(where == "rules/link");
  }
  SECTION("a symbolic link to a directory outside (tree_not_regular)") {
    std::filesystem::create_directory_symlink(tmp.path(), src / "up");
    CHECK(sg::scan_directory(dir, {}, &where).error() == errc::tree_not_regular);
    CHECK(where == "up");
  }
  SECTION("a FIFO (tree_not_regular)") {
    REQUIRE(::mkfifo((src / "rules" / "fifo").c_str(), 0600) == 0);
    CHECK(sg::scan_directory(dir, {}, &where).error() == errc::tree_not_regular);
    CHECK(where == "rules/fifo");
  }
  SECTION("a name Windows reserves (tree_reserved_name)") {
    write_file(src / "rules" / "nul.yar", "x");
    CHECK(sg::scan_directory(dir, {}, &where).error() == errc::tree_reserved_name);
    CHECK(where == "rules/nul.yar");
  }
  SECTION("a backslash in a name (tree_path_bad_char)") {
    write_file(src / "a\\b", "x");
    CHECK(sg::scan_directory(dir, {}, &where).error() == errc::tree_path_bad_char);
    CHECK(where == "a\\b");
  }
  SECTION("two names that fold together (tree_case_collision)") {
    write_file(src / "rules" / "A.yar", "x");
    write_file(src / "rules" / "a.YAR", "y");
    CHECK(sg::scan_directory(dir, {}, &where).error() == errc::tree_case_collision);
    CHECK((where == "rules/A.yar" || where == "rules/a.YAR"));
  }
#endif
  SECTION("too deep (tree_too_deep)") {
    sg::tree_limits l;
    l.max_depth = 1;
    CHECK(sg::scan_directory(dir, l, &where).error() == errc::tree_too_deep);
    CHECK(where == "rules/a.yar");
  }
  SECTION("too many entries (tree_too_many_entries)") {
    sg::tree_limits l;
    l.max_entries = 2;
    CHECK(sg::scan_directory(dir, l).error() == errc::tree_too_many_entries);
  }
  SECTION("not a directory") {
    CHECK(sg::scan_directory(dir + "/VERSION").error() == errc::not_found);
    CHECK(sg::scan_directory(dir + "/none").error() == errc::not_found);
  }
}

TEST_CASE("write_tree_payload refuses a file changed since the scan, naming it", "[tree.pack]") {
  slotguard_test::temp_dir tmp("treepack");
  make_tree(tmp.path(), example_specs());
  const std::string dir = slotguard_test::utf8_path(tmp.path());
  auto idx = sg::scan_directory(dir);
  REQUIRE(idx);
  std::string where;
  const sg::chunk_fn ignore = [](sg::byte_view) -> sg::result<void> { return sg::ok(); };
  SECTION("same size, other bytes") {
    write_file(tmp.path() / "VERSION", "8\n");
    CHECK(sg::write_tree_payload(dir, *idx, ignore, &where).error() == errc::payload_hash_mismatch);
    CHECK(where == "VERSION");
    CHECK(sg::digest_tree_payload(dir, *idx).error() == errc::payload_hash_mismatch);
  }
  SECTION("grown") {
    write_file(tmp.path() / "rules" / "a.yar", "rule a { condition: true }\n\n");
    CHECK(sg::write_tree_payload(dir, *idx, ignore, &where).error() == errc::tree_size_mismatch);
    CHECK(where == "rules/a.yar");
  }
  SECTION("shrunk") {
    write_file(tmp.path() / "rules" / "a.yar", "rule");
    CHECK(sg::write_tree_payload(dir, *idx, ignore, &where).error() == errc::tree_size_mismatch);
  }
  SECTION("gone") {
    std::filesystem::remove(tmp.path() / "VERSION");
    CHECK(sg::write_tree_payload(dir, *idx, ignore, &where).error() == errc::not_found);
    CHECK(where == "VERSION");
  }
  SECTION("the sink's error stops the stream") {
    const sg::chunk_fn full = [](sg::byte_view) -> sg::result<void> { return errc::no_space; };
    CHECK(sg::write_tree_payload(dir, *idx, full).error() == errc::no_space);
  }
}

// ---------------------------------------------------------------------------
// A file system that folds more than ASCII

namespace {

// The simulator seen through a file system that takes U+00C9 (É) and U+00E9
// (é) for one letter, as NTFS and APFS do: names the format's ASCII folding
// lets through.
class folding_storage final : public sg::storage {
 public:
  explicit folding_storage(sg::sim_storage& inner) : s_(inner) {}
  static std::string fold(std::string p) {
    for (std::size_t i = 0; i + 1 < p.size(); ++i)
      if (static_cast<unsigned char>(p[i]) == 0xC3 && static_cast<unsigned char>(p[i + 1]) == 0x89) p[i + 1] = '\xa9';
    return p;
  }
  sg::result<sg::file_handle> create(const std::string& p) override { return s_.create(fold(p)); }
  sg::result<void> write(sg::file_handle f, sg::byte_view d) override { return s_.write(f, d); }
  sg::result<void> flush(sg::file_handle f) override { return s_.flush(f); }
  sg::result<void> close(sg::file_handle f) override { return s_.close(f); }
  sg::result<void> rename(const std::string& a, const std::string& b) override { return s_.rename(fold(a), fold(b)); }
  sg::result<void> remove(const std::string& p) override { return s_.remove(fold(p)); }
  sg::result<void> sync_dir(const std::string& p) override { return s_.sync_dir(fold(p)); }
  sg::result<std::vector<std::uint8_t>> read_file(const std::string& p, std::uint64_t m) override {
    return s_.read_file(fold(p), m);
  }
  sg::result<std::vector<std::string>> list(const std::string& p) override { return s_.list(fold(p)); }
  sg::result<bool> exists(const std::string& p) override { return s_.exists(fold(p)); }
  sg::result<sg::lock_handle> lock(const std::string& p) override { return s_.lock(fold(p)); }
  sg::result<void> unlock(sg::lock_handle l) override { return s_.unlock(l); }
  sg::result<void> mkdir(const std::string& p) override { return s_.mkdir(fold(p)); }
  sg::result<void> remove_dir(const std::string& p) override { return s_.remove_dir(fold(p)); }

 private:
  sg::sim_storage& s_;
};

}  // namespace

TEST_CASE("unpack never merges two names the file system folds together", "[tree.unpack]") {
  sg::sim_storage sim;
  REQUIRE(sim.mkdir(store_dir));
  folding_storage fs(sim);
  SECTION("two directories") {
    const std::vector<spec> specs = {{"\xc3\x89", tree_kind::directory, ""},
                                     {"\xc3\x89/a", tree_kind::file, "1"},
                                     {"\xc3\xa9", tree_kind::directory, ""},
                                     {"\xc3\xa9/b", tree_kind::file, "2"}};
    const auto idx = build(specs);  // the format's folding is ASCII only
    const auto payload = payload_of(idx, specs);
    CHECK(sg::unpack_tree(fs, dest, idx, sg::read_at_memory(payload)).error() == errc::already_exists);
  }
  SECTION("two files") {
    const std::vector<spec> specs = {{"\xc3\x89", tree_kind::file, "1"}, {"\xc3\xa9", tree_kind::file, "2"}};
    const auto idx = build(specs);
    const auto payload = payload_of(idx, specs);
    CHECK(sg::unpack_tree(fs, dest, idx, sg::read_at_memory(payload)).error() == errc::already_exists);
  }
  CHECK(sg::remove_tree(fs, dest));
  CHECK(gone(sim));
}
