// SPDX-License-Identifier: Apache-2.0
// The smallest real integration: a sensor opens a guard on its content store,
// applies a signed update, reads the content through a reader, reports
// healthy, and confirms the trial. The publisher's side (a key and a bundle)
// is made on the spot so the example runs with nothing else.
#include <slotguard/bundle.hpp>
#include <slotguard/guard.hpp>
#include <slotguard/storage.hpp>

#include <cstdio>
#include <filesystem>

namespace sg = slotguard;

// What the interpreter reads, declared once for the validator and the reader:
// a pattern, a severity, and a list of up to 8 tokens of up to 32 bytes.
constexpr sg::field_decl rule_fields[] = {sg::fields::string("pattern", 64),
                                          sg::fields::u8("severity").range(1, 5),
                                          sg::fields::string("tokens", 32).list(8)};
constexpr sg::record_decl rule{1, "rule", rule_fields};
constexpr sg::record_decl record_types[] = {rule};
constexpr sg::schema_decl rules_schema{"quickstart.rules", 1, record_types};
static_assert(sg::check_decl(rules_schema).ok(), "the schema declaration is valid");

static int fail(const char* step, sg::errc e) {
  std::fprintf(stderr, "%s failed: %s (%s)\n", step, sg::to_string(e), sg::describe(e));
  return 1;
}

int main() {
  // Publisher: a key from a fixed seed, and a bundle holding one rule.
  sg::ed25519_seed seed{};
  seed.fill(42);
  sg::payload_writer content(rules_schema.id, rules_schema.version);
  content.begin_record(rule.type_id);
  content.add_string("mimikatz");
  content.add_u8(5);
  content.begin_list();
  content.add_string("sekurlsa");
  content.add_string("lsass");
  content.end_list();
  auto bundle = sg::bundle_builder()
                    .channel("rules").sequence(1).version("2026.11.26")
                    .schema(rules_schema.id, rules_schema.version)
                    .created(sg::real_clock().unix_seconds())
                    .payload(content.finish()).sign_with(seed).build();
  if (!bundle) return fail("build", bundle.error());

  // Sensor: a guard over a store directory, trusting the publisher's key.
  const auto stamp = sg::real_clock().now().time_since_epoch().count();
  const auto dir = std::filesystem::temp_directory_path() / ("slotguard-quickstart-" + std::to_string(stamp));
  sg::native_storage disk;
  sg::guard_options opts;
  opts.fs = &disk;
  opts.directory = dir.string();
  opts.channel = "rules";
  if (auto added = opts.trust.add(sg::ed25519_public_key_from_seed(seed)); !added)
    return fail("trust", added.error());
  opts.check = *sg::schema::from_decl(rules_schema);
  auto opened = sg::guard::open(std::move(opts));
  if (!opened) return fail("open", opened.error());
  sg::guard& guard = **opened;

  // Every gate (signature, schema, policy) passes: the update goes on trial.
  if (auto applied = guard.apply(sg::byte_view(*bundle)); !applied) return fail("apply", applied.error());

  // The hot path: one reader per thread; get() costs an atomic load.
  sg::content_reader reader = guard.reader();
  const sg::active_content* active = reader.get();
  auto rules = active->records().records_of<rule>();
  if (!rules) return fail("read", rules.error());
  for (auto r : *rules) {
    const std::string_view pattern = r.value<0>();  // no wildcard declared: a value
    std::printf("rule %zu: pattern \"%.*s\", severity %u, %zu tokens\n", r.index(),
                static_cast<int>(pattern.size()), pattern.data(), static_cast<unsigned>(r.value<1>()),
                r.value<2>().count());
    for (std::string_view token : r.value<2>())  // a list_view<std::string_view>
      std::printf("  token \"%.*s\"\n", static_cast<int>(token.size()), token.data());
  }

  // Healthy: feed the watchdog. Probation would commit it; confirm() does now.
  guard.heartbeat();
  if (auto confirmed = guard.confirm(); !confirmed) return fail("confirm", confirmed.error());
  const sg::guard_status st = guard.status();
  std::printf("state %s, sequence %llu\n", sg::to_string(st.state),
              static_cast<unsigned long long>(st.active ? st.active->sequence : 0));
  opened->reset();
  std::filesystem::remove_all(dir);
  return st.state == sg::guard_state::committed ? 0 : 1;
}
