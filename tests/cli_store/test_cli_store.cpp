// SPDX-License-Identifier: Apache-2.0
// The `slotguard` tool's store subcommands, driven as an operator would:
// apply, status (text and --json), confirm, revert and rollback on a real
// store directory, their exit statuses (0, 1, 2), and that the tool never
// counts a process start against a trial.
#include <slotguard/bundle.hpp>
#include <slotguard/bytes.hpp>
#include <slotguard/hash.hpp>
#include <slotguard/pem.hpp>

#include "support.hpp"

#include <catch2/catch.hpp>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>


namespace fs = std::filesystem;
namespace sg = slotguard;

namespace {

using outcome = slotguard_test::command_outcome;
using slotguard_test::read_text;

void write_text(const fs::path& p, const std::string& s) {
  std::ofstream out(p, std::ios::binary | std::ios::trunc);
  REQUIRE(out);
  out << s;
  REQUIRE(out);
}

std::string q(const fs::path& p) { return slotguard_test::quoted(p); }

outcome tool(const fs::path& dir, const std::string& args) {
  return slotguard_test::run_tool(SLOTGUARD_CLI_PATH, dir, args);
}

#if !defined(_WIN32)
// The tool as the start of a shell command line, for lines that redirect
// on their own.
std::string tool_command() {
  return std::string(SLOTGUARD_TEST_TOOL_LAUNCHER) + "\"" + slotguard_test::shell_program_path(SLOTGUARD_CLI_PATH) +
         "\" ";
}
#endif

// The text of a JSON value after "key": up to the next ',' or '}' at the
// same depth (enough for the flat values and small objects status prints).
std::string json_value(const std::string& json, const std::string& key) {
  const std::string needle = "\"" + key + "\":";
  const std::size_t at = json.find(needle);
  if (at == std::string::npos) return "<absent>";
  std::size_t i = at + needle.size();
  int depth = 0;
  const std::size_t start = i;
  for (; i < json.size(); ++i) {
    const char c = json[i];
    if (c == '{' || c == '[') ++depth;
    if (c == '}' || c == ']') {
      if (depth == 0) break;
      --depth;
    }
    if (c == ',' && depth == 0) break;
  }
  return json.substr(start, i - start);
}

// A store directory, a publisher key, and bundles packed by the tool.
struct setup {
  slotguard_test::temp_dir tmp{"cli-store"};
  fs::path dir = tmp.path();
  fs::path store = dir / "store";
  fs::path key = dir / "publisher";

  setup() { REQUIRE(tool(dir, "keygen --out " + q(key)).status == 0); }

  fs::path pack(std::uint64_t seq, const std::string& extra = "") {
    const fs::path payload = dir / ("payload-" + std::to_string(seq));
    write_text(payload, "content " + std::to_string(seq));
    const fs::path out = dir / ("b" + std::to_string(seq) + ".sgb");
    const auto o = tool(dir, "pack --channel rules --sequence " + std::to_string(seq) +
                                 " --schema test@1 --version v" + std::to_string(seq) + " --payload " +
                                 q(payload) + " -o " + q(out) + " --key " + q(key) + " " + extra);
    INFO(o.err);
    REQUIRE(o.status == 0);
    return out;
  }
  // The store serves channel "rules", the channel pack() writes.
  outcome apply(const fs::path& bundle, const std::string& extra = "", const std::string& channel = "rules") {
    return tool(dir, "apply --store " + q(store) + " --channel " + channel + " " + q(bundle) + " --trust " +
                         q(key.string() + ".pub") + " " + extra);
  }
  outcome run(const std::string& sub) { return tool(dir, sub + " --store " + q(store)); }
  std::string status_json() {
    const auto o = tool(dir, "status --json --store " + q(store));
    INFO(o.err);
    REQUIRE(o.status == 0);
    return o.out;
  }
};

}  // namespace

