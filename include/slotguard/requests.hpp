// SPDX-License-Identifier: Apache-2.0
// Requests from the operator's tool to a running guard (docs/GUARD.md and
// docs/STORE.md, "Requests from the operator's tool").
//
// A sensor's guard holds its store's lock for its whole life, so an
// operator's `slotguard apply|confirm|revert|rollback|release` cannot act on
// the store itself while the sensor runs. It leaves a request in the store
// instead, and the guard carries it out at its next watchdog tick or poll(),
// through the same gates as its own calls, and writes the outcome next to it.
//
// Files, in <store>/requests/ (made with the store's permissions, through
// the storage interface):
//   <id>.req      a request: written as <id>.tmp, flushed, renamed into
//                 place, the directory synced. A bundle to apply is copied
//                 into it (it cannot change under the guard).
//   <id>.run      the request, claimed by the guard: renamed from <id>.req and
//                 the rename made durable BEFORE the guard acts, so that a
//                 request is carried out at most once, even across a crash.
//   <id>.out      the outcome (errc, a sentence, the resulting state): written
//                 as <id>.out.tmp, flushed, renamed, synced; then <id>.run is
//                 removed. A <id>.run found without an outcome (the guard
//                 stopped while carrying it out) gets the outcome
//                 "interrupted": each store operation is one durable journal
//                 record, so the request either took effect whole or not at
//                 all; status and history say which. It is never tried again.
// The tool waits for <id>.out, prints it and removes it. A request nobody
// takes up in time is withdrawn by removing <id>.req: if that fails because
// the guard claimed it meanwhile, the tool waits for the outcome, which wins.
#ifndef SLOTGUARD_REQUESTS_HPP
#define SLOTGUARD_REQUESTS_HPP

#include <slotguard/config.hpp>

#include <slotguard/bytes.hpp>
#include <slotguard/error.hpp>
#include <slotguard/log.hpp>
#include <slotguard/storage.hpp>

#include <algorithm>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace slotguard {
inline namespace SLOTGUARD_ABI_NAMESPACE {

enum class request_kind { apply, confirm, revert, rollback, release };

constexpr const char* to_string(request_kind k) noexcept {
  switch (k) {
    case request_kind::apply:
      return "apply";
    case request_kind::confirm:
      return "confirm";
    case request_kind::revert:
      return "revert";
    case request_kind::rollback:
      return "rollback";
    case request_kind::release:
      return "release";
  }
  return "unknown";
}

inline std::optional<request_kind> request_kind_from_string(std::string_view s) {
  for (request_kind k : {request_kind::apply, request_kind::confirm, request_kind::revert, request_kind::rollback,
                         request_kind::release})
    if (s == to_string(k)) return k;
  return std::nullopt;
}

struct operator_request {
  // Letters, digits, '-' and '_', 1 to 64 of them; the tool makes one from
  // the time, its process id and a counter. The same id is carried out at
  // most once.
  std::string id;
  request_kind kind = request_kind::confirm;
  std::uint64_t sequence = 0;       // release: the sequence whose quarantine is lifted
  std::vector<std::uint8_t> bundle;  // apply: the bundle's bytes
};

// One slot as an outcome reports it.
struct request_slot {
  std::string slot;  // "a" or "b"
  std::uint64_t sequence = 0;
  std::string payload_sha256;  // hex
  std::string version;
};

// What the guard reports after carrying out a request.
struct request_outcome {
  std::string id;
  errc code = errc::ok;
  std::string sentence;  // what happened, or why not (one line)
  // The state afterwards (as guard::status() reports it).
  std::string state;  // empty, committed, trial
  std::optional<request_slot> active;
  std::optional<request_slot> fallback;
  std::uint64_t served = 0;
  std::uint64_t floor = 0;
  std::vector<std::uint64_t> quarantine;
  std::string mode;  // the crash-streak breaker's
};

// The state fields of an outcome from a guard_status: what the sensor's
// guard reports after a request and what the tool reports for the same
// command carried out directly, in the same words. (A template over the
// status type, so that this header needs no guard.hpp.)
template <class Status>
request_outcome outcome_of(const Status& st) {
  request_outcome o;
  o.state = to_string(st.state);
  auto conv = [](const auto& s) -> std::optional<request_slot> {
    if (!s) return std::nullopt;
    request_slot x;
    x.slot = to_string(s->slot);
    x.sequence = s->sequence;
    x.payload_sha256 = to_hex(byte_view(s->payload_sha256));
    x.version = s->version;
    return x;
  };
  o.active = conv(st.active);
  o.fallback = conv(st.fallback);
  o.served = st.served;
  o.floor = st.floor;
  o.quarantine = st.quarantine;
  o.mode = to_string(st.mode);
  return o;
}

namespace detail {

inline constexpr std::uint64_t request_max_header = 4096;
inline constexpr std::uint64_t outcome_max_size = 1 << 20;

inline bool valid_request_id(std::string_view id) {
  if (id.empty() || id.size() > 64) return false;
  for (char c : id)
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '_'))
      return false;
  return true;
}

