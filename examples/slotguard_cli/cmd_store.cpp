// SPDX-License-Identifier: Apache-2.0
// The tool's store subcommands: apply, status, confirm, revert, rollback on
// one channel's store directory. The tool acts as an operator, not as the
// sensor: it opens the store in the guard's operator mode, so it never counts
// a process start against a trial and runs no watchdog; a trial it begins is
// run (and judged) by the sensor's next start.
#include "cli.hpp"

#include <slotguard/bundle.hpp>
#include <slotguard/guard.hpp>
#include <slotguard/schema.hpp>
#include <slotguard/storage.hpp>

#include <cstdio>
#include <cstring>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace sg = slotguard;

namespace {

const char store_help[] =
    "usage: slotguard apply --store DIR [--channel C] BUNDLE --trust KEY.pub...\n"
    "                       [--threshold K] [--schema-file F] [--device-id ID]\n"
    "                       [--host-version V] [--start-budget N]\n"
    "       slotguard status --store DIR [--channel C] [--trust KEY.pub]... [--json]\n"
    "       slotguard confirm --store DIR [--channel C] [--trust KEY.pub]...\n"
    "       slotguard revert --store DIR [--channel C] [--trust KEY.pub]...\n"
    "       slotguard rollback --store DIR [--channel C] [--trust KEY.pub]...\n"
    "\n"
    "Operates one channel's store directory as an operator: never counts a\n"
    "process start against a trial and runs no watchdog.\n"
    "  --channel C  the channel the store serves; without it, the channel the\n"
    "               store records (its first write records it), so it is\n"
    "               required for the first apply. A store that records another\n"
    "               channel is refused (channel_mismatch). The channel is never\n"
    "               taken from the bundle.\n"
    "  --trust KEY.pub, --threshold K, --host-version V  what stored content is\n"
    "               checked against at every open, as the sensor does (apply\n"
    "               requires --trust; for the others they make load_error say\n"
    "               what the sensor would serve)\n"
    "  apply     run a bundle through the pipeline (verify against the trusted\n"
    "            keys, the store's channel and the committed floor, validate\n"
    "            against --schema-file if given, rollout policy when --device-id\n"
    "            is given) and begin its trial; the sensor's next start runs the\n"
    "            trial. A bundle for another channel is refused\n"
    "            (channel_mismatch)\n"
    "  status    the store's state; --json prints one object with state (empty,\n"
    "            trial, committed), channel, active and fallback (null or {slot,\n"
    "            sequence, payload_sha256, version}), trial_starts, start_budget,\n"
    "            floor, quarantine (a list of sequences), load_error (null or\n"
    "            why the active content is not served) and trust_checked\n"
    "            (whether --trust was given)\n"
    "  confirm   commit the running trial\n"
    "  revert    end the running trial with failure (its sequence is quarantined)\n"
    "  rollback  go back to the previously committed content (lowers the floor)\n"
    "\n"
    "Text output escapes control and invisible characters in what the store\n"
    "holds (a version is untrusted text).\n"
    "exit status: 0 done, 1 rejected or failed (the reason's name and a sentence\n"
    "on stderr; also when the standard output cannot be written), 2 usage error\n";

std::string hex_digest(const sg::sha256_digest& d) { return sg::to_hex(sg::byte_view(d)); }

std::string json_slot(const std::optional<sg::slot_summary>& s) {
  if (!s) return "null";
  return std::string("{\"slot\":\"") + sg::to_string(s->slot) + "\",\"sequence\":" +
         std::to_string(s->sequence) + ",\"payload_sha256\":\"" + hex_digest(s->payload_sha256) +
         "\",\"version\":" + sgcli::json_string(s->version) + "}";
}

std::string text_slot(const std::optional<sg::slot_summary>& s) {
  if (!s) return "none";
  return "sequence " + std::to_string(s->sequence) + " (slot " + sg::to_string(s->slot) +
         (s->version.empty() ? "" : ", version " + sgcli::printable(s->version)) +
         ", payload sha256 " + hex_digest(s->payload_sha256) + ")";
}

// Accepts every payload: without --schema-file the operator vouches for it.
sg::result<void, sg::validation_error> accept_all(sg::byte_view) {
  return sg::result<void, sg::validation_error>();
}

}  // namespace