TEST_CASE("store subcommands have --help, usage errors exit 2", "[cli.store.usage]") {
  slotguard_test::temp_dir d("cli-store");
  for (const char* sub : {"apply", "status", "confirm", "revert", "rollback"}) {
    INFO(sub);
    const auto o = tool(d.path(), std::string(sub) + " --help");
    CHECK(o.status == 0);
    CHECK(o.out.find("usage: slotguard") != std::string::npos);
    CHECK(o.out.find("exit status") != std::string::npos);
    CHECK(tool(d.path(), sub).status == 2);  // no --store
  }
  const std::string s = " --store " + q(d.path() / "s");
  CHECK(tool(d.path(), "apply" + s + " --channel c b.sgb").status == 2);         // no --trust
  CHECK(tool(d.path(), "apply" + s + " --channel c --trust k.pub").status == 2);  // no bundle
  CHECK(tool(d.path(), "status --wait 3" + s).status == 2);  // --wait is for the commands that change it
  CHECK(tool(d.path(), "confirm --wait 3 --no-wait" + s).status == 2);
  CHECK(tool(d.path(), "status --schema-file f" + s).status == 2);
  CHECK(tool(d.path(), "confirm --device-id x" + s).status == 2);
  CHECK(tool(d.path(), "status" + s + " extra").status == 2);
}

TEST_CASE("apply, confirm, revert and rollback through the tool", "[cli.store.flow]") {
  setup t;
  // status only reads: a store that does not exist is not_found, named,
  // and not created.
  const auto missing = t.run("status");
  CHECK(missing.status == 1);
  CHECK(missing.err.find("not_found") != std::string::npos);
  CHECK(missing.err.find(t.store.string()) != std::string::npos);
  CHECK_FALSE(fs::exists(t.store));
  REQUIRE(fs::create_directory(t.store));
  const std::string empty = t.status_json();
  CHECK(json_value(empty, "state") == "\"empty\"");
  CHECK(json_value(empty, "active") == "null");
  CHECK(json_value(empty, "fallback") == "null");
  CHECK(json_value(empty, "quarantine") == "[]");
  CHECK(json_value(empty, "floor") == "0");

  const auto b1 = t.pack(1);
  auto o = t.apply(b1);
  INFO(o.err);
  REQUIRE(o.status == 0);
  std::string st = t.status_json();
  CHECK(json_value(st, "state") == "\"trial\"");
  CHECK(json_value(json_value(st, "active"), "sequence") == "1");
  CHECK(json_value(json_value(st, "active"), "payload_sha256") ==
        "\"" + sg::to_hex(sg::byte_view(sg::sha256_of(sg::byte_view(std::string("content 1"))))) + "\"");
  CHECK(json_value(st, "fallback") == "null");
  CHECK(json_value(st, "trial_starts") == "0");
  CHECK(json_value(st, "floor") == "0");

  REQUIRE(t.run("confirm").status == 0);
  st = t.status_json();
  CHECK(json_value(st, "state") == "\"committed\"");
  CHECK(json_value(st, "floor") == "1");
  CHECK(json_value(st, "channel") == "\"rules\"");
  CHECK(t.run("confirm").status == 1);  // no trial
  // Stored content is checked at rest against the keys given: with the
  // publisher's key it is served; without any, status says so.
  const auto trusted = tool(t.dir, "status --json --store " + q(t.store) + " --trust " + q(t.key.string() + ".pub"));
  REQUIRE(trusted.status == 0);
  CHECK(json_value(trusted.out, "load_error") == "null");
  CHECK(json_value(trusted.out, "trust_checked") == "true");
  CHECK(json_value(st, "trust_checked") == "false");
  o = t.run("status");
  CHECK(o.out.find("no --trust given") != std::string::npos);

  const auto b2 = t.pack(2);
  REQUIRE(t.apply(b2).status == 0);
  st = t.status_json();
  CHECK(json_value(st, "state") == "\"trial\"");
  CHECK(json_value(json_value(st, "active"), "sequence") == "2");
  CHECK(json_value(json_value(st, "fallback"), "sequence") == "1");
  REQUIRE(t.run("revert").status == 0);
  st = t.status_json();
  CHECK(json_value(st, "state") == "\"committed\"");
  CHECK(json_value(json_value(st, "active"), "sequence") == "1");
  CHECK(json_value(st, "quarantine") == "[2]");
  o = t.apply(b2);
  CHECK(o.status == 1);
  CHECK(o.err.find("quarantined") != std::string::npos);

  const auto b3 = t.pack(3);
  REQUIRE(t.apply(b3).status == 0);
  REQUIRE(t.run("confirm").status == 0);
  // rollback checks the fallback at rest, as the sensor would: it needs the keys.
  CHECK(t.run("rollback").status == 1);
  o = t.run("rollback --trust " + q(t.key.string() + ".pub"));
  INFO(o.err);
  REQUIRE(o.status == 0);
  st = t.status_json();
  CHECK(json_value(json_value(st, "active"), "sequence") == "1");
  CHECK(json_value(st, "floor") == "1");

  const auto text = t.run("status");
  CHECK(text.status == 0);
  CHECK(text.out.find("committed") != std::string::npos);
}