inline std::string requests_dir(const std::string& store_dir) { return join_path(store_dir, "requests"); }

// One line of text: newlines and other control bytes become spaces.
inline std::string one_line(std::string_view s) {
  std::string out(s);
  for (char& c : out)
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) c = ' ';
  return out;
}

inline bool parse_u64_text(std::string_view s, std::uint64_t& v) {
  if (s.empty() || s.size() > 20) return false;
  std::uint64_t n = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
    const std::uint64_t d = static_cast<std::uint64_t>(c - '0');
    if (n > (UINT64_MAX - d) / 10) return false;
    n = n * 10 + d;
  }
  v = n;
  return true;
}

// "key value" lines up to an empty line (or the end).
inline std::vector<std::pair<std::string, std::string>> parse_lines(std::string_view text) {
  std::vector<std::pair<std::string, std::string>> out;
  while (!text.empty()) {
    const std::size_t nl = text.find('\n');
    const std::string_view line = text.substr(0, nl);
    text = nl == std::string_view::npos ? std::string_view() : text.substr(nl + 1);
    if (line.empty()) break;
    const std::size_t sp = line.find(' ');
    out.emplace_back(std::string(line.substr(0, sp)),
                     sp == std::string_view::npos ? std::string() : std::string(line.substr(sp + 1)));
  }
  return out;
}

inline std::vector<std::uint8_t> encode_request(const operator_request& r) {
  std::string h = "slotguard-request 1\nid " + r.id + "\nkind " + to_string(r.kind) + "\nsequence " +
                  std::to_string(r.sequence) + "\nbundle-size " + std::to_string(r.bundle.size()) + "\n\n";
  std::vector<std::uint8_t> out(h.begin(), h.end());
  out.insert(out.end(), r.bundle.begin(), r.bundle.end());
  return out;
}

inline result<operator_request> decode_request(byte_view in) {
  const std::string_view all = in.as_chars();
  const std::size_t end = all.find("\n\n");
  if (end == std::string_view::npos || end > request_max_header) return errc::malformed_field;
  operator_request r;
  bool magic = false;
  std::uint64_t size = UINT64_MAX;
  for (const auto& kv : parse_lines(all.substr(0, end + 1))) {
    if (kv.first == "slotguard-request") magic = kv.second == "1";
    else if (kv.first == "id") r.id = kv.second;
    else if (kv.first == "kind") {
      auto k = request_kind_from_string(kv.second);
      if (!k) return errc::malformed_field;
      r.kind = *k;
    } else if (kv.first == "sequence") {
      if (!parse_u64_text(kv.second, r.sequence)) return errc::malformed_field;
    } else if (kv.first == "bundle-size") {
      if (!parse_u64_text(kv.second, size)) return errc::malformed_field;
    }
  }
  if (!magic || !valid_request_id(r.id)) return errc::malformed_field;
  const std::size_t body = end + 2;
  if (size != in.size() - body) return errc::truncated;
  r.bundle.assign(in.data() + body, in.data() + in.size());
  return r;
}

