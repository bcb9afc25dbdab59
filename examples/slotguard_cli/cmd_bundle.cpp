// SPDX-License-Identifier: Apache-2.0
// `slotguard pack`, `sign`, `inspect` and `verify`: the bundle subcommands.
#include "cli.hpp"

#include <slotguard/bundle.hpp>
#include <slotguard/detail/time.hpp>
#include <slotguard/trust.hpp>
#if SLOTGUARD_CLI_WITH_SCHEMA
#include <slotguard/schema.hpp>
#endif

#include <cstdio>
#include <filesystem>
#include <limits>
#include <system_error>
#include <string>
#include <vector>

namespace sg = slotguard;
using sgcli::exit_ok;
using sgcli::exit_rejected;
using sgcli::exit_usage;

namespace {

// "OFFSET:PERCENT[,OFFSET:PERCENT]..." with OFFSET a number of seconds and an
// optional unit (s, m, h, d) and PERCENT 0..100 with an optional '%'.
std::optional<std::vector<sg::rollout_step>> parse_rollout(std::string_view spec) {
  std::vector<sg::rollout_step> steps;
  while (!spec.empty()) {
    const std::size_t comma = spec.find(',');
    std::string_view item = spec.substr(0, comma);
    spec = comma == std::string_view::npos ? std::string_view() : spec.substr(comma + 1);
    if (comma != std::string_view::npos && spec.empty()) return std::nullopt;
    const std::size_t colon = item.find(':');
    if (colon == std::string_view::npos) return std::nullopt;
    std::string_view off = item.substr(0, colon);
    std::string_view pct = item.substr(colon + 1);
    std::uint64_t unit = 1;
    if (!off.empty()) {
      switch (off.back()) {
        case 's':
          unit = 1;
          break;
        case 'm':
          unit = 60;
          break;
        case 'h':
          unit = 3600;
          break;
        case 'd':
          unit = 86400;
          break;
        default:
          unit = 0;
      }
      if (unit != 0)
        off.remove_suffix(1);
      else
        unit = 1;
    }
    if (!pct.empty() && pct.back() == '%') pct.remove_suffix(1);
    const auto o = sgcli::parse_u64(off);
    const auto p = sgcli::parse_u64(pct);
    if (!o || !p || *p > 100 || *o > (std::numeric_limits<std::uint64_t>::max)() / unit) return std::nullopt;
    steps.push_back(sg::rollout_step{*o * unit, static_cast<std::uint8_t>(*p)});
  }
  if (steps.empty()) return std::nullopt;
  return steps;
}

// "ID@VERSION", split at the last '@'.
bool parse_schema_ref(std::string_view s, std::string& id, std::uint32_t& version) {
  const std::size_t at = s.rfind('@');
  if (at == std::string_view::npos || at == 0) return false;
  const auto v = sgcli::parse_u64(s.substr(at + 1));
  if (!v || *v > (std::numeric_limits<std::uint32_t>::max)()) return false;
  id = std::string(s.substr(0, at));
  version = static_cast<std::uint32_t>(*v);
  return true;
}

std::string time_or_dash(const std::optional<std::int64_t>& t) {
  return t ? sg::detail::format_rfc3339(*t) : std::string("-");
}

std::string json_time(const std::optional<std::int64_t>& t) {
  return t ? sgcli::json_string(sg::detail::format_rfc3339(*t)) : std::string("null");
}

#if SLOTGUARD_CLI_WITH_SCHEMA
// Reads and parses a schema file; prints the error and returns nullopt.
std::optional<sg::schema> load_schema(const char* cmd, const std::string& path, int& status) {
  const auto text = sgcli::read_file(path, std::uint64_t{16} << 20);
  if (!text) {
    status = sgcli::fail(cmd, text.error(), path);
    return std::nullopt;
  }
  auto s = sg::parse_schema_text(sg::byte_view(*text).as_chars());
  if (!s) {
    const sg::schema_error& e = s.error();
    status = sgcli::fail(cmd, e.code,
                         path + ":" + std::to_string(e.line) + ":" + std::to_string(e.column) + ": " + e.message);
    return std::nullopt;
  }
  return std::move(*s);
}

// "record R, field F: sentence" for a validation failure.
int report_validation(const char* cmd, const sg::validation_error& e) {
  std::string where;
  if (e.record != sg::validation_error::npos) where += "record " + std::to_string(e.record);
  if (e.field != sg::validation_error::npos) where += (where.empty() ? "" : ", ") + std::string("field ") + std::to_string(e.field);
  return sgcli::fail(cmd, e.code, where.empty() ? e.message : where + ": " + e.message);
}
#endif

const char pack_help[] =
    "usage: slotguard pack --channel C --sequence N --schema ID@VER --payload FILE -o OUT\n"
    "                      [--version S] [--host-min V] [--host-max V] [--created T]\n"
    "                      [--not-before T] [--expires T] [--rollout SPEC] [--recall N]...\n"
    "                      [--key KEY]...\n"
#if SLOTGUARD_CLI_WITH_SCHEMA
    "       slotguard pack ... --schema-file F (--records FILE | --payload FILE) -o OUT\n"
#endif
    "\n"
    "Builds a bundle (docs/FORMAT.md) and writes it to OUT atomically.\n"
    "\n"
    "  --channel C        channel name: 1-64 of A-Z a-z 0-9 . _ -, starting with\n"
    "                     a letter or digit (required)\n"
    "  --sequence N       anti-rollback sequence, u64 (required)\n"
    "  --schema ID@VER    schema id and u32 version of the payload (required\n"
    "                     unless --schema-file gives them)\n"
    "  --payload FILE     the content (required unless --records)\n"
    "  -o, --out OUT      where to write the bundle (required)\n"
    "  --version S        display version (UTF-8 text)\n"
    "  --host-min V       lowest host version it is for, major.minor.patch\n"
    "  --host-max V       highest host version it is for, major.minor.patch\n"
    "  --created T        creation time (default: now)\n"
    "  --not-before T     not valid before T\n"
    "  --expires T        not valid from T on\n"
    "  --rollout SPEC     ramp: OFFSET:PERCENT[,OFFSET:PERCENT]..., OFFSET in\n"
    "                     seconds from the start (not-before, else created) with\n"
    "                     an optional unit s/m/h/d, e.g. 0:1,1h:10,1d:100\n"
    "  --recall N[,N]...  sequences of this channel to recall (repeatable)\n"
    "  --key KEY          sign with this private key (PEM); repeatable\n"
#if SLOTGUARD_CLI_WITH_SCHEMA
    "  --schema-file F    schema text (docs/SCHEMA.md): the payload must validate,\n"
    "                     and its id and version go into the manifest\n"
    "  --records FILE     records text compiled with --schema-file into the payload\n"
#endif
    "\n"
    "Times T are RFC 3339 (2026-11-26T15:00:00Z) or @SECONDS since the epoch.\n"
    "exit status: 0 written, 1 rejected or failed (reason on stderr), 2 usage error\n";

const char sign_help[] =
    "usage: slotguard sign --key KEY [--key KEY]... BUNDLE\n"
    "\n"
    "Adds a signature by each KEY (PEM private key) to BUNDLE and replaces the\n"
    "file atomically (temporary file in the same directory, flushed, renamed).\n"
    "A key that has already signed is an error (already_exists). BUNDLE must be\n"
    "a regular file: a symbolic link is refused (invalid_argument; sign the file\n"
    "it points to), as the replacement would put a file in the link's place and\n"
    "leave its target unsigned.\n"
    "\n"
    "exit status: 0 signed, 1 rejected or failed (reason on stderr), 2 usage error\n";

const char inspect_help[] =
    "usage: slotguard inspect BUNDLE [--json]\n"
    "\n"
    "Parses BUNDLE and prints its header, manifest and signatures; the payload's\n"
    "actual SHA-256 is compared with the manifest's. Signatures are not checked:\n"
    "use verify. With --json, prints one JSON object with the keys\n"
    "format_version, size, channel, sequence, version, schema {id, version},\n"
    "host_min, host_max, created, not_before, expires (RFC 3339 or null),\n"
    "payload_size, payload_sha256 (lowercase hex, the manifest's),\n"
    "payload_sha256_matches, rollout [{offset, percent}], recalls,\n"
    "fields, unknown_fields and signatures [{key_id}].\n"
    "A manifest is untrusted text: the text output shows control characters,\n"
    "invisible formatting characters and bytes that are not UTF-8 as escapes\n"
    "(\\n, \\x1b, \\u202e); JSON strings escape them as JSON does.\n"
    "\n"
    "exit status: 0 printed, 1 the bundle does not parse (reason on stderr),\n"
    "2 usage error\n";

const char verify_help[] =
    "usage: slotguard verify BUNDLE --trust KEY.pub [--trust KEY.pub]...\n"
    "                        [--threshold K] [--floor N] [--channel C] [--now T]\n"
    "                        [--host-version V]"
#if SLOTGUARD_CLI_WITH_SCHEMA
    " [--schema-file F]"
#endif
    "\n"
    "\n"
    "Checks, in this order: structure and limits, payload size and SHA-256,\n"
    "signatures (at least K distinct trusted keys), channel, sequence above the\n"
    "floor, expiry and not-before against the clock, host version range.\n"
    "\n"
    "  --trust KEY.pub    a trusted public key (PEM); at least one (required)\n"
    "  --threshold K      distinct trusted signers required (default 1)\n"
    "  --floor N          the bundle's sequence must be greater than N\n"
    "  --channel C        the bundle must be for channel C\n"
    "  --now T            the time to check against (default: now); RFC 3339 or\n"
    "                     @SECONDS\n"
    "  --host-version V   this host's version, major.minor.patch\n"
#if SLOTGUARD_CLI_WITH_SCHEMA
    "  --schema-file F    the payload must validate against this schema, whose\n"
    "                     id and version must match the manifest's\n"
#endif
    "\n"
    "exit status: 0 accepted, 1 rejected (the reason's name and a sentence on\n"
    "stderr), 2 usage error\n";

}  // namespace

