// SPDX-License-Identifier: Apache-2.0
// Requests from the operator's tool (requests.hpp) on the simulator: the
// format round-trips; a withdrawal and a claim exclude each other; and a
// request is carried out at most once across a power cut at every storage
// call of the guard's pass, whatever unsynced operations survive, and ends
// with an outcome once a guard looks again.
#include <slotguard/bundle.hpp>
#include <slotguard/guard.hpp>
#include <slotguard/history.hpp>
#include <slotguard/log.hpp>
#include <slotguard/requests.hpp>
#include <slotguard/sim_storage.hpp>

#include <catch2/catch.hpp>

#include <chrono>
#include <string>
#include <vector>

namespace sg = slotguard;

namespace {

const std::string dir = "/var/chan";

sg::request_outcome state() {
  sg::request_outcome o;
  o.state = "committed";
  o.served = 7;
  return o;
}

}  // namespace

TEST_CASE("requests and outcomes round-trip", "[requests]") {
  sg::operator_request r;
  r.id = "0001-42-1";
  r.kind = sg::request_kind::apply;
  r.bundle = {0, 1, 2, '\n', '\n', 255};
  auto back = sg::detail::decode_request(sg::byte_view(sg::detail::encode_request(r)));
  REQUIRE(back);
  CHECK(back->id == r.id);
  CHECK(back->kind == r.kind);
  CHECK(back->bundle == r.bundle);
  // A torn request (bytes missing) is refused.
  auto bytes = sg::detail::encode_request(r);
  bytes.pop_back();
  CHECK_FALSE(sg::detail::decode_request(sg::byte_view(bytes)));

  sg::request_outcome o = state();
  o.id = r.id;
  o.code = sg::errc::no_trial;
  o.sentence = "no trial\nis running";
  o.active = sg::request_slot{"a", 3, std::string(64, 'f'), "v 3"};
  o.quarantine = {4, 5};
  o.mode = "normal";
  auto ob = sg::detail::decode_outcome(sg::byte_view(sg::detail::encode_outcome(o)));
  REQUIRE(ob);
  CHECK(ob->code == sg::errc::no_trial);
  CHECK(ob->sentence == "no trial is running");
  REQUIRE(ob->active);
  CHECK(ob->active->sequence == 3);
  CHECK(ob->active->version == "v 3");
  CHECK_FALSE(ob->fallback);
  CHECK(ob->quarantine == std::vector<std::uint64_t>{4, 5});
  CHECK(ob->served == 7);
  // An outcome without its end is torn: not read.
  auto t = sg::detail::encode_outcome(o);
  t.pop_back();
  CHECK_FALSE(sg::detail::decode_outcome(sg::byte_view(t)));
}

TEST_CASE("a withdrawal and a claim exclude each other", "[requests]") {
  sg::sim_storage fs;
  REQUIRE(fs.mkdir(dir));
  int acted = 0;
  auto act = [&](const sg::operator_request&) {
    ++acted;
    sg::request_outcome o = state();
    o.sentence = "done";
    return o;
  };
  sg::operator_request r;
  r.id = "a1";
  REQUIRE(sg::submit_request(fs, dir, r));
  CHECK(sg::submit_request(fs, dir, r).error() == sg::errc::already_exists);  // one request per id
  auto w = sg::withdraw_request(fs, dir, r.id);
  REQUIRE(w);
  CHECK(*w);
  CHECK(sg::serve_requests(fs, dir, act, state) == 0);
  CHECK(acted == 0);

  r.id = "a2";
  REQUIRE(sg::submit_request(fs, dir, r));
  CHECK(sg::serve_requests(fs, dir, act, state) == 1);
  CHECK(acted == 1);
  w = sg::withdraw_request(fs, dir, r.id);
  REQUIRE(w);
  CHECK_FALSE(*w);  // claimed: its outcome wins
  auto o = sg::read_outcome(fs, dir, r.id);
  REQUIRE(o);
  REQUIRE(*o);
  CHECK((*o)->sentence == "done");
  // The same id again is not carried out again.
  CHECK(sg::submit_request(fs, dir, r).error() == sg::errc::already_exists);
  sg::forget_outcome(fs, dir, r.id);
  auto none = sg::read_outcome(fs, dir, r.id);
  REQUIRE(none);
  CHECK_FALSE(*none);
}