inline std::string encode_slot(const std::optional<request_slot>& s) {
  if (!s) return "none";
  return s->slot + " " + std::to_string(s->sequence) + " " + (s->payload_sha256.empty() ? "-" : s->payload_sha256) +
         " " + one_line(s->version);
}

inline std::optional<request_slot> decode_slot(const std::string& v) {
  if (v == "none" || v.empty()) return std::nullopt;
  request_slot s;
  const std::size_t a = v.find(' ');
  const std::size_t b = a == std::string::npos ? a : v.find(' ', a + 1);
  const std::size_t c = b == std::string::npos ? b : v.find(' ', b + 1);
  if (c == std::string::npos) return std::nullopt;
  s.slot = v.substr(0, a);
  if (!parse_u64_text(std::string_view(v).substr(a + 1, b - a - 1), s.sequence)) return std::nullopt;
  s.payload_sha256 = v.substr(b + 1, c - b - 1);
  if (s.payload_sha256 == "-") s.payload_sha256.clear();
  s.version = v.substr(c + 1);
  return s;
}

inline std::vector<std::uint8_t> encode_outcome(const request_outcome& o) {
  std::string q;
  for (std::size_t i = 0; i < o.quarantine.size(); ++i) q += (i ? " " : "") + std::to_string(o.quarantine[i]);
  const std::string t = "slotguard-outcome 1\nid " + o.id + "\nerrc " + to_string(o.code) + "\nsentence " +
                        one_line(o.sentence) + "\nstate " + o.state + "\nactive " + encode_slot(o.active) +
                        "\nfallback " + encode_slot(o.fallback) + "\nserved " + std::to_string(o.served) +
                        "\nfloor " + std::to_string(o.floor) + "\nquarantine " + q + "\nmode " + o.mode + "\n\n";
  return std::vector<std::uint8_t>(t.begin(), t.end());
}

inline errc errc_from_name(std::string_view name) {
  if (name == "ok") return errc::ok;
  for (int i = 1; i < 4096; ++i) {
    const auto e = static_cast<errc>(i);
    const char* n = to_string(e);
    if (std::string_view(n) == "unknown") break;
    if (name == n) return e;
  }
  return errc::internal;
}

inline result<request_outcome> decode_outcome(byte_view in) {
  const std::string_view all = in.as_chars();
  if (all.size() < 2 || all.substr(all.size() - 2) != "\n\n") return errc::truncated;
  request_outcome o;
  bool magic = false;
  for (const auto& kv : parse_lines(all)) {
    const std::string& k = kv.first;
    const std::string& v = kv.second;
    if (k == "slotguard-outcome") magic = v == "1";
    else if (k == "id") o.id = v;
    else if (k == "errc") o.code = errc_from_name(v);
    else if (k == "sentence") o.sentence = v;
    else if (k == "state") o.state = v;
    else if (k == "active") o.active = decode_slot(v);
    else if (k == "fallback") o.fallback = decode_slot(v);
    else if (k == "served") (void)parse_u64_text(v, o.served);
    else if (k == "floor") (void)parse_u64_text(v, o.floor);
    else if (k == "mode") o.mode = v;
    else if (k == "quarantine") {
      std::string_view rest = v;
      while (!rest.empty()) {
        const std::size_t sp = rest.find(' ');
        std::uint64_t n = 0;
        if (parse_u64_text(rest.substr(0, sp), n)) o.quarantine.push_back(n);
        rest = sp == std::string_view::npos ? std::string_view() : rest.substr(sp + 1);
      }
    }
  }
  if (!magic) return errc::bad_magic;
  return o;
}

// Writes path atomically through the storage interface: path + ".tmp"
// (a leftover of an interrupted write is replaced), flush, rename, sync of
// dir. On failure path is unchanged and the temporary file removed.
inline result<void> write_atomically(storage& fs, const std::string& dir, const std::string& path,
                                     byte_view bytes) {
  const std::string tmp = path + ".tmp";
  auto f = fs.create(tmp);
  if (!f && f.error() == errc::already_exists) {
    (void)fs.remove(tmp);
    f = fs.create(tmp);
  }
  if (!f) return f.error();
  auto w = fs.write(*f, bytes);
  if (w) w = fs.flush(*f);
  auto c = fs.close(*f);
  if (w && !c) w = c;
  if (w) w = fs.rename(tmp, path);
  if (w) w = fs.sync_dir(dir);
  if (!w) (void)fs.remove(tmp);
  return w;
}