TEST_CASE("the tool never counts a process start against a trial", "[cli.store.operator]") {
  setup t;
  REQUIRE(t.apply(t.pack(1)).status == 0);
  for (int i = 0; i < 3; ++i) {
    const std::string st = t.status_json();
    CHECK(json_value(st, "state") == "\"trial\"");
    CHECK(json_value(st, "trial_starts") == "0");
  }
}

TEST_CASE("a rejected bundle leaves the store as it was", "[cli.store.reject]") {
  setup t;
  const fs::path other = t.dir / "other";
  REQUIRE(tool(t.dir, "keygen --out " + q(other)).status == 0);
  const auto b1 = t.pack(1);
  auto o = tool(t.dir, "apply --store " + q(t.store) + " --channel rules " + q(b1) + " --trust " +
                           q(other.string() + ".pub"));
  CHECK(o.status == 1);
  CHECK(o.err.find("unknown_key") != std::string::npos);
  CHECK(json_value(t.status_json(), "state") == "\"empty\"");
  // A bundle that does not parse.
  write_text(t.dir / "junk.sgb", "not a bundle");
  o = t.apply(t.dir / "junk.sgb");
  CHECK(o.status == 1);
  CHECK(o.err.find("bad_magic") != std::string::npos);
  CHECK(json_value(t.status_json(), "quarantine") == "[]");
}