int cmd_pack(int argc, char** argv) {
  const sgcli::arg_parser args(argc, argv,
                               {{{"--channel"}},
                                {{"--sequence"}},
                                {{"--schema"}},
                                {{"--payload"}},
                                {{"--out", "-o"}},
                                {{"--version"}},
                                {{"--host-min"}},
                                {{"--host-max"}},
                                {{"--created"}},
                                {{"--not-before"}},
                                {{"--expires"}},
                                {{"--rollout"}},
                                {{"--recall"}, true, true},
                                {{"--key"}, true, true},
                                {{"--schema-file"}},
                                {{"--records"}}});
  const char* cmd = "pack";
  if (args.help()) {
    std::fputs(pack_help, stdout);
    return exit_ok;
  }
  if (!args.ok()) return sgcli::usage_error(cmd, args.error());
  if (!args.positional().empty()) return sgcli::usage_error(cmd, "unexpected argument '" + args.positional()[0] + "'");

  sg::bundle_builder b;
  const auto channel = args.value("--channel");
  if (!channel) return sgcli::usage_error(cmd, "--channel is required");
  b.channel(*channel);
  const auto seq_text = args.value("--sequence");
  if (!seq_text) return sgcli::usage_error(cmd, "--sequence is required");
  const auto seq = sgcli::parse_u64(*seq_text);
  if (!seq) return sgcli::usage_error(cmd, "--sequence needs an unsigned 64-bit number");
  b.sequence(*seq);
  const auto out = args.value("--out");
  if (!out || out->empty()) return sgcli::usage_error(cmd, "-o OUT is required");

  std::string schema_id;
  std::uint32_t schema_version = 0;
  const auto schema_ref = args.value("--schema");
  if (schema_ref && !parse_schema_ref(*schema_ref, schema_id, schema_version))
    return sgcli::usage_error(cmd, "--schema needs ID@VERSION with a u32 version");
  const auto schema_file = args.value("--schema-file");
  const auto records = args.value("--records");
  const auto payload_path = args.value("--payload");
#if !SLOTGUARD_CLI_WITH_SCHEMA
  if (schema_file || records) return sgcli::usage_error(cmd, "this build has no schema support");
#endif
  if (!schema_ref && !schema_file) return sgcli::usage_error(cmd, "--schema ID@VER is required");
  if (records && !schema_file) return sgcli::usage_error(cmd, "--records needs --schema-file");
  if (records && payload_path) return sgcli::usage_error(cmd, "give --payload or --records, not both");
  if (!records && !payload_path) return sgcli::usage_error(cmd, "--payload FILE is required");

  if (const auto v = args.value("--version")) b.version(*v);
  if (const auto v = args.value("--host-min")) {
    const auto hv = sg::parse_host_version(*v);
    if (!hv) return sgcli::usage_error(cmd, "--host-min needs major.minor.patch");
    b.host_min(*hv);
  }
  if (const auto v = args.value("--host-max")) {
    const auto hv = sg::parse_host_version(*v);
    if (!hv) return sgcli::usage_error(cmd, "--host-max needs major.minor.patch");
    b.host_max(*hv);
  }
  std::int64_t created = sgcli::now_seconds();
  if (const auto v = args.value("--created")) {
    const auto t = sgcli::parse_time(*v);
    if (!t) return sgcli::usage_error(cmd, "--created needs an RFC 3339 time or @SECONDS");
    created = *t;
  }
  b.created(created);
  if (const auto v = args.value("--not-before")) {
    const auto t = sgcli::parse_time(*v);
    if (!t) return sgcli::usage_error(cmd, "--not-before needs an RFC 3339 time or @SECONDS");
    b.not_before(*t);
  }
  if (const auto v = args.value("--expires")) {
    const auto t = sgcli::parse_time(*v);
    if (!t) return sgcli::usage_error(cmd, "--expires needs an RFC 3339 time or @SECONDS");
    b.expires(*t);
  }
  if (const auto v = args.value("--rollout")) {
    const auto steps = parse_rollout(*v);
    if (!steps) return sgcli::usage_error(cmd, "--rollout needs OFFSET:PERCENT[,OFFSET:PERCENT]...");
    b.rollout(*steps);
  }
  std::vector<std::uint64_t> recalls;
  for (const std::string& list : args.values("--recall")) {
    std::string_view rest = list;
    while (true) {
      const std::size_t comma = rest.find(',');
      const auto n = sgcli::parse_u64(rest.substr(0, comma));
      if (!n) return sgcli::usage_error(cmd, "--recall needs sequence numbers");
      recalls.push_back(*n);
      if (comma == std::string_view::npos) break;
      rest.remove_prefix(comma + 1);
    }
  }
  if (!recalls.empty()) b.recalls(recalls);

  const sg::bundle_limits limits;
  std::vector<std::uint8_t> payload;
  if (payload_path) {
    auto p = sgcli::read_file(*payload_path, limits.max_bundle_size);
    if (!p) return sgcli::fail(cmd, p.error(), *payload_path);
    payload = std::move(*p);
  }
#if SLOTGUARD_CLI_WITH_SCHEMA
  if (schema_file) {
    int status = exit_rejected;
    const auto schema = load_schema(cmd, *schema_file, status);
    if (!schema) return status;
    if (schema_ref && !schema->matches(schema_id, schema_version))
      return sgcli::fail(cmd, sg::errc::schema_mismatch,
                         "--schema " + *schema_ref + " but the schema file declares " +
                             std::string(schema->id()) + "@" + std::to_string(schema->version()));
    schema_id = std::string(schema->id());
    schema_version = schema->version();
    if (records) {
      const auto text = sgcli::read_file(*records, limits.max_bundle_size);
      if (!text) return sgcli::fail(cmd, text.error(), *records);
      auto compiled = sg::compile_records_text(*schema, sg::byte_view(*text).as_chars());
      if (!compiled) {
        const sg::records_error& e = compiled.error();
        return sgcli::fail(cmd, e.code,
                           *records + ":" + std::to_string(e.line) + ":" + std::to_string(e.column) + ": " +
                               e.message);
      }
      payload = std::move(*compiled);
    }
    // Never pack content the host would refuse.
    const auto checked = sg::validate(*schema, payload);
    if (!checked) return report_validation(cmd, checked.error());
  }
#endif
  b.schema(schema_id, schema_version);
  b.payload(std::move(payload));

  const std::vector<std::string> keys = args.values("--key");
  for (const std::string& k : keys) {
    const auto seed = sgcli::load_private_key(k);
    if (!seed) return sgcli::fail(cmd, seed.error(), k);
    b.sign_with(*seed);
  }
  const auto bundle = b.build(limits);
  if (!bundle) return sgcli::fail(cmd, bundle.error());
  const auto w = sgcli::write_file_atomic(*out, *bundle);
  if (!w) return sgcli::fail(cmd, w.error(), *out);
  std::printf("wrote %s: %zu bytes, channel %s, sequence %llu, %zu signature(s)\n", sgcli::printable(*out).c_str(),
              bundle->size(), sgcli::printable(*channel).c_str(), static_cast<unsigned long long>(*seq), keys.size());
  return exit_ok;
}

