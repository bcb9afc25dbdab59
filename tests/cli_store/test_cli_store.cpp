// SPDX-License-Identifier: Apache-2.0
// The `slotguard` tool's store subcommands, driven as an operator would:
// apply, status (text and --json), confirm, revert and rollback on a real
// store directory, their exit statuses (0, 1, 2), and that the tool never
// counts a process start against a trial.
#include <slotguard/bytes.hpp>
#include <slotguard/hash.hpp>

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
  outcome apply(const fs::path& bundle, const std::string& extra = "") {
    return tool(dir, "apply --store " + q(store) + " " + q(bundle) + " --trust " +
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

TEST_CASE("store subcommands have --help; usage errors exit 2", "[cli.store.usage]") {
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
  CHECK(tool(d.path(), "apply" + s + " b.sgb").status == 2);         // no --trust
  CHECK(tool(d.path(), "apply" + s + " --trust k.pub").status == 2);  // no bundle
  CHECK(tool(d.path(), "confirm --json" + s).status == 2);
  CHECK(tool(d.path(), "status --trust k.pub" + s).status == 2);
  CHECK(tool(d.path(), "status" + s + " extra").status == 2);
}

TEST_CASE("apply, confirm, revert and rollback through the tool", "[cli.store.flow]") {
  setup t;
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
  o = t.run("rollback");
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
  auto o = tool(t.dir, "apply --store " + q(t.store) + " " + q(b1) + " --trust " + q(other.string() + ".pub"));
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
