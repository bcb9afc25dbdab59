// SPDX-License-Identifier: Apache-2.0
// The tool's store subcommands: apply, status, confirm, revert, rollback,
// release and history on one channel's store directory.
//  - status and history only read: no lock, no write, nothing created; they
//    work while a sensor holds the store, for an account that may only read
//    it, and on a read-only file system (the journal's records and the slot
//    files are replaced whole, by renames, so a reader sees one state).
//  - apply, confirm, revert, rollback and release act directly when no
//    sensor holds the store: the tool opens it in the guard's operator mode
//    (it never counts a process start against a trial and runs no watchdog;
//    a trial it begins is run and judged by the sensor's next start). When a
//    sensor holds it (busy), the tool leaves a request in the store that the
//    sensor's guard carries out through its own gates (requests.hpp), and
//    waits for the outcome.
#include "cli.hpp"

#include <slotguard/bundle.hpp>
#include <slotguard/guard.hpp>
#include <slotguard/tree.hpp>
#include <slotguard/history.hpp>
#include <slotguard/requests.hpp>
#include <slotguard/schema.hpp>
#include <slotguard/slot_store.hpp>
#include <slotguard/storage.hpp>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#if defined(_WIN32)
#include <process.h>
#else
#include <sys/stat.h>
#include <unistd.h>
#endif

namespace sg = slotguard;