int cmd_sign(int argc, char** argv) {
  const sgcli::arg_parser args(argc, argv, {{{"--key"}, true, true}});
  const char* cmd = "sign";
  if (args.help()) {
    std::fputs(sign_help, stdout);
    return exit_ok;
  }
  if (!args.ok()) return sgcli::usage_error(cmd, args.error());
  if (args.positional().size() != 1) return sgcli::usage_error(cmd, "exactly one BUNDLE is required");
  const std::vector<std::string> keys = args.values("--key");
  if (keys.empty()) return sgcli::usage_error(cmd, "--key KEY is required");
  const std::string& path = args.positional()[0];

  // The signed file replaces BUNDLE by a rename, which would put a regular
  // file in place of a symbolic link and leave the link's target unsigned:
  // refuse, and name the file to sign. Anything else that is not a regular
  // file (a FIFO would block the read) is refused too.
  {
    std::error_code ec;
    const auto st = std::filesystem::symlink_status(path, ec);
    if (!ec && std::filesystem::is_symlink(st)) {
      const auto target = std::filesystem::read_symlink(path, ec);
      return sgcli::fail(cmd, sg::errc::invalid_argument,
                         path + " is a symbolic link" + (ec ? std::string() : " to " + target.string()) +
                             ": sign the file it points to; nothing was changed");
    }
    if (!ec && std::filesystem::exists(st) && !std::filesystem::is_regular_file(st))
      return sgcli::fail(cmd, sg::errc::invalid_argument, path + " is not a regular file; nothing was changed");
  }

  const sg::bundle_limits limits;
  auto bytes = sgcli::read_file(path, limits.max_bundle_size);
  if (!bytes) return sgcli::fail(cmd, bytes.error(), path);
  std::vector<std::uint8_t> current = std::move(*bytes);
  std::vector<std::string> ids;
  for (const std::string& k : keys) {
    const auto seed = sgcli::load_private_key(k);
    if (!seed) return sgcli::fail(cmd, seed.error(), k);
    auto next = sg::add_signature(current, *seed, limits);
    if (!next) return sgcli::fail(cmd, next.error(), k);
    current = std::move(*next);
    ids.push_back(sg::to_hex(sg::key_id_of(sg::ed25519_public_key_from_seed(*seed))));
  }
  // The replacement keeps the file's permission bits.
  unsigned mode = 0644;
  std::error_code ec;
  const auto st = std::filesystem::status(path, ec);
  if (!ec) mode = static_cast<unsigned>(st.permissions()) & 0777u;
  const auto w = sgcli::write_file_atomic(path, current, mode);
  if (!w) return sgcli::fail(cmd, w.error(), path);
  for (const std::string& id : ids)
    std::printf("signed %s with key id %s\n", sgcli::printable(path).c_str(), sgcli::printable(id).c_str());
  return exit_ok;
}

