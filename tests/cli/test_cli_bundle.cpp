// SPDX-License-Identifier: Apache-2.0
// The `slotguard` tool's bundle subcommands, driven as a user would: keygen,
// pack, sign, inspect and verify, their exit statuses (0, 1, 2), the JSON of
// inspect against sha256sum, keys made by openssl, and single-byte changes
// across a whole bundle.
#include <slotguard/bundle.hpp>
#include <slotguard/bytes.hpp>
#include <slotguard/crc.hpp>
#include <slotguard/pem.hpp>
#include <slotguard/tree.hpp>

#include "cli.hpp"
#include "support.hpp"

#include <catch2/catch.hpp>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#if defined(_WIN32)
#include <aclapi.h>
#include <windows.h>
#else
#include <sys/stat.h>
#include <sys/types.h>
#endif

namespace fs = std::filesystem;

namespace {

using outcome = slotguard_test::command_outcome;
using slotguard_test::read_text;

std::vector<std::uint8_t> read_bytes(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  REQUIRE(in);
  return std::vector<std::uint8_t>((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

void write_bytes(const fs::path& p, const std::vector<std::uint8_t>& b) {
  std::ofstream out(p, std::ios::binary | std::ios::trunc);
  REQUIRE(out);
  out.write(reinterpret_cast<const char*>(b.data()), static_cast<std::streamsize>(b.size()));
  REQUIRE(out);
}

void write_text(const fs::path& p, const std::string& s) { write_bytes(p, std::vector<std::uint8_t>(s.begin(), s.end())); }

std::string q(const fs::path& p) { return slotguard_test::quoted(p); }

// Runs a shell command line; stdout and stderr go to files in `dir`.
outcome shell(const fs::path& dir, const std::string& cmdline) { return slotguard_test::run_capturing(dir, cmdline); }

#if !defined(_WIN32)
// The tool as the start of a shell command line (with the cross build's
// launcher, if any), for lines that redirect on their own.
std::string tool_command() {
  return std::string(SLOTGUARD_TEST_TOOL_LAUNCHER) + "\"" + slotguard_test::shell_program_path(SLOTGUARD_CLI_PATH) +
         "\" ";
}
#endif

// Runs the tool with the given arguments.
outcome tool(const fs::path& dir, const std::string& args) {
  return slotguard_test::run_tool(SLOTGUARD_CLI_PATH, dir, args);
}

bool have(const fs::path& dir, const std::string& probe) { return shell(dir, probe).status == 0; }

// The value of "key":"..." in a one-line JSON object.
std::string json_string_field(const std::string& json, const std::string& key) {
  const std::string needle = "\"" + key + "\":\"";
  const std::size_t at = json.find(needle);
  if (at == std::string::npos) return {};
  const std::size_t start = at + needle.size();
  return json.substr(start, json.find('"', start) - start);
}

std::vector<std::uint8_t> sample_payload(std::size_t n) {
  std::vector<std::uint8_t> p(n);
  for (std::size_t i = 0; i < n; ++i) p[i] = static_cast<std::uint8_t>((i * 131 + 17) ^ (i >> 3));
  return p;
}

const std::string data_dir = std::string(SLOTGUARD_TEST_DATA_DIR) + "/bundle";

}  // namespace

TEST_CASE("every subcommand has --help, and usage errors exit 2", "[cli.bundle.usage]") {
  slotguard_test::temp_dir d("cli");
  for (const char* sub : {"keygen", "pack", "sign", "inspect", "verify"}) {
    INFO(sub);
    const auto o = tool(d.path(), std::string(sub) + " --help");
    CHECK(o.status == 0);
    CHECK(o.out.find("usage: slotguard") != std::string::npos);
    CHECK(o.out.find("exit status") != std::string::npos);
  }
  CHECK(tool(d.path(), "--help").status == 0);
  CHECK(tool(d.path(), "").status == 2);
  CHECK(tool(d.path(), "frobnicate").status == 2);
  CHECK(tool(d.path(), "verify --bogus x").status == 2);
  CHECK(tool(d.path(), "verify b.sgb").status == 2);                 // no --trust
  CHECK(tool(d.path(), "keygen").status == 2);                       // no --out
  CHECK(tool(d.path(), "pack --channel c --sequence x").status == 2);  // not a number
  CHECK(tool(d.path(), "pack --channel c --sequence 1 --schema s@1 --payload p -o o --expires tomorrow").status == 2);
  CHECK(tool(d.path(), "pack --channel c --sequence 1 --schema s --payload p -o o").status == 2);
  CHECK(tool(d.path(), "pack --channel c --sequence 1 --schema s@1 --payload p -o o --rollout 0:101").status == 2);
  CHECK(tool(d.path(), "sign b.sgb").status == 2);  // no --key
  const auto o = tool(d.path(), "inspect");
  CHECK(o.status == 2);
  CHECK(o.err.find("--help") != std::string::npos);
}

TEST_CASE("keygen, pack, sign, inspect and verify round trip", "[cli.bundle.roundtrip]") {
  slotguard_test::temp_dir d("cli");
  const fs::path dir = d.path();
  const fs::path k1 = dir / "k1", k2 = dir / "k2", k3 = dir / "k3";
  for (const auto& k : {k1, k2, k3}) REQUIRE(tool(dir, "keygen --out " + q(k)).status == 0);
  REQUIRE(fs::exists(dir / "k1.pub"));
#if !defined(_WIN32)
  struct stat st {};
  REQUIRE(::stat(k1.string().c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0600);
#endif
  // An existing key is never overwritten without --force.
  const std::string before = read_text(k1);
  auto o = tool(dir, "keygen --out " + q(k1));
  CHECK(o.status == 1);
  CHECK(o.err.find("already_exists") != std::string::npos);
  CHECK(read_text(k1) == before);

  write_bytes(dir / "payload", sample_payload(1000));
  const fs::path b = dir / "b.sgb";
  o = tool(dir, "pack --channel prod --sequence 12 --schema demo@3 --version \"12 (test)\" --host-min 1.2.0 "
                "--host-max 1.9.9 --created 2026-09-21T14:13:20Z --not-before 2026-09-22T00:00:00Z "
                "--expires 2026-12-31T00:00:00Z --rollout 0:5,1h:50,1d:100 --recall 3,4 --recall 9 --key " +
                    q(k1) + " --payload " + q(dir / "payload") + " -o " + q(b));
  INFO(o.err);
  REQUIRE(o.status == 0);

  const std::string now = " --now 2026-10-01T00:00:00Z";
  o = tool(dir, "verify " + q(b) + " --trust " + q(dir / "k1.pub") + now);
  CHECK(o.status == 0);
  CHECK(o.out.find("ok") != std::string::npos);

  o = tool(dir, "inspect " + q(b) + " --json");
  REQUIRE(o.status == 0);
  for (const char* key : {"\"channel\":\"prod\"", "\"sequence\":12", "\"version\":\"12 (test)\"",
                          "\"schema\":{\"id\":\"demo\",\"version\":3}", "\"payload_size\":1000",
                          "\"not_before\":\"2026-09-22T00:00:00Z\"", "\"expires\":\"2026-12-31T00:00:00Z\"",
                          "\"created\":\"2026-09-21T14:13:20Z\"", "\"host_min\":\"1.2.0\"", "\"host_max\":\"1.9.9\"",
                          "\"rollout\":[{\"offset\":0,\"percent\":5},{\"offset\":3600,\"percent\":50},"
                          "{\"offset\":86400,\"percent\":100}]",
                          "\"recalls\":[3,4,9]", "\"payload_sha256_matches\":true", "\"signatures\":[{\"key_id\":\""}) {
    INFO(key);
    CHECK(o.out.find(key) != std::string::npos);
  }
  const std::string id1 = json_string_field(o.out, "key_id");
  CHECK(id1.size() == 16);

  // A second signer; the file is replaced (keeping its permissions) and no
  // temporary file remains.
#if !defined(_WIN32)
  fs::permissions(b, fs::perms::owner_read | fs::perms::owner_write | fs::perms::group_read);
#endif
  o = tool(dir, "sign --key " + q(k2) + " " + q(b));
  INFO(o.err);
  REQUIRE(o.status == 0);
  for (const auto& e : fs::directory_iterator(dir))
    CHECK(e.path().filename().string().find(".tmp") == std::string::npos);
#if !defined(_WIN32)
  CHECK((fs::status(b).permissions() & fs::perms::all) ==
        (fs::perms::owner_read | fs::perms::owner_write | fs::perms::group_read));
#endif
  o = tool(dir, "inspect " + q(b) + " --json");
  REQUIRE(o.status == 0);
  CHECK(o.out.find("{\"key_id\":\"" + id1 + "\"},{\"key_id\":\"") != std::string::npos);

  const std::string both = " --trust " + q(dir / "k1.pub") + " --trust " + q(dir / "k2.pub");
  CHECK(tool(dir, "verify " + q(b) + both + " --threshold 2" + now).status == 0);
  CHECK(tool(dir, "verify " + q(b) + " --trust " + q(dir / "k2.pub") + now).status == 0);
  o = tool(dir, "verify " + q(b) + " --trust " + q(dir / "k1.pub") + " --trust " + q(dir / "k3.pub") +
                    " --threshold 2" + now);
  CHECK(o.status == 1);
  CHECK(o.err.find("below_threshold") != std::string::npos);
  o = tool(dir, "verify " + q(b) + " --trust " + q(dir / "k3.pub") + now);
  CHECK(o.status == 1);
  CHECK(o.err.find("unknown_key") != std::string::npos);
  o = tool(dir, "sign --key " + q(k2) + " " + q(b));
  CHECK(o.status == 1);
  CHECK(o.err.find("already_exists") != std::string::npos);

  SECTION("eligibility rejections exit 1 with the reason") {
    struct rejection {
      std::string args;
      const char* reason;
    };
    const std::vector<rejection> cases = {
        {" --now 2026-09-21T23:59:59Z", "not_yet_valid"},
        {" --now 2026-12-31T00:00:00Z", "expired"},
        {now + " --channel test", "channel_mismatch"},
        {now + " --floor 12", "sequence_rollback"},
        {now + " --floor 13", "sequence_rollback"},
        {now + " --host-version 1.1.99", "host_version_out_of_range"},
        {now + " --host-version 1.10.0", "host_version_out_of_range"},
    };
    for (const auto& c : cases) {
      INFO(c.args);
      o = tool(dir, "verify " + q(b) + both + c.args);
      CHECK(o.status == 1);
      CHECK(o.err.find(c.reason) != std::string::npos);
    }
    CHECK(tool(dir, "verify " + q(b) + both + now + " --channel prod --floor 11 --host-version 1.9.9").status == 0);
  }
  SECTION("structural rejections exit 1 with the reason") {
    auto bytes = read_bytes(b);
    bytes.push_back(0);
    write_bytes(dir / "trailing.sgb", bytes);
    o = tool(dir, "verify " + q(dir / "trailing.sgb") + both + now);
    CHECK(o.status == 1);
    CHECK(o.err.find("trailing_bytes") != std::string::npos);
    bytes.resize(bytes.size() - 2);
    write_bytes(dir / "short.sgb", bytes);
    o = tool(dir, "inspect " + q(dir / "short.sgb"));
    CHECK(o.status == 1);
    CHECK(o.err.find("truncated") != std::string::npos);
    o = tool(dir, "verify " + q(dir / "missing.sgb") + both);
    CHECK(o.status == 1);
    CHECK(o.err.find("not_found") != std::string::npos);
    o = tool(dir, "verify " + q(b) + " --trust " + q(dir / "payload"));
    CHECK(o.status == 1);
    CHECK(o.err.find("pem_invalid") != std::string::npos);
  }
  SECTION("pack refuses what would not parse") {
    o = tool(dir, "pack --channel ../x --sequence 1 --schema s@1 --payload " + q(dir / "payload") + " -o " +
                      q(dir / "x.sgb"));
    CHECK(o.status == 1);
    CHECK(o.err.find("malformed_field") != std::string::npos);
    CHECK_FALSE(fs::exists(dir / "x.sgb"));
  }
}

TEST_CASE("pack with the RFC 8032 key reproduces the golden bundle of docs/FORMAT.md", "[cli.bundle.golden]") {
  slotguard_test::temp_dir d("cli");
  write_text(d.path() / "payload", "hello, sensor\n");
  const auto o = tool(d.path(), "pack --channel rules --sequence 7 --schema demo.rules@1 --created 2026-09-21T14:13:20Z "
                                "--payload " + q(d.path() / "payload") + " --key " +
                                    q(data_dir + "/rfc8032-test1.pem") + " -o " + q(d.path() / "m.sgb"));
  INFO(o.err);
  REQUIRE(o.status == 0);
  CHECK(read_bytes(d.path() / "m.sgb") == read_bytes(data_dir + "/minimal.sgb"));
  CHECK(tool(d.path(), "verify " + q(data_dir + "/minimal.sgb") + " --trust " + q(data_dir + "/rfc8032-test1.pub"))
            .status == 0);
}

TEST_CASE("inspect --json's payload_sha256 equals sha256sum of the payload", "[cli.bundle.json]") {
  slotguard_test::temp_dir d("cli");
  const fs::path dir = d.path();
  if (!have(dir, "sha256sum --version")) {
    WARN("SKIPPED: sha256sum is not installed");
    return;
  }
  for (std::size_t n : {std::size_t{0}, std::size_t{1}, std::size_t{55}, std::size_t{64}, std::size_t{100000}}) {
    write_bytes(dir / "payload", sample_payload(n));
    REQUIRE(tool(dir, "pack --channel c --sequence 1 --schema s@1 --payload " + q(dir / "payload") + " -o " +
                          q(dir / "b.sgb"))
                .status == 0);
    const auto j = tool(dir, "inspect --json " + q(dir / "b.sgb"));
    REQUIRE(j.status == 0);
    const auto s = shell(dir, "sha256sum " + q(dir / "payload"));
    REQUIRE(s.status == 0);
    INFO("payload of " << n << " bytes");
    CHECK(json_string_field(j.out, "payload_sha256") == s.out.substr(0, 64));
  }
}

TEST_CASE("a bundle signed with an openssl-made key verifies, and no longer after any byte changes",
          "[cli.bundle.openssl]") {
  slotguard_test::temp_dir d("cli");
  const fs::path dir = d.path();
  if (!have(dir, "openssl version")) {
    WARN("SKIPPED: openssl is not installed");
    return;
  }
  REQUIRE(shell(dir, "openssl genpkey -algorithm ed25519 -out " + q(dir / "k.pem")).status == 0);
  REQUIRE(shell(dir, "openssl pkey -in " + q(dir / "k.pem") + " -pubout -out " + q(dir / "k.pub")).status == 0);
  write_bytes(dir / "payload", sample_payload(300));
  const fs::path b = dir / "b.sgb";
  auto o = tool(dir, "pack --channel edge --sequence 5 --schema demo@1 --version v5 --expires 2099-01-01T00:00:00Z "
                     "--rollout 0:10,1d:100 --key " + q(dir / "k.pem") + " --payload " + q(dir / "payload") +
                         " -o " + q(b));
  INFO(o.err);
  REQUIRE(o.status == 0);
  const std::string trust = " --trust " + q(dir / "k.pub");
  REQUIRE(tool(dir, "verify " + q(b) + trust).status == 0);

  // Keys the tool makes are read by openssl the same way.
  REQUIRE(tool(dir, "keygen --out " + q(dir / "own")).status == 0);
  REQUIRE(shell(dir, "openssl pkey -in " + q(dir / "own") + " -pubout -out " + q(dir / "own.openssl.pub")).status == 0);
  CHECK(read_text(dir / "own.openssl.pub") == read_text(dir / "own.pub"));

  const auto good = read_bytes(b);
  // Every offset (a few hundred) in a normal run; every 9th under an emulator.
  const std::size_t stride = slotguard_test::quick_mode() ? 9 : 1;
  if (stride > 1) WARN("quick mode: every " << stride << "th offset only");
  std::size_t tried = 0;
  for (std::size_t i = 0; i < good.size(); i += stride) {
    auto bad = good;
    bad[i] = static_cast<std::uint8_t>(bad[i] ^ (1u << (i % 8)));
    write_bytes(dir / "bad.sgb", bad);
    o = tool(dir, "verify " + q(dir / "bad.sgb") + trust);
    INFO("offset " << i << " of " << good.size() << ": " << o.err);
    CHECK(o.status == 1);
    ++tried;
  }
  CHECK(tried >= (stride > 1 ? 40u : 300u));
}

#if __has_include(<slotguard/schema.hpp>)
#include <slotguard/schema.hpp>

// The schema gate through the tool: pack refuses content that does not
// validate, and verify --schema-file rejects it, naming record and field.
// Uses the schema tests' data (tests/data/schema): record type
// template_input has 20 fields.
TEST_CASE("pack and verify with --schema-file", "[cli.bundle.schema]") {
  slotguard_test::temp_dir d("cli");
  const fs::path dir = d.path();
  const std::string schema_dir = std::string(SLOTGUARD_TEST_DATA_DIR) + "/schema";
  const std::string schema = q(schema_dir + "/edr.schema");
  REQUIRE(tool(dir, "keygen --out " + q(dir / "k")).status == 0);
  const std::string trust = " --trust " + q(dir / "k.pub");

  // Valid records text: packed with the schema's id and version, verified.
  auto o = tool(dir, "pack --channel edr --sequence 1 --schema-file " + schema + " --records " +
                         q(schema_dir + "/edr_records.txt") + " --key " + q(dir / "k") + " -o " + q(dir / "ok.sgb"));
  INFO(o.err);
  REQUIRE(o.status == 0);
  o = tool(dir, "inspect --json " + q(dir / "ok.sgb"));
  CHECK(o.out.find("\"schema\":{\"id\":\"edr.rules\",\"version\":3}") != std::string::npos);
  CHECK(tool(dir, "verify " + q(dir / "ok.sgb") + trust + " --schema-file " + schema).status == 0);

  // 21 values for a 20-field record type, the 21st a wildcard and then a
  // real value; and 19.
  const std::string twenty = "*, *, *, *, *, *, *, *, *, *, *, *, *, *, *, *, *, *, *, *";
  for (const std::string& line : {twenty + ", *", twenty + ", 7", twenty.substr(0, twenty.size() - 3)}) {
    write_text(dir / "bad.txt", "template_input: " + line + "\n");
    o = tool(dir, "pack --channel edr --sequence 2 --schema-file " + schema + " --records " + q(dir / "bad.txt") +
                      " -o " + q(dir / "bad.sgb"));
    INFO(line);
    CHECK(o.status == 1);
    CHECK(o.err.find("field_count_mismatch") != std::string::npos);
    CHECK_FALSE(fs::exists(dir / "bad.sgb"));
  }

  // The same content made without the tool's check: pack refuses it with
  // --schema-file; packed without, verify --schema-file rejects it.
  for (std::size_t fields : {std::size_t{21}, std::size_t{19}}) {
    slotguard::payload_writer w("edr.rules", 3);
    w.begin_record(291);
    for (std::size_t i = 0; i < fields; ++i) w.add_wildcard();
    write_bytes(dir / "bad.bin", w.finish());
    INFO(fields << " fields");
    o = tool(dir, "pack --channel edr --sequence 2 --schema-file " + schema + " --payload " + q(dir / "bad.bin") +
                      " -o " + q(dir / "bad.sgb"));
    CHECK(o.status == 1);
    CHECK(o.err.find("field_count_mismatch") != std::string::npos);
    CHECK_FALSE(fs::exists(dir / "bad.sgb"));
    o = tool(dir, "pack --channel edr --sequence 2 --schema edr.rules@3 --payload " + q(dir / "bad.bin") + " --key " +
                      q(dir / "k") + " -o " + q(dir / "bad.sgb"));
    REQUIRE(o.status == 0);
    CHECK(tool(dir, "verify " + q(dir / "bad.sgb") + trust).status == 0);  // signatures alone are fine
    o = tool(dir, "verify " + q(dir / "bad.sgb") + trust + " --schema-file " + schema);
    CHECK(o.status == 1);
    CHECK(o.err.find("field_count_mismatch") != std::string::npos);
    CHECK(o.err.find("record 0") != std::string::npos);
    CHECK(o.err.find("field") != std::string::npos);
    fs::remove(dir / "bad.sgb");
  }

  // A bundle for another schema version.
  o = tool(dir, "pack --channel edr --sequence 3 --schema edr.rules@4 --payload " + q(dir / "bad.bin") + " --key " +
                    q(dir / "k") + " -o " + q(dir / "v4.sgb"));
  REQUIRE(o.status == 0);
  o = tool(dir, "verify " + q(dir / "v4.sgb") + trust + " --schema-file " + schema);
  CHECK(o.status == 1);
  CHECK(o.err.find("schema_mismatch") != std::string::npos);
  o = tool(dir, "pack --channel edr --sequence 3 --schema edr.rules@4 --schema-file " + schema + " --records " +
                    q(schema_dir + "/edr_records.txt") + " -o " + q(dir / "x.sgb"));
  CHECK(o.status == 1);
  CHECK(o.err.find("schema_mismatch") != std::string::npos);
}
#endif

namespace {

// Output with Windows' text-mode line ends ("\r\n") as "\n".
std::string lf(const std::string& out) {
  std::string r;
  for (std::size_t i = 0; i < out.size(); ++i)
    if (!(out[i] == '\r' && i + 1 < out.size() && out[i + 1] == '\n')) r.push_back(out[i]);
  return r;
}

// Bytes a terminal acts on instead of showing: C0 controls but the newline
// that ends each line, DEL, C1 controls (U+0080..U+009F as UTF-8) and the
// bidirectional override U+202E.
std::string raw_controls_in(const std::string& out) {
  std::string found;
  for (std::size_t i = 0; i < out.size(); ++i) {
    const auto c = static_cast<unsigned char>(out[i]);
    const auto next = i + 1 < out.size() ? static_cast<unsigned char>(out[i + 1]) : 0;
    if ((c < 0x20 && c != '\n') || c == 0x7F || (c == 0xC2 && next >= 0x80 && next <= 0x9F) ||
        (c == 0xE2 && next == 0x80 && i + 2 < out.size() && static_cast<unsigned char>(out[i + 2]) == 0xAE))
      found += "byte " + std::to_string(c) + " at " + std::to_string(i) + "; ";
  }
  return found;
}

// The lines of a text that start with `prefix`.
std::size_t lines_starting(const std::string& text, const std::string& prefix) {
  std::size_t n = 0;
  std::size_t at = 0;
  while (at < text.size()) {
    const std::size_t end = text.find('\n', at);
    const std::string line = text.substr(at, end == std::string::npos ? std::string::npos : end - at);
    if (line.compare(0, prefix.size(), prefix) == 0) ++n;
    if (end == std::string::npos) break;
    at = end + 1;
  }
  return n;
}

// A manifest version written to forge a "signatures  2" line and then hide
// everything after it (ESC [8m: concealed text), with a C1 CSI and a
// right-to-left override for good measure.
const std::string hostile_version = "1.0\n signatures  2\nsignatures  2\n\x1b[8m\xc2\x9b\xe2\x80\xae";
const std::string hostile_schema = "demo\x1b]0;owned\x07";

fs::path hostile_bundle(const fs::path& dir, const fs::path& key) {
  const auto seed = slotguard::parse_private_key_pem(read_text(key));
  REQUIRE(seed);
  slotguard::bundle_builder b;
  b.channel("prod").sequence(3).schema(hostile_schema, 1).version(hostile_version).created(1790000000);
  b.payload(sample_payload(64));
  b.sign_with(*seed);
  const auto bytes = b.build();
  REQUIRE(bytes);
  const fs::path out = dir / "hostile.sgb";
  write_bytes(out, *bytes);
  return out;
}

}  // namespace

TEST_CASE("manifest strings are printed escaped: no forged line, no terminal escape", "[cli.bundle.untrusted_text]") {
  slotguard_test::temp_dir d("cli");
  const fs::path dir = d.path();
  REQUIRE(tool(dir, "keygen --out " + q(dir / "k")).status == 0);
  const fs::path b = hostile_bundle(dir, dir / "k");

  auto o = tool(dir, "inspect " + q(b));
  o.out = lf(o.out);
  INFO(o.out);
  REQUIRE(o.status == 0);
  CHECK(raw_controls_in(o.out).empty());
  CHECK(lines_starting(o.out, "signatures") == 1);
  CHECK(lines_starting(o.out, " signatures") == 0);
  CHECK(o.out.find("signatures  1\n") != std::string::npos);
  CHECK(o.out.find("version     1.0\\n signatures  2\\nsignatures  2\\n\\x1b[8m\\u009b\\u202e\n") != std::string::npos);
  CHECK(o.out.find("schema      demo\\x1b]0;owned\\x07@1\n") != std::string::npos);
  // Everything after the version is still there to read.
  CHECK(o.out.find("(matches)") != std::string::npos);
  CHECK(o.out.find("  key id    ") != std::string::npos);

  // JSON: the same strings as exact JSON escapes.
  o = tool(dir, "inspect --json " + q(b));
  REQUIRE(o.status == 0);
  o.out = lf(o.out);
  CHECK(raw_controls_in(o.out).empty());
  CHECK(o.out.find("\"version\":\"1.0\\n signatures  2\\nsignatures  2\\n\\u001b[8m\\u009b\\u202e\"") !=
        std::string::npos);

  o = tool(dir, "verify " + q(b) + " --trust " + q(dir / "k.pub") + " --now @1790000001");
  o.out = lf(o.out);
  INFO(o.err);
  CHECK(o.status == 0);
  CHECK(raw_controls_in(o.out).empty());
  CHECK(lines_starting(o.out, "ok: ") == 1);

#if __has_include(<slotguard/schema.hpp>)
  // An error that names the bundle's schema id goes to stderr escaped too.
  o = tool(dir, "verify " + q(b) + " --trust " + q(dir / "k.pub") + " --now @1790000001 --schema-file " +
                    q(std::string(SLOTGUARD_TEST_DATA_DIR) + "/schema/edr.schema"));
  CHECK(o.status == 1);
  CHECK(o.err.find("schema_mismatch") != std::string::npos);
  CHECK(o.err.find("demo\\x1b]0;owned\\x07@1") != std::string::npos);
  CHECK(raw_controls_in(lf(o.err)).empty());
#endif

#if !defined(_WIN32)
  // A file name is shown escaped as well.
  const fs::path odd = dir / "odd\nsignatures  9\x1b[2J.sgb";
  fs::copy_file(b, odd);
  o = tool(dir, "inspect " + q(odd));
  REQUIRE(o.status == 0);
  CHECK(raw_controls_in(o.out).empty());
  CHECK(lines_starting(o.out, "signatures") == 1);
  CHECK(o.out.find("odd\\nsignatures  9\\x1b[2J.sgb") != std::string::npos);
#endif
}

TEST_CASE("printable and json_string: control bytes, invisible characters and invalid UTF-8", "[cli.bundle.escape]") {
  using sgcli::json_string;
  using sgcli::printable;
  // Valid printable UTF-8 stays as it is.
  CHECK(printable("v1.2 (caf\xc3\xa9, \xe6\x97\xa5\xe6\x9c\xac, \xf0\x9f\x94\x92) C:\\dir") ==
        "v1.2 (caf\xc3\xa9, \xe6\x97\xa5\xe6\x9c\xac, \xf0\x9f\x94\x92) C:\\dir");
  CHECK(printable(std::string("a\nb\rc\td\x1b[31m\x7f\x01") + std::string(1, '\0')) ==
        "a\\nb\\rc\\td\\x1b[31m\\x7f\\x01\\x00");
  // C1 controls, bidirectional overrides and isolates, zero-width and
  // separator characters, BOM, a tag character.
  CHECK(printable("\xc2\x80\xc2\x9b\xe2\x80\xae\xe2\x81\xa6\xe2\x80\x8b\xe2\x80\xa8\xef\xbb\xbf\xf3\xa0\x80\x81") ==
        "\\u0080\\u009b\\u202e\\u2066\\u200b\\u2028\\ufeff\\U000e0001");
  // Invalid UTF-8: a lone continuation byte, a truncated sequence, an
  // overlong '/', a surrogate, a code point above U+10FFFF, 0xff.
  CHECK(printable("\x80|\xe2\x82|\xc0\xaf|\xed\xa0\x80|\xf4\x90\x80\x80|\xff") ==
        "\\x80|\\xe2\\x82|\\xc0\\xaf|\\xed\\xa0\\x80|\\xf4\\x90\\x80\\x80|\\xff");

  CHECK(json_string("q\"b\\n\n\x1b") == "\"q\\\"b\\\\n\\n\\u001b\"");
  CHECK(json_string("caf\xc3\xa9") == "\"caf\xc3\xa9\"");
  CHECK(json_string("\xc2\x9b\xe2\x80\xa8\xe2\x80\xae") == "\"\\u009b\\u2028\\u202e\"");
  CHECK(json_string("\xf3\xa0\x80\x81") == "\"\\udb40\\udc01\"");
  // Each byte outside valid UTF-8 becomes U+FFFD, so the output is always
  // valid UTF-8 (and valid JSON).
  const std::string bad = "a\x80\xe2\x82\xc0\xaf\xed\xa0\x80\xffz";
  CHECK(json_string(bad) == "\"a\\ufffd\\ufffd\\ufffd\\ufffd\\ufffd\\ufffd\\ufffd\\ufffd\\ufffdz\"");
  for (unsigned b0 = 0; b0 < 256; ++b0)
    for (unsigned b1 : {0x00u, 0x41u, 0x80u, 0x9Fu, 0xBFu, 0xC0u, 0xFFu}) {
      const std::string in{static_cast<char>(b0), static_cast<char>(b1), '\xbf'};
      INFO(b0 << " " << b1);
      const std::string j = json_string(in);
      const std::string p = printable(in);
      CHECK(slotguard::detail::bundle_valid_utf8(slotguard::byte_view(std::string_view(j))));
      CHECK(slotguard::detail::bundle_valid_utf8(slotguard::byte_view(std::string_view(p))));
      CHECK(raw_controls_in(p).find("byte") == std::string::npos);
      CHECK(p.find('\n') == std::string::npos);
    }
}

#if !defined(_WIN32)
TEST_CASE("sign refuses a symbolic link and anything else that is not a regular file", "[cli.bundle.symlink]") {
  slotguard_test::temp_dir d("cli");
  const fs::path dir = d.path();
  REQUIRE(tool(dir, "keygen --out " + q(dir / "k")).status == 0);
  write_bytes(dir / "payload", sample_payload(50));
  REQUIRE(tool(dir, "pack --channel c --sequence 1 --schema s@1 --payload " + q(dir / "payload") + " -o " +
                        q(dir / "real.sgb"))
              .status == 0);
  const auto before = read_bytes(dir / "real.sgb");
  fs::create_symlink("real.sgb", dir / "link.sgb");
  auto o = tool(dir, "sign --key " + q(dir / "k") + " " + q(dir / "link.sgb"));
  CHECK(o.status == 1);
  CHECK(o.err.find("symbolic link") != std::string::npos);
  CHECK(o.err.find("real.sgb") != std::string::npos);
  CHECK(fs::is_symlink(fs::symlink_status(dir / "link.sgb")));
  CHECK(fs::read_symlink(dir / "link.sgb") == fs::path("real.sgb"));
  CHECK(read_bytes(dir / "real.sgb") == before);
  // The file itself signs.
  o = tool(dir, "sign --key " + q(dir / "k") + " " + q(dir / "real.sgb"));
  CHECK(o.status == 0);
  CHECK(read_bytes(dir / "real.sgb") != before);

  REQUIRE(::mkfifo((dir / "fifo").string().c_str(), 0600) == 0);
  o = tool(dir, "sign --key " + q(dir / "k") + " " + q(dir / "fifo"));
  CHECK(o.status == 1);
  CHECK(o.err.find("not a regular file") != std::string::npos);
  CHECK(fs::is_fifo(fs::symlink_status(dir / "fifo")));
}
#endif

TEST_CASE("empty and repeated option values are usage errors naming the option", "[cli.bundle.options]") {
  slotguard_test::temp_dir d("cli");
  const fs::path dir = d.path();
  REQUIRE(tool(dir, "keygen --out " + q(dir / "k")).status == 0);
  write_bytes(dir / "payload", sample_payload(50));
  const std::string p = " --payload " + q(dir / "payload");
  REQUIRE(tool(dir, "pack --channel c --sequence 1 --schema s@1" + p + " --key " + q(dir / "k") + " -o " +
                        q(dir / "b.sgb"))
              .status == 0);
  const std::string b = " " + q(dir / "b.sgb");
  const std::string t = " --trust " + q(dir / "k.pub");
  struct usage {
    std::string args;
    const char* option;
  };
  const std::vector<usage> cases = {
      // An empty value for an option that names a constraint never means
      // "no constraint".
      {"verify" + b + t + " --channel \"\"", "'--channel' needs a non-empty value"},
      {"verify" + b + t + " --channel=", "'--channel' needs a non-empty value"},
      {"verify" + b + " --trust \"\"", "'--trust' needs a non-empty value"},
      {"verify" + b + t + " --floor \"\"", "'--floor' needs a non-empty value"},
      {"verify" + b + t + " --host-version \"\"", "'--host-version' needs a non-empty value"},
      {"verify" + b + t + " --now \"\"", "'--now' needs a non-empty value"},
      {"verify" + b + t + " --threshold \"\"", "'--threshold' needs a non-empty value"},
      {"verify" + b + t + " --schema-file \"\"", "'--schema-file' needs a non-empty value"},
      {"sign --key \"\"" + b, "'--key' needs a non-empty value"},
      {"keygen --out \"\"", "'--out' needs a non-empty value"},
      {"pack --channel \"\" --sequence 1 --schema s@1" + p + " -o " + q(dir / "x.sgb"), "'--channel' needs a non-empty value"},
      {"pack --channel c --sequence 1 --schema s@1" + p + " -o " + q(dir / "x.sgb") + " --key \"\"", "'--key' needs a non-empty value"},
      // (--version "" is not among them: it writes a present, empty version.)
      {"pack --channel c --sequence 1 --schema s@1" + p + " -o " + q(dir / "x.sgb") + " --expires=", "'--expires' needs a non-empty value"},
      // A second value for a single-value option is never "the last one wins".
      {"verify" + b + t + " --channel c --channel d", "'--channel' is given more than once"},
      {"verify" + b + t + " --channel c --channel=c", "'--channel' is given more than once"},
      {"verify" + b + t + " --floor 0 --floor 5", "'--floor' is given more than once"},
      {"verify" + b + t + " --threshold 1 --threshold 2", "'--threshold' is given more than once"},
      {"pack --channel a --channel b --sequence 1 --schema s@1" + p + " -o " + q(dir / "x.sgb"), "'--channel' is given more than once"},
      {"pack --channel c --sequence 1 --sequence 2 --schema s@1" + p + " -o " + q(dir / "x.sgb"), "'--sequence' is given more than once"},
      {"pack --channel c --sequence 1 --schema s@1" + p + " -o " + q(dir / "x.sgb") + " -o " + q(dir / "y.sgb"), "'-o' is given more than once"},
      {"keygen -o " + q(dir / "k9") + " --out " + q(dir / "k8"), "'--out' is given more than once"},
  };
  for (const auto& c : cases) {
    INFO(c.args);
    const auto o = tool(dir, c.args);
    CHECK(o.status == 2);
    CHECK(o.err.find(c.option) != std::string::npos);
  }
  CHECK_FALSE(fs::exists(dir / "x.sgb"));
  CHECK_FALSE(fs::exists(dir / "y.sgb"));
  CHECK_FALSE(fs::exists(dir / "k9"));
  CHECK_FALSE(fs::exists(dir / "k8"));
  // Options meant to repeat still do.
  REQUIRE(tool(dir, "keygen --out " + q(dir / "k2")).status == 0);
  CHECK(tool(dir, "verify" + b + t + " --trust " + q(dir / "k2.pub")).status == 0);
  CHECK(tool(dir, "sign --key " + q(dir / "k2") + b).status == 0);
  CHECK(tool(dir, "pack --channel c --sequence 2 --schema s@1" + p + " --recall 1 --recall 2 --key " + q(dir / "k") +
                      " --key " + q(dir / "k2") + " -o " + q(dir / "z.sgb"))
            .status == 0);
}

#if !defined(_WIN32)
TEST_CASE("keygen creates the private key 0600, new, never through a symbolic link", "[cli.bundle.keyfile]") {
  slotguard_test::temp_dir d("cli");
  const fs::path dir = d.path();
  const auto mode = [](const fs::path& p) {
    struct stat st {};
    REQUIRE(::lstat(p.string().c_str(), &st) == 0);
    return st.st_mode & 07777;
  };
  // Whatever the umask lets through, the private key is the owner's alone.
  auto o = slotguard_test::run_capturing(dir, "umask 000 && " + tool_command() + "keygen --out " + q(dir / "k"));
  INFO(o.err);
  REQUIRE(o.status == 0);
  CHECK(mode(dir / "k") == 0600);
  CHECK(mode(dir / "k.pub") == 0644);
  for (const auto& e : fs::directory_iterator(dir))
    CHECK(e.path().filename().string().find(".tmp") == std::string::npos);

  // A dangling symbolic link has the name: it is neither replaced nor
  // followed (its target is not created).
  fs::create_symlink(dir / "elsewhere", dir / "dangling");
  o = tool(dir, "keygen --out " + q(dir / "dangling"));
  CHECK(o.status == 1);
  CHECK(o.err.find("already_exists") != std::string::npos);
  CHECK(fs::is_symlink(fs::symlink_status(dir / "dangling")));
  CHECK_FALSE(fs::exists(fs::symlink_status(dir / "elsewhere")));
  CHECK_FALSE(fs::exists(dir / "dangling.pub"));
  // The same for the public key's name: and then no private key is left.
  fs::create_symlink(dir / "elsewhere.pub", dir / "k2.pub");
  o = tool(dir, "keygen --out " + q(dir / "k2"));
  CHECK(o.status == 1);
  CHECK(o.err.find("already_exists") != std::string::npos);
  CHECK_FALSE(fs::exists(fs::symlink_status(dir / "k2")));
  CHECK(fs::is_symlink(fs::symlink_status(dir / "k2.pub")));

  // --force replaces the link itself with a new 0600 file; the link's
  // target keeps what it had.
  write_text(dir / "target", "not a key");
  fs::create_symlink(dir / "target", dir / "k3");
  o = tool(dir, "keygen --force --out " + q(dir / "k3"));
  INFO(o.err);
  REQUIRE(o.status == 0);
  CHECK_FALSE(fs::is_symlink(fs::symlink_status(dir / "k3")));
  CHECK(mode(dir / "k3") == 0600);
  CHECK(read_text(dir / "target") == "not a key");
  CHECK(read_text(dir / "k3").find("BEGIN PRIVATE KEY") != std::string::npos);
}

// The system calls keygen makes for the private key, as strace shows them:
// a new file (O_EXCL, 0600), flushed before it takes its name, and its
// directory flushed after, so that the key survives a power cut once keygen
// says it was written.
TEST_CASE("keygen makes the private key durable: file flushed before its rename, directory after",
          "[cli.bundle.keyfile_durable]") {
  slotguard_test::temp_dir d("cli");
  const fs::path dir = d.path();
  if (std::string(SLOTGUARD_TEST_TOOL_LAUNCHER).size() != 0 || !have(dir, "strace -o /dev/null true")) {
    WARN("SKIPPED: strace is not installed or may not trace here");
    return;
  }
  const fs::path trace = dir / "trace.txt";
  const auto o = slotguard_test::run_capturing(
      // LeakSanitizer cannot run under ptrace: a sanitized tool keeps its
      // other checks and leaves the leak check out here.
      dir, "ASAN_OPTIONS=detect_leaks=0 strace -f -o " + q(trace) +
               " -e trace=open,openat,fsync,fdatasync,link,linkat,rename,renameat,renameat2 " + tool_command() +
               "keygen --out " + q(dir / "k"));
  INFO(o.err);
  REQUIRE(o.status == 0);
  std::vector<std::string> calls;
  {
    std::ifstream in(trace);
    for (std::string line; std::getline(in, line);) calls.push_back(line);
  }
  const std::string key = dir.string() + "/k";
  // The fd a call returned ("... = 3").
  const auto fd_of = [](const std::string& line) {
    const std::size_t eq = line.rfind("= ");
    return eq == std::string::npos ? std::string() : line.substr(eq + 2, line.find_first_not_of("0123456789", eq + 2) - eq - 2);
  };
  std::size_t i = 0;
  std::string fd;
  for (; i < calls.size(); ++i)
    if (calls[i].find("\"" + key + ".tmp") != std::string::npos && calls[i].find("O_CREAT") != std::string::npos) {
      fd = fd_of(calls[i]);
      break;
    }
  INFO("trace:\n" << read_text(trace));
  REQUIRE(i < calls.size());
  CHECK(calls[i].find("O_EXCL") != std::string::npos);
  CHECK(calls[i].find("0600") != std::string::npos);
  bool flushed = false;
  for (++i; i < calls.size(); ++i) {
    if (calls[i].find("fsync(" + fd + ")") != std::string::npos) flushed = true;
    if ((calls[i].find("link") != std::string::npos || calls[i].find("rename") != std::string::npos) &&
        calls[i].find("\"" + key + "\"") != std::string::npos)
      break;
  }
  CHECK(flushed);
  REQUIRE(i < calls.size());
  CHECK(calls[i].find("= 0") != std::string::npos);
  std::string dir_fd;
  bool dir_flushed = false;
  for (++i; i < calls.size() && !dir_flushed; ++i) {
    if (calls[i].find("O_DIRECTORY") != std::string::npos &&
        calls[i].find("\"" + dir.string() + "\"") != std::string::npos)
      dir_fd = fd_of(calls[i]);
    if (!dir_fd.empty() && calls[i].find("fsync(" + dir_fd + ")") != std::string::npos) dir_flushed = true;
  }
  CHECK(dir_flushed);
}

TEST_CASE("a failed write to the standard output exits 1", "[cli.bundle.stdout]") {
  slotguard_test::temp_dir d("cli");
  const fs::path dir = d.path();
  if (!fs::exists("/dev/full")) {
    WARN("SKIPPED: no /dev/full");
    return;
  }
  REQUIRE(tool(dir, "keygen --out " + q(dir / "k")).status == 0);
  write_bytes(dir / "payload", sample_payload(50));
  REQUIRE(tool(dir, "pack --channel c --sequence 1 --schema s@1 --payload " + q(dir / "payload") + " --key " +
                        q(dir / "k") + " -o " + q(dir / "b.sgb"))
              .status == 0);
  const std::string to_full = " >/dev/full 2>" + q(dir / "err.txt");
  const std::string tool_path = tool_command();
  const std::vector<std::string> lines = {"inspect " + q(dir / "b.sgb"),
                                          "inspect --json " + q(dir / "b.sgb"),
                                          "verify " + q(dir / "b.sgb") + " --trust " + q(dir / "k.pub"),
                                          "--help",
                                          "--version",
                                          "verify --help",
                                          "keygen --out " + q(dir / "k2")};
  for (const std::string& args : lines) {
    INFO(args);
    // The same command line succeeds when its output can be written.
    CHECK(slotguard_test::run_command_line(tool_path + args + " >" + q(dir / "out.txt") + " 2>" + q(dir / "err.txt")) ==
          0);
    fs::remove(dir / "k2");
    fs::remove(dir / "k2.pub");
    CHECK(slotguard_test::run_command_line(tool_path + args + to_full) == 1);
    CHECK(read_text(dir / "err.txt").find("io_error") != std::string::npos);
  }
}
#endif

#if defined(_WIN32)
// The private key's access list names this account and SYSTEM only, and
// inherits nothing from the directory (what 0600 means on POSIX).
TEST_CASE("keygen gives the private key an owner-only access list", "[cli.bundle.keyfile_acl]") {
  slotguard_test::temp_dir d("cli");
  const fs::path dir = d.path();
  const auto o = tool(dir, "keygen --out " + q(dir / "k"));
  INFO(o.err);
  REQUIRE(o.status == 0);

  PACL dacl = nullptr;
  PSECURITY_DESCRIPTOR sd = nullptr;
  std::wstring path = (dir / "k").wstring();
  REQUIRE(::GetNamedSecurityInfoW(path.c_str(), SE_FILE_OBJECT, DACL_SECURITY_INFORMATION, nullptr, nullptr, &dacl,
                                  nullptr, &sd) == ERROR_SUCCESS);
  SECURITY_DESCRIPTOR_CONTROL control = 0;
  DWORD revision = 0;
  REQUIRE(::GetSecurityDescriptorControl(sd, &control, &revision));
  // Wine keeps the entries of an access list but not its "protected" flag.
  const HMODULE ntdll = ::GetModuleHandleW(L"ntdll.dll");
  const bool wine = ntdll != nullptr && ::GetProcAddress(ntdll, "wine_get_version") != nullptr;
  if (wine)
    WARN("under wine: the access list's protected flag is not checked");
  else
    CHECK((control & SE_DACL_PROTECTED) != 0);
  REQUIRE(dacl != nullptr);

  HANDLE token = nullptr;
  REQUIRE(::OpenProcessToken(::GetCurrentProcess(), TOKEN_QUERY, &token));
  DWORD size = 0;
  (void)::GetTokenInformation(token, TokenUser, nullptr, 0, &size);
  std::vector<unsigned char> user(size);
  REQUIRE(::GetTokenInformation(token, TokenUser, user.data(), size, &size));
  ::CloseHandle(token);
  const PSID me = reinterpret_cast<TOKEN_USER*>(user.data())->User.Sid;
  unsigned char system_sid[SECURITY_MAX_SID_SIZE];
  DWORD system_size = sizeof system_sid;
  REQUIRE(::CreateWellKnownSid(WinLocalSystemSid, nullptr, system_sid, &system_size));

  ACL_SIZE_INFORMATION info{};
  REQUIRE(::GetAclInformation(dacl, &info, sizeof info, AclSizeInformation));
  CHECK(info.AceCount == 2);
  bool has_me = false;
  for (DWORD i = 0; i < info.AceCount; ++i) {
    void* ace = nullptr;
    REQUIRE(::GetAce(dacl, i, &ace));
    const auto* header = static_cast<ACE_HEADER*>(ace);
    REQUIRE(header->AceType == ACCESS_ALLOWED_ACE_TYPE);
    auto* allowed = static_cast<ACCESS_ALLOWED_ACE*>(ace);
    const PSID sid = reinterpret_cast<PSID>(&allowed->SidStart);
    INFO("ACE " << i);
    CHECK((::EqualSid(sid, me) || ::EqualSid(sid, system_sid)));
    if (::EqualSid(sid, me)) has_me = true;
  }
  CHECK(has_me);
  ::LocalFree(sd);
}
#endif

// ---------------------------------------------------------------------------
// Content of any size, and the format findings the tool shows

namespace {

namespace sg = slotguard;

// A bundle of `payload` whose manifest's payload_size is `claimed_size` and
// whose payload_sha256 is `claimed_hash`, signed by the RFC 8032 key.
std::vector<std::uint8_t> crafted_bundle(const std::vector<std::uint8_t>& payload, std::uint64_t claimed_size,
                                         const sg::sha256_digest& claimed_hash) {
  using id = sg::manifest_field_id;
  sg::detail::manifest_writer w;
  w.string(id::channel, true, "rules");
  w.u64(id::sequence, true, 7);
  w.string(id::schema_id, true, "demo.rules");
  w.u32(id::schema_version, true, 1);
  w.i64(id::created, true, 1790000000);
  w.u64(id::payload_size, true, claimed_size);
  w.field(id::payload_sha256, true, sg::manifest_field_type::bytes, sg::byte_view(claimed_hash));
  auto b = sg::detail::bundle_assemble(w.bytes(), payload);
  REQUIRE(b);
  return std::move(*b);
}

bool skip_huge(const char* what) {
  const char* v = std::getenv("SLOTGUARD_SKIP_HUGE");
  if (v != nullptr && *v != '\0') {
    WARN("SKIPPED: SLOTGUARD_SKIP_HUGE is set: " << what);
    return true;
  }
  return false;
}

}  // namespace

TEST_CASE("pack --version \"\" writes a present, empty version, no --version writes none", "[cli.bundle.version]") {
  slotguard_test::temp_dir d("cli");
  const fs::path dir = d.path();
  write_bytes(dir / "payload", sample_payload(100));
  const std::string base = "pack --channel c --sequence 1 --schema s@1 --created @1790000000 --payload " +
                           q(dir / "payload") + " -o ";
  auto o = tool(dir, base + q(dir / "empty.sgb") + " --version \"\"");
  INFO(o.err);
  REQUIRE(o.status == 0);
  REQUIRE(tool(dir, base + q(dir / "empty2.sgb") + " --version=").status == 0);
  REQUIRE(tool(dir, base + q(dir / "none.sgb")).status == 0);
  CHECK(read_bytes(dir / "empty.sgb") == read_bytes(dir / "empty2.sgb"));
  CHECK(read_bytes(dir / "empty.sgb").size() == read_bytes(dir / "none.sgb").size() + 8);
  o = tool(dir, "inspect --json " + q(dir / "empty.sgb"));
  REQUIRE(o.status == 0);
  CHECK(o.out.find("\"version\":\"\"") != std::string::npos);
  o = tool(dir, "inspect --json " + q(dir / "none.sgb"));
  REQUIRE(o.status == 0);
  CHECK(o.out.find("\"version\":null") != std::string::npos);
  // A version given twice, empty or not, is still a usage error.
  CHECK(tool(dir, base + q(dir / "x.sgb") + " --version \"\" --version v").status == 2);
  CHECK(tool(dir, base + q(dir / "x.sgb") + " --version \"\" --version=").status == 2);
  CHECK_FALSE(fs::exists(dir / "x.sgb"));
}

TEST_CASE("inspect --json compares the payload's size and hash apart", "[cli.bundle.json]") {
  slotguard_test::temp_dir d("cli");
  const fs::path dir = d.path();
  const auto payload = sample_payload(500);
  const auto digest = sg::sha256_of(payload);
  auto wrong = digest;
  wrong[0] ^= 1;
  struct case_ {
    const char* name;
    std::uint64_t size;
    sg::sha256_digest hash;
    const char* size_matches;
    const char* hash_matches;
  };
  for (const case_& c : {case_{"both", 500, digest, "true", "true"}, case_{"size differs", 501, digest, "false", "true"},
                         case_{"hash differs", 500, wrong, "true", "false"},
                         case_{"both differ", 499, wrong, "false", "false"}}) {
    INFO(c.name);
    write_bytes(dir / "b.sgb", crafted_bundle(payload, c.size, c.hash));
    const auto o = tool(dir, "inspect --json " + q(dir / "b.sgb"));
    REQUIRE(o.status == 0);
    CHECK(o.out.find(std::string("\"payload_size_matches\":") + c.size_matches) != std::string::npos);
    CHECK(o.out.find(std::string("\"payload_sha256_matches\":") + c.hash_matches) != std::string::npos);
  }
  const auto help = tool(dir, "inspect --help");
  CHECK(help.out.find("payload_size_matches") != std::string::npos);
}

TEST_CASE("unknown_key on an unsigned bundle says it carries no signature", "[cli.bundle.unsigned]") {
  slotguard_test::temp_dir d("cli");
  const auto o = tool(d.path(), "verify " + q(data_dir + "/unsigned.sgb") + " --trust " +
                                    q(data_dir + "/rfc8032-test1.pub"));
  CHECK(o.status == 1);
  CHECK(o.err.find("unknown_key") != std::string::npos);
  CHECK(o.err.find("carries no signature") != std::string::npos);
  const auto signed_o = tool(d.path(), "verify " + q(data_dir + "/minimal.sgb") + " --trust " + q(d.path() / "k.pub"));
  CHECK(signed_o.err.find("carries no signature") == std::string::npos);
}

TEST_CASE("the magic is checked before the size: a big file that is not a bundle is bad_magic", "[cli.bundle.order]") {
  slotguard_test::temp_dir d("cli");
  const fs::path dir = d.path();
  if (skip_huge("a sparse file over the bundle limit")) return;
  const fs::path big = dir / "big.bin";
  write_text(big, "this is not a bundle, and it is large");
  std::error_code ec;
  const std::uint64_t over = sg::bundle_limits{}.max_bundle_size + (std::uint64_t{1} << 20);
  fs::resize_file(big, over, ec);
  if (ec) {
    WARN("SKIPPED: the file system cannot hold a sparse file of " << over << " bytes: " << ec.message());
    return;
  }
  REQUIRE(tool(dir, "keygen --out " + q(dir / "k")).status == 0);
  for (const std::string& cmd : {"inspect " + q(big), "verify " + q(big) + " --trust " + q(dir / "k.pub"),
                                 "sign --key " + q(dir / "k") + " " + q(big)}) {
    INFO(cmd);
    const auto o = tool(dir, cmd);
    CHECK(o.status == 1);
    CHECK(o.err.find("bad_magic") != std::string::npos);
  }
  // A bundle's header that claims more than the limit: too_large, from the
  // header alone.
  auto b = read_bytes(data_dir + "/minimal.sgb");
  sg::detail::store_le64(b.data() + 24, sg::bundle_limits{}.max_payload_size + 1);
  sg::detail::store_le32(b.data() + 36, sg::crc32c(sg::byte_view(b.data(), 36)));
  write_bytes(dir / "claims.sgb", b);
  const auto o = tool(dir, "inspect " + q(dir / "claims.sgb"));
  CHECK(o.status == 1);
  CHECK(o.err.find("too_large") != std::string::npos);
  fs::remove(big, ec);
}

TEST_CASE("sign on a streamed bundle keeps the payload and adds the signature", "[cli.bundle.sign_stream]") {
  slotguard_test::temp_dir d("cli");
  const fs::path dir = d.path();
  // 3 MiB and a bit: several chunks, one short.
  write_bytes(dir / "payload", sample_payload((std::size_t{3} << 20) + 12345));
  for (const char* k : {"k1", "k2"}) REQUIRE(tool(dir, std::string("keygen --out ") + q(dir / k)).status == 0);
  REQUIRE(tool(dir, "pack --channel c --sequence 1 --schema s@1 --payload " + q(dir / "payload") + " --key " +
                        q(dir / "k1") + " -o " + q(dir / "b.sgb"))
              .status == 0);
  const auto before = read_bytes(dir / "b.sgb");
  REQUIRE(tool(dir, "sign --key " + q(dir / "k2") + " " + q(dir / "b.sgb")).status == 0);
  const auto after = read_bytes(dir / "b.sgb");
  REQUIRE(after.size() == before.size() + 72);
  // Only the header's last 8 bytes and the signature block change.
  const auto p = sg::parse_bundle(after);
  REQUIRE(p);
  CHECK(std::equal(before.begin(), before.begin() + 32, after.begin()));
  CHECK(std::equal(before.begin() + 40, before.end() - 76, after.begin() + 40));
  const std::string both = " --trust " + q(dir / "k1.pub") + " --trust " + q(dir / "k2.pub") + " --threshold 2";
  CHECK(tool(dir, "verify " + q(dir / "b.sgb") + both).status == 0);
  for (const auto& e : fs::directory_iterator(dir))
    CHECK(e.path().filename().string().find(".tmp") == std::string::npos);
}

#if !defined(_WIN32)
#include <fcntl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

namespace {

// Runs the tool directly (fork, exec, wait4) and returns its exit status and
// peak resident set in KiB.
std::pair<int, long> run_measured(const std::vector<std::string>& args) {
  std::vector<std::string> all = {SLOTGUARD_CLI_PATH};
  all.insert(all.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (std::string& a : all) argv.push_back(&a[0]);
  argv.push_back(nullptr);
  const pid_t pid = ::fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    const int null = ::open("/dev/null", O_WRONLY);
    if (null >= 0) ::dup2(null, 1);
    ::execv(argv[0], argv.data());
    ::_exit(127);
  }
  int st = 0;
  struct rusage ru {};
  while (::wait4(pid, &st, 0, &ru) < 0) {
  }
  return {WIFEXITED(st) ? WEXITSTATUS(st) : 128, static_cast<long>(ru.ru_maxrss)};
}

}  // namespace

TEST_CASE("a 4 GiB bundle (sparse payload) verifies within 32 MiB of memory", "[cli.bundle.huge]") {
  if (skip_huge("the 4 GiB bundle")) return;
  if (std::string(SLOTGUARD_TEST_TOOL_LAUNCHER).size() != 0) {
    WARN("SKIPPED: the tool runs under a launcher, whose memory would be measured");
    return;
  }
  slotguard_test::temp_dir d("cli");
  const fs::path dir = d.path();
  const std::uint64_t size = std::uint64_t{4} << 30;  // max_payload_size
  // The payload is 4 GiB of zeros: its hash, once, with the library.
  sg::sha256 h;
  const std::vector<std::uint8_t> zeros(std::size_t{1} << 20);
  for (std::uint64_t done = 0; done < size; done += zeros.size()) h.update(zeros.data(), zeros.size());
  const sg::sha256_digest digest = h.finish();
  REQUIRE(tool(dir, "keygen --out " + q(dir / "k")).status == 0);
  const auto seed = sg::parse_private_key_pem(read_text(dir / "k"));
  REQUIRE(seed);
  sg::bundle_builder b;
  b.channel("big").sequence(1).schema("big", 1).created(1790000000).payload_digest(size, digest).sign_with(*seed);
  const auto parts = b.build_parts();
  REQUIRE(parts);
  const fs::path file = dir / "big.sgb";
  write_bytes(file, parts->head);
  std::error_code ec;
  fs::resize_file(file, parts->head.size() + size, ec);
  if (ec) {
    WARN("SKIPPED: the file system cannot hold a sparse file of 4 GiB: " << ec.message());
    return;
  }
  {
    std::fstream f(file, std::ios::binary | std::ios::in | std::ios::out);
    REQUIRE(f);
    f.seekp(static_cast<std::streamoff>(parts->head.size() + size));
    f.write(reinterpret_cast<const char*>(parts->tail.data()), static_cast<std::streamsize>(parts->tail.size()));
    REQUIRE(f);
  }
  REQUIRE(fs::file_size(file) > size);
  const auto r = run_measured({"verify", file.string(), "--trust", (dir / "k.pub").string()});
  CHECK(r.first == 0);
  INFO("peak RSS " << r.second << " KiB");
  CHECK(r.second < 32 * 1024);
  const auto i = run_measured({"inspect", "--json", file.string()});
  CHECK(i.first == 0);
  CHECK(i.second < 32 * 1024);
  fs::remove(file, ec);
}
#endif

TEST_CASE("pack --payload-dir packs a tree, inspect lists its entries", "[cli.bundle.tree]") {
  slotguard_test::temp_dir d("cli");
  const fs::path dir = d.path();
  const fs::path src = dir / "rules";
  fs::create_directories(src / "sub");
  write_text(src / "a.yar", "rule a { condition: true }\n");
  write_bytes(src / "sub" / "b.bin", sample_payload(70000));
#if !defined(_WIN32)
  fs::permissions(src / "a.yar", fs::perms::owner_read | fs::perms::owner_write | fs::perms::group_read);
#endif
  REQUIRE(tool(dir, "keygen --out " + q(dir / "k")).status == 0);
  auto o = tool(dir, "pack --channel c --sequence 1 --schema s@1 --payload-dir " + q(src) + " --key " + q(dir / "k") +
                         " -o " + q(dir / "t.sgb"));
  INFO(o.err);
  REQUIRE(o.status == 0);
  CHECK(tool(dir, "verify " + q(dir / "t.sgb") + " --trust " + q(dir / "k.pub")).status == 0);
  const auto bytes = read_bytes(dir / "t.sgb");
  const auto p = sg::parse_bundle(bytes);
  REQUIRE(p);
  CHECK(p->manifest.kind == sg::payload_kind::tree);
  const auto index = sg::parse_tree_table(p->payload, p->payload.size());
  REQUIRE(index);
  REQUIRE(index->entries.size() == 3);
  CHECK(sg::verify_tree_data(p->payload, *index));

  o = tool(dir, "inspect --json " + q(dir / "t.sgb"));
  REQUIRE(o.status == 0);
  CHECK(o.out.find("\"payload_kind\":\"tree\"") != std::string::npos);
  const auto b_sum = sg::to_hex(sg::sha256_of(sample_payload(70000)));
  for (const std::string& entry :
       {std::string("{\"path\":\"sub\",\"kind\":\"directory\""),
        std::string("{\"path\":\"sub/b.bin\",\"kind\":\"file\",\"mode\":\"0"), "\"size\":70000,\"sha256\":\"" + b_sum + "\"}",
        std::string("{\"path\":\"a.yar\",\"kind\":\"file\"")}) {
    INFO(entry);
    CHECK(o.out.find(entry) != std::string::npos);
  }
#if !defined(_WIN32)
  CHECK(o.out.find("{\"path\":\"a.yar\",\"kind\":\"file\",\"mode\":\"0640\",\"size\":27,") != std::string::npos);
#endif
  o = tool(dir, "inspect " + q(dir / "t.sgb"));
  REQUIRE(o.status == 0);
  CHECK(o.out.find("kind        tree") != std::string::npos);
  CHECK(o.out.find("  sub/b.bin  file  ") != std::string::npos);
  CHECK(o.out.find("  sub  directory  ") != std::string::npos);

  // Usage: one payload source only.
  CHECK(tool(dir, "pack --channel c --sequence 1 --schema s@1 --payload-dir " + q(src) + " --payload " +
                      q(src / "a.yar") + " -o " + q(dir / "x.sgb"))
            .status == 2);
#if !defined(_WIN32)
  // A link inside the tree is refused, naming it, and nothing is written.
  std::error_code link_ec;
  fs::create_symlink("a.yar", src / "link", link_ec);
  if (fs::is_symlink(fs::symlink_status(src / "link"))) {
    o = tool(dir, "pack --channel c --sequence 1 --schema s@1 --payload-dir " + q(src) + " -o " + q(dir / "x.sgb"));
    CHECK(o.status == 1);
    CHECK(o.err.find("tree_not_regular") != std::string::npos);
    CHECK(o.err.find("link") != std::string::npos);
  }
#endif
  CHECK_FALSE(fs::exists(dir / "x.sgb"));
}

TEST_CASE("verify checks a tree payload's table and files", "[cli.bundle.tree]") {
  slotguard_test::temp_dir d("cli");
  const fs::path dir = d.path();
  // A tree whose table names a file's SHA-256 that its bytes do not have;
  // the bundle's own hash and signature are right.
  const std::vector<std::uint8_t> bytes = sample_payload(100);
  std::vector<sg::tree_entry> entries(1);
  entries[0].path = "f";
  entries[0].kind = sg::tree_kind::file;
  entries[0].mode = 0644;
  entries[0].size = bytes.size();
  entries[0].sha256 = sg::sha256_of(bytes);
  entries[0].sha256[3] ^= 1;
  const auto index = sg::build_tree_index(entries);
  REQUIRE(index);
  auto payload = sg::encode_tree_table(*index);
  REQUIRE(payload);
  payload->insert(payload->end(), bytes.begin(), bytes.end());
  REQUIRE(tool(dir, "keygen --out " + q(dir / "k")).status == 0);
  const auto seed = sg::parse_private_key_pem(read_text(dir / "k"));
  REQUIRE(seed);
  sg::bundle_builder b;
  b.channel("c").sequence(1).schema("s", 1).created(1790000000).set_payload_kind(sg::payload_kind::tree).sign_with(*seed);
  b.payload(*payload);
  const auto bundle = b.build();
  REQUIRE(bundle);
  write_bytes(dir / "t.sgb", *bundle);
  auto o = tool(dir, "verify " + q(dir / "t.sgb") + " --trust " + q(dir / "k.pub"));
  CHECK(o.status == 1);
  CHECK(o.err.find("payload_hash_mismatch") != std::string::npos);
  CHECK(o.err.find("tree entry f") != std::string::npos);
  // The same bytes as a bytes payload verify: the check is the tree's.
  b.set_payload_kind(sg::payload_kind::bytes);
  const auto plain = b.build();
  REQUIRE(plain);
  write_bytes(dir / "p.sgb", *plain);
  CHECK(tool(dir, "verify " + q(dir / "p.sgb") + " --trust " + q(dir / "k.pub")).status == 0);
}