namespace {

const char store_help[] =
    "usage: slotguard apply --store DIR [--channel C] BUNDLE --trust KEY.pub...\n"
    "                       [--threshold K] [--schema-file F] [--device-id ID]\n"
    "                       [--host-version V] [--start-budget N] [WAIT]\n"
    "                       [--probe-timeout S] [--probe-env NAME]... [--probe CMD [ARG...]]\n"
    "       slotguard status --store DIR [--channel C] [--trust KEY.pub]... [--threshold K]\n"
    "                        [--host-version V]\n"
    "       slotguard confirm --store DIR [--channel C] [--trust KEY.pub]... [WAIT]\n"
    "       slotguard revert --store DIR [--channel C] [--trust KEY.pub]... [WAIT]\n"
    "       slotguard rollback --store DIR [--channel C] [--trust KEY.pub]... [WAIT]\n"
    "       slotguard release --store DIR [--channel C] SEQ [WAIT]\n"
    "       slotguard history --store DIR [--limit N]\n"
    "  WAIT: --wait S | --no-wait        every command also takes --json\n"
    "\n"
    "Operates one channel's store directory as an operator.\n"
    "  status and history only read the store: no lock, no write, nothing\n"
    "  created (a missing store is not_found); they work while a sensor runs\n"
    "  and for an account that may only read the store.\n"
    "  apply, confirm, revert, rollback and release act on the store directly\n"
    "  when no sensor holds it (never counting a process start against a trial,\n"
    "  running no watchdog). While a sensor holds it, they leave a request in\n"
    "  DIR/requests that the sensor's guard carries out at its next watchdog\n"
    "  tick or poll, through the sensor's own gates (its keys, schema, policy\n"
    "  and probe; the tool's --trust, --schema-file, --probe... then only serve\n"
    "  the direct path), and print its outcome.\n"
    "  --wait S     wait at most S seconds for the sensor's outcome (30); a\n"
    "               request nobody takes up by then is withdrawn (timeout)\n"
    "  --no-wait    leave the request and return at once (exit 0)\n"
    "  --channel C  the channel the store serves; without it, the channel the\n"
    "               store records (its first write records it), so it is\n"
    "               required for the first apply. A store that records another\n"
    "               channel is refused (channel_mismatch). The channel is never\n"
    "               taken from the bundle.\n"
    "  --trust KEY.pub, --threshold K, --host-version V  what stored content is\n"
    "               checked against, as the sensor does (apply requires --trust;\n"
    "               for status they make load_error and served say what the\n"
    "               sensor would serve)\n"
    "  apply     run a bundle through the pipeline (verify against the trusted\n"
    "            keys, the store's channel and the committed floor, validate\n"
    "            against --schema-file if given, rollout policy when --device-id\n"
    "            is given) and begin its trial. A bundle for another channel is\n"
    "            refused (channel_mismatch). A recall bundle takes its listed\n"
    "            sequences out of every role and begins no trial\n"
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
    "            0), served_path (a tree payload's directory, or null) and breaker\n"
    "            {mode, streak, safe_sequence}: the crash-streak\n"
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
    "  history   the store's decisions, oldest first (the last 256 at least):\n"
    "            time, record number, event, sequence, what is served after it,\n"
    "            reason, error and detail; --json prints {\"records\":[...]};\n"
    "            --limit N the newest N only\n"
    "\n"
    "Text output escapes control and invisible characters in what the store\n"
    "holds (a version is untrusted text).\n"
    "exit status: 0 done, 1 rejected or failed (the reason's name, a sentence and\n"
    "what failed on stderr, or with --json one object {errc, sentence, context}\n"
    "on stdout; also when the standard output cannot be written), 2 usage error\n";

std::string hex_digest(const sg::sha256_digest& d) { return sg::to_hex(sg::byte_view(d)); }

// The state a command leaves, from the store (direct) or from the sensor's
// outcome (request): the same words either way.
sg::request_outcome state_of(const sg::guard_status& st) { return sg::outcome_of(st); }

std::string json_slot(const std::optional<sg::request_slot>& s) {
  if (!s) return "null";
  return std::string("{\"slot\":\"") + s->slot + "\",\"sequence\":" + std::to_string(s->sequence) +
         ",\"payload_sha256\":\"" + s->payload_sha256 + "\",\"version\":" + sgcli::json_string(s->version) + "}";
}

std::string text_slot(const std::optional<sg::request_slot>& s) {
  if (!s) return "none";
  return "sequence " + std::to_string(s->sequence) + " (slot " + s->slot +
         (s->version.empty() ? "" : ", version " + sgcli::printable(s->version)) + ", payload sha256 " +
         s->payload_sha256 + ")";
}

std::string json_list(const std::vector<std::uint64_t>& v) {
  std::string q = "[";
  for (std::size_t i = 0; i < v.size(); ++i) q += (i ? "," : "") + std::to_string(v[i]);
  return q + "]";
}

// Accepts every payload: without --schema-file the operator vouches for it.
sg::result<void, sg::validation_error> accept_all(sg::byte_view) {
  return sg::result<void, sg::validation_error>();
}

// An error of the storage or the machine, not of the bundle.
bool is_storage_error(sg::errc e) {
  return e == sg::errc::io_error || e == sg::errc::permission_denied || e == sg::errc::no_space ||
         e == sg::errc::out_of_memory || e == sg::errc::busy || e == sg::errc::read_only_store ||
         e == sg::errc::sharing_violation || e == sg::errc::insecure_permissions ||
         e == sg::errc::journal_corrupt || e == sg::errc::counter_exhausted;
}

// --- status: read only -----------------------------------------------------------

struct read_status {
  sg::store_state store;
  std::optional<sg::request_slot> active, fallback;
  sg::errc load_error = sg::errc::ok;
  std::uint64_t served = 0;
  std::string served_path;  // a tree payload's directory in the store (empty: none)
};

std::optional<sg::request_slot> summarize_slot(sg::slot_id id, const sg::slot_info& info,
                                               const sg::byte_view* bytes) {
  sg::request_slot s;
  s.slot = sg::to_string(id);
  s.sequence = info.sequence;
  s.payload_sha256 = std::string(64, '0');
  if (bytes != nullptr) {
    auto parsed = sg::parse_bundle(*bytes);
    if (parsed) {
      s.payload_sha256 = hex_digest(parsed->manifest.payload_sha256);
      s.version = std::string(parsed->manifest.version);
    }
  }
  return s;
}

// What the store holds and what a sensor with these keys serves, read
// without a lock. A slot file the sensor removed between our read of the
// journal and of the file (it moved on) makes us read the journal again.
sg::result<read_status> read_store(sg::storage& fs, const std::string& dir, const std::string& channel,
                                   const sg::trust_set& trust, const std::optional<sg::host_version>& host) {
  for (int attempt = 0;; ++attempt) {
    sg::store_options so;
    so.channel = channel;
    auto st = sg::slot_store::open_read_only(fs, dir, so);
    if (!st) return st.error();
    read_status out;
    out.store = st->state();
    const sg::store_state& s = out.store;
    bool moved = false;
    // Loads and checks a slot as the sensor would: quarantine, hash, parse,
    // signatures against the current keys, channel, host range.
    std::string paths[2];
    auto judge = [&](sg::slot_id id, std::optional<sg::request_slot>& summary) -> sg::errc {
      const sg::slot_info& info = s.slot(id);
      // Mapped, not read into memory: content may be gigabytes.
      auto mapped = st->map(id);
      sg::byte_view view;
      if (mapped) view = (*mapped)->bytes();
      summary = summarize_slot(id, info, mapped ? &view : nullptr);
      if (!mapped) {
        if (mapped.error() == sg::errc::not_found) moved = true;
        return mapped.error();
      }
      if (s.is_quarantined(info.sequence)) return sg::errc::quarantined;
      auto b = sg::parse_bundle(view);
      if (!b) return b.error();
      if (auto h = sg::verify_payload(*b); !h) return h.error();
      if (auto v = sg::verify_signatures(*b, trust); !v) return v.error();
      const sg::bundle_manifest& m = b->manifest;
      const std::string ch = !channel.empty() ? channel : !s.channel.empty() ? s.channel : std::string(m.channel);
      if (m.channel != ch) return sg::errc::channel_mismatch;
      if (host) {
        if (m.host_min && *host < *m.host_min) return sg::errc::host_version_out_of_range;
        if (m.host_max && *host > *m.host_max) return sg::errc::host_version_out_of_range;
      }
      if (m.kind == sg::payload_kind::tree) {
        // The unpacked tree, entry by entry, as the sensor checks it.
        auto index = sg::parse_tree_table(b->payload, b->payload.size());
        if (!index) return index.error();
        auto v = sg::verify_unpacked_tree(fs, st->slot_dir(id), *index);
        if (!v) return v.error() == sg::errc::not_found ? sg::errc::slot_corrupt : v.error();
        paths[static_cast<int>(id)] = st->slot_dir(id);
      }
      return sg::errc::ok;
    };
    sg::errc active_e = sg::errc::no_content, fallback_e = sg::errc::no_content;
    if (s.active) active_e = judge(*s.active, out.active);
    if (s.fallback) fallback_e = judge(*s.fallback, out.fallback);
    if (moved && attempt < 3) continue;
    if (s.mode == sg::breaker_mode::no_content && !s.trial) {
      out.served = 0;
    } else if (s.active) {
      if (active_e == sg::errc::ok) {
        out.served = s.slot(*s.active).sequence;
        out.served_path = paths[static_cast<int>(*s.active)];
      } else {
        out.load_error = active_e;
        if (s.fallback && fallback_e == sg::errc::ok) {
          out.served = s.slot(*s.fallback).sequence;
          out.served_path = paths[static_cast<int>(*s.fallback)];
        }
      }
    }
    return out;
  }
}

int run_status(const char* cmd, const std::string& store, const std::string& channel, bool json,
               const sg::trust_set& trust, bool trusted, const std::optional<sg::host_version>& host) {
  sg::native_storage disk;
  errno = 0;
  // A path that is not a directory is no store (its journal would read as
  // absent, and the store as empty).
  if (auto there = disk.exists(store); there && *there) {
    auto listed = disk.list(store);
    if (!listed) return sgcli::fail(cmd, listed.error(), "store " + store + " (not a readable directory)");
  }
  auto r = read_store(disk, store, channel, trust, host);
  if (!r) return sgcli::fail(cmd, r.error(), "store " + store);
  const sg::store_state& s = r->store;
  const std::string state = !s.active ? "empty" : s.trial ? "trial" : "committed";
  const std::string ch = s.channel;
  if (json) {
    std::printf(
        "{\"state\":\"%s\",\"channel\":%s,\"active\":%s,\"fallback\":%s,\"trial_starts\":%u,"
        "\"start_budget\":%u,\"floor\":%llu,\"quarantine\":%s,\"load_error\":%s,\"trust_checked\":%s,"
        "\"served\":%llu,\"served_path\":%s,\"breaker\":{\"mode\":\"%s\",\"streak\":%u,\"safe_sequence\":%llu}}\n",
        state.c_str(), ch.empty() ? "null" : sgcli::json_string(ch).c_str(), json_slot(r->active).c_str(),
        json_slot(r->fallback).c_str(), s.trial ? s.starts_used : 0u, s.trial ? s.start_budget : 0u,
        static_cast<unsigned long long>(s.floor), json_list(s.quarantine).c_str(),
        r->load_error == sg::errc::ok ? "null" : sgcli::json_string(sg::to_string(r->load_error)).c_str(),
        trusted ? "true" : "false", static_cast<unsigned long long>(r->served),
        r->served_path.empty() ? "null" : sgcli::json_string(r->served_path).c_str(), sg::to_string(s.mode), s.streak,
        static_cast<unsigned long long>(s.safe_sequence));
    return sgcli::exit_ok;
  }
  std::printf("state:        %s\n", state.c_str());
  if (!ch.empty()) std::printf("channel:      %s\n", sgcli::printable(ch).c_str());
  std::printf("active:       %s\n", text_slot(r->active).c_str());
  std::printf("fallback:     %s\n", text_slot(r->fallback).c_str());
  if (s.trial) std::printf("trial starts: %u of %u\n", s.starts_used, s.start_budget);
  std::printf("floor:        %llu\n", static_cast<unsigned long long>(s.floor));
  std::printf("quarantine:   ");
  if (s.quarantine.empty()) std::printf("none");
  for (std::size_t i = 0; i < s.quarantine.size(); ++i)
    std::printf("%s%llu", i ? " " : "", static_cast<unsigned long long>(s.quarantine[i]));
  std::printf("\n");
  std::printf("served:       %s\n", r->served ? ("sequence " + std::to_string(r->served)).c_str() : "nothing");
  if (!r->served_path.empty()) std::printf("served path:  %s\n", sgcli::printable(r->served_path).c_str());
  std::printf("breaker:      %s, %u start%s since the last healthy run, last known-safe %s\n",
              sg::to_string(s.mode), s.streak, s.streak == 1 ? "" : "s",
              s.safe_sequence ? ("sequence " + std::to_string(s.safe_sequence)).c_str() : "none");
  if (r->load_error != sg::errc::ok) {
    std::printf("load error:   %s: %s\n", sg::to_string(r->load_error), sg::describe(r->load_error));
    if (!trusted && (r->load_error == sg::errc::unknown_key || r->load_error == sg::errc::below_threshold))
      std::printf("              (no --trust given: stored content is checked against no keys; give the\n"
                  "              sensor's keys to see what it would serve)\n");
  }
  return sgcli::exit_ok;
}

// --- history ---------------------------------------------------------------------

std::string utc_ms(std::int64_t unix_ms) {
  const std::time_t secs = static_cast<std::time_t>(unix_ms / 1000);
  std::tm tm{};
#if defined(_WIN32)
  gmtime_s(&tm, &secs);
#else
  gmtime_r(&secs, &tm);
#endif
  char buf[96];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1,
                tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, static_cast<int>(unix_ms % 1000));
  return buf;
}