int cmd_inspect(int argc, char** argv) {
  const sgcli::arg_parser args(argc, argv, {{{"--json"}, false}});
  const char* cmd = "inspect";
  if (args.help()) {
    std::fputs(inspect_help, stdout);
    return exit_ok;
  }
  if (!args.ok()) return sgcli::usage_error(cmd, args.error());
  if (args.positional().size() != 1) return sgcli::usage_error(cmd, "exactly one BUNDLE is required");
  const std::string& path = args.positional()[0];
  const sg::bundle_limits limits;
  const auto bytes = sgcli::read_file(path, limits.max_bundle_size);
  if (!bytes) return sgcli::fail(cmd, bytes.error(), path);
  const auto parsed = sg::parse_bundle(*bytes, limits);
  if (!parsed) return sgcli::fail(cmd, parsed.error(), path);
  const sg::bundle_view& b = *parsed;
  const sg::bundle_manifest& m = b.manifest;
  const bool hash_ok = m.payload_size == b.payload.size() && sg::sha256_of(b.payload) == m.payload_sha256;
  const std::string digest = sg::to_hex(m.payload_sha256);

  if (args.has("--json")) {
    std::string j = "{";
    j += "\"format_version\":" + std::to_string(b.format_version);
    j += ",\"size\":" + std::to_string(b.bytes.size());
    j += ",\"channel\":" + sgcli::json_string(m.channel);
    j += ",\"sequence\":" + std::to_string(m.sequence);
    j += ",\"version\":" + (m.version.empty() ? std::string("null") : sgcli::json_string(m.version));
    j += ",\"schema\":{\"id\":" + sgcli::json_string(m.schema_id) + ",\"version\":" + std::to_string(m.schema_version) + "}";
    j += ",\"host_min\":" + (m.host_min ? sgcli::json_string(sg::to_string(*m.host_min)) : std::string("null"));
    j += ",\"host_max\":" + (m.host_max ? sgcli::json_string(sg::to_string(*m.host_max)) : std::string("null"));
    j += ",\"created\":" + json_time(m.created);
    j += ",\"not_before\":" + json_time(m.not_before);
    j += ",\"expires\":" + json_time(m.expires);
    j += ",\"payload_size\":" + std::to_string(m.payload_size);
    j += ",\"payload_sha256\":" + sgcli::json_string(digest);
    j += std::string(",\"payload_sha256_matches\":") + (hash_ok ? "true" : "false");
    j += ",\"rollout\":[";
    for (std::size_t i = 0; i < m.rollout.size(); ++i) {
      const sg::rollout_step s = m.rollout[i];
      j += (i ? "," : "") + std::string("{\"offset\":") + std::to_string(s.offset) +
           ",\"percent\":" + std::to_string(s.percent) + "}";
    }
    j += "],\"recalls\":[";
    for (std::size_t i = 0; i < m.recalls.size(); ++i) j += (i ? "," : "") + std::to_string(m.recalls[i]);
    j += "],\"fields\":" + std::to_string(m.field_count);
    j += ",\"unknown_fields\":" + std::to_string(m.unknown_field_count);
    j += ",\"signatures\":[";
    for (std::size_t i = 0; i < b.signature_count(); ++i)
      j += (i ? "," : "") + std::string("{\"key_id\":") + sgcli::json_string(sg::to_hex(b.signature(i).id)) + "}";
    j += "]}\n";
    std::fputs(j.c_str(), stdout);
    return exit_ok;
  }

  // Every string from the bundle goes through printable(): a manifest is
  // untrusted text, and a newline or a terminal escape in it must not forge
  // a line or hide the ones that follow.
  using sgcli::printable;
  std::printf("bundle      %s (%zu bytes, format %u)\n", printable(path).c_str(), b.bytes.size(),
              static_cast<unsigned>(b.format_version));
  std::printf("channel     %s\n", printable(m.channel).c_str());
  std::printf("sequence    %llu\n", static_cast<unsigned long long>(m.sequence));
  std::printf("version     %s\n", m.version.empty() ? "-" : printable(m.version).c_str());
  std::printf("schema      %s@%u\n", printable(m.schema_id).c_str(), static_cast<unsigned>(m.schema_version));
  std::printf("host        %s .. %s\n", m.host_min ? printable(sg::to_string(*m.host_min)).c_str() : "any",
              m.host_max ? printable(sg::to_string(*m.host_max)).c_str() : "any");
  std::printf("created     %s\n", sg::detail::format_rfc3339(m.created).c_str());
  std::printf("not_before  %s\n", time_or_dash(m.not_before).c_str());
  std::printf("expires     %s\n", time_or_dash(m.expires).c_str());
  std::printf("payload     %llu bytes, sha256 %s (%s)\n", static_cast<unsigned long long>(m.payload_size),
              digest.c_str(), hash_ok ? "matches" : "DOES NOT MATCH the payload");
  if (!m.rollout.empty()) {
    std::printf("rollout    ");
    for (std::size_t i = 0; i < m.rollout.size(); ++i)
      std::printf(" %llus:%u%%", static_cast<unsigned long long>(m.rollout[i].offset),
                  static_cast<unsigned>(m.rollout[i].percent));
    std::printf("\n");
  }
  if (!m.recalls.empty()) {
    std::printf("recalls    ");
    for (std::size_t i = 0; i < m.recalls.size(); ++i)
      std::printf(" %llu", static_cast<unsigned long long>(m.recalls[i]));
    std::printf("\n");
  }
  std::printf("fields      %u (%u unknown, skipped)\n", static_cast<unsigned>(m.field_count),
              static_cast<unsigned>(m.unknown_field_count));
  std::printf("signatures  %zu\n", b.signature_count());
  for (std::size_t i = 0; i < b.signature_count(); ++i)
    std::printf("  key id    %s\n", printable(sg::to_hex(b.signature(i).id)).c_str());
  return exit_ok;
}