inline bool ends_with(const std::string& s, std::string_view suffix) {
  return s.size() > suffix.size() && std::string_view(s).substr(s.size() - suffix.size()) == suffix;
}

}  // namespace detail

// --- the tool's side -----------------------------------------------------------

// Leaves a request in the store directory's requests/ folder (created when
// missing, durably, with the store's permissions). Fails with
// invalid_argument (a bad id), already_exists (a request or outcome with
// this id is there) or the storage's error.
inline result<void> submit_request(storage& fs, const std::string& store_dir, const operator_request& r) {
  if (!detail::valid_request_id(r.id)) return errc::invalid_argument;
  const std::string dir = detail::requests_dir(store_dir);
  auto made = fs.mkdir(dir);
  if (!made && made.error() != errc::already_exists) return made.error();
  for (const char* suffix : {".req", ".run", ".out"}) {
    auto there = fs.exists(detail::join_path(dir, r.id + suffix));
    if (!there) return there.error();
    if (*there) return errc::already_exists;
  }
  const std::vector<std::uint8_t> bytes = detail::encode_request(r);
  return detail::write_atomically(fs, dir, detail::join_path(dir, r.id + ".req"), byte_view(bytes));
}

// The outcome of request id, if the guard has written it (nullopt: not yet).
inline result<std::optional<request_outcome>> read_outcome(storage& fs, const std::string& store_dir,
                                                          const std::string& id) {
  auto bytes = fs.read_file(detail::join_path(detail::requests_dir(store_dir), id + ".out"),
                            detail::outcome_max_size);
  if (!bytes) {
    if (bytes.error() == errc::not_found) return std::optional<request_outcome>();
    return bytes.error();
  }
  auto o = detail::decode_outcome(byte_view(*bytes));
  if (!o) return o.error();
  return std::optional<request_outcome>(std::move(*o));
}

// Withdraws a request nobody has taken up: true when it was removed (it will
// never be carried out), false when the guard had claimed it already (its
// outcome comes, and wins).
inline result<bool> withdraw_request(storage& fs, const std::string& store_dir, const std::string& id) {
  const std::string dir = detail::requests_dir(store_dir);
  auto r = fs.remove(detail::join_path(dir, id + ".req"));
  if (!r) {
    if (r.error() == errc::not_found) return false;
    return r.error();
  }
  (void)fs.sync_dir(dir);
  return true;
}

// Removes a read outcome (best effort; the guard also keeps only the newest).
inline void forget_outcome(storage& fs, const std::string& store_dir, const std::string& id) {
  const std::string dir = detail::requests_dir(store_dir);
  if (fs.remove(detail::join_path(dir, id + ".out"))) (void)fs.sync_dir(dir);
}

// --- the guard's side ----------------------------------------------------------