TEST_CASE("a request is carried out at most once across a power cut at every step", "[requests][crash]") {
  std::size_t cuts = 0;
  for (std::uint64_t n = 1;; ++n) {
    sg::sim_storage fs;
    REQUIRE(fs.mkdir(dir));
    sg::operator_request r;
    r.id = "r1";
    r.kind = sg::request_kind::revert;
    REQUIRE(sg::submit_request(fs, dir, r));
    // The operation's effect, durable as a journal record is.
    auto act_on = [](sg::sim_storage& disk, int& count) {
      return [&disk, &count](const sg::operator_request&) {
        ++count;
        const std::string effect = dir + "/effect." + std::to_string(count);
        const std::vector<std::uint8_t> one{1};
        (void)sg::detail::write_atomically(disk, dir, effect, sg::byte_view(one));
        sg::request_outcome o = state();
        o.sentence = "done";
        return o;
      };
    };
    int first = 0;
    fs.cut_power_after(n);
    (void)sg::serve_requests(fs, dir, act_on(fs, first), state);
    if (fs.powered()) break;  // past the pass's last call
    ++cuts;
    std::vector<sg::sim_power_cut> ways(1);
    ways.emplace_back().keep = sg::sim_power_cut::keep_mode::everything;
    for (std::uint64_t seed = 1; seed <= 6; ++seed) {
      sg::sim_power_cut c;
      c.keep = sg::sim_power_cut::keep_mode::random;
      c.seed = seed;
      ways.push_back(c);
    }
    for (const auto& way : ways) {
      sg::sim_storage after = fs;
      after.reboot(way);
      INFO("cut after call " << n);
      auto effect = after.exists(dir + "/effect.1");
      REQUIRE(effect);
      int second = 0;
      (void)sg::serve_requests(after, dir, act_on(after, second), state);
      // At most once, in all.
      CHECK((*effect ? 1 : 0) + second <= 1);
      // Acted on before the cut: the claim was durable, so it is never acted on again.
      if (*effect) CHECK(second == 0);
      // And the tool gets an outcome.
      auto o = sg::read_outcome(after, dir, r.id);
      REQUIRE(o);
      REQUIRE(*o);
      if (second == 0 && !*effect) CHECK((*o)->code == sg::errc::internal);  // interrupted, nothing done
      auto names = after.list(dir + "/requests");
      REQUIRE(names);
      for (const std::string& name : *names) {
        INFO(name);
        CHECK(name.find(".req") == std::string::npos);
        CHECK(name.find(".run") == std::string::npos);
      }
    }
  }
  CHECK(cuts > 5);
}

namespace {

// A guard on the simulator in poll mode, with a manual clock.
struct guard_fixture {
  sg::sim_storage disk;
  sg::manual_clock time{1700000000};
  sg::ed25519_seed key{};

  guard_fixture() {
    for (std::size_t i = 0; i < key.size(); ++i) key[i] = static_cast<std::uint8_t>(0x40 + i * 7);
  }
  sg::guard_options options() {
    sg::guard_options o;
    o.fs = &disk;
    o.directory = "/store/rules";
    o.channel = "rules";
    REQUIRE(o.trust.add(sg::ed25519_public_key_from_seed(key)));
    o.check = sg::content_check(sg::validator_fn(
        [](sg::byte_view) -> sg::result<void, sg::validation_error> { return sg::result<void, sg::validation_error>(); }));
    o.time = &time;
    o.watchdog = sg::watchdog_mode::poll;
    o.watchdog_timeout = std::chrono::seconds(30);
    o.probation = std::chrono::minutes(5);
    o.safe_streak = 0;
    return o;
  }
  std::vector<std::uint8_t> bundle(std::uint64_t seq) {
    sg::bundle_builder b;
    b.channel("rules")
        .sequence(seq)
        .version("v" + std::to_string(seq))
        .schema("test", 1)
        .created(time.unix_seconds())
        .payload(sg::byte_view("content " + std::to_string(seq)))
        .sign_with(key);
    auto bytes = b.build();
    REQUIRE(bytes);
    return *bytes;
  }
};

}  // namespace