const char history_help[] =
    "usage: slotguard history --store DIR [--limit N] [--json]\n"
    "\n"
    "Prints the store's decisions, oldest first: time (UTC), record number,\n"
    "event, the sequence it is about, the sequence served after it, the revert\n"
    "reason, the error and the detail. Only reads the store (no lock, nothing\n"
    "written); works while a sensor runs. --json prints {\"records\":[{number,\n"
    "unix_ms, time, event, sequence, active, reason, error, detail}]}.\n"
    "exit status: 0 done, 1 failed (not_found: no such store), 2 usage error\n";

}  // namespace

int cmd_history(int argc, char** argv) {
  const char* cmd = "history";
  const sgcli::arg_parser args(argc, argv, {{{"--store"}}, {{"--limit"}}, {{"--json"}, false}});
  if (args.help()) {
    std::fputs(history_help, stdout);
    return sgcli::exit_ok;
  }
  if (!args.ok()) return sgcli::usage_error(cmd, args.error());
  if (!args.positional().empty())
    return sgcli::usage_error(cmd, "unexpected argument '" + args.positional()[0] + "'");
  const auto store = args.value("--store");
  if (!store) return sgcli::usage_error(cmd, "--store DIR is required");
  std::size_t limit = SIZE_MAX;
  if (const auto v = args.value("--limit")) {
    const auto n = sgcli::parse_u64(*v);
    if (!n || *n == 0) return sgcli::usage_error(cmd, "--limit needs a number >= 1");
    limit = static_cast<std::size_t>(*n);
  }
  sg::native_storage disk;
  errno = 0;
  auto there = disk.exists(*store);
  if (!there) return sgcli::fail(cmd, there.error(), "store " + *store);
  if (!*there) return sgcli::fail(cmd, sg::errc::not_found, "store " + *store);
  if (auto listed = disk.list(*store); !listed)
    return sgcli::fail(cmd, listed.error(), "store " + *store + " (not a readable directory)");
  auto recs = sg::read_history(disk, *store);
  if (!recs) return sgcli::fail(cmd, recs.error(), "store " + *store + ": history");
  const std::size_t first = recs->size() > limit ? recs->size() - limit : 0;
  if (args.has("--json")) {
    std::string out = "{\"records\":[";
    for (std::size_t i = first; i < recs->size(); ++i) {
      const sg::history_record& r = (*recs)[i];
      out += (i > first ? "," : "");
      out += "{\"number\":" + std::to_string(r.number) + ",\"unix_ms\":" + std::to_string(r.unix_ms) +
             ",\"time\":\"" + utc_ms(r.unix_ms) + "\",\"event\":" + sgcli::json_string(r.event) +
             ",\"sequence\":" + std::to_string(r.sequence) + ",\"active\":" + std::to_string(r.active) +
             ",\"reason\":" + sgcli::json_string(r.reason) + ",\"error\":" + sgcli::json_string(r.error) +
             ",\"detail\":" + sgcli::json_string(r.detail) + "}";
    }
    out += "]}\n";
    std::fputs(out.c_str(), stdout);
    return sgcli::exit_ok;
  }
  if (recs->empty()) std::printf("no decisions recorded\n");
  for (std::size_t i = first; i < recs->size(); ++i) {
    const sg::history_record& r = (*recs)[i];
    std::string line = utc_ms(r.unix_ms) + "  #" + std::to_string(r.number) + "  " + sgcli::printable(r.event);
    if (r.sequence) line += "  sequence " + std::to_string(r.sequence);
    line += "  served " + (r.active ? std::to_string(r.active) : std::string("nothing"));
    if (r.reason != "none" && !r.reason.empty()) line += "  reason " + sgcli::printable(r.reason);
    if (r.error != "ok" && !r.error.empty()) line += "  error " + sgcli::printable(r.error);
    if (!r.detail.empty()) line += "  (" + sgcli::printable(r.detail) + ")";
    std::printf("%s\n", line.c_str());
  }
  return sgcli::exit_ok;
}