TEST_CASE("apply takes the store's channel from the operator, never from the bundle", "[cli.store.channel]") {
  setup t;
  const auto b1 = t.pack(1);  // channel "rules"
  // Without --channel (or with an empty one) there is nothing to check the
  // bundle against: a usage error, and nothing is written.
  auto o = tool(t.dir, "apply --store " + q(t.store) + " " + q(b1) + " --trust " + q(t.key.string() + ".pub"));
  CHECK(o.status == 2);
  CHECK(o.err.find("--channel") != std::string::npos);
  o = t.apply(b1, "", "\"\"");
  CHECK(o.status == 2);
  CHECK(o.err.find("'--channel' needs a non-empty value") != std::string::npos);
  o = t.apply(b1, "--channel rules");
  CHECK(o.status == 2);
  CHECK(o.err.find("'--channel' is given more than once") != std::string::npos);
  o = t.apply(b1, "", "../rules");
  CHECK(o.status == 2);
  CHECK_FALSE(fs::exists(t.store));  // a usage error creates no store

  // A bundle of channel "rules" applied to a store opened for "edr".
  o = t.apply(b1, "", "edr");
  CHECK(o.status == 1);
  CHECK(o.err.find("channel_mismatch") != std::string::npos);
  std::string st = t.status_json();
  CHECK(json_value(st, "state") == "\"empty\"");
  CHECK(json_value(st, "active") == "null");

  // With content of "edr" committed, "rules" content is still refused.
  const fs::path payload = t.dir / "edr-payload";
  write_text(payload, "edr content");
  const fs::path e1 = t.dir / "e1.sgb";
  REQUIRE(tool(t.dir, "pack --channel edr --sequence 1 --schema test@1 --payload " + q(payload) + " -o " + q(e1) +
                          " --key " + q(t.key))
              .status == 0);
  REQUIRE(t.apply(e1, "", "edr").status == 0);
  REQUIRE(t.run("confirm").status == 0);
  o = t.apply(t.pack(2), "", "edr");
  CHECK(o.status == 1);
  CHECK(o.err.find("channel_mismatch") != std::string::npos);
  st = t.status_json();
  CHECK(json_value(st, "state") == "\"committed\"");
  CHECK(json_value(st, "channel") == "\"edr\"");
  CHECK(json_value(json_value(st, "active"), "sequence") == "1");

  // Without --channel the store's recorded channel is the one, never the
  // bundle's own.
  const auto b3 = t.pack(3);
  o = tool(t.dir, "apply --store " + q(t.store) + " " + q(b3) + " --trust " + q(t.key.string() + ".pub"));
  CHECK(o.status == 1);
  CHECK(o.err.find("channel_mismatch") != std::string::npos);
  CHECK(json_value(json_value(t.status_json(), "active"), "sequence") == "1");
  // Naming another channel than the store records is refused for every
  // store command.
  for (const char* sub : {"status", "confirm", "revert", "rollback"}) {
    INFO(sub);
    o = tool(t.dir, std::string(sub) + " --store " + q(t.store) + " --channel rules");
    CHECK(o.status == 1);
    CHECK(o.err.find("channel_mismatch") != std::string::npos);
  }
  CHECK(tool(t.dir, "status --store " + q(t.store) + " --channel edr").status == 0);
}

TEST_CASE("store options: empty and repeated values are usage errors", "[cli.store.options]") {
  setup t;
  const auto b1 = t.pack(1);
  const std::string trust = " --trust " + q(t.key.string() + ".pub");
  struct usage {
    std::string args;
    const char* option;
  };
  const std::vector<usage> cases = {
      {"status --store \"\"", "'--store' needs a non-empty value"},
      {"status --store=", "'--store' needs a non-empty value"},
      {"status --store " + q(t.store) + " --store " + q(t.dir / "other"), "'--store' is given more than once"},
      {"confirm --store " + q(t.store) + " --store " + q(t.store), "'--store' is given more than once"},
      {"apply --store " + q(t.store) + " --channel rules " + q(b1) + " --trust \"\"", "'--trust' needs a non-empty value"},
      {"apply --store " + q(t.store) + " --channel rules " + q(b1) + trust + " --schema-file \"\"",
       "'--schema-file' needs a non-empty value"},
      {"apply --store " + q(t.store) + " --channel rules " + q(b1) + trust + " --device-id \"\"",
       "'--device-id' needs a non-empty value"},
      {"apply --store " + q(t.store) + " --channel rules " + q(b1) + trust + " --host-version \"\"",
       "'--host-version' needs a non-empty value"},
      {"apply --store " + q(t.store) + " --channel rules " + q(b1) + trust + " --threshold 1 --threshold 2",
       "'--threshold' is given more than once"},
      {"apply --store " + q(t.store) + " --channel rules " + q(b1) + trust + " --device-id a --device-id b",
       "'--device-id' is given more than once"},
  };
  for (const auto& c : cases) {
    INFO(c.args);
    const auto o = tool(t.dir, c.args);
    CHECK(o.status == 2);
    CHECK(o.err.find(c.option) != std::string::npos);
  }
  CHECK_FALSE(fs::exists(t.store));  // a usage error creates no store
  CHECK_FALSE(fs::exists(t.dir / "other"));
}