TEST_CASE("the guard carries out requests in poll(), never in heartbeat()", "[requests][guard]") {
  guard_fixture f;
  std::vector<std::string> logged;
  sg::set_log_sink([&](sg::log_level, std::string_view m) { logged.emplace_back(m); });
  auto opened = sg::guard::open(f.options());
  REQUIRE(opened);
  sg::guard& g = **opened;

  sg::operator_request r;
  r.id = "apply-1";
  r.kind = sg::request_kind::apply;
  r.bundle = f.bundle(1);
  REQUIRE(sg::submit_request(f.disk, "/store/rules", r));
  // A heartbeat never waits for storage: it takes no request up.
  const auto calls = f.disk.call_count();
  g.heartbeat();
  CHECK(f.disk.call_count() == calls);
  CHECK(g.status().state == sg::guard_state::empty);

  g.poll();
  CHECK(g.status().state == sg::guard_state::trial);
  auto o = sg::read_outcome(f.disk, "/store/rules", r.id);
  REQUIRE(o);
  REQUIRE(*o);
  CHECK((*o)->code == sg::errc::ok);
  CHECK((*o)->state == "trial");
  REQUIRE((*o)->active);
  CHECK((*o)->active->sequence == 1);

  // Polled again within request_interval: no new look at the folder.
  r.id = "confirm-1";
  r.kind = sg::request_kind::confirm;
  r.bundle.clear();
  REQUIRE(sg::submit_request(f.disk, "/store/rules", r));
  g.poll();
  CHECK(g.status().state == sg::guard_state::trial);
  f.time.advance(std::chrono::milliseconds(150));
  g.heartbeat();
  g.poll();
  CHECK(g.status().state == sg::guard_state::committed);
  o = sg::read_outcome(f.disk, "/store/rules", r.id);
  REQUIRE(o);
  REQUIRE(*o);
  CHECK((*o)->sentence.find("committed: sequence 1") != std::string::npos);

  // A request the gates refuse: the outcome says why, and nothing changed.
  r.id = "release-0";
  r.kind = sg::request_kind::release;
  r.sequence = 0;
  REQUIRE(sg::submit_request(f.disk, "/store/rules", r));
  f.time.advance(std::chrono::milliseconds(150));
  g.poll();
  o = sg::read_outcome(f.disk, "/store/rules", r.id);
  REQUIRE(o);
  REQUIRE(*o);
  CHECK((*o)->code == sg::errc::invalid_argument);

  // Every decision is in the history; the log heard the requests.
  auto h = sg::read_history(f.disk, "/store/rules");
  REQUIRE(h);
  REQUIRE(h->size() == 2);
  CHECK((*h)[0].event == "trial_started");
  CHECK((*h)[1].event == "committed");
  CHECK((*h)[1].sequence == 1);
  CHECK((*h)[1].unix_ms == 1700000000000 + 150);
  bool taken = false;
  for (const auto& m : logged) taken = taken || m.find("confirm-1: confirm taken up") != std::string::npos;
  CHECK(taken);
  sg::set_log_sink({});

  // Turned off: no request is served.
  opened->reset();
  auto o2 = f.options();
  o2.serve_requests = false;
  auto g2 = sg::guard::open(std::move(o2));
  REQUIRE(g2);
  r.id = "revert-1";
  r.kind = sg::request_kind::revert;
  REQUIRE(sg::submit_request(f.disk, "/store/rules", r));
  f.time.advance(std::chrono::seconds(1));
  (*g2)->poll();
  auto none = sg::read_outcome(f.disk, "/store/rules", r.id);
  REQUIRE(none);
  CHECK_FALSE(*none);
}