namespace {

// --- apply, confirm, revert, rollback, release -----------------------------------------

// A request carries its bundle (the sensor must not read a file that may
// change under it), so a bundle for a running sensor is read into memory:
// up to this size. Directly, apply streams the bundle whatever its size.
constexpr std::uint64_t max_request_bundle = std::uint64_t{256} << 20;

sg::result<std::vector<std::uint8_t>> read_bundle(const std::string& path) {
  return sgcli::read_file(path, max_request_bundle);
}

// The head of a bundle file (header, manifest, signatures), read in bounded
// memory: whether it is a recall, before anything else is done with it.
sg::result<bool> bundle_is_recall(sg::storage& fs, const std::string& path, const sg::bundle_limits& limits) {
  auto f = fs.open_read(path);
  if (!f) return f.error();
  auto size = fs.file_size(*f);
  sg::result<bool> out = sg::errc::io_error;
  if (!size) {
    out = size.error();
  } else {
    const sg::file_handle h = *f;
    auto head = sg::read_bundle_head(
        [&fs, h](std::uint64_t off, std::uint8_t* o, std::size_t n) { return fs.read_at(h, off, o, n); }, *size,
        limits);
    if (!head) out = head.error();
    else out = !head->view.manifest.recalls.empty();
  }
  (void)fs.close(*f);
  return out;
}

// What a command's success says, for the state it left.
std::string success_sentence(sg::request_kind kind, bool was_trial, bool is_recall, std::uint64_t release_seq,
                             const sg::request_outcome& st, bool via_sensor, bool was_quarantined = true) {
  switch (kind) {
    case sg::request_kind::apply:
      if (is_recall) return "recall applied; active: " + text_slot(st.active);
      return "trial: " + text_slot(st.active) +
             (via_sensor ? "; the sensor runs it now (its probation commits it, or 'slotguard confirm')"
                         : "; the sensor's next start runs it (or 'slotguard confirm')");
    case sg::request_kind::confirm:
      return was_trial ? "committed: " + text_slot(st.active)
                       : "crash-streak breaker back to normal; active: " + text_slot(st.active);
    case sg::request_kind::revert:
      return "reverted; active: " + text_slot(st.active);
    case sg::request_kind::rollback:
      return "rolled back; active: " + text_slot(st.active);
    case sg::request_kind::release:
      return was_quarantined ? "quarantine lifted: sequence " + std::to_string(release_seq) + " may be applied again"
                             : "sequence " + std::to_string(release_seq) + " was not quarantined: nothing changed";
  }
  return "done";
}

int print_success(bool json, sg::request_kind kind, const std::string& via, const std::string& sentence,
                  const sg::request_outcome& st) {
  if (!json) {
    std::printf("%s\n", sgcli::printable(sentence).c_str());
    return sgcli::exit_ok;
  }
  std::printf(
      "{\"errc\":\"ok\",\"command\":\"%s\",\"via\":\"%s\",\"sentence\":%s,\"state\":\"%s\",\"active\":%s,"
      "\"fallback\":%s,\"served\":%llu,\"floor\":%llu,\"quarantine\":%s,\"mode\":%s}\n",
      sg::to_string(kind), via.c_str(), sgcli::json_string(sentence).c_str(), st.state.c_str(),
      json_slot(st.active).c_str(), json_slot(st.fallback).c_str(), static_cast<unsigned long long>(st.served),
      static_cast<unsigned long long>(st.floor), json_list(st.quarantine).c_str(),
      sgcli::json_string(st.mode).c_str());
  return sgcli::exit_ok;
}

std::string new_request_id() {
  static std::atomic<unsigned> counter{0};
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                      std::chrono::system_clock::now().time_since_epoch())
                      .count();
#if defined(_WIN32)
  const long pid = static_cast<long>(_getpid());
#else
  const long pid = static_cast<long>(::getpid());
#endif
  char buf[64];
  std::snprintf(buf, sizeof buf, "%013lld-%ld-%u", static_cast<long long>(ms), pid, counter.fetch_add(1) + 1);
  return buf;
}