int cmd_verify(int argc, char** argv) {
  const sgcli::arg_parser args(argc, argv,
                               {{{"--trust"}, true, true},
                                {{"--threshold"}},
                                {{"--floor"}},
                                {{"--channel"}},
                                {{"--now"}},
                                {{"--host-version"}},
                                {{"--schema-file"}}});
  const char* cmd = "verify";
  if (args.help()) {
    std::fputs(verify_help, stdout);
    return exit_ok;
  }
  if (!args.ok()) return sgcli::usage_error(cmd, args.error());
  if (args.positional().size() != 1) return sgcli::usage_error(cmd, "exactly one BUNDLE is required");
  const std::vector<std::string> trusted = args.values("--trust");
  if (trusted.empty()) return sgcli::usage_error(cmd, "--trust KEY.pub is required");
  sg::verify_options opts;
  std::size_t threshold = 1;
  if (const auto v = args.value("--threshold")) {
    const auto k = sgcli::parse_u64(*v);
    if (!k || *k == 0 || *k > 1000000) return sgcli::usage_error(cmd, "--threshold needs a number >= 1");
    threshold = static_cast<std::size_t>(*k);
  }
  if (const auto v = args.value("--floor")) {
    const auto f = sgcli::parse_u64(*v);
    if (!f) return sgcli::usage_error(cmd, "--floor needs an unsigned 64-bit number");
    opts.sequence_floor = *f;
  }
  const auto channel = args.value("--channel");
  if (channel) opts.channel = *channel;
  if (const auto v = args.value("--now")) {
    const auto t = sgcli::parse_time(*v);
    if (!t) return sgcli::usage_error(cmd, "--now needs an RFC 3339 time or @SECONDS");
    opts.now = *t;
  } else {
    opts.now = sgcli::now_seconds();
  }
  if (const auto v = args.value("--host-version")) {
    const auto hv = sg::parse_host_version(*v);
    if (!hv) return sgcli::usage_error(cmd, "--host-version needs major.minor.patch");
    opts.host = *hv;
  }
  const auto schema_file = args.value("--schema-file");
#if !SLOTGUARD_CLI_WITH_SCHEMA
  if (schema_file) return sgcli::usage_error(cmd, "this build has no schema support");
#endif

  sg::trust_set trust;
  for (const std::string& path : trusted) {
    const auto key = sgcli::load_public_key(path);
    if (!key) return sgcli::fail(cmd, key.error(), path);
    const auto added = trust.add(*key);
    if (!added) return sgcli::fail(cmd, added.error(), path);
  }
  (void)trust.set_threshold(threshold);

  const std::string& path = args.positional()[0];
  const sg::bundle_limits limits;
  const auto bytes = sgcli::read_file(path, limits.max_bundle_size);
  if (!bytes) return sgcli::fail(cmd, bytes.error(), path);
  const auto parsed = sg::parse_bundle(*bytes, limits);
  if (!parsed) return sgcli::fail(cmd, parsed.error(), path);
  const auto verified = sg::verify_bundle(*parsed, trust, opts);
  if (!verified) return sgcli::fail(cmd, verified.error(), path);
  const sg::bundle_manifest& m = parsed->manifest;
#if SLOTGUARD_CLI_WITH_SCHEMA
  if (schema_file) {
    int status = exit_rejected;
    const auto schema = load_schema(cmd, *schema_file, status);
    if (!schema) return status;
    if (!schema->matches(m.schema_id, m.schema_version))
      return sgcli::fail(cmd, sg::errc::schema_mismatch,
                         "the bundle is for " + std::string(m.schema_id) + "@" + std::to_string(m.schema_version) +
                             ", the schema file declares " + std::string(schema->id()) + "@" +
                             std::to_string(schema->version()));
    const auto checked = sg::validate(*schema, parsed->payload);
    if (!checked) return report_validation(cmd, checked.error());
  }
#endif
  std::printf("ok: %s: channel %s, sequence %llu, signed by at least %zu trusted key(s)\n",
              sgcli::printable(path).c_str(), sgcli::printable(m.channel).c_str(),
              static_cast<unsigned long long>(m.sequence), threshold);
  return exit_ok;
}
