// SPDX-License-Identifier: Apache-2.0
// The bundle format, its parser, trust and verification: golden files, the
// worked example in docs/FORMAT.md, and one test per reason of rejection.
#include <slotguard/bundle.hpp>
#include <slotguard/crc.hpp>
#include <slotguard/detail/time.hpp>
#include <slotguard/hash.hpp>
#include <slotguard/trust.hpp>

#include "support.hpp"

#include <catch2/catch.hpp>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <random>
#include <sstream>
#include <string>
#include <vector>

namespace Catch {
template <>
struct StringMaker<slotguard::errc> {
  static std::string convert(slotguard::errc e) { return slotguard::to_string(e); }
};
}  // namespace Catch

namespace sg = slotguard;
using sg::errc;
using sg::manifest_field_id;
using sg::manifest_field_type;

namespace {

sg::ed25519_seed seed_from_hex(const char* hex) {
  const auto bytes = sg::from_hex(hex);
  REQUIRE(bytes);
  REQUIRE(bytes->size() == 32);
  sg::ed25519_seed s{};
  std::copy(bytes->begin(), bytes->end(), s.begin());
  return s;
}

// The secret keys of RFC 8032's first three Ed25519 test vectors, so that
// anyone can reproduce the golden files and the example in docs/FORMAT.md.
const sg::ed25519_seed& seed_a() {
  static const auto s = seed_from_hex("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60");
  return s;
}
const sg::ed25519_seed& seed_b() {
  static const auto s = seed_from_hex("4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb");
  return s;
}
const sg::ed25519_seed& seed_c() {
  static const auto s = seed_from_hex("c5aa8df43f9f837bedb7442f31dcb7b166d38535076f094b85ce3a2e0b4458f7");
  return s;
}

sg::ed25519_public_key pub(const sg::ed25519_seed& s) { return sg::ed25519_public_key_from_seed(s); }

sg::trust_set trust_of(std::initializer_list<const sg::ed25519_seed*> seeds, std::size_t threshold = 1) {
  sg::trust_set t;
  for (const auto* s : seeds) REQUIRE(t.add(pub(*s)));
  REQUIRE(t.set_threshold(threshold));
  return t;
}

constexpr std::int64_t t_created = 1790000000;  // 2026-09-21T14:13:20Z
constexpr std::int64_t t_not_before = 1790003600;
constexpr std::int64_t t_expires = 1792592000;

std::vector<std::uint8_t> bytes_of(std::string_view s) { return std::vector<std::uint8_t>(s.begin(), s.end()); }

// The smallest useful bundle: the example in docs/FORMAT.md.
sg::bundle_builder minimal_builder() {
  sg::bundle_builder b;
  b.channel("rules")
      .sequence(7)
      .schema("demo.rules", 1)
      .created(t_created)
      .payload(bytes_of("hello, sensor\n"))
      .sign_with(seed_a());
  return b;
}

// Every field the format knows, two signers.
sg::bundle_builder full_builder() {
  sg::bundle_builder b;
  std::vector<std::uint8_t> payload(300);
  for (std::size_t i = 0; i < payload.size(); ++i) payload[i] = static_cast<std::uint8_t>(i * 7 + 3);
  b.channel("prod.rules-x86_64")
      .sequence(0x0102030405060708ull)
      .version("2026.09.21-1 \xc3\xa9t\xc3\xa9")
      .schema("acme.detect", 21)
      .host_min({7, 11, 0})
      .host_max({7, 19, 4294967295u})
      .created(t_created)
      .not_before(t_not_before)
      .expires(t_expires)
      .rollout({{0, 1}, {3600, 10}, {86400, 50}, {172800, 100}})
      .recalls({41, 40, 42})
      .payload(std::move(payload))
      .sign_with(seed_a())
      .sign_with(seed_b());
  return b;
}

std::vector<std::uint8_t> build(const sg::bundle_builder& b, const sg::bundle_limits& limits = {}) {
  auto r = b.build(limits);
  INFO("build: " << sg::to_string(r ? errc::ok : r.error()));
  REQUIRE(r);
  return std::move(*r);
}

// A read function over bytes in memory that counts what it was asked for.
struct memory_reader {
  sg::byte_view bytes;
  std::uint64_t bytes_read = 0;
  std::uint64_t highest_end = 0;
  sg::read_at_fn fn() {
    return [this](std::uint64_t off, std::uint8_t* out, std::size_t n) -> sg::result<std::size_t> {
      if (off >= bytes.size()) return std::size_t{0};
      const auto at = static_cast<std::size_t>(off);
      const std::size_t k = std::min(n, bytes.size() - at);
      std::memcpy(out, bytes.data() + at, k);
      bytes_read += k;
      highest_end = std::max<std::uint64_t>(highest_end, off + k);
      return k;
    };
  }
};

// read_bundle_head over the same bytes.
errc head_error(sg::byte_view bytes, const sg::bundle_limits& limits = {}) {
  memory_reader m{bytes};
  const auto r = sg::read_bundle_head(m.fn(), bytes.size(), limits);
  return r ? errc::ok : r.error();
}

// parse_bundle's verdict, checked against read_bundle_head's on the same
// bytes: every rejection test in this file runs through here, so the two
// readers are held to the same errc and the same order of checks.
errc parse_error(sg::byte_view bytes, const sg::bundle_limits& limits = {}) {
  const auto r = sg::parse_bundle(bytes, limits);
  const errc e = r ? errc::ok : r.error();
  const errc h = head_error(bytes, limits);
  if (h != e) CHECK(h == e);  // one assertion per disagreement, not per call
  return e;
}

// Parse and verify; ok when both pass.
errc check(sg::byte_view bytes, const sg::trust_set& trust, const sg::verify_options& opts = {},
           const sg::bundle_limits& limits = {}) {
  const auto r = sg::parse_bundle(bytes, limits);
  const errc h = head_error(bytes, limits);
  if (h != (r ? errc::ok : r.error())) CHECK(h == (r ? errc::ok : r.error()));
  if (!r) return r.error();
  const auto v = sg::verify_bundle(*r, trust, opts);
  return v ? errc::ok : v.error();
}

sg::verify_options at(std::int64_t now) {
  sg::verify_options o;
  o.now = now;
  return o;
}

// A bundle from a hand-made manifest, signed by the given seeds without any
// check of the manifest: for the rejection tests.
std::vector<std::uint8_t> craft(const std::vector<std::uint8_t>& manifest, sg::byte_view payload,
                                std::initializer_list<const sg::ed25519_seed*> seeds = {&seed_a()}) {
  auto r = sg::detail::bundle_assemble(manifest, payload);
  REQUIRE(r);
  for (const auto* s : seeds) REQUIRE(sg::detail::bundle_append_signature(*r, *s));
  return std::move(*r);
}

// Writes the required fields, leaving out `skip` (0: none), for `payload`.
void required_fields(sg::detail::manifest_writer& w, sg::byte_view payload, std::uint16_t skip = 0) {
  using id = manifest_field_id;
  auto want = [&](id f) { return static_cast<std::uint16_t>(f) != skip; };
  if (want(id::channel)) w.string(id::channel, true, "rules");
  if (want(id::sequence)) w.u64(id::sequence, true, 7);
  if (want(id::schema_id)) w.string(id::schema_id, true, "demo.rules");
  if (want(id::schema_version)) w.u32(id::schema_version, true, 1);
  if (want(id::created)) w.i64(id::created, true, t_created);
  if (want(id::payload_size)) w.u64(id::payload_size, true, payload.size());
  if (want(id::payload_sha256))
    w.field(id::payload_sha256, true, manifest_field_type::bytes, sg::byte_view(sg::sha256_of(payload)));
}

// Recomputes the header CRC after a deliberate header edit.
void fix_crc(std::vector<std::uint8_t>& b) {
  sg::detail::store_le32(b.data() + 36, sg::crc32c(sg::byte_view(b.data(), 36)));
}

std::string data_path(const std::string& name) { return std::string(SLOTGUARD_TEST_DATA_DIR) + "/bundle/" + name; }

std::vector<std::uint8_t> read_all(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  INFO("reading " << path);
  REQUIRE(in);
  return std::vector<std::uint8_t>((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

void write_all(const std::string& path, sg::byte_view bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  REQUIRE(out);
  out.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
  REQUIRE(out);
}

// The annotated hex dump used in docs/FORMAT.md: the bytes in hex, grouped by
// part, with a '#' comment naming each group.
std::string annotated_hex(sg::byte_view b) {
  const auto parsed = sg::parse_bundle(b);
  REQUIRE(parsed);
  std::ostringstream out;
  auto line = [&](sg::byte_view part, const std::string& what) {
    for (std::size_t at = 0; at < part.size() || (at == 0 && part.empty()); at += 16) {
      const sg::byte_view chunk = part.sub(at, 16);
      std::string hex;
      for (std::size_t i = 0; i < chunk.size(); ++i) {
        if (i) hex += ' ';
        hex += sg::to_hex(chunk.sub(i, 1));
      }
      out << hex << std::string(48 - hex.size(), ' ') << "  # " << (at == 0 ? what : "  ...") << "\n";
      if (part.empty()) break;
    }
  };
  const std::uint8_t* h = b.data();
  line(b.sub(0, 8), "magic");
  line(b.sub(8, 2), "format version = 1");
  line(b.sub(10, 2), "flags = 0");
  line(b.sub(12, 4), "header size = 40");
  line(b.sub(16, 4), "manifest size = " + std::to_string(sg::detail::load_le32(h + 16)));
  line(b.sub(20, 4), "reserved = 0");
  line(b.sub(24, 8), "payload size = " + std::to_string(sg::detail::load_le64(h + 24)));
  line(b.sub(32, 4), "signature block size = " + std::to_string(sg::detail::load_le32(h + 32)));
  line(b.sub(36, 4), "header CRC32C of bytes 0..35");
  sg::detail::le_reader r(parsed->manifest_bytes);
  std::size_t base = 40;
  while (r.remaining() > 0) {
    const std::size_t start = r.offset();
    std::uint16_t id = 0;
    std::uint8_t flags = 0, type = 0;
    std::uint32_t len = 0;
    REQUIRE((r.u16(id) && r.u8(flags) && r.u8(type) && r.u32(len)));
    sg::byte_view v;
    REQUIRE(r.bytes(len, v));
    static const char* const names[] = {"?",           "channel",    "sequence",       "version",
                                        "schema_id",   "schema_version", "host_min",    "host_max",
                                        "created",     "not_before", "expires",        "payload_size",
                                        "payload_sha256", "rollout",  "recalls"};
    static const char* const types[] = {"?", "u32", "u64", "i64", "string", "bytes", "rollout", "u64_list"};
    const std::string name = id < 15 ? names[id] : "unknown";
    line(b.sub(base + start, 8), "field " + std::to_string(id) + " (" + name + "), flags " +
                                     std::to_string(flags) + (flags & 1 ? " (critical)" : "") + ", type " +
                                     std::to_string(type) + " (" + (type < 8 ? types[type] : "?") +
                                     "), length " + std::to_string(len));
    std::string shown;
    if (type == 4) {
      shown = "\"" + std::string(v.as_chars()) + "\"";
    } else if (type == 1 && len == 4) {
      shown = std::to_string(sg::detail::load_le32(v.data()));
    } else if (type == 2 && len == 8) {
      shown = std::to_string(sg::detail::load_le64(v.data()));
    } else if (type == 3 && len == 8) {
      const auto t = static_cast<std::int64_t>(sg::detail::load_le64(v.data()));
      shown = std::to_string(t) + " = " + sg::detail::format_rfc3339(t);
    } else if (id == 12) {
      shown = "SHA-256 of the payload";
    }
    line(v, "  = " + shown);
  }
  line(parsed->payload, "payload");
  line(parsed->signature_block.sub(0, 4), "signature count = " + std::to_string(parsed->signature_count()));
  for (std::size_t i = 0; i < parsed->signature_count(); ++i) {
    const sg::byte_view e = parsed->signature_block.sub(4 + i * 72, 72);
    line(e.sub(0, 8), "key id");
    line(e.sub(8, 64), "Ed25519 signature");
  }
  return out.str();
}

// Hex digits before any '#' on each line between the two markers.
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
// Golden files and the documented example

// Writes the golden files and the annotated example; run by hand with the
// tag after a deliberate format change, then review the diff.
TEST_CASE("regenerate golden bundle files", "[.regenerate]") {
  write_all(data_path("minimal.sgb"), build(minimal_builder()));
  write_all(data_path("full.sgb"), build(full_builder()));
  sg::bundle_builder u;
  u.channel("rules").sequence(7).schema("demo.rules", 1).created(t_created).payload(bytes_of("hello, sensor\n"));
  write_all(data_path("unsigned.sgb"), build(u));
  const std::string hex = annotated_hex(build(minimal_builder()));
  write_all(data_path("minimal.hex.txt"), sg::byte_view(std::string_view(hex)));

  // The fuzz target's seed corpus: valid bundles and one of each kind of
  // damage.
  const std::string corpus = std::string(SLOTGUARD_TEST_SOURCE_DIR) + "/tests/fuzz/corpus/bundle/";
  const auto full = build(full_builder());
  const auto minimal = build(minimal_builder());
  write_all(corpus + "valid-full.sgb", full);
  write_all(corpus + "valid-minimal.sgb", minimal);
  write_all(corpus + "valid-unsigned.sgb", build(u));
  auto extra = minimal_builder();
  extra.extra_field(500, 4, false, bytes_of("future")).extra_field(501, 99, false, bytes_of("?"));
  write_all(corpus + "valid-unknown-noncritical.sgb", build(extra));
  auto cut = full;
  cut.resize(120);
  write_all(corpus + "truncated-in-manifest.sgb", cut);
  auto trailing = minimal;
  trailing.push_back(0);
  write_all(corpus + "trailing-byte.sgb", trailing);
  auto bad_crc = minimal;
  bad_crc[36] ^= 1;
  write_all(corpus + "bad-header-crc.sgb", bad_crc);
  auto bad_sig = full;
  bad_sig[bad_sig.size() - 1] ^= 1;
  write_all(corpus + "bad-signature.sgb", bad_sig);
  auto bad_hash = full;
  bad_hash[bad_hash.size() - 2 * 72 - 4 - 1] ^= 1;
  write_all(corpus + "bad-payload-hash.sgb", bad_hash);
  const std::vector<std::uint8_t> payload = bytes_of("x");
  sg::detail::manifest_writer w;
  required_fields(w, payload);
  w.field(900, sg::manifest_flag_critical, 4, bytes_of("must understand"));
  write_all(corpus + "unknown-critical.sgb", craft(w.bytes(), payload));
  sg::detail::manifest_writer dup;
  required_fields(dup, payload);
  dup.u64(manifest_field_id::sequence, true, 8);
  write_all(corpus + "duplicate-field.sgb", craft(dup.bytes(), payload));
  auto twice = minimal;
  REQUIRE(sg::detail::bundle_append_signature(twice, seed_a()));
  write_all(corpus + "same-key-twice.sgb", twice);
}

TEST_CASE("golden bundles are byte-identical to what the builder makes", "[bundle.golden]") {
  CHECK(read_all(data_path("minimal.sgb")) == build(minimal_builder()));
  CHECK(read_all(data_path("full.sgb")) == build(full_builder()));
  sg::bundle_builder u;
  u.channel("rules").sequence(7).schema("demo.rules", 1).created(t_created).payload(bytes_of("hello, sensor\n"));
  CHECK(read_all(data_path("unsigned.sgb")) == build(u));
}

TEST_CASE("golden bundles parse and verify with the expected fields", "[bundle.golden]") {
  const auto full = read_all(data_path("full.sgb"));
  const auto p = sg::parse_bundle(full);
  REQUIRE(p);
  const sg::bundle_manifest& m = p->manifest;
  CHECK(m.channel == "prod.rules-x86_64");
  CHECK(m.sequence == 0x0102030405060708ull);
  CHECK(m.version == "2026.09.21-1 \xc3\xa9t\xc3\xa9");
  CHECK(m.schema_id == "acme.detect");
  CHECK(m.schema_version == 21);
  REQUIRE(m.host_min);
  CHECK(*m.host_min == sg::host_version{7, 11, 0});
  REQUIRE(m.host_max);
  CHECK(*m.host_max == sg::host_version{7, 19, 4294967295u});
  CHECK(m.created == t_created);
  CHECK(m.not_before == t_not_before);
  CHECK(m.expires == t_expires);
  CHECK(m.payload_size == 300);
  REQUIRE(m.rollout.size() == 4);
  CHECK(m.rollout[1].offset == 3600);
  CHECK(m.rollout[1].percent == 10);
  CHECK(m.rollout.percent_at(0) == 1);
  CHECK(m.rollout.percent_at(3599) == 1);
  CHECK(m.rollout.percent_at(3600) == 10);
  CHECK(m.rollout.percent_at(1000000) == 100);
  REQUIRE(m.recalls.size() == 3);
  CHECK(m.recalls[0] == 40);
  CHECK(m.recalls[2] == 42);
  CHECK(m.recalls.contains(41));
  CHECK_FALSE(m.recalls.contains(43));
  CHECK(m.field_count == 14);
  CHECK(m.unknown_field_count == 0);
  REQUIRE(p->signature_count() == 2);
  CHECK(p->signature(0).id == sg::key_id_of(pub(seed_a())));
  CHECK(p->signature(1).id == sg::key_id_of(pub(seed_b())));
  CHECK(check(full, trust_of({&seed_a(), &seed_b()}, 2), at(t_not_before)) == errc::ok);

  const auto minimal = read_all(data_path("minimal.sgb"));
  CHECK(check(minimal, trust_of({&seed_a()}), at(t_created)) == errc::ok);
  const auto pm = sg::parse_bundle(minimal);
  REQUIRE(pm);
  CHECK(pm->manifest.version.empty());
  CHECK_FALSE(pm->manifest.not_before);
  CHECK_FALSE(pm->manifest.expires);
  CHECK_FALSE(pm->manifest.host_min);
  CHECK(pm->manifest.rollout.empty());
  CHECK(pm->manifest.rollout.percent_at(0) == 100);
  CHECK(pm->manifest.recalls.empty());

  const auto unsigned_b = read_all(data_path("unsigned.sgb"));
  const auto pu = sg::parse_bundle(unsigned_b);
  REQUIRE(pu);
  CHECK(pu->signature_count() == 0);
  CHECK(check(unsigned_b, trust_of({&seed_a()})) == errc::unknown_key);
}

TEST_CASE("the worked example in docs/FORMAT.md is what the code produces", "[bundle.golden][bundle.doc]") {
  const auto doc_bytes = read_all(std::string(SLOTGUARD_TEST_SOURCE_DIR) + "/docs/FORMAT.md");
  const std::string doc(doc_bytes.begin(), doc_bytes.end());
  const auto example = hex_from_doc(doc, "<!-- example-hex-begin -->", "<!-- example-hex-end -->");
  CHECK(example == read_all(data_path("minimal.sgb")));
  CHECK(example == build(minimal_builder()));
  // The annotated dump checked in next to the golden file matches too.
  const auto dump = read_all(data_path("minimal.hex.txt"));
  CHECK(std::string(dump.begin(), dump.end()) == annotated_hex(example));
}

TEST_CASE("building is deterministic and the signed message excludes the signature fields",
          "[bundle.builder]") {
  CHECK(build(full_builder()) == build(full_builder()));
  // Signing one at a time gives the same bytes as signing in the builder.
  const auto signed_full = build(full_builder());
  const auto p = sg::parse_bundle(signed_full);
  REQUIRE(p);
  auto stripped = sg::detail::bundle_assemble(p->manifest_bytes, p->payload);
  REQUIRE(stripped);
  auto one = sg::add_signature(*stripped, seed_a());
  REQUIRE(one);
  auto two = sg::add_signature(*one, seed_b());
  REQUIRE(two);
  CHECK(*two == signed_full);
  // The message is the context, header bytes 0..31 and the manifest.
  const auto msg = sg::bundle_signed_message(*p);
  REQUIRE(msg.size() == 20 + 32 + p->manifest_bytes.size());
  CHECK(sg::byte_view(msg).sub(0, 20) == sg::byte_view(sg::bundle_signature_context));
  CHECK(sg::byte_view(msg).sub(20, 32) == sg::byte_view(signed_full).sub(0, 32));
  CHECK(sg::ed25519_verify(pub(seed_b()), msg, p->signature(1).signature));
}

TEST_CASE("builder reports missing and invalid fields", "[bundle.builder]") {
  sg::bundle_builder b;
  auto r = b.build();
  REQUIRE_FALSE(r);
  CHECK(r.error() == errc::missing_field);
  b.channel("rules").sequence(1).schema("s", 1);
  CHECK(b.build().error() == errc::missing_field);  // created
  b.created(0);
  CHECK(b.build());
  b.channel("../etc");
  CHECK(b.build().error() == errc::malformed_field);
  b.channel("ok");
  b.sign_with(seed_a()).sign_with(seed_a());
  CHECK(b.build().error() == errc::already_exists);
}

TEST_CASE("add_signature adds, refuses a second signature by the same key, and respects the limit",
          "[bundle.builder]") {
  const auto one = build(minimal_builder());
  const auto again = sg::add_signature(one, seed_a());
  REQUIRE_FALSE(again);
  CHECK(again.error() == errc::already_exists);
  const auto two = sg::add_signature(one, seed_b());
  REQUIRE(two);
  CHECK(two->size() == one.size() + 72);
  CHECK(check(*two, trust_of({&seed_a(), &seed_b()}, 2)) == errc::ok);
  sg::bundle_limits lim;
  lim.max_signatures = 1;
  const auto over = sg::add_signature(one, seed_b(), lim);
  REQUIRE_FALSE(over);
  CHECK(over.error() == errc::too_many_signatures);
  std::vector<std::uint8_t> broken = one;
  broken[0] ^= 1;
  CHECK(sg::add_signature(broken, seed_b()).error() == errc::bad_magic);
}

// ---------------------------------------------------------------------------
// Rejections: structure

TEST_CASE("every truncation of a valid bundle is rejected as truncated", "[bundle.reject.truncated]") {
  const auto full = build(full_builder());
  for (std::size_t n = 0; n < full.size(); ++n) {
    // An exact-size copy, so a sanitizer sees any read past the end.
    const std::vector<std::uint8_t> prefix(full.begin(), full.begin() + static_cast<std::ptrdiff_t>(n));
    INFO("length " << n);
    CHECK(parse_error(prefix) == errc::truncated);
  }
}

TEST_CASE("trailing bytes are rejected", "[bundle.reject.trailing]") {
  auto b = build(minimal_builder());
  b.push_back(0);
  CHECK(parse_error(b) == errc::trailing_bytes);
  b.push_back(0x42);
  CHECK(parse_error(b) == errc::trailing_bytes);
}

TEST_CASE("every single-bit flip in the header and manifest is rejected", "[bundle.reject.bitflip]") {
  const auto good = build(full_builder());
  const auto trust = trust_of({&seed_a(), &seed_b()}, 2);
  REQUIRE(check(good, trust, at(t_not_before)) == errc::ok);
  const auto p = sg::parse_bundle(good);
  REQUIRE(p);
  const std::size_t end = sg::bundle_header_size + p->manifest_bytes.size();
  std::size_t rejected_by_parse = 0, rejected_by_verify = 0;
  for (std::size_t i = 0; i < end; ++i) {
    for (int bit = 0; bit < 8; ++bit) {
      auto bad = good;
      bad[i] = static_cast<std::uint8_t>(bad[i] ^ (1u << bit));
      const auto r = sg::parse_bundle(bad);
      const errc h = head_error(bad);
      if (h != (r ? errc::ok : r.error())) CHECK(h == (r ? errc::ok : r.error()));
      if (!r) {
        ++rejected_by_parse;
        continue;
      }
      const auto v = sg::verify_bundle(*r, trust, at(t_not_before));
      INFO("byte " << i << " bit " << bit);
      CHECK_FALSE(v);
      ++rejected_by_verify;
    }
  }
  CHECK(rejected_by_parse + rejected_by_verify == end * 8);
  CHECK(rejected_by_parse > 0);
  CHECK(rejected_by_verify > 0);
}

TEST_CASE("random single-bit flips in the payload and signatures are rejected", "[bundle.reject.bitflip]") {
  const auto good = build(full_builder());
  const auto trust = trust_of({&seed_a(), &seed_b()}, 2);
  const auto p = sg::parse_bundle(good);
  REQUIRE(p);
  const std::size_t start = sg::bundle_header_size + p->manifest_bytes.size();
  const std::size_t span = good.size() - start;
  std::mt19937_64 rng(20240719);
  const int flips = slotguard_test::quick_mode() ? 200 : 1000;
  if (slotguard_test::quick_mode()) WARN("quick mode: " << flips << " random flips instead of 1000");
  for (int k = 0; k < flips; ++k) {
    const std::size_t i = start + static_cast<std::size_t>(rng() % span);
    const unsigned bit = static_cast<unsigned>(rng() % 8);
    auto bad = good;
    bad[i] = static_cast<std::uint8_t>(bad[i] ^ (1u << bit));
    INFO("byte " << i << " bit " << bit);
    const errc e = check(bad, trust, at(t_not_before));
    CHECK(e != errc::ok);
    if (i < start + p->payload.size()) CHECK(e == errc::payload_hash_mismatch);
  }
}

TEST_CASE("header rejections", "[bundle.reject.header]") {
  const auto good = build(minimal_builder());
  SECTION("wrong magic") {
    for (std::size_t i = 0; i < 8; ++i) {
      auto bad = good;
      bad[i] ^= 0x20;
      CHECK(parse_error(bad) == errc::bad_magic);
    }
    CHECK(parse_error(sg::byte_view(std::string_view("PK\x03\x04"))) == errc::bad_magic);
    // A text-mode transfer that turns CR LF into LF breaks the magic.
    std::vector<std::uint8_t> mangled(good.begin(), good.begin() + 4);
    mangled.insert(mangled.end(), good.begin() + 5, good.end());
    CHECK(parse_error(mangled) == errc::bad_magic);
  }
  SECTION("unsupported format version") {
    for (std::uint16_t v : std::initializer_list<std::uint16_t>{0, 2, 0x100, 0xFFFF}) {
      auto bad = good;
      sg::detail::store_le16(bad.data() + 8, v);
      fix_crc(bad);
      CHECK(parse_error(bad) == errc::unsupported_format_version);
    }
  }
  SECTION("header checksum") {
    auto bad = good;
    bad[36] ^= 1;
    CHECK(parse_error(bad) == errc::checksum_mismatch);
  }
  SECTION("flags, header size and reserved must hold their v1 values") {
    for (std::size_t off : std::initializer_list<std::size_t>{10, 12, 20}) {
      auto bad = good;
      bad[off] ^= 0x10;
      fix_crc(bad);
      INFO("offset " << off);
      CHECK(parse_error(bad) == errc::bad_header);
    }
  }
  SECTION("signature block size must match its count") {
    auto bad = good;
    const std::size_t count_at = good.size() - 72 - 4;
    sg::detail::store_le32(bad.data() + count_at, 2);
    CHECK(parse_error(bad) == errc::bad_header);
    sg::detail::store_le32(bad.data() + count_at, 0);
    CHECK(parse_error(bad) == errc::bad_header);
  }
  SECTION("signature block shorter than its count field") {
    auto r = sg::detail::bundle_assemble(sg::byte_view(), sg::byte_view());
    REQUIRE(r);
    auto bad = *r;
    bad.resize(bad.size() - 4);
    sg::detail::store_le32(bad.data() + 32, 0);
    fix_crc(bad);
    CHECK(parse_error(bad) == errc::bad_header);
  }
  SECTION("sizes that do not add up") {
    auto bad = good;
    sg::detail::store_le64(bad.data() + 24, sg::detail::load_le64(bad.data() + 24) + 1);
    fix_crc(bad);
    CHECK(parse_error(bad) == errc::truncated);
    sg::detail::store_le64(bad.data() + 24, sg::detail::load_le64(good.data() + 24) - 1);
    fix_crc(bad);
    CHECK(parse_error(bad) == errc::trailing_bytes);
    sg::detail::store_le64(bad.data() + 24, ~std::uint64_t{0});
    fix_crc(bad);
    sg::bundle_limits huge;
    huge.max_bundle_size = ~std::uint64_t{0};
    huge.max_payload_size = ~std::uint64_t{0};
    CHECK(parse_error(bad, huge) == errc::truncated);
  }
}

TEST_CASE("limits: each has its own errc", "[bundle.reject.limits]") {
  const auto good = build(full_builder());
  const auto p = sg::parse_bundle(good);
  REQUIRE(p);
  SECTION("whole bundle") {
    sg::bundle_limits lim;
    lim.max_bundle_size = good.size() - 1;
    CHECK(parse_error(good, lim) == errc::too_large);
    lim.max_bundle_size = good.size();
    CHECK(parse_error(good, lim) == errc::ok);
  }
  SECTION("manifest") {
    sg::bundle_limits lim;
    lim.max_manifest_size = static_cast<std::uint32_t>(p->manifest_bytes.size() - 1);
    CHECK(parse_error(good, lim) == errc::too_large);
    lim.max_manifest_size = static_cast<std::uint32_t>(p->manifest_bytes.size());
    CHECK(parse_error(good, lim) == errc::ok);
  }
  SECTION("one field") {
    sg::bundle_limits lim;
    lim.max_field_size = 35;  // the rollout field is 36 bytes
    CHECK(parse_error(good, lim) == errc::field_too_large);
    lim.max_field_size = 36;
    CHECK(parse_error(good, lim) == errc::ok);
    // The default limit, with a field one byte over it.
    sg::bundle_builder b = minimal_builder();
    b.extra_field(300, 5, false, std::vector<std::uint8_t>(sg::bundle_limits{}.max_field_size + 1));
    CHECK(b.build().error() == errc::field_too_large);
  }
  SECTION("field count") {
    sg::bundle_limits lim;
    lim.max_fields = 13;
    CHECK(parse_error(good, lim) == errc::too_many_fields);
    lim.max_fields = 14;
    CHECK(parse_error(good, lim) == errc::ok);
    sg::bundle_builder b = minimal_builder();
    for (std::uint16_t i = 0; i < 64; ++i) b.extra_field(static_cast<std::uint16_t>(1000 + i), 1, false, {});
    CHECK(b.build().error() == errc::too_many_fields);
    // max_fields counts every field, known or not: the minimal manifest's 7
    // and 57 unknown ones are 64, accepted; one more is refused.
    sg::bundle_builder at_limit = minimal_builder();
    for (std::uint16_t i = 0; i < 57; ++i) at_limit.extra_field(static_cast<std::uint16_t>(1000 + i), 1, false, {});
    const auto ok64 = at_limit.build();
    REQUIRE(ok64);
    CHECK(sg::parse_bundle(*ok64)->manifest.field_count == 64);
    at_limit.extra_field(2000, 1, false, {});
    CHECK(at_limit.build().error() == errc::too_many_fields);
  }
  SECTION("signatures") {
    sg::bundle_limits lim;
    lim.max_signatures = 1;
    CHECK(parse_error(good, lim) == errc::too_many_signatures);
    lim.max_signatures = 2;
    CHECK(parse_error(good, lim) == errc::ok);
  }
  SECTION("rollout steps") {
    sg::bundle_limits lim;
    lim.max_rollout_steps = 3;
    CHECK(parse_error(good, lim) == errc::field_too_large);
    std::vector<sg::rollout_step> steps;
    for (std::uint64_t i = 0; i < 33; ++i) steps.push_back({i * 60, static_cast<std::uint8_t>(i * 3)});
    sg::bundle_builder b = minimal_builder();
    CHECK(b.rollout(steps).build().error() == errc::field_too_large);
    steps.pop_back();
    CHECK(b.rollout(steps).build());
  }
  SECTION("recalls") {
    sg::bundle_limits lim;
    lim.max_recalls = 2;
    CHECK(parse_error(good, lim) == errc::field_too_large);
    std::vector<std::uint64_t> seqs(1025);
    for (std::size_t i = 0; i < seqs.size(); ++i) seqs[i] = i;
    sg::bundle_builder b = minimal_builder();
    CHECK(b.recalls(seqs).build().error() == errc::field_too_large);
    seqs.pop_back();
    CHECK(b.recalls(seqs).build());
  }
}

// ---------------------------------------------------------------------------
// Rejections: manifest

TEST_CASE("unknown fields: critical rejected, non-critical skipped", "[bundle.reject.manifest]") {
  const auto trust = trust_of({&seed_a()});
  auto b = minimal_builder();
  b.extra_field(500, static_cast<std::uint8_t>(manifest_field_type::string), false, bytes_of("future"));
  b.extra_field(501, 99, false, bytes_of("type this reader does not know"));
  const auto accepted = build(b);
  const auto p = sg::parse_bundle(accepted);
  REQUIRE(p);
  CHECK(p->manifest.unknown_field_count == 2);
  CHECK(check(accepted, trust) == errc::ok);

  auto c = minimal_builder();
  c.extra_field(500, static_cast<std::uint8_t>(manifest_field_type::string), true, bytes_of("future"));
  CHECK(c.build().error() == errc::unknown_critical_field);
  const std::vector<std::uint8_t> payload = bytes_of("x");
  sg::detail::manifest_writer w;
  required_fields(w, payload);
  w.field(16, sg::manifest_flag_critical, 1, bytes_of("abcd"));  // the first id v1 does not know
  CHECK(parse_error(craft(w.bytes(), payload)) == errc::unknown_critical_field);
}

TEST_CASE("duplicate and missing fields", "[bundle.reject.manifest]") {
  const std::vector<std::uint8_t> payload = bytes_of("payload");
  SECTION("each known field twice") {
    for (std::uint16_t id = 1; id <= 14; ++id) {
      // Find field `id` in the full manifest and append a copy of it.
      const auto fb = build(full_builder());
      const auto fp = sg::parse_bundle(fb);
      REQUIRE(fp);
      std::vector<std::uint8_t> manifest = fp->manifest_bytes.to_vector();
      sg::detail::le_reader r(fp->manifest_bytes);
      bool found = false;
      while (r.remaining() > 0) {
        const std::size_t start = r.offset();
        std::uint16_t fid = 0;
        std::uint8_t flags = 0, type = 0;
        std::uint32_t len = 0;
        REQUIRE((r.u16(fid) && r.u8(flags) && r.u8(type) && r.u32(len)));
        sg::byte_view v;
        REQUIRE(r.bytes(len, v));
        if (fid == id) {
          const auto field = fp->manifest_bytes.sub(start, 8 + len);
          manifest.insert(manifest.end(), field.begin(), field.end());
          found = true;
        }
      }
      REQUIRE(found);
      INFO("field " << id);
      CHECK(parse_error(craft(manifest, fp->payload)) == errc::duplicate_field);
    }
  }
  SECTION("each required field missing") {
    for (auto f : {manifest_field_id::channel, manifest_field_id::sequence, manifest_field_id::schema_id,
                   manifest_field_id::schema_version, manifest_field_id::created, manifest_field_id::payload_size,
                   manifest_field_id::payload_sha256}) {
      sg::detail::manifest_writer w;
      required_fields(w, payload, static_cast<std::uint16_t>(f));
      INFO("field " << static_cast<int>(f));
      CHECK(parse_error(craft(w.bytes(), payload)) == errc::missing_field);
    }
    sg::detail::manifest_writer w;
    required_fields(w, payload);
    CHECK(check(craft(w.bytes(), payload), trust_of({&seed_a()})) == errc::ok);
    CHECK(parse_error(craft({}, payload)) == errc::missing_field);
  }
}

TEST_CASE("malformed field values", "[bundle.reject.manifest]") {
  const std::vector<std::uint8_t> payload = bytes_of("payload");
  using id = manifest_field_id;
  using ty = manifest_field_type;
  struct bad_case {
    const char* what;
    id field;
    std::uint8_t flags;
    ty type;
    std::vector<std::uint8_t> value;
    errc expected;
  };
  auto u64v = [](std::uint64_t v) {
    std::vector<std::uint8_t> b(8);
    sg::detail::store_le64(b.data(), v);
    return b;
  };
  auto steps = [](std::initializer_list<sg::rollout_step> s) {
    std::vector<std::uint8_t> b;
    for (const auto& x : s) {
      sg::detail::append_le64(b, x.offset);
      b.push_back(x.percent);
    }
    return b;
  };
  auto seqs = [](std::initializer_list<std::uint64_t> s) {
    std::vector<std::uint8_t> b;
    for (auto x : s) sg::detail::append_le64(b, x);
    return b;
  };
  const std::vector<bad_case> cases = {
      {"sequence as u32", id::sequence, 1, ty::u32, {1, 0, 0, 0}, errc::malformed_field},
      {"sequence too short", id::sequence, 1, ty::u64, {1, 0, 0, 0}, errc::malformed_field},
      {"created as u64", id::created, 1, ty::u64, u64v(5), errc::malformed_field},
      {"flag bits beyond critical", id::expires, 3, ty::i64, u64v(5), errc::malformed_field},
      {"expires as string", id::expires, 1, ty::string, bytes_of("2030"), errc::malformed_field},
      {"version not UTF-8", id::version, 0, ty::string, {0x66, 0xC3, 0x28}, errc::invalid_utf8},
      {"version overlong", id::version, 0, ty::string, {0xC0, 0xAF}, errc::invalid_utf8},
      {"version surrogate", id::version, 0, ty::string, {0xED, 0xA0, 0x80}, errc::invalid_utf8},
      {"version above U+10FFFF", id::version, 0, ty::string, {0xF4, 0x90, 0x80, 0x80}, errc::invalid_utf8},
      {"version with NUL", id::version, 0, ty::string, {0x61, 0x00, 0x62}, errc::invalid_utf8},
      {"version cut sequence", id::version, 0, ty::string, {0x61, 0xE2, 0x82}, errc::invalid_utf8},
      {"host_min not a version", id::host_min, 1, ty::string, bytes_of("7.1"), errc::malformed_field},
      {"host_max leading zero", id::host_max, 1, ty::string, bytes_of("7.01.0"), errc::malformed_field},
      {"host_max too big", id::host_max, 1, ty::string, bytes_of("4294967296.0.0"), errc::malformed_field},
      // A string field: UTF-8 is checked before the version syntax.
      {"host_min not UTF-8", id::host_min, 1, ty::string, {0x37, 0x2E, 0xFF, 0x2E, 0x30}, errc::invalid_utf8},
      {"host_max with NUL", id::host_max, 1, ty::string, {0x37, 0x2E, 0x00, 0x2E, 0x30}, errc::invalid_utf8},
      {"host_max overlong", id::host_max, 1, ty::string, {0xC0, 0xAF}, errc::invalid_utf8},
      {"rollout empty", id::rollout, 1, ty::rollout, {}, errc::malformed_field},
      {"rollout partial step", id::rollout, 1, ty::rollout, {0, 0, 0, 0, 0, 0, 0, 0, 10, 1}, errc::malformed_field},
      {"rollout percent over 100", id::rollout, 1, ty::rollout, steps({{0, 101}}), errc::malformed_field},
      {"rollout offsets not increasing", id::rollout, 1, ty::rollout, steps({{60, 1}, {60, 50}}),
       errc::malformed_field},
      {"rollout percent decreasing", id::rollout, 1, ty::rollout, steps({{0, 50}, {60, 10}}), errc::malformed_field},
      {"recalls not increasing", id::recalls, 1, ty::u64_list, seqs({5, 5}), errc::malformed_field},
      {"recalls partial", id::recalls, 1, ty::u64_list, {1, 2, 3}, errc::malformed_field},
      {"recalls empty", id::recalls, 1, ty::u64_list, {}, errc::malformed_field},
      // Shape before count: a list over its limit and not whole steps or
      // items is malformed_field, not field_too_large.
      {"rollout over the step limit and partial", id::rollout, 1, ty::rollout,
       std::vector<std::uint8_t>(33 * 9 + 1), errc::malformed_field},
      {"recalls over the limit and partial", id::recalls, 1, ty::u64_list, std::vector<std::uint8_t>(1025 * 8 + 1),
       errc::malformed_field},
      // Count before values: over the limit with bad values is field_too_large.
      {"rollout over the step limit with bad steps", id::rollout, 1, ty::rollout, std::vector<std::uint8_t>(33 * 9),
       errc::field_too_large},
      {"recalls over the limit, not increasing", id::recalls, 1, ty::u64_list, std::vector<std::uint8_t>(1025 * 8),
       errc::field_too_large},
      {"payload_kind as u64", id::payload_kind, 1, ty::u64, u64v(1), errc::malformed_field},
      {"payload_kind of 2 bytes", id::payload_kind, 1, ty::u32, {1, 0}, errc::malformed_field},
      {"payload_kind unknown value", id::payload_kind, 1, ty::u32, {2, 0, 0, 0}, errc::malformed_field},
      {"payload_kind tree not critical", id::payload_kind, 0, ty::u32, {1, 0, 0, 0}, errc::malformed_field},
  };
  SECTION("wrong types, lengths and values") {
    for (const auto& c : cases) {
      sg::detail::manifest_writer w;
      required_fields(w, payload, static_cast<std::uint16_t>(c.field));
      w.field(static_cast<std::uint16_t>(c.field), c.flags, static_cast<std::uint8_t>(c.type), c.value);
      INFO(c.what);
      CHECK(parse_error(craft(w.bytes(), payload)) == c.expected);
    }
  }
  SECTION("required fields with bad values") {
    struct req_case {
      const char* what;
      id field;
      ty type;
      std::vector<std::uint8_t> value;
      errc expected;
    };
    const std::vector<req_case> reqs = {
        {"empty channel", id::channel, ty::string, {}, errc::malformed_field},
        {"channel with slash", id::channel, ty::string, bytes_of("a/b"), errc::malformed_field},
        {"channel ..", id::channel, ty::string, bytes_of(".."), errc::malformed_field},
        {"channel starting with -", id::channel, ty::string, bytes_of("-rules"), errc::malformed_field},
        {"channel of 65 bytes", id::channel, ty::string, std::vector<std::uint8_t>(65, 'a'), errc::malformed_field},
        {"channel not UTF-8", id::channel, ty::string, {0xFF}, errc::invalid_utf8},
        {"empty schema id", id::schema_id, ty::string, {}, errc::malformed_field},
        {"schema version as u64", id::schema_version, ty::u64, u64v(1), errc::malformed_field},
        {"sha256 of 31 bytes", id::payload_sha256, ty::bytes, std::vector<std::uint8_t>(31), errc::malformed_field},
        {"sha256 as string", id::payload_sha256, ty::string, std::vector<std::uint8_t>(32, 'a'),
         errc::malformed_field},
    };
    for (const auto& c : reqs) {
      sg::detail::manifest_writer w;
      required_fields(w, payload, static_cast<std::uint16_t>(c.field));
      w.field(c.field, true, c.type, c.value);
      INFO(c.what);
      CHECK(parse_error(craft(w.bytes(), payload)) == c.expected);
    }
    sg::detail::manifest_writer w;
    required_fields(w, payload, static_cast<std::uint16_t>(id::channel));
    w.string(id::channel, true, std::string(64, 'a'));
    CHECK(parse_error(craft(w.bytes(), payload)) == errc::ok);
  }
  SECTION("ranges that admit nothing") {
    auto b = minimal_builder();
    CHECK(b.host_min({2, 0, 0}).host_max({1, 9, 9}).build().error() == errc::malformed_field);
    CHECK(b.host_max({2, 0, 0}).build());
    auto t = minimal_builder();
    CHECK(t.not_before(100).expires(100).build().error() == errc::malformed_field);
    CHECK(t.expires(101).build());
  }
  SECTION("field id 0 is reserved") {
    sg::detail::manifest_writer w;
    required_fields(w, payload);
    w.field(0, 0, 1, bytes_of("abcd"));
    CHECK(parse_error(craft(w.bytes(), payload)) == errc::malformed_field);
  }
  SECTION("a field header or value that runs past the manifest") {
    sg::detail::manifest_writer w;
    required_fields(w, payload);
    auto m = w.bytes();
    m.push_back(1);  // half a field id
    CHECK(parse_error(craft(m, payload)) == errc::truncated);
    sg::detail::manifest_writer w2;
    required_fields(w2, payload);
    w2.field(600, 0, 5, bytes_of("abcdef"));
    auto m2 = w2.bytes();
    m2.resize(m2.size() - 1);  // value one byte short of its length
    CHECK(parse_error(craft(m2, payload)) == errc::truncated);
  }
}

// ---------------------------------------------------------------------------
// Rejections: integrity and trust

TEST_CASE("payload size and hash", "[bundle.reject.payload]") {
  const std::vector<std::uint8_t> payload = bytes_of("the real payload");
  const auto trust = trust_of({&seed_a()});
  SECTION("size mismatch") {
    sg::detail::manifest_writer w;
    required_fields(w, payload, static_cast<std::uint16_t>(manifest_field_id::payload_size));
    w.u64(manifest_field_id::payload_size, true, payload.size() + 1);
    CHECK(check(craft(w.bytes(), payload), trust) == errc::payload_size_mismatch);
  }
  SECTION("hash mismatch") {
    sg::detail::manifest_writer w;
    required_fields(w, payload, static_cast<std::uint16_t>(manifest_field_id::payload_sha256));
    auto digest = sg::sha256_of(payload);
    digest[31] ^= 1;
    w.field(manifest_field_id::payload_sha256, true, manifest_field_type::bytes, digest);
    CHECK(check(craft(w.bytes(), payload), trust) == errc::payload_hash_mismatch);
  }
  SECTION("the payload is checked before the signatures") {
    sg::detail::manifest_writer w;
    required_fields(w, payload, static_cast<std::uint16_t>(manifest_field_id::payload_sha256));
    w.field(manifest_field_id::payload_sha256, true, manifest_field_type::bytes, sg::sha256_digest{});
    CHECK(check(craft(w.bytes(), payload, {}), trust) == errc::payload_hash_mismatch);
  }
}

TEST_CASE("signatures and trust", "[bundle.reject.trust]") {
  const auto one = build(minimal_builder());
  SECTION("bad signature by a trusted key") {
    auto bad = one;
    bad[bad.size() - 1] ^= 0x01;
    CHECK(check(bad, trust_of({&seed_a()})) == errc::signature_invalid);
    auto bad_r = one;
    bad_r[bad_r.size() - 64] ^= 0x80;  // in R
    CHECK(check(bad_r, trust_of({&seed_a()})) == errc::signature_invalid);
  }
  SECTION("a signature for another manifest") {
    auto other = minimal_builder();
    const auto b2 = build(other.sequence(8));
    auto spliced = b2;
    std::copy(one.end() - 64, one.end(), spliced.end() - 64);
    CHECK(check(b2, trust_of({&seed_a()})) == errc::ok);
    CHECK(check(spliced, trust_of({&seed_a()})) == errc::signature_invalid);
  }
  SECTION("unknown key") {
    CHECK(check(one, trust_of({&seed_b()})) == errc::unknown_key);
    CHECK(check(one, sg::trust_set{}) == errc::unknown_key);
    auto flipped_id = one;
    flipped_id[flipped_id.size() - 72] ^= 1;
    CHECK(check(flipped_id, trust_of({&seed_a()})) == errc::unknown_key);
  }
  SECTION("signatures by unknown keys are ignored when a trusted one is valid") {
    const auto two = sg::add_signature(one, seed_c());
    REQUIRE(two);
    CHECK(check(*two, trust_of({&seed_a()})) == errc::ok);
    CHECK(check(*two, trust_of({&seed_c()})) == errc::ok);
    // A broken signature by an untrusted key does not matter either.
    auto broken = *two;
    broken[broken.size() - 1] ^= 1;
    CHECK(check(broken, trust_of({&seed_a()})) == errc::ok);
    CHECK(check(broken, trust_of({&seed_c()})) == errc::signature_invalid);
  }
  SECTION("below threshold") {
    CHECK(check(one, trust_of({&seed_a(), &seed_b()}, 2)) == errc::below_threshold);
    const auto two = sg::add_signature(one, seed_b());
    REQUIRE(two);
    CHECK(check(*two, trust_of({&seed_a(), &seed_b()}, 2)) == errc::ok);
    CHECK(check(*two, trust_of({&seed_a(), &seed_b(), &seed_c()}, 3)) == errc::below_threshold);
    CHECK(check(*two, trust_of({&seed_a()}, 2)) == errc::below_threshold);
  }
  SECTION("the same key twice counts once") {
    auto twice = one;
    REQUIRE(sg::detail::bundle_append_signature(twice, seed_a()));
    REQUIRE(sg::parse_bundle(twice));
    CHECK(sg::parse_bundle(twice)->signature_count() == 2);
    CHECK(check(twice, trust_of({&seed_a()}, 1)) == errc::ok);
    CHECK(check(twice, trust_of({&seed_a(), &seed_b()}, 2)) == errc::below_threshold);
  }
}

TEST_CASE("trust_set", "[bundle.trust]") {
  sg::trust_set t;
  CHECK(t.empty());
  CHECK(t.threshold() == 1);
  CHECK(t.add(pub(seed_a())));
  CHECK(t.add(pub(seed_a())));
  CHECK(t.size() == 1);
  CHECK(t.find(sg::key_id_of(pub(seed_a()))) == 0);
  CHECK(t.find(sg::key_id_of(pub(seed_b()))) == sg::trust_set::npos);
  const auto zero = t.set_threshold(0);
  REQUIRE_FALSE(zero);
  CHECK(zero.error() == errc::invalid_argument);
  CHECK(t.threshold() == 1);
  // A default-constructed view is empty, not a wild read.
  const sg::bundle_view empty_view;
  CHECK(empty_view.signature_count() == 0);
  // The key id is the first 8 bytes of SHA-256 of the key.
  const auto d = sg::sha256_of(pub(seed_a()));
  const sg::key_id id = sg::key_id_of(pub(seed_a()));
  CHECK(std::equal(id.begin(), id.end(), d.begin()));
}

// ---------------------------------------------------------------------------
// Rejections: eligibility

TEST_CASE("channel, sequence floor, validity window and host version", "[bundle.reject.eligibility]") {
  const auto full = build(full_builder());
  const auto trust = trust_of({&seed_a(), &seed_b()});
  auto opts = at(t_not_before);
  SECTION("channel") {
    opts.channel = "prod.rules-x86_64";
    CHECK(check(full, trust, opts) == errc::ok);
    opts.channel = "prod.rules-arm64";
    CHECK(check(full, trust, opts) == errc::channel_mismatch);
    opts.channel = "prod.rules-x86_6";
    CHECK(check(full, trust, opts) == errc::channel_mismatch);
  }
  SECTION("sequence floor") {
    const std::uint64_t seq = 0x0102030405060708ull;
    opts.sequence_floor = seq - 1;
    CHECK(check(full, trust, opts) == errc::ok);
    opts.sequence_floor = seq;
    CHECK(check(full, trust, opts) == errc::sequence_rollback);
    opts.sequence_floor = seq + 1;
    CHECK(check(full, trust, opts) == errc::sequence_rollback);
    opts.sequence_floor = ~std::uint64_t{0};
    CHECK(check(full, trust, opts) == errc::sequence_rollback);
  }
  SECTION("validity window") {
    CHECK(check(full, trust, at(t_not_before - 1)) == errc::not_yet_valid);
    CHECK(check(full, trust, at(t_not_before)) == errc::ok);
    CHECK(check(full, trust, at(t_expires - 1)) == errc::ok);
    CHECK(check(full, trust, at(t_expires)) == errc::expired);
    CHECK(check(full, trust, at(t_expires + 86400)) == errc::expired);
    // Without a given time the system clock decides; the minimal bundle has
    // no window.
    CHECK(check(build(minimal_builder()), trust_of({&seed_a()}), sg::verify_options{}) == errc::ok);
  }
  SECTION("host version") {
    opts.host = sg::host_version{7, 11, 0};
    CHECK(check(full, trust, opts) == errc::ok);
    opts.host = sg::host_version{7, 10, 99};
    CHECK(check(full, trust, opts) == errc::host_version_out_of_range);
    opts.host = sg::host_version{7, 19, 4294967295u};
    CHECK(check(full, trust, opts) == errc::ok);
    opts.host = sg::host_version{7, 20, 0};
    CHECK(check(full, trust, opts) == errc::host_version_out_of_range);
    opts.host = sg::host_version{8, 0, 0};
    CHECK(check(full, trust, opts) == errc::host_version_out_of_range);
    // Unbounded when absent.
    auto minimal_opts = at(t_created);
    minimal_opts.host = sg::host_version{0, 0, 0};
    CHECK(check(build(minimal_builder()), trust_of({&seed_a()}), minimal_opts) == errc::ok);
  }
  SECTION("check order: trust before eligibility") {
    opts.channel = "other";
    CHECK(check(full, trust_of({&seed_c()}), opts) == errc::unknown_key);
  }
}

// ---------------------------------------------------------------------------
// Helpers

TEST_CASE("host versions parse strictly and compare numerically", "[bundle.host_version]") {
  const auto v = sg::parse_host_version("10.2.3");
  REQUIRE(v);
  CHECK(*v == sg::host_version{10, 2, 3});
  CHECK(sg::to_string(*v) == "10.2.3");
  CHECK(sg::host_version{1, 10, 0} > sg::host_version{1, 9, 99});
  CHECK(sg::host_version{2, 0, 0} > sg::host_version{1, 99, 99});
  CHECK(sg::parse_host_version("0.0.0"));
  CHECK(sg::parse_host_version("4294967295.4294967295.4294967295"));
  for (const char* bad : {"", "1", "1.2", "1.2.3.4", "1..3", "01.2.3", "1.2.3 ", " 1.2.3", "+1.2.3", "-1.2.3",
                          "1.2.x", "4294967296.0.0", "99999999999.0.0", "1.2.3-rc1"}) {
    INFO(bad);
    CHECK_FALSE(sg::parse_host_version(bad));
  }
}

TEST_CASE("RFC 3339 times", "[bundle.time]") {
  using sg::detail::format_rfc3339;
  using sg::detail::parse_rfc3339;
  CHECK(format_rfc3339(0) == "1970-01-01T00:00:00Z");
  CHECK(format_rfc3339(951782400) == "2000-02-29T00:00:00Z");
  CHECK(format_rfc3339(t_created) == "2026-09-21T14:13:20Z");
  CHECK(format_rfc3339(-1) == "1969-12-31T23:59:59Z");
  CHECK(format_rfc3339(253402300799) == "9999-12-31T23:59:59Z");
  CHECK(format_rfc3339(253402300800) == "253402300800");
  CHECK(parse_rfc3339("2026-09-21T14:13:20Z").value() == t_created);
  CHECK(parse_rfc3339("2026-09-21t14:13:20z").value() == t_created);
  CHECK(parse_rfc3339("2026-09-21T16:13:20.123+02:00").value() == t_created);
  CHECK(parse_rfc3339("2026-09-21T09:13:20-05:00").value() == t_created);
  CHECK(parse_rfc3339("2000-02-29T00:00:00Z").value() == 951782400);
  CHECK(parse_rfc3339("1969-12-31T23:59:59Z").value() == -1);
  for (const char* bad : {"", "2026-09-21", "2026-09-21T14:13:20", "2026-02-29T00:00:00Z", "2026-13-01T00:00:00Z",
                          "2026-09-21T24:00:00Z", "2026-09-21T14:13:20.Z", "2026-09-21T14:13:20+0200",
                          "2026-09-21T14:13:20Zx", "26-09-21T14:13:20Z"}) {
    INFO(bad);
    CHECK_FALSE(parse_rfc3339(bad));
  }
  // Round trip across a range of days, leap years included.
  for (std::int64_t t = -86400LL * 800; t < 86400LL * 365 * 80; t += 86400 * 7 + 3671) {
    const auto back = parse_rfc3339(format_rfc3339(t));
    REQUIRE(back);
    CHECK(*back == t);
  }
}

// ---------------------------------------------------------------------------
// Format findings: present but empty version, payload kind

TEST_CASE("an empty version is present, distinct from an absent one, and re-encodes", "[bundle.manifest.version]") {
  auto with_empty = minimal_builder();
  with_empty.version("");
  const auto e = build(with_empty);
  const auto pe = sg::parse_bundle(e);
  REQUIRE(pe);
  CHECK(pe->manifest.has_version);
  CHECK(pe->manifest.version.empty());
  const auto a = build(minimal_builder());
  const auto pa = sg::parse_bundle(a);
  REQUIRE(pa);
  CHECK_FALSE(pa->manifest.has_version);
  // The empty field is 8 bytes of field header: the bundles differ.
  CHECK(e.size() == a.size() + 8);
  // Re-encoding from what was parsed gives the same bytes.
  auto again = minimal_builder();
  if (pe->manifest.has_version) again.version(pe->manifest.version);
  CHECK(build(again) == e);
}

TEST_CASE("payload_kind: tree is written critical, bytes is never written", "[bundle.manifest.kind]") {
  const auto plain = sg::parse_bundle(build(minimal_builder()));
  REQUIRE(plain);
  CHECK(plain->manifest.kind == sg::payload_kind::bytes);
  auto explicit_bytes = minimal_builder();
  explicit_bytes.set_payload_kind(sg::payload_kind::bytes);
  CHECK(build(explicit_bytes) == build(minimal_builder()));

  auto tree = minimal_builder();
  tree.set_payload_kind(sg::payload_kind::tree);
  const auto t = build(tree);
  const auto pt = sg::parse_bundle(t);
  REQUIRE(pt);
  CHECK(pt->manifest.kind == sg::payload_kind::tree);
  // The last field: id 15, critical, u32, 1.
  const auto mb = pt->manifest_bytes;
  const std::vector<std::uint8_t> field = {15, 0, 1, 1, 4, 0, 0, 0, 1, 0, 0, 0};
  REQUIRE(mb.size() >= field.size());
  CHECK(mb.sub(mb.size() - field.size()).to_vector() == field);
  CHECK(check(t, trust_of({&seed_a()})) == errc::ok);
}

// ---------------------------------------------------------------------------
// Streaming: read_bundle_head, stream_payload, build_parts

namespace {

std::vector<std::string> bundle_files() {
  std::vector<std::string> out;
  for (const std::string& dir : {std::string(SLOTGUARD_TEST_DATA_DIR) + "/bundle",
                                std::string(SLOTGUARD_TEST_SOURCE_DIR) + "/tests/fuzz/corpus/bundle"}) {
    std::error_code ec;
    for (const auto& e : std::filesystem::directory_iterator(dir, ec))
      if (e.is_regular_file()) out.push_back(e.path().string());
  }
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace

TEST_CASE("read_bundle_head agrees with parse_bundle on every golden and corpus file", "[bundle.stream]") {
  const auto files = bundle_files();
  REQUIRE(files.size() >= 10);
  for (const std::string& f : files) {
    const auto bytes = read_all(f);
    INFO(f);
    const auto p = sg::parse_bundle(bytes);
    memory_reader m{bytes};
    const auto h = sg::read_bundle_head(m.fn(), bytes.size());
    CHECK((h ? errc::ok : h.error()) == (p ? errc::ok : p.error()));
    if (!p || !h) continue;
    const sg::bundle_view& v = h->view;
    CHECK(v.header.to_vector() == p->header.to_vector());
    CHECK(v.manifest_bytes.to_vector() == p->manifest_bytes.to_vector());
    CHECK(v.signature_block.to_vector() == p->signature_block.to_vector());
    CHECK(v.manifest.channel == p->manifest.channel);
    CHECK(v.manifest.sequence == p->manifest.sequence);
    CHECK(v.manifest.payload_sha256 == p->manifest.payload_sha256);
    CHECK(v.manifest.field_count == p->manifest.field_count);
    CHECK(v.payload.empty());
    CHECK(h->payload_offset == sg::bundle_header_size + p->manifest_bytes.size());
    CHECK(h->payload_size == p->payload.size());
    // The payload is never read by the head.
    CHECK(m.bytes_read == bytes.size() - p->payload.size());
    // The stream gives verify_payload's verdict, and the signatures verify_bundle's.
    const auto vp = sg::verify_payload(*p);
    const auto sp = sg::stream_payload(m.fn(), *h, {}, 7);
    CHECK((sp ? errc::ok : sp.error()) == (vp ? errc::ok : vp.error()));
    const auto trust = trust_of({&seed_a()});
    const auto s1 = sg::verify_signatures(*p, trust);
    const auto s2 = sg::verify_signatures(*h, trust);
    CHECK((s1 ? errc::ok : s1.error()) == (s2 ? errc::ok : s2.error()));
  }
}

TEST_CASE("read_bundle_head checks the header's sizes before reading anything else", "[bundle.stream]") {
  auto good = build(minimal_builder());
  // A header that claims a payload over the limit: only the header is read.
  auto big = good;
  sg::detail::store_le64(big.data() + 24, (std::uint64_t{4} << 30) + 1);
  fix_crc(big);
  memory_reader m{big};
  const std::uint64_t claimed = (std::uint64_t{5} << 30);
  const auto h = sg::read_bundle_head(m.fn(), claimed);
  REQUIRE_FALSE(h);
  CHECK(h.error() == errc::too_large);
  CHECK(m.highest_end == sg::bundle_header_size);
  // A file over max_bundle_size whose header is not a bundle's: bad_magic,
  // the magic first whatever the size.
  std::vector<std::uint8_t> junk(40, 'x');
  memory_reader j{junk};
  const auto hj = sg::read_bundle_head(j.fn(), claimed);
  REQUIRE_FALSE(hj);
  CHECK(hj.error() == errc::bad_magic);
  // A valid header whose sizes add up to more than the file: truncated, the
  // manifest unread.
  memory_reader t{good};
  const auto ht = sg::read_bundle_head(t.fn(), good.size() - 1);
  REQUIRE_FALSE(ht);
  CHECK(ht.error() == errc::truncated);
  CHECK(t.highest_end == sg::bundle_header_size);
  // A file that shrinks under the reader: truncated.
  const std::vector<std::uint8_t> cut(good.begin(), good.begin() + 60);
  memory_reader c{cut};
  const auto hc = sg::read_bundle_head(c.fn(), good.size());
  REQUIRE_FALSE(hc);
  CHECK(hc.error() == errc::truncated);
  // A read error is returned as it is.
  const sg::read_at_fn failing = [](std::uint64_t, std::uint8_t*, std::size_t) -> sg::result<std::size_t> {
    return errc::io_error;
  };
  CHECK(sg::read_bundle_head(failing, good.size()).error() == errc::io_error);
}

TEST_CASE("the payload limit is its own, the bundle limit leaves room for the head", "[bundle.stream][bundle.reject.limits]") {
  const sg::bundle_limits def;
  CHECK(def.max_payload_size == std::uint64_t{4} << 30);
  CHECK(def.max_bundle_size == (std::uint64_t{4} << 30) + (std::uint64_t{1} << 20));
  const auto good = build(minimal_builder());
  sg::bundle_limits lim;
  lim.max_payload_size = 13;  // the payload is 14 bytes
  CHECK(parse_error(good, lim) == errc::too_large);
  lim.max_payload_size = 14;
  CHECK(parse_error(good, lim) == errc::ok);
}

TEST_CASE("stream_payload: chunks, sink, size and hash", "[bundle.stream]") {
  auto fb = full_builder();
  const auto good = build(fb);
  const auto p = sg::parse_bundle(good);
  REQUIRE(p);
  memory_reader m{good};
  auto h = sg::read_bundle_head(m.fn(), good.size());
  REQUIRE(h);
  // Moving the head keeps its views valid.
  sg::bundle_head moved = std::move(*h);
  CHECK(moved.view.manifest.channel == "prod.rules-x86_64");
  for (std::size_t chunk : {std::size_t{1}, std::size_t{7}, std::size_t{64}, std::size_t{300}, std::size_t{1} << 20}) {
    std::vector<std::uint8_t> got;
    std::size_t calls = 0, largest = 0;
    const auto r = sg::stream_payload(m.fn(), moved, [&](sg::byte_view c) -> sg::result<void> {
      got.insert(got.end(), c.begin(), c.end());
      ++calls;
      largest = std::max(largest, c.size());
      return sg::ok();
    }, chunk);
    INFO("chunk " << chunk);
    CHECK(r);
    CHECK(got == p->payload.to_vector());
    CHECK(largest <= chunk);
    CHECK(calls == (p->payload.size() + chunk - 1) / chunk);
  }
  CHECK(sg::stream_payload(m.fn(), moved, {}, 0).error() == errc::invalid_argument);
  // The sink's error stops the stream.
  std::size_t calls = 0;
  const auto stopped = sg::stream_payload(m.fn(), moved, [&](sg::byte_view) -> sg::result<void> {
    ++calls;
    return errc::no_space;
  }, 10);
  CHECK(stopped.error() == errc::no_space);
  CHECK(calls == 1);
  // One flipped payload byte: payload_hash_mismatch at the end.
  auto bad = good;
  bad[static_cast<std::size_t>(moved.payload_offset) + 5] ^= 1;
  memory_reader mb{bad};
  CHECK(sg::stream_payload(mb.fn(), moved, {}).error() == errc::payload_hash_mismatch);
  // A short read (the file shrank): truncated.
  const std::vector<std::uint8_t> cut(good.begin(), good.begin() + static_cast<std::ptrdiff_t>(moved.payload_offset + 10));
  memory_reader mc{cut};
  CHECK(sg::stream_payload(mc.fn(), moved, {}).error() == errc::truncated);
  // Manifest size differs from the header's: payload_size_mismatch before any read.
  const std::vector<std::uint8_t> payload = bytes_of("the real payload");
  sg::detail::manifest_writer w;
  required_fields(w, payload, static_cast<std::uint16_t>(manifest_field_id::payload_size));
  w.u64(manifest_field_id::payload_size, true, payload.size() + 1);
  const auto sized = craft(w.bytes(), payload);
  memory_reader ms{sized};
  const auto hs = sg::read_bundle_head(ms.fn(), sized.size());
  REQUIRE(hs);
  const std::uint64_t before = ms.bytes_read;
  CHECK(sg::stream_payload(ms.fn(), *hs, {}).error() == errc::payload_size_mismatch);
  CHECK(ms.bytes_read == before);
}

TEST_CASE("build_parts gives build()'s bytes around a streamed payload", "[bundle.stream][bundle.builder]") {
  for (auto b : {minimal_builder(), full_builder()}) {
    const auto whole = build(b);
    const auto p = sg::parse_bundle(whole);
    REQUIRE(p);
    const auto payload = p->payload.to_vector();
    b.payload_digest(payload.size(), sg::sha256_of(payload));
    CHECK(b.build().error() == errc::invalid_argument);
    const auto parts = b.build_parts();
    REQUIRE(parts);
    std::vector<std::uint8_t> joined = parts->head;
    joined.insert(joined.end(), payload.begin(), payload.end());
    joined.insert(joined.end(), parts->tail.begin(), parts->tail.end());
    CHECK(joined == whole);
  }
  // Its checks are the reader's: a payload over the limit.
  auto big = minimal_builder();
  big.payload_digest((std::uint64_t{4} << 30) + 1, sg::sha256_digest{});
  CHECK(big.build_parts().error() == errc::too_large);
  sg::bundle_limits raised;
  raised.max_payload_size = raised.max_bundle_size = std::uint64_t{8} << 30;
  CHECK(big.build_parts(raised));
  auto twice = minimal_builder();
  twice.sign_with(seed_a()).payload_digest(1, sg::sha256_digest{});
  CHECK(twice.build_parts().error() == errc::already_exists);
  CHECK(minimal_builder().build_parts().error() == errc::invalid_argument);
}

TEST_CASE("add_signature on a head gives add_signature's bytes without the payload", "[bundle.stream][bundle.sign]") {
  sg::bundle_builder u;
  u.channel("rules").sequence(7).schema("demo.rules", 1).created(t_created).payload(bytes_of("hello, sensor\n"));
  const auto unsigned_b = build(u);
  memory_reader m{unsigned_b};
  auto h = sg::read_bundle_head(m.fn(), unsigned_b.size());
  REQUIRE(h);
  REQUIRE(sg::add_signature(*h, seed_a()));
  CHECK(h->file_size == unsigned_b.size() + 72);
  std::vector<std::uint8_t> joined = h->header_and_manifest;
  const auto payload = bytes_of("hello, sensor\n");
  joined.insert(joined.end(), payload.begin(), payload.end());
  joined.insert(joined.end(), h->signature_block.begin(), h->signature_block.end());
  CHECK(joined == read_all(data_path("minimal.sgb")));
  CHECK(sg::verify_signatures(*h, trust_of({&seed_a()})));
  CHECK(sg::add_signature(*h, seed_a()).error() == errc::already_exists);
  sg::bundle_limits one;
  one.max_signatures = 1;
  CHECK(sg::add_signature(*h, seed_b(), one).error() == errc::too_many_signatures);
  CHECK(h->signature_block == std::vector<std::uint8_t>(joined.end() - 76, joined.end()));
  REQUIRE(sg::add_signature(*h, seed_b()));
  CHECK(h->view.signature_count() == 2);
  CHECK(sg::verify_signatures(*h, trust_of({&seed_a(), &seed_b()}, 2)));
}