// Carries out the requests waiting in store_dir/requests, oldest id first:
// claims each (rename to .run, made durable), reads it, calls act, writes
// the outcome, removes the claim. A claim without an outcome (a crash while
// acting) gets the outcome "interrupted" and is not acted on again. Keeps
// at most keep_outcomes outcomes nobody collected (the oldest go). Returns
// how many requests were carried out. Errors of the storage stop the pass
// (tried again next time); they are logged.
inline std::size_t serve_requests(storage& fs, const std::string& store_dir,
                                  const std::function<request_outcome(const operator_request&)>& act,
                                  const std::function<request_outcome()>& current_state,
                                  std::size_t keep_outcomes = 64) {
  const std::string dir = detail::requests_dir(store_dir);
  auto names = fs.list(dir);
  if (!names) return 0;  // no requests folder: nothing asked
  std::vector<std::string> reqs, runs, outs;
  for (const std::string& n : *names) {
    if (detail::ends_with(n, ".req")) reqs.push_back(n.substr(0, n.size() - 4));
    else if (detail::ends_with(n, ".run")) runs.push_back(n.substr(0, n.size() - 4));
    else if (detail::ends_with(n, ".out")) outs.push_back(n.substr(0, n.size() - 4));
  }
  auto has = [](const std::vector<std::string>& v, const std::string& id) {
    return std::find(v.begin(), v.end(), id) != v.end();
  };
  auto finish = [&](request_outcome o, const std::string& id) -> bool {
    o.id = id;
    const std::vector<std::uint8_t> bytes = detail::encode_outcome(o);
    auto w = detail::write_atomically(fs, dir, detail::join_path(dir, id + ".out"), byte_view(bytes));
    if (!w) {
      log_message(log_level::error, "request " + id + ": its outcome could not be written: " + to_string(w.error()));
      return false;
    }
    outs.push_back(id);
    if (fs.remove(detail::join_path(dir, id + ".run"))) (void)fs.sync_dir(dir);
    return true;
  };
  // Claims a crash left without an outcome.
  for (const std::string& id : runs) {
    if (has(outs, id)) {
      if (fs.remove(detail::join_path(dir, id + ".run"))) (void)fs.sync_dir(dir);
      continue;
    }
    request_outcome o = current_state();
    o.code = errc::internal;
    o.sentence = "interrupted: the sensor stopped while carrying out this request; each store operation is "
                 "all or nothing, so status and history say whether it took effect; it is not tried again";
    log_message(log_level::warning, "request " + id + ": found claimed without an outcome (a crash while acting)");
    if (!finish(std::move(o), id)) return 0;
  }
  std::sort(reqs.begin(), reqs.end());
  std::size_t done = 0;
  for (const std::string& id : reqs) {
    const std::string req = detail::join_path(dir, id + ".req");
    const std::string run = detail::join_path(dir, id + ".run");
    if (has(outs, id) || !detail::valid_request_id(id)) {
      // Already carried out (a re-sent id), or not a name the tool makes.
      if (fs.remove(req)) (void)fs.sync_dir(dir);
      continue;
    }
    // Claim: after this rename the tool can no longer withdraw it; made
    // durable before acting, so that a crash never acts on it twice.
    auto claimed = fs.rename(req, run);
    if (!claimed) {
      if (claimed.error() != errc::not_found)  // not_found: withdrawn meanwhile
        log_message(log_level::error, "request " + id + ": could not be claimed: " + to_string(claimed.error()));
      continue;
    }
    auto synced = fs.sync_dir(dir);
    if (!synced) {
      (void)fs.rename(run, req);  // give it back: tried again next time
      log_message(log_level::error, "request " + id + ": its claim could not be made durable: " + to_string(synced.error()));
      return done;
    }
    auto bytes = fs.read_file(run, std::uint64_t{1} << 32);
    request_outcome o;
    if (!bytes) {
      o = current_state();
      o.code = bytes.error();
      o.sentence = std::string("the request could not be read: ") + describe(bytes.error());
    } else {
      auto r = detail::decode_request(byte_view(*bytes));
      if (!r || r->id != id) {
        o = current_state();
        o.code = errc::malformed_field;
        o.sentence = "the request is malformed";
      } else {
        log_message(log_level::info, "request " + id + ": " + to_string(r->kind) + " taken up");
        o = act(*r);
        log_message(o.code == errc::ok ? log_level::info : log_level::warning,
            "request " + id + ": " + to_string(r->kind) + ": " + to_string(o.code) + ": " + o.sentence);
      }
    }
    if (!finish(std::move(o), id)) return done;
    ++done;
  }
  // Outcomes nobody collected (a --no-wait request): keep the newest.
  std::sort(outs.begin(), outs.end());
  outs.erase(std::unique(outs.begin(), outs.end()), outs.end());
  if (outs.size() > keep_outcomes) {
    for (std::size_t i = 0; i + keep_outcomes < outs.size(); ++i)
      (void)fs.remove(detail::join_path(dir, outs[i] + ".out"));
    (void)fs.sync_dir(dir);
  }
  return done;
}

}  // inline namespace SLOTGUARD_ABI_NAMESPACE
}  // namespace slotguard

#endif  // SLOTGUARD_REQUESTS_HPP