int cmd_store(int argc, char** argv) {
  const char* cmd = argc > 0 ? argv[0] : "store";
  const bool is_apply = std::strcmp(cmd, "apply") == 0;
  const bool is_status = std::strcmp(cmd, "status") == 0;
  const bool is_confirm = std::strcmp(cmd, "confirm") == 0;
  const bool is_revert = std::strcmp(cmd, "revert") == 0;
  const bool is_rollback = std::strcmp(cmd, "rollback") == 0;
  if (!(is_apply || is_status || is_confirm || is_revert || is_rollback))
    return sgcli::usage_error(cmd, "not a store subcommand (apply, status, confirm, revert, rollback)");

  const sgcli::arg_parser args(argc, argv,
                               {{{"--store"}},
                                {{"--channel"}},
                                {{"--trust"}, true, true},
                                {{"--threshold"}},
                                {{"--schema-file"}},
                                {{"--device-id"}},
                                {{"--host-version"}},
                                {{"--start-budget"}},
                                {{"--json"}, false}});
  if (args.help()) {
    std::fputs(store_help, stdout);
    return sgcli::exit_ok;
  }
  if (!args.ok()) return sgcli::usage_error(cmd, args.error());
  const auto store = args.value("--store");
  if (!store || store->empty()) return sgcli::usage_error(cmd, "--store DIR is required");
  if (!is_apply) {
    for (const char* only_apply : {"--schema-file", "--device-id", "--start-budget"})
      if (args.has(only_apply))
        return sgcli::usage_error(cmd, std::string(only_apply) + " is for apply only");
    if (!args.positional().empty()) return sgcli::usage_error(cmd, "unexpected argument");
  }
  if (args.has("--json") && !is_status) return sgcli::usage_error(cmd, "--json is for status only");

  sg::native_storage disk;
  sg::guard_options o;
  o.fs = &disk;
  o.directory = *store;
  o.operator_mode = true;
  o.watchdog = sg::watchdog_mode::poll;
  o.check = sg::content_check(sg::validator_fn(accept_all));

  // The channel the store serves: --channel, else the one the store records
  // (its first write recorded it). Never the bundle's own channel field: a
  // bundle that names its own channel would pass any channel check.
  std::string recorded;
  {
    auto peek = sg::slot_store::open_read_only(disk, *store, sg::store_options{});
    if (peek) recorded = peek->state().channel;
  }
  if (const auto channel = args.value("--channel")) {
    if (!sg::detail::bundle_valid_channel(*channel))
      return sgcli::usage_error(cmd, "--channel '" + *channel + "' is not a valid channel name");
    // A store that records another channel is refused by the guard
    // (channel_mismatch).
    o.channel = *channel;
  } else if (!recorded.empty()) {
    o.channel = recorded;
  } else if (is_status) {
    // Nothing recorded and nothing to write: status only reads, and a store
    // records a channel only when written.
    o.channel = "operator";
  } else {
    return sgcli::usage_error(cmd, "--channel C is required: the store records no channel yet");
  }

  // The trusted keys, threshold and host version stored content is checked
  // against (the guard re-checks it at every open): required for apply; for
  // the other commands they make status's load_error say what the sensor
  // would serve.
  if (is_apply && args.positional().size() != 1) return sgcli::usage_error(cmd, "exactly one BUNDLE is required");
  const std::vector<std::string> trusted = args.values("--trust");
  if (is_apply && trusted.empty()) return sgcli::usage_error(cmd, "--trust KEY.pub is required");
  std::size_t threshold = 1;
  if (const auto v = args.value("--threshold")) {
    const auto k = sgcli::parse_u64(*v);
    if (!k || *k == 0 || *k > 1000000) return sgcli::usage_error(cmd, "--threshold needs a number >= 1");
    threshold = static_cast<std::size_t>(*k);
  }
  if (const auto v = args.value("--host-version")) {
    const auto hv = sg::parse_host_version(*v);
    if (!hv) return sgcli::usage_error(cmd, "--host-version needs major.minor.patch");
    o.host = *hv;
  }
  for (const std::string& path : trusted) {
    const auto key = sgcli::load_public_key(path);
    if (!key) return sgcli::fail(cmd, key.error(), path);
    const auto added = o.trust.add(*key);
    if (!added) return sgcli::fail(cmd, added.error(), path);
  }
  if (!trusted.empty()) (void)o.trust.set_threshold(threshold);

  std::string bundle_path;
  std::vector<std::uint8_t> bundle;
  if (is_apply) {
    bundle_path = args.positional()[0];
    if (const auto v = args.value("--start-budget")) {
      const auto n = sgcli::parse_u64(*v);
      if (!n || *n == 0 || *n > 1000000) return sgcli::usage_error(cmd, "--start-budget needs a number >= 1");
      o.start_budget = static_cast<std::uint32_t>(*n);
    }
    if (const auto v = args.value("--device-id")) {
      o.policy.device_id = *v;
    } else {
      // No device to bucket: an operator installing by hand is not part of
      // a staged rollout.
      o.policy.ignore_rollout = true;
    }
    if (const auto schema_file = args.value("--schema-file")) {
      const auto text = sgcli::read_file(*schema_file, std::uint64_t{16} << 20);
      if (!text) return sgcli::fail(cmd, text.error(), *schema_file);
      auto s = sg::parse_schema_text(sg::byte_view(*text).as_chars());
      if (!s) {
        const sg::schema_error& e = s.error();
        return sgcli::fail(cmd, e.code,
                           *schema_file + ":" + std::to_string(e.line) + ":" + std::to_string(e.column) +
                               ": " + e.message);
      }
      o.check = sg::content_check(std::move(*s));
    }
    auto bytes = sgcli::read_file(bundle_path, o.limits.max_bundle_size);
    if (!bytes) return sgcli::fail(cmd, bytes.error(), bundle_path);
    bundle = std::move(*bytes);
  }

  auto opened = sg::guard::open(std::move(o));
  if (!opened) return sgcli::fail(cmd, opened.error(), *store);
  sg::guard& g = **opened;

  if (is_apply) {
    const auto r = g.apply(sg::byte_view(bundle));
    if (!r) return sgcli::fail(cmd, r.error(), bundle_path);
    const auto st = g.status();
    std::printf("trial: %s; the sensor's next start runs it (or 'slotguard confirm')\n",
                text_slot(st.active).c_str());
    return sgcli::exit_ok;
  }
  if (is_confirm) {
    const auto r = g.confirm();
    if (!r) return sgcli::fail(cmd, r.error(), *store);
    std::printf("committed: %s\n", text_slot(g.status().active).c_str());
    return sgcli::exit_ok;
  }
  if (is_revert) {
    const auto r = g.revert();
    if (!r) return sgcli::fail(cmd, r.error(), *store);
    std::printf("reverted; active: %s\n", text_slot(g.status().active).c_str());
    return sgcli::exit_ok;
  }
  if (is_rollback) {
    const auto r = g.rollback();
    if (!r) return sgcli::fail(cmd, r.error(), *store);
    std::printf("rolled back; active: %s\n", text_slot(g.status().active).c_str());
    return sgcli::exit_ok;
  }

  // status
  const sg::guard_status st = g.status();
  const auto active = g.current();
  // The channel the store records; a store written before channels were
  // recorded shows its served content's.
  std::string channel = recorded;
  if (channel.empty() && active) channel = std::string(active->manifest().channel);
  if (args.has("--json")) {
    std::string q = "[";
    for (std::size_t i = 0; i < st.quarantine.size(); ++i) {
      if (i) q += ",";
      q += std::to_string(st.quarantine[i]);
    }
    q += "]";
    std::printf(
        "{\"state\":\"%s\",\"channel\":%s,\"active\":%s,\"fallback\":%s,\"trial_starts\":%u,"
        "\"start_budget\":%u,\"floor\":%llu,\"quarantine\":%s,\"load_error\":%s,\"trust_checked\":%s}\n",
        sg::to_string(st.state), channel.empty() ? "null" : sgcli::json_string(channel).c_str(),
        json_slot(st.active).c_str(), json_slot(st.fallback).c_str(), st.trial_starts, st.start_budget,
        static_cast<unsigned long long>(st.floor), q.c_str(),
        st.load_error == sg::errc::ok ? "null" : sgcli::json_string(sg::to_string(st.load_error)).c_str(),
        trusted.empty() ? "false" : "true");
    return sgcli::exit_ok;
  }
  std::printf("state:        %s\n", sg::to_string(st.state));
  if (!channel.empty()) std::printf("channel:      %s\n", sgcli::printable(channel).c_str());
  std::printf("active:       %s\n", text_slot(st.active).c_str());
  std::printf("fallback:     %s\n", text_slot(st.fallback).c_str());
  if (st.state == sg::guard_state::trial)
    std::printf("trial starts: %u of %u\n", st.trial_starts, st.start_budget);
  std::printf("floor:        %llu\n", static_cast<unsigned long long>(st.floor));
  std::printf("quarantine:   ");
  if (st.quarantine.empty()) std::printf("none");
  for (std::size_t i = 0; i < st.quarantine.size(); ++i)
    std::printf("%s%llu", i ? " " : "", static_cast<unsigned long long>(st.quarantine[i]));
  std::printf("\n");
  if (st.load_error != sg::errc::ok) {
    std::printf("load error:   %s: %s\n", sg::to_string(st.load_error), sg::describe(st.load_error));
    if (trusted.empty() && (st.load_error == sg::errc::unknown_key || st.load_error == sg::errc::below_threshold))
      std::printf("              (no --trust given: stored content is checked against no keys; give the\n"
                  "              sensor's keys to see what it would serve)\n");
  }
  return sgcli::exit_ok;
}