// root operating a store that belongs to another account (a sensor that
// runs as its own account): everything the tool writes there (a request,
// the journal, slot files, the history) is written as the store's owner, so
// that it has the store's owner and permissions and the sensor can read,
// claim and replace it. False when that identity could not be taken.
bool act_as_store_owner(const std::string& store) {
#if !defined(_WIN32)
  if (::geteuid() != 0) return true;
  struct stat st {};
  if (::stat(store.c_str(), &st) != 0 || st.st_uid == 0) return true;
  return ::setegid(st.st_gid) == 0 && ::seteuid(st.st_uid) == 0;
#else
  (void)store;
  return true;
#endif
}

// Sends the request to the sensor holding the store and prints its outcome.
int via_sensor(const char* cmd, const std::string& store, sg::operator_request req, bool json,
               std::optional<double> wait_s, bool is_recall, std::uint64_t release_seq) {
  sg::native_storage disk;
  req.id = new_request_id();
  const sg::request_kind kind = req.kind;
  errno = 0;
  auto sent = sg::submit_request(disk, store, req);
  if (!sent) return sgcli::fail(cmd, sent.error(), "store " + store + ": leaving a request in requests/");
  if (!wait_s) {
    if (json)
      std::printf("{\"errc\":\"ok\",\"command\":\"%s\",\"via\":\"request\",\"request\":%s,\"waited\":false}\n",
                  sg::to_string(kind), sgcli::json_string(req.id).c_str());
    else
      std::printf("request %s left for the sensor holding %s ('slotguard history' shows what it did)\n",
                  req.id.c_str(), sgcli::printable(store).c_str());
    return sgcli::exit_ok;
  }
  const auto start = std::chrono::steady_clock::now();
  const auto limit = std::chrono::duration<double>(*wait_s);
  bool withdrawn_tried = false;
  // After the tool could not withdraw it (the sensor claimed it), the
  // outcome is waited for as long again: the sensor is carrying it out.
  auto deadline = start + std::chrono::duration_cast<std::chrono::steady_clock::duration>(limit);
  for (;;) {
    auto o = sg::read_outcome(disk, store, req.id);
    if (!o) return sgcli::fail(cmd, o.error(), "store " + store + ": request " + req.id + ": reading the outcome");
    if (*o) {
      const sg::request_outcome out = std::move(**o);
      sg::forget_outcome(disk, store, req.id);
      if (out.code != sg::errc::ok) {
        // The sentence repeats the errc's own words; the context is what follows them.
        std::string why = out.sentence;
        const std::string words = sg::describe(out.code);
        if (why.rfind(words, 0) == 0) why = why.substr(words.size());
        if (why.rfind(": ", 0) == 0) why = why.substr(2);
        return sgcli::fail(cmd, out.code, "store " + store + " (by the sensor)" + (why.empty() ? "" : ": " + why));
      }
      return print_success(json, kind, "request", out.sentence.empty()
                                                      ? success_sentence(kind, false, is_recall, release_seq, out, true)
                                                      : out.sentence,
                           out);
    }
    if (std::chrono::steady_clock::now() >= deadline) {
      if (withdrawn_tried)
        return sgcli::fail(cmd, sg::errc::timeout,
                           "store " + store + ": the sensor claimed request " + req.id +
                               " but wrote no outcome in time; 'slotguard status' and 'slotguard history' say "
                               "whether it took effect");
      withdrawn_tried = true;
      auto w = sg::withdraw_request(disk, store, req.id);
      if (w && *w)
        return sgcli::fail(cmd, sg::errc::timeout,
                           "store " + store + ": no sensor took up the request within " +
                               std::to_string(static_cast<long long>(*wait_s)) +
                               " s (withdrawn; nothing was done): the store is locked but its guard serves no "
                               "requests (its watchdog thread or poll() is not running)");
      // Claimed meanwhile: its outcome wins.
      deadline = std::chrono::steady_clock::now() +
                 std::chrono::duration_cast<std::chrono::steady_clock::duration>(limit) + std::chrono::seconds(5);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
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
                                {{"--wait"}},
                                {{"--no-wait"}, false},
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
  const bool json = args.has("--json");
  std::optional<double> wait_s = 30.0;
  if (args.has("--no-wait") && args.has("--wait")) return sgcli::usage_error(cmd, "give --wait S or --no-wait, not both");
  if ((args.has("--no-wait") || args.has("--wait")) && is_status)
    return sgcli::usage_error(cmd, "--wait and --no-wait are for the commands that change the store");
  if (args.has("--no-wait")) wait_s.reset();
  if (const auto v = args.value("--wait")) {
    const auto n = sgcli::parse_u64(*v);
    if (!n || *n == 0 || *n > 86400) return sgcli::usage_error(cmd, "--wait needs a number of seconds, 1 to 86400");
    wait_s = static_cast<double>(*n);
  }

  sg::native_storage disk;
  sg::guard_options o;
  if (const auto channel = args.value("--channel"))
    if (!sg::detail::bundle_valid_channel(*channel))
      return sgcli::usage_error(cmd, "--channel '" + *channel + "' is not a valid channel name");
  if (is_status) {
    std::size_t threshold = 1;
    if (const auto v = args.value("--threshold")) {
      const auto k = sgcli::parse_u64(*v);
      if (!k || *k == 0 || *k > 1000000) return sgcli::usage_error(cmd, "--threshold needs a number >= 1");
      threshold = static_cast<std::size_t>(*k);
    }
    std::optional<sg::host_version> host;
    if (const auto v = args.value("--host-version")) {
      const auto hv = sg::parse_host_version(*v);
      if (!hv) return sgcli::usage_error(cmd, "--host-version needs major.minor.patch");
      host = *hv;
    }
    sg::trust_set trust;
    const std::vector<std::string> keys = args.values("--trust");
    for (const std::string& path : keys) {
      const auto key = sgcli::load_public_key(path);
      if (!key) return sgcli::fail(cmd, key.error(), "--trust " + path);
      const auto added = trust.add(*key);
      if (!added) return sgcli::fail(cmd, added.error(), "--trust " + path);
    }
    if (!keys.empty()) (void)trust.set_threshold(threshold);
    return run_status(cmd, *store, args.value("--channel").value_or(std::string()), json, trust, !keys.empty(),
                      host);
  }
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
    // Only apply may make a store; the others act on one that exists.
    else if (peek.error() == sg::errc::not_found && !is_apply)
      return sgcli::fail(cmd, sg::errc::not_found, "store " + *store);
  }
  if (const auto channel = args.value("--channel")) {
    if (!sg::detail::bundle_valid_channel(*channel))
      return sgcli::usage_error(cmd, "--channel '" + *channel + "' is not a valid channel name");
    // A store that records another channel is refused by the guard
    // (channel_mismatch).
    o.channel = *channel;
  } else if (!recorded.empty()) {
    o.channel = recorded;
  } else if (!is_apply) {
    // Nothing recorded: the store has never been written, so there is
    // nothing to confirm, revert, roll back or release; the guard says so.
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
    if (!key) return sgcli::fail(cmd, key.error(), "--trust " + path);
    const auto added = o.trust.add(*key);
    if (!added) return sgcli::fail(cmd, added.error(), "--trust " + path);
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
      if (!text) return sgcli::fail(cmd, text.error(), "--schema-file " + *schema_file);
      auto s = sg::parse_schema_text(sg::byte_view(*text).as_chars());
      if (!s) {
        const sg::schema_error& e = s.error();
        return sgcli::fail(cmd, e.code,
                           "--schema-file " + *schema_file + ":" + std::to_string(e.line) + ":" + std::to_string(e.column) +
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
  }

  const sg::request_kind kind = is_apply      ? sg::request_kind::apply
                                : is_confirm  ? sg::request_kind::confirm
                                : is_revert   ? sg::request_kind::revert
                                : is_rollback ? sg::request_kind::rollback
                                              : sg::request_kind::release;
  bool is_recall = false;
  if (is_apply) {
    errno = 0;
    auto recall = bundle_is_recall(disk, bundle_path, o.limits);
    if (!recall)
      return sgcli::fail(cmd, recall.error(),
                         "bundle " + bundle_path);
    is_recall = *recall;
  }

  if (!act_as_store_owner(*store))
    return sgcli::fail(cmd, sg::errc::permission_denied, "store " + *store + ": taking the store owner's identity");
  errno = 0;
  auto opened = sg::guard::open(std::move(o));
  if (!opened && opened.error() == sg::errc::busy) {
    // A sensor holds the store: ask its guard, whose own gates apply.
    std::string unused;
    for (const char* opt : {"--schema-file", "--device-id", "--start-budget", "--host-version", "--threshold"})
      if (args.has(opt)) unused += std::string(unused.empty() ? "" : ", ") + opt;
    if (has_probe) unused += std::string(unused.empty() ? "" : ", ") + "--probe";
    if (!unused.empty() && !json)
      std::fprintf(stderr,
                   "slotguard %s: note: a sensor holds the store; its own keys, schema, policy and probe apply "
                   "(%s not used)\n",
                   cmd, unused.c_str());
    if (is_apply) {
      errno = 0;
      auto bytes = read_bundle(bundle_path);
      if (!bytes)
        return sgcli::fail(cmd, bytes.error(),
                           "bundle " + bundle_path +
                               (bytes.error() == sg::errc::too_large
                                    ? ": a running sensor takes bundles of up to 256 MiB through a request"
                                    : ""));
      bundle = std::move(*bytes);
    }
    sg::operator_request req;
    req.kind = kind;
    req.sequence = release_seq;
    req.bundle = std::move(bundle);
    return via_sensor(cmd, *store, std::move(req), json, wait_s, is_recall, release_seq);
  }
  if (!opened) return sgcli::fail(cmd, opened.error(), "store " + *store);
  sg::guard& g = **opened;

  const bool was_trial = g.status().state == sg::guard_state::trial;
  std::string why;
  const auto sub = g.on_event([&](const sg::event& e) {
    if ((e.kind == sg::event_kind::probe_failed || e.kind == sg::event_kind::rejected) && !e.detail.empty() &&
        why.empty())
      why = e.detail;
  });
  errno = 0;
  sg::result<void> r;
  bool was_quarantined = false;
  switch (kind) {
    case sg::request_kind::apply:
      // Streamed: bounded memory whatever the bundle's size.
      r = g.apply_file(bundle_path);
      break;
    case sg::request_kind::confirm:
      r = g.confirm();
      break;
    case sg::request_kind::revert:
      r = g.revert();
      break;
    case sg::request_kind::rollback:
      r = g.rollback();
      break;
    case sg::request_kind::release: {
      const std::vector<std::uint64_t> q = g.status().quarantine;
      was_quarantined = std::find(q.begin(), q.end(), release_seq) != q.end();
      r = g.release(release_seq);
      break;
    }
  }
  (void)g.unsubscribe(sub);
  if (!r) {
    // A bundle's rejection names the bundle (and the gate's detail: the
    // validator's record and field, the probe's output); the store's own
    // failures name the store.
    const bool about_bundle = is_apply && !is_storage_error(r.error());
    std::string context = about_bundle ? "bundle " + bundle_path : "store " + *store;
    if (!why.empty()) context += ": " + why;
    return sgcli::fail(cmd, r.error(), context);
  }
  const sg::request_outcome st = state_of(g.status());
  return print_success(json, kind, "direct",
                       success_sentence(kind, was_trial, is_recall, release_seq, st, false, was_quarantined), st);
}
