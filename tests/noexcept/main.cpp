// SPDX-License-Identifier: Apache-2.0
// Built with -fno-exceptions -fno-rtti: the umbrella header must compile and
// the API must work without either. Exits non-zero on the first wrong answer.
#include <slotguard/sim_storage.hpp>
#include <slotguard/slotguard.hpp>

#include <cstdio>
#include <cstring>
#include <string>

#if defined(__cpp_exceptions) || defined(__cpp_rtti)
#error "this program must be built with -fno-exceptions -fno-rtti"
#endif

namespace sg = slotguard;

static int failures = 0;
#define CHECK(cond)                                                \
  do {                                                             \
    if (!(cond)) {                                                 \
      std::fprintf(stderr, "%s:%d: failed: %s\n", __FILE__, __LINE__, #cond); \
      ++failures;                                                  \
    }                                                              \
  } while (0)

static sg::result<int> parse_digit(char c) {
  if (c < '0' || c > '9') return sg::errc::invalid_argument;
  return c - '0';
}

static sg::result<void> need_even(int v) {
  if (v % 2 != 0) return sg::failure{sg::errc::field_out_of_range};
  return sg::ok();
}

static sg::result<int> twice_even(char c) {
  auto d = parse_digit(c);
  SLOTGUARD_TRY(d);
  SLOTGUARD_TRY(need_even(*d));
  return *d * 2;
}

// The pipeline's parts, end to end, with exceptions and RTTI off: a schema
// from text, records compiled and validated, a signed bundle built, parsed
// and verified, the bundle staged and committed in a simulated store, and
// the guard's trial committed by probation and reverted by its watchdog.
static void pipeline() {
  const char* schema_text =
      "schema \"demo.rules\" version 1\n"
      "record rule = 1 {\n"
      "  field level: u8 range 1..5\n"
      "  field image: string(16) wildcard\n"
      "}\n";
  auto sch = sg::parse_schema_text(schema_text);
  CHECK(sch.has_value());
  if (!sch) return;
  auto payload = sg::compile_records_text(*sch, "rule: 3, \"cmd.exe\"\nrule: 1, *\n");
  CHECK(payload.has_value());
  if (!payload) return;
  auto valid = sg::validate(*sch, *payload);
  CHECK(valid.has_value() && valid->record_count() == 2);
  auto too_many = sg::compile_records_text(*sch, "rule: 3, \"a\", 7\n");
  CHECK(!too_many.has_value());

  sg::ed25519_seed seed{};
  for (std::size_t i = 0; i < seed.size(); ++i) seed[i] = static_cast<std::uint8_t>(i * 7 + 1);
  const auto pub = sg::ed25519_public_key_from_seed(seed);
  sg::bundle_builder b;
  b.channel("rules").sequence(5).version("1.0").schema("demo.rules", 1).created(1700000000);
  b.payload(sg::byte_view(*payload)).sign_with(seed);
  auto bytes = b.build();
  CHECK(bytes.has_value());
  if (!bytes) return;
  auto view = sg::parse_bundle(*bytes);
  CHECK(view.has_value());
  if (!view) return;
  sg::trust_set trust;
  CHECK(trust.add(pub).has_value());
  sg::verify_options opts;
  opts.channel = "rules";
  opts.now = 1700000100;
  CHECK(sg::verify_bundle(*view, trust, opts).has_value());
  std::vector<std::uint8_t> tampered = *bytes;
  tampered[tampered.size() / 2] ^= 1;
  auto tv = sg::parse_bundle(tampered);
  CHECK(!tv.has_value() || !sg::verify_bundle(*tv, trust, opts).has_value());

  sg::sim_storage disk;
  auto store = sg::slot_store::open(disk, "store");
  CHECK(store.has_value());
  if (!store) return;
  CHECK(store->stage(*bytes, 5).has_value());
  CHECK(store->begin_trial(1).has_value());
  CHECK(store->commit().has_value());
  auto active = store->load_active();
  CHECK(active.has_value() && active->sequence == 5 && active->bytes == *bytes);
  CHECK(sg::crc32c(sg::byte_view(std::string_view("123456789"))) == 0xE3069283u);

  // The guard, watchdog driven by poll() on a manual clock: the first
  // update commits after its probation of heartbeats, the second goes
  // silent and the watchdog reverts it to the first.
  sg::manual_clock time(1700000100);
  sg::guard_options gopts;
  gopts.fs = &disk;
  gopts.directory = "guarded";
  gopts.channel = "rules";
  CHECK(gopts.trust.add(pub).has_value());
  gopts.check = *sch;
  gopts.time = &time;
  gopts.watchdog = sg::watchdog_mode::poll;
  gopts.watchdog_timeout = std::chrono::seconds(10);
  gopts.probation = std::chrono::seconds(30);
  auto g = sg::guard::open(std::move(gopts));
  CHECK(g.has_value());
  if (!g) return;
  sg::guard& guard = **g;
  CHECK(guard.apply(sg::byte_view(*bytes)).has_value());
  for (int i = 0; i < 8; ++i) {
    time.advance(std::chrono::seconds(5));
    guard.heartbeat();
    guard.poll();
  }
  CHECK(guard.status().state == sg::guard_state::committed);
  sg::bundle_builder b2;
  b2.channel("rules").sequence(6).version("1.1").schema("demo.rules", 1).created(1700000000);
  b2.payload(sg::byte_view(*payload)).sign_with(seed);
  auto bytes2 = b2.build();
  CHECK(bytes2.has_value());
  if (!bytes2) return;
  CHECK(guard.apply(sg::byte_view(*bytes2)).has_value());
  CHECK(guard.status().state == sg::guard_state::trial);
  time.advance(std::chrono::seconds(11));
  guard.poll();
  const sg::guard_status st = guard.status();
  CHECK(st.state == sg::guard_state::committed && st.active && st.active->sequence == 5);
  sg::content_reader reader = guard.reader();
  CHECK(reader.get() != nullptr && reader.get()->sequence() == 5);
}

int main() {
  pipeline();
  CHECK(SLOTGUARD_CONFIG_NO_EXCEPTIONS == 1);
  CHECK(twice_even('4').has_value() && *twice_even('4') == 8);
  CHECK(!twice_even('x') && twice_even('x').error() == sg::errc::invalid_argument);
  CHECK(!twice_even('3') && twice_even('3').error() == sg::errc::field_out_of_range);
  std::error_code ec = sg::errc::busy;
  CHECK(ec.category().name() == std::string("slotguard"));
  CHECK(std::strcmp(sg::to_string(sg::errc::field_count_mismatch), "field_count_mismatch") == 0);
  sg::result<std::string> s = std::string("abc");
  CHECK(s->size() == 3);
  std::printf("noexcept_smoke: %s\n", failures == 0 ? "ok" : "FAILED");
  return failures == 0 ? 0 : 1;
}
