// SPDX-License-Identifier: Apache-2.0
// The storage primitives on the platform's backend (in a temporary directory)
// and on the simulator, and the simulator's model of durability, faults,
// power cuts and torn writes.
#include <slotguard/sim_storage.hpp>
#include <slotguard/storage.hpp>

#include <catch2/catch.hpp>

#include "support.hpp"

#include <algorithm>
#include <cstdint>
#include <string>
#include <vector>

namespace sg = slotguard;
using sg::errc;

namespace {

std::vector<std::uint8_t> bytes_of(std::size_t n, std::uint8_t seed) {
  std::vector<std::uint8_t> v(n);
  for (std::size_t i = 0; i < n; ++i) v[i] = static_cast<std::uint8_t>(seed + i * 7 + (i >> 8));
  return v;
}

struct sim_env {
  sg::sim_storage fs;
  std::string dir = "/d";
  sim_env() { REQUIRE(fs.mkdir(dir)); }
};

struct native_env {
  slotguard_test::temp_dir tmp{"storage"};
  sg::native_storage fs;
  std::string dir = slotguard_test::utf8_path(tmp.path() / "d");
  native_env() { REQUIRE(fs.mkdir(dir)); }
};

template <class Env>
void write_file(Env& env, const std::string& path, const std::vector<std::uint8_t>& b) {
  auto f = env.fs.create(path);
  REQUIRE(f);
  REQUIRE(env.fs.write(*f, sg::byte_view(b)));
  REQUIRE(env.fs.flush(*f));
  REQUIRE(env.fs.close(*f));
}

}  // namespace

TEMPLATE_TEST_CASE("files are created exclusively, written, read back and bounded", "[storage.files]",
                   sim_env, native_env) {
  TestType env;
  const std::string p = sg::detail::join_path(env.dir, "f");
  const auto data = bytes_of(5000, 3);
  write_file(env, p, data);
  CHECK(env.fs.read_file(p, 5000).value() == data);
  CHECK(env.fs.read_file(p, 4999).error() == errc::too_large);
  CHECK(env.fs.read_file(p, UINT64_MAX).value() == data);  // no limit: no overflow either
  CHECK(env.fs.create(p).error() == errc::already_exists);
  CHECK(env.fs.read_file(sg::detail::join_path(env.dir, "missing"), 10).error() == errc::not_found);

  // Several writes append; an empty file reads as empty.
  const std::string q = sg::detail::join_path(env.dir, "g");
  auto f = env.fs.create(q);
  REQUIRE(f);
  REQUIRE(env.fs.write(*f, sg::byte_view(data.data(), 100)));
  REQUIRE(env.fs.write(*f, sg::byte_view(data.data() + 100, 0)));
  REQUIRE(env.fs.write(*f, sg::byte_view(data.data() + 100, 4900)));
  REQUIRE(env.fs.flush(*f));
  REQUIRE(env.fs.close(*f));
  CHECK(env.fs.read_file(q, 1 << 20).value() == data);
  const std::string e = sg::detail::join_path(env.dir, "empty");
  write_file(env, e, {});
  CHECK(env.fs.read_file(e, 0).value().empty());
}

TEMPLATE_TEST_CASE("a large file round-trips", "[storage.files]", sim_env, native_env) {
  TestType env;
  const std::string p = sg::detail::join_path(env.dir, "big");
  const auto data = bytes_of(std::size_t{3} << 20, 11);
  write_file(env, p, data);
  CHECK(env.fs.read_file(p, data.size()).value() == data);
}

TEMPLATE_TEST_CASE("rename replaces, remove removes, list and exists see both", "[storage.names]", sim_env,
                   native_env) {
  TestType env;
  const std::string a = sg::detail::join_path(env.dir, "a");
  const std::string b = sg::detail::join_path(env.dir, "b");
  write_file(env, a, bytes_of(10, 1));
  write_file(env, b, bytes_of(20, 2));
  REQUIRE(env.fs.rename(a, b));
  REQUIRE(env.fs.sync_dir(env.dir));
  CHECK(env.fs.read_file(b, 100).value() == bytes_of(10, 1));
  CHECK_FALSE(env.fs.exists(a).value());
  CHECK(env.fs.exists(b).value());
  CHECK(env.fs.exists(env.dir).value());
  CHECK(env.fs.rename(a, b).error() == errc::not_found);
  auto names = env.fs.list(env.dir);
  REQUIRE(names);
  CHECK(*names == std::vector<std::string>{"b"});
  REQUIRE(env.fs.remove(b));
  CHECK(env.fs.remove(b).error() == errc::not_found);
  CHECK(env.fs.list(env.dir).value().empty());
  CHECK(env.fs.list(sg::detail::join_path(env.dir, "nope")).error() == errc::not_found);
}