namespace {

// Bytes a terminal acts on instead of showing: C0 controls but the newline
// that ends each line, DEL, and C1 controls (U+0080..U+009F as UTF-8).
bool has_raw_control(const std::string& out) {
  for (std::size_t i = 0; i < out.size(); ++i) {
    if (out[i] == '\r' && i + 1 < out.size() && out[i + 1] == '\n') continue;  // Windows' line end
    const auto c = static_cast<unsigned char>(out[i]);
    const auto next = i + 1 < out.size() ? static_cast<unsigned char>(out[i + 1]) : 0;
    if ((c < 0x20 && c != '\n') || c == 0x7F || (c == 0xC2 && next >= 0x80 && next <= 0x9F)) return true;
  }
  return false;
}

std::size_t lines_starting(const std::string& text, const std::string& prefix) {
  std::size_t n = 0;
  for (std::size_t at = 0; at < text.size();) {
    if (text.compare(at, prefix.size(), prefix) == 0) ++n;
    const std::size_t end = text.find('\n', at);
    if (end == std::string::npos) break;
    at = end + 1;
  }
  return n;
}

}  // namespace

TEST_CASE("status and apply print a stored version escaped", "[cli.store.untrusted_text]") {
  setup t;
  const auto seed = sg::parse_private_key_pem(read_text(t.key));
  REQUIRE(seed);
  // A version written to forge lines of status's output and then hide the
  // rest of it.
  sg::bundle_builder b;
  b.channel("rules").sequence(1).schema("test", 1).created(1790000000);
  b.version("1\nfallback:     none\nquarantine:   none\n\x1b[8m\xc2\x9b");
  b.payload(std::vector<std::uint8_t>{'x'});
  b.sign_with(*seed);
  const auto bytes = b.build();
  REQUIRE(bytes);
  const fs::path bundle = t.dir / "hostile.sgb";
  {
    std::ofstream out(bundle, std::ios::binary);
    out.write(reinterpret_cast<const char*>(bytes->data()), static_cast<std::streamsize>(bytes->size()));
    REQUIRE(out);
  }
  auto o = t.apply(bundle);
  INFO(o.err);
  REQUIRE(o.status == 0);
  CHECK_FALSE(has_raw_control(o.out));
  CHECK(lines_starting(o.out, "trial: ") == 1);
  CHECK(o.out.find("version 1\\nfallback:     none\\nquarantine:   none\\n\\x1b[8m\\u009b,") != std::string::npos);

  o = t.run("status");
  INFO(o.out);
  REQUIRE(o.status == 0);
  CHECK_FALSE(has_raw_control(o.out));
  CHECK(lines_starting(o.out, "fallback:") == 1);
  CHECK(lines_starting(o.out, "quarantine:") == 1);
  CHECK(o.out.find("floor:        0") != std::string::npos);

  o = t.run("confirm");
  REQUIRE(o.status == 0);
  CHECK_FALSE(has_raw_control(o.out));

  const std::string json = t.status_json();
  CHECK(json.find("\"version\":\"1\\nfallback:     none\\nquarantine:   none\\n\\u001b[8m\\u009b\"}") !=
        std::string::npos);
}

#if !defined(_WIN32)
TEST_CASE("a failed write to the standard output exits 1", "[cli.store.stdout]") {
  setup t;
  if (!fs::exists("/dev/full")) {
    WARN("SKIPPED: no /dev/full");
    return;
  }
  const std::string err = " 2>" + q(t.dir / "err.txt");
  const std::string s = " --store " + q(t.store);
  // status --json feeds scripts: a half-written answer is a failure.
  REQUIRE(fs::create_directory(t.store));
  CHECK(slotguard_test::run_command_line(tool_command() + "status --json" + s + " >" + q(t.dir / "out.txt") + err) == 0);
  CHECK(slotguard_test::run_command_line(tool_command() + "status --json" + s + " >/dev/full" + err) == 1);
  CHECK(read_text(t.dir / "err.txt").find("io_error") != std::string::npos);
  CHECK(slotguard_test::run_command_line(tool_command() + "status" + s + " >/dev/full" + err) == 1);
  CHECK(slotguard_test::run_command_line(tool_command() + "apply --help >/dev/full" + err) == 1);
  // apply's work is done and stays done; its report could not be written.
  const auto b1 = t.pack(1);
  CHECK(slotguard_test::run_command_line(tool_command() + "apply" + s + " --channel rules " + q(b1) + " --trust " +
                                         q(t.key.string() + ".pub") + " >/dev/full" + err) == 1);
  CHECK(json_value(t.status_json(), "state") == "\"trial\"");
  CHECK(slotguard_test::run_command_line(tool_command() + "confirm" + s + " >/dev/full" + err) == 1);
  CHECK(json_value(t.status_json(), "state") == "\"committed\"");
}
#endif

