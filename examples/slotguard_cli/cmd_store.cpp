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

#include <chrono>
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
    "                       [--probe-timeout S] [--probe-env NAME]... [--probe CMD [ARG...]]\n"
    "       slotguard status --store DIR [--channel C] [--trust KEY.pub]... [--json]\n"
    "       slotguard confirm --store DIR [--channel C] [--trust KEY.pub]...\n"
    "       slotguard revert --store DIR [--channel C] [--trust KEY.pub]...\n"
    "       slotguard rollback --store DIR [--channel C] [--trust KEY.pub]...\n"
    "       slotguard release --store DIR [--channel C] SEQ\n"
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
    "  --probe CMD [ARG...]  (apply, last: everything after it is the command)\n"
    "            run the candidate through the host's own loader first, isolated\n"
    "            (own session and namespaces where the kernel allows, only the\n"
    "            three standard descriptors, resource limits, killed as a group\n"
    "            at the time limit); an ARG '{}' stands for the candidate's payload\n"
    "            file (else it is the last argument). A crash, a non-zero exit, a\n"
    "            timeout or an exceeded limit rejects and quarantines it\n"
    "  --probe-timeout S  the probe's time limit in seconds (10)\n"
    "  --probe-env NAME   pass the host's NAME to the probe (no other variable is)\n"
    "  status    the store's state; --json prints one object with state (empty,\n"
    "            trial, committed), channel, active and fallback (null or {slot,\n"
    "            sequence, payload_sha256, version}), trial_starts, start_budget,\n"
    "            floor, quarantine (a list of sequences), load_error (null or\n"
    "            why the active content is not served), trust_checked\n"
    "            (whether --trust was given), served (the sequence readers get, or\n"
    "            0), and breaker {mode, streak, safe_sequence}: the crash-streak\n"
    "            breaker's mode (normal, safe, no_content, not_content), the starts\n"
    "            since the last healthy run, the last known-safe sequence\n"
    "  confirm   commit the running trial; with no trial, end the crash-streak\n"
    "            breaker's safe or no-content mode\n"
    "  revert    end the running trial with failure (its sequence is quarantined)\n"
    "  rollback  go back to the previously committed content (lowers the floor);\n"
    "            it must pass the checks at rest (--trust, --host-version), as the\n"
    "            sensor would serve it\n"
    "  release   lift the quarantine of sequence SEQ (the way back from a false\n"
    "            revert or recall); it activates nothing by itself\n"
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
  const bool is_release = std::strcmp(cmd, "release") == 0;
  if (!(is_apply || is_status || is_confirm || is_revert || is_rollback || is_release))
    return sgcli::usage_error(cmd, "not a store subcommand (apply, status, confirm, revert, rollback, release)");

  // apply's --probe takes the rest of the command line as the probe's command.
  std::vector<std::string> probe_command;
  bool has_probe = false;
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--") == 0) break;
    if (std::strcmp(argv[i], "--probe") == 0) {
      if (!is_apply) return sgcli::usage_error(cmd, "--probe is for apply only");
      has_probe = true;
      for (int k = i + 1; k < argc; ++k) probe_command.emplace_back(argv[k]);
      argc = i;
      break;
    }
  }
  if (has_probe && (probe_command.empty() || probe_command[0].empty()))
    return sgcli::usage_error(cmd, "--probe needs a command");

  const sgcli::arg_parser args(argc, argv,
                               {{{"--store"}},
                                {{"--channel"}},
                                {{"--trust"}, true, true},
                                {{"--threshold"}},
                                {{"--schema-file"}},
                                {{"--device-id"}},
                                {{"--host-version"}},
                                {{"--start-budget"}},
                                {{"--probe-timeout"}},
                                {{"--probe-env"}, true, true},
                                {{"--json"}, false}});
  if (args.help()) {
    std::fputs(store_help, stdout);
    return sgcli::exit_ok;
  }
  if (!args.ok()) return sgcli::usage_error(cmd, args.error());
  const auto store = args.value("--store");
  if (!store || store->empty()) return sgcli::usage_error(cmd, "--store DIR is required");
  if (!is_apply) {
    for (const char* only_apply : {"--schema-file", "--device-id", "--start-budget", "--probe-timeout", "--probe-env"})
      if (args.has(only_apply))
        return sgcli::usage_error(cmd, std::string(only_apply) + " is for apply only");
    if (!is_release && !args.positional().empty()) return sgcli::usage_error(cmd, "unexpected argument");
  }
  std::uint64_t release_seq = 0;
  if (is_release) {
    if (args.positional().size() != 1) return sgcli::usage_error(cmd, "exactly one SEQ is required");
    const auto n = sgcli::parse_u64(args.positional()[0]);
    if (!n || *n == 0) return sgcli::usage_error(cmd, "SEQ needs a sequence number >= 1");
    release_seq = *n;
  }
  if ((args.has("--probe-timeout") || args.has("--probe-env")) && !has_probe)
    return sgcli::usage_error(cmd, "--probe-timeout and --probe-env need --probe CMD");
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
    if (has_probe) {
      sg::probe_options po;
      if (const auto v = args.value("--probe-timeout")) {
        const auto secs = sgcli::parse_u64(*v);
        if (!secs || *secs == 0 || *secs > 86400)
          return sgcli::usage_error(cmd, "--probe-timeout needs a number of seconds, 1 to 86400");
        po.time_limit = std::chrono::milliseconds(*secs * 1000);
      }
      po.pass_env = args.values("--probe-env");
      o.candidate_probe = sg::probe::isolated(probe_command, std::move(po));
    }
    auto bytes = sgcli::read_file(bundle_path, o.limits.max_bundle_size);
    if (!bytes) return sgcli::fail(cmd, bytes.error(), bundle_path);
    bundle = std::move(*bytes);
  }

  auto opened = sg::guard::open(std::move(o));
  if (!opened) return sgcli::fail(cmd, opened.error(), *store);
  sg::guard& g = **opened;

  if (is_apply) {
    std::string why;
    const auto sub = g.on_event([&](const sg::event& e) {
      if ((e.kind == sg::event_kind::probe_failed || e.kind == sg::event_kind::rejected) && !e.detail.empty() &&
          why.empty())
        why = e.detail;
    });
    const auto r = g.apply(sg::byte_view(bundle));
    (void)g.unsubscribe(sub);
    if (!r) return sgcli::fail(cmd, r.error(), why.empty() ? bundle_path : bundle_path + ": " + why);
    const auto st = g.status();
    if (st.state == sg::guard_state::trial) {
      std::printf("trial: %s; the sensor's next start runs it (or 'slotguard confirm')\n",
                  text_slot(st.active).c_str());
    } else {
      // A recall: nothing is on trial.
      std::printf("recall applied; active: %s\n", text_slot(st.active).c_str());
    }
    return sgcli::exit_ok;
  }
  if (is_confirm) {
    const bool trial = g.status().state == sg::guard_state::trial;
    const auto r = g.confirm();
    if (!r) return sgcli::fail(cmd, r.error(), *store);
    if (trial) std::printf("committed: %s\n", text_slot(g.status().active).c_str());
    else std::printf("crash-streak breaker back to normal; active: %s\n", text_slot(g.status().active).c_str());
    return sgcli::exit_ok;
  }
  if (is_release) {
    const auto r = g.release(release_seq);
    if (!r) return sgcli::fail(cmd, r.error(), *store);
    std::printf("sequence %llu is not quarantined\n", static_cast<unsigned long long>(release_seq));
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
        "\"start_budget\":%u,\"floor\":%llu,\"quarantine\":%s,\"load_error\":%s,\"trust_checked\":%s,"
        "\"served\":%llu,\"breaker\":{\"mode\":\"%s\",\"streak\":%u,\"safe_sequence\":%llu}}\n",
        sg::to_string(st.state), channel.empty() ? "null" : sgcli::json_string(channel).c_str(),
        json_slot(st.active).c_str(), json_slot(st.fallback).c_str(), st.trial_starts, st.start_budget,
        static_cast<unsigned long long>(st.floor), q.c_str(),
        st.load_error == sg::errc::ok ? "null" : sgcli::json_string(sg::to_string(st.load_error)).c_str(),
        trusted.empty() ? "false" : "true", static_cast<unsigned long long>(st.served), sg::to_string(st.mode),
        st.streak, static_cast<unsigned long long>(st.safe_sequence));
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
  std::printf("served:       %s\n", st.served ? ("sequence " + std::to_string(st.served)).c_str() : "nothing");
  std::printf("breaker:      %s, %u start%s since the last healthy run, last known-safe %s\n",
              sg::to_string(st.mode), st.streak, st.streak == 1 ? "" : "s",
              st.safe_sequence ? ("sequence " + std::to_string(st.safe_sequence)).c_str() : "none");
  if (st.load_error != sg::errc::ok) {
    std::printf("load error:   %s: %s\n", sg::to_string(st.load_error), sg::describe(st.load_error));
    if (trusted.empty() && (st.load_error == sg::errc::unknown_key || st.load_error == sg::errc::below_threshold))
      std::printf("              (no --trust given: stored content is checked against no keys; give the\n"
                  "              sensor's keys to see what it would serve)\n");
  }
  return sgcli::exit_ok;
}