TEMPLATE_TEST_CASE("mkdir is idempotent for directories and refuses files", "[storage.names]", sim_env,
                   native_env) {
  TestType env;
  CHECK(env.fs.mkdir(env.dir));
  const std::string f = sg::detail::join_path(env.dir, "file");
  write_file(env, f, bytes_of(1, 1));
  CHECK(env.fs.mkdir(f).error() == errc::already_exists);
  const std::string sub = sg::detail::join_path(env.dir, "sub");
  CHECK(env.fs.mkdir(sub));
  CHECK(env.fs.exists(sub).value());
  write_file(env, sg::detail::join_path(sub, "x"), bytes_of(3, 3));
  CHECK(env.fs.read_file(sg::detail::join_path(sub, "x"), 3).value() == bytes_of(3, 3));
}

TEMPLATE_TEST_CASE("UTF-8 names work", "[storage.names]", sim_env, native_env) {
  TestType env;
  const std::string p = sg::detail::join_path(env.dir, "inhalt-\xC3\x9F-\xE2\x82\xAC.bin");
  write_file(env, p, bytes_of(7, 9));
  CHECK(env.fs.read_file(p, 7).value() == bytes_of(7, 9));
  auto names = env.fs.list(env.dir);
  REQUIRE(names);
  REQUIRE(names->size() == 1);
  CHECK(names->front() == "inhalt-\xC3\x9F-\xE2\x82\xAC.bin");
}

TEMPLATE_TEST_CASE("the lock is exclusive, also within one process", "[storage.lock]", sim_env,
                   native_env) {
  TestType env;
  const std::string p = sg::detail::join_path(env.dir, "lock");
  auto l1 = env.fs.lock(p);
  REQUIRE(l1);
  auto l2 = env.fs.lock(p);
  REQUIRE_FALSE(l2);
  CHECK(l2.error() == errc::busy);
  REQUIRE(env.fs.unlock(*l1));
  auto l3 = env.fs.lock(p);
  REQUIRE(l3);
  REQUIRE(env.fs.unlock(*l3));
}

TEST_CASE("simulator: unflushed data and unsynced names do not survive a cut", "[storage.sim]") {
  sg::sim_storage fs;
  REQUIRE(fs.mkdir("/d"));
  // Durable: created, written, flushed, directory synced.
  auto f = fs.create("/d/a");
  REQUIRE(f);
  REQUIRE(fs.write(*f, sg::byte_view(bytes_of(10, 1))));
  REQUIRE(fs.flush(*f));
  REQUIRE(fs.close(*f));
  REQUIRE(fs.sync_dir("/d"));
  // Flushed but its name never synced.
  auto g = fs.create("/d/b");
  REQUIRE(g);
  REQUIRE(fs.write(*g, sg::byte_view(bytes_of(10, 2))));
  REQUIRE(fs.flush(*g));
  // Named durably but never flushed.
  auto h = fs.create("/d/c");
  REQUIRE(h);
  REQUIRE(fs.sync_dir("/d"));
  REQUIRE(fs.write(*h, sg::byte_view(bytes_of(10, 3))));
  // An unsynced remove and rename.
  REQUIRE(fs.rename("/d/b", "/d/b2"));
  REQUIRE(fs.remove("/d/a"));
  CHECK_FALSE(fs.peek("/d/a"));

  sg::sim_storage durable = fs;
  durable.reboot();
  CHECK(durable.peek("/d/a").value() == bytes_of(10, 1));
  CHECK(durable.peek("/d/b").value() == bytes_of(10, 2));  // its name was synced with c's
  CHECK_FALSE(durable.peek("/d/b2"));
  CHECK(durable.peek("/d/c").value().empty());
  // Handles and power: gone and back.
  CHECK(durable.powered());
  CHECK(durable.write(*h, sg::byte_view(bytes_of(1, 1))).error() == errc::io_error);

  sg::sim_storage all = fs;
  sg::sim_power_cut keep_all;
  keep_all.keep = sg::sim_power_cut::keep_mode::everything;
  all.reboot(keep_all);
  CHECK_FALSE(all.peek("/d/a"));
  CHECK_FALSE(all.peek("/d/b"));
  CHECK(all.peek("/d/b2").value() == bytes_of(10, 2));
  CHECK(all.peek("/d/c").value() == bytes_of(10, 3));

  // The unsynced operations in order: write c, rename, remove.
  const auto pending = fs.unsynced();
  REQUIRE(pending.size() == 3);
  CHECK(pending[0].kind == sg::sim_call::write);
  CHECK(pending[1].kind == sg::sim_call::rename);
  CHECK(pending[2].kind == sg::sim_call::remove);
  sg::sim_storage some = fs;
  sg::sim_power_cut only_rename;
  only_rename.keep = sg::sim_power_cut::keep_mode::mask;
  only_rename.mask = 2;
  some.reboot(only_rename);
  CHECK(some.peek("/d/a").value() == bytes_of(10, 1));
  CHECK(some.peek("/d/b2").value() == bytes_of(10, 2));
  CHECK(some.peek("/d/c").value().empty());
}