TEST_CASE("release lifts a quarantine, and status shows what is served and the crash-streak breaker",
          "[cli.store.release]") {
  setup s;
  const auto b1 = s.pack(1);
  const auto b2 = s.pack(2);
  REQUIRE(s.apply(b1).status == 0);
  REQUIRE(s.run("revert").status == 0);  // 1 is quarantined
  std::string j = s.status_json();
  CHECK(json_value(j, "quarantine") == "[1]");
  CHECK(json_value(j, "served") == "0");
  CHECK(json_value(j, "breaker") == "{\"mode\":\"normal\",\"streak\":0,\"safe_sequence\":0}");
  CHECK(s.apply(b1).status == 1);  // quarantined
  CHECK(tool(s.dir, "release --store " + q(s.store)).status == 2);      // no SEQ
  CHECK(tool(s.dir, "release --store " + q(s.store) + " x").status == 2);
  const auto r = tool(s.dir, "release --store " + q(s.store) + " 1");
  INFO(r.err);
  REQUIRE(r.status == 0);
  CHECK(json_value(s.status_json(), "quarantine") == "[]");
  REQUIRE(s.apply(b1).status == 0);
  REQUIRE(s.run("confirm").status == 0);
  j = s.status_json();
  CHECK(json_value(j, "served") == "0");  // the tool is given no keys: nothing passes at rest
  (void)b2;
  const auto text = s.run("status");
  CHECK(text.out.find("breaker:      normal") != std::string::npos);
}

#if !defined(_WIN32)
TEST_CASE("apply runs an isolated probe: its verdict, its output and only the environment it is given",
          "[cli.store.probe]") {
  setup s;
  const auto b1 = s.pack(1);
  const auto b2 = s.pack(2);
  ::setenv("SLOTGUARD_PROBE_SECRET", "leaked", 1);
  ::setenv("SLOTGUARD_PROBE_GIVEN", "given", 1);
  // Fails when it sees the secret, or when the candidate file is not the payload.
  const std::string probe =
      "--probe-env SLOTGUARD_PROBE_GIVEN --probe-timeout 20 --probe /bin/sh -c "
      "'echo probe-ran $SLOTGUARD_PROBE_GIVEN; test -z \"$SLOTGUARD_PROBE_SECRET\" && grep -q \"content 1\" \"$0\"' {}";
  const auto ok = s.apply(b1, probe);
  INFO(ok.out << ok.err);
  CHECK(ok.status == 0);
  CHECK(json_value(s.status_json(), "state") == "\"trial\"");
  // Content 2 is not what the probe wants: rejected with the probe's words.
  const auto bad = s.apply(b2, probe);
  CHECK(bad.status == 1);
  CHECK(bad.err.find("probe_failed") != std::string::npos);
  CHECK(bad.err.find("exited 1") != std::string::npos);
  CHECK(bad.err.find("probe-ran given") != std::string::npos);
  CHECK(json_value(s.status_json(), "quarantine") == "[2]");
  // Usage: --probe needs a command, and its options need --probe.
  CHECK(s.apply(b1, "--probe").status == 2);
  CHECK(s.apply(b1, "--probe-timeout 5").status == 2);
  CHECK(tool(s.dir, "status --store " + q(s.store) + " --probe true").status == 2);
  ::unsetenv("SLOTGUARD_PROBE_SECRET");
  ::unsetenv("SLOTGUARD_PROBE_GIVEN");
}
#endif
