// SPDX-License-Identifier: Apache-2.0
#include <slotguard/probe.hpp>

#include "support.hpp"

#include <catch2/catch.hpp>

#include <chrono>
#include <fstream>
#include <string>

namespace sg = slotguard;
using namespace std::chrono_literals;

namespace {

std::string write_candidate(const slotguard_test::temp_dir& dir, const std::string& text) {
  const auto p = dir.path() / "candidate.bin";
  std::ofstream(p, std::ios::binary) << text;
  return p.string();
}

}  // namespace

TEST_CASE("an in-process probe sees the candidate and its verdict decides", "[probe.in_process]") {
  const std::string content = "rule 1";
  sg::probe_input in;
  in.content = sg::byte_view(content);
  in.channel = "rules";
  in.sequence = 9;

  std::string seen;
  auto accept = sg::probe::in_process([&](const sg::probe_input& i) -> sg::result<void> {
    seen = std::string(i.content.as_chars()) + "@" + i.channel + "#" + std::to_string(i.sequence);
    return sg::ok();
  });
  CHECK(accept.type() == sg::probe::kind::in_process);
  CHECK(accept.run(in));
  CHECK(seen == "rule 1@rules#9");

  auto reject = sg::probe::in_process(
      [](const sg::probe_input&) -> sg::result<void> { return sg::errc::field_count_mismatch; });
  auto r = reject.run(in);
  REQUIRE_FALSE(r);
  CHECK(r.error() == sg::errc::probe_failed);

  sg::probe none;
  CHECK(none.empty());
  CHECK(none.run(in));
}

TEST_CASE("an isolated probe gets the candidate's path as its last argument", "[probe.isolated]") {
  slotguard_test::temp_dir dir("probe");
  const auto path = write_candidate(dir, "good");
  // Accepts only if the last argument names a file that holds "good".
  auto p = sg::probe::isolated(slotguard_test::probe_child_command("expect", "good"), 30s);
  sg::probe_input in;
  in.path = path;
  CHECK(p.run(in));

  const auto bad = write_candidate(dir, "bad");
  in.path = bad;
  auto r = p.run(in);
  REQUIRE_FALSE(r);
  CHECK(r.error() == sg::errc::probe_failed);
}

TEST_CASE("an isolated probe that crashes is rejected as probe_crashed", "[probe.isolated]") {
  slotguard_test::temp_dir dir("probe");
  sg::probe_input in;
  in.path = write_candidate(dir, "x");
  auto p = sg::probe::isolated(slotguard_test::probe_child_command("crash"), 30s);
  auto r = p.run(in);
  REQUIRE_FALSE(r);
  CHECK(r.error() == sg::errc::probe_crashed);

#if !SLOTGUARD_OS_WINDOWS
  // abort() is a crash by signal on POSIX (on Windows it is exit code 3).
  auto abrt = sg::run_isolated_probe({"/bin/sh", "-c", "kill -ABRT $$", "probe"}, in.path, 30s);
  REQUIRE_FALSE(abrt);
  CHECK(abrt.error() == sg::errc::probe_crashed);
#endif
}

TEST_CASE("an isolated probe that hangs is killed at its limit as probe_timeout", "[probe.isolated]") {
  slotguard_test::temp_dir dir("probe");
  sg::probe_input in;
  in.path = write_candidate(dir, "x");
  const auto start = std::chrono::steady_clock::now();
  auto p = sg::probe::isolated(slotguard_test::probe_child_command("hang"), 200ms);
  auto r = p.run(in);
  const auto took = std::chrono::steady_clock::now() - start;
  REQUIRE_FALSE(r);
  CHECK(r.error() == sg::errc::probe_timeout);
  // Killed rather than waited for: well under the child's own 30 s.
  CHECK(took < 25s);
}

TEST_CASE("a probe that cannot start is not a verdict on the candidate", "[probe.isolated]") {
  slotguard_test::temp_dir dir("probe");
  sg::probe_input in;
  in.path = write_candidate(dir, "x");
#if SLOTGUARD_OS_WINDOWS
  auto p = sg::probe::isolated({"C:\\nonexistent\\slotguard-probe.exe"}, 5s);
#else
  auto p = sg::probe::isolated({"/nonexistent/slotguard-probe"}, 5s);
#endif
  auto r = p.run(in);
  REQUIRE_FALSE(r);
  CHECK_FALSE(sg::is_probe_verdict(r.error()));

  auto empty = sg::run_isolated_probe({}, in.path, 5s);
  REQUIRE_FALSE(empty);
  CHECK(empty.error() == sg::errc::invalid_argument);
  auto nopath = sg::run_isolated_probe({"true"}, "", 5s);
  REQUIRE_FALSE(nopath);
  CHECK(nopath.error() == sg::errc::invalid_argument);
}