TEST_CASE("simulator: a file's writes survive as a prefix, torn at any byte", "[storage.sim]") {
  sg::sim_storage fs;
  REQUIRE(fs.mkdir("/d"));
  auto f = fs.create("/d/x");
  REQUIRE(f);
  REQUIRE(fs.sync_dir("/d"));
  const auto a = bytes_of(8, 1), b = bytes_of(8, 2), c = bytes_of(8, 3);
  REQUIRE(fs.write(*f, sg::byte_view(a)));
  REQUIRE(fs.write(*f, sg::byte_view(b)));
  REQUIRE(fs.write(*f, sg::byte_view(c)));
  auto cat = [](std::initializer_list<std::vector<std::uint8_t>> parts) {
    std::vector<std::uint8_t> out;
    for (const auto& p : parts) out.insert(out.end(), p.begin(), p.end());
    return out;
  };
  // Keeping the first and third but not the second keeps only the first.
  {
    sg::sim_storage m = fs;
    sg::sim_power_cut cut;
    cut.keep = sg::sim_power_cut::keep_mode::mask;
    cut.mask = 5;
    m.reboot(cut);
    CHECK(m.peek("/d/x").value() == a);
  }
  for (std::size_t at = 0; at <= 8; ++at) {
    sg::sim_storage m = fs;
    sg::sim_power_cut cut;
    cut.keep = sg::sim_power_cut::keep_mode::everything;
    cut.tear_op = 1;
    cut.tear_bytes = at;
    m.reboot(cut);
    auto want = cat({a});
    want.insert(want.end(), b.begin(), b.begin() + static_cast<std::ptrdiff_t>(at));
    CHECK(m.peek("/d/x").value() == want);  // and nothing of the third write
  }
  // Random subsets are prefixes too, and reproducible by seed.
  for (std::uint64_t seed = 0; seed < 32; ++seed) {
    sg::sim_storage m1 = fs, m2 = fs;
    sg::sim_power_cut cut;
    cut.keep = sg::sim_power_cut::keep_mode::random;
    cut.seed = seed;
    m1.reboot(cut);
    m2.reboot(cut);
    const auto got = m1.peek("/d/x").value();
    CHECK(got == m2.peek("/d/x").value());
    const bool prefix = got.empty() || got == a || got == cat({a, b}) || got == cat({a, b, c});
    CHECK(prefix);
  }
  REQUIRE(fs.flush(*f));
  CHECK(fs.unsynced().empty());
  fs.reboot();
  CHECK(fs.peek("/d/x").value() == cat({a, b, c}));
}

TEST_CASE("simulator: the Nth call fails and changes nothing", "[storage.sim]") {
  sg::sim_storage fs;
  REQUIRE(fs.mkdir("/d"));
  fs.fail_nth_call(2, sg::sim_call::create);
  auto f1 = fs.create("/d/one");
  REQUIRE(f1);
  CHECK(fs.read_file("/d/one", 10));
  auto f2 = fs.create("/d/two");
  REQUIRE_FALSE(f2);
  CHECK(f2.error() == errc::io_error);
  CHECK_FALSE(fs.peek("/d/two"));
  CHECK(fs.create("/d/two"));

  const auto before = fs.call_count();
  fs.fail_nth_call(3);
  CHECK(fs.write(*f1, sg::byte_view(bytes_of(4, 4))));
  CHECK(fs.flush(*f1));
  CHECK(fs.rename("/d/one", "/d/uno").error() == errc::io_error);
  CHECK(fs.peek("/d/one"));
  CHECK_FALSE(fs.peek("/d/uno"));
  CHECK(fs.call_count() == before + 3);
}

TEST_CASE("simulator: the power goes off after the Nth call until reboot", "[storage.sim]") {
  sg::sim_storage fs;
  REQUIRE(fs.mkdir("/d"));
  std::vector<std::string> seen;
  fs.on_write([&](const std::string& p, sg::byte_view d) { seen.push_back(p + ":" + std::to_string(d.size())); });
  fs.cut_power_after(3);
  auto f = fs.create("/d/x");
  REQUIRE(f);
  REQUIRE(fs.write(*f, sg::byte_view(bytes_of(5, 5))));
  REQUIRE(fs.flush(*f));  // the third call takes effect, then the power goes
  CHECK_FALSE(fs.powered());
  CHECK(fs.close(*f).error() == errc::io_error);
  CHECK(fs.sync_dir("/d").error() == errc::io_error);
  CHECK(fs.list("/d").error() == errc::io_error);
  CHECK(seen == std::vector<std::string>{"/d/x:5"});
  fs.reboot();
  CHECK(fs.powered());
  CHECK_FALSE(fs.peek("/d/x"));  // its name was never synced
  CHECK(fs.list("/d").value().empty());
}
