// SPDX-License-Identifier: Apache-2.0
// The `slotguard` tool's bundle subcommands, driven as a user would: keygen,
// pack, sign, inspect and verify, their exit statuses (0, 1, 2), the JSON of
// inspect against sha256sum, keys made by openssl, and single-byte changes
// across a whole bundle.
#include <slotguard/bytes.hpp>

#include "support.hpp"

#include <catch2/catch.hpp>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#if !defined(_WIN32)
#include <sys/stat.h>
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
