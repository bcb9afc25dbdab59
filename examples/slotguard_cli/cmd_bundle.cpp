// SPDX-License-Identifier: Apache-2.0
// `slotguard pack`, `sign`, `inspect` and `verify`: the bundle subcommands.
#include "cli.hpp"

#include <slotguard/bundle.hpp>
#include <slotguard/detail/posix_lfs.hpp>
#include <slotguard/detail/time.hpp>
#include <slotguard/tree.hpp>
#include <slotguard/tree_pack.hpp>
#include <slotguard/trust.hpp>
#if SLOTGUARD_CLI_WITH_SCHEMA
#include <slotguard/schema.hpp>
#endif

#include <algorithm>
#include <condition_variable>
#include <cstdio>
#include <mutex>
#include <thread>
#include <filesystem>
#include <limits>
#include <optional>
#include <system_error>
#include <string>
#include <vector>

#if defined(_WIN32)
#ifndef NOMINMAX
#define NOMINMAX
#endif
#include <process.h>
#include <windows.h>
#else
#include <cerrno>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#if defined(__linux__)
#include <sys/syscall.h>
#endif
#endif

namespace sg = slotguard;
using sgcli::exit_ok;
using sgcli::exit_rejected;
using sgcli::exit_usage;
#if defined(_WIN32)
using sgcli::errc_from_win32;
#else
using sgcli::errc_from_errno;
#endif

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

// ---------------------------------------------------------------------------
// Files of any size, in bounded memory: a bundle is read by its parts (the
// header first, checked before anything else is read), a payload in chunks of
// io_chunk bytes, and an output is written to a temporary file in the target's
// directory, flushed, and renamed over the target.

constexpr std::size_t io_chunk = std::size_t{1} << 20;

// A regular file open for reading, read at offsets.
class input_file {
 public:
  input_file() = default;
  input_file(const input_file&) = delete;
  input_file& operator=(const input_file&) = delete;
  ~input_file() { close(); }

  // not_found, permission_denied, io_error; invalid_argument for anything
  // that is not a regular file (a FIFO would block, a directory has no bytes).
  sg::result<void> open(const std::string& path) {
#if defined(_WIN32)
    const std::wstring w = std::filesystem::path(path).wstring();
    h_ = ::CreateFileW(w.c_str(), GENERIC_READ, FILE_SHARE_READ | FILE_SHARE_DELETE, nullptr, OPEN_EXISTING,
                       FILE_ATTRIBUTE_NORMAL | FILE_FLAG_SEQUENTIAL_SCAN, nullptr);
    if (h_ == INVALID_HANDLE_VALUE) return errc_from_win32(::GetLastError());
    if (::GetFileType(h_) != FILE_TYPE_DISK) return sg::errc::invalid_argument;
    LARGE_INTEGER size{};
    if (!::GetFileSizeEx(h_, &size) || size.QuadPart < 0) return errc_from_win32(::GetLastError());
    size_ = static_cast<std::uint64_t>(size.QuadPart);
#else
    fd_ = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK | sg::detail::large_file_flag);
    if (fd_ < 0) return errc_from_errno(errno);
    sg::detail::stat_buf st{};
    if (sg::detail::sys_fstat(fd_, &st) != 0) return errc_from_errno(errno);
    if (!S_ISREG(st.st_mode)) return sg::errc::invalid_argument;
    size_ = static_cast<std::uint64_t>(st.st_size);
#if defined(POSIX_FADV_SEQUENTIAL)
    (void)::posix_fadvise(fd_, 0, 0, POSIX_FADV_SEQUENTIAL);
#endif
#endif
    return sg::ok();
  }

  std::uint64_t size() const noexcept { return size_; }

  // Up to n bytes at off; 0 at the end.
  sg::result<std::size_t> read_at(std::uint64_t off, std::uint8_t* out, std::size_t n) {
#if defined(_WIN32)
    OVERLAPPED ov{};
    ov.Offset = static_cast<DWORD>(off & 0xFFFFFFFFu);
    ov.OffsetHigh = static_cast<DWORD>(off >> 32);
    DWORD got = 0;
    const DWORD want = static_cast<DWORD>(std::min<std::size_t>(n, std::size_t{1} << 30));
    if (!::ReadFile(h_, out, want, &got, &ov)) {
      const DWORD e = ::GetLastError();
      if (e == ERROR_HANDLE_EOF) return std::size_t{0};
      return errc_from_win32(e);
    }
    return static_cast<std::size_t>(got);
#else
    if (off > sg::detail::max_file_offset) return std::size_t{0};
    while (true) {
      const ssize_t got = sg::detail::sys_pread(fd_, out, std::min<std::size_t>(n, std::size_t{1} << 30), off);
      if (got >= 0) return static_cast<std::size_t>(got);
      if (errno != EINTR) return errc_from_errno(errno);
    }
#endif
  }

  sg::read_at_fn reader() {
    return [this](std::uint64_t off, std::uint8_t* out, std::size_t n) { return read_at(off, out, n); };
  }

#if !defined(_WIN32)
  int fd() const noexcept { return fd_; }
#endif

  void close() noexcept {
#if defined(_WIN32)
    if (h_ != INVALID_HANDLE_VALUE) ::CloseHandle(h_);
    h_ = INVALID_HANDLE_VALUE;
#else
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
#endif
  }

 private:
#if defined(_WIN32)
  HANDLE h_ = INVALID_HANDLE_VALUE;
#else
  int fd_ = -1;
#endif
  std::uint64_t size_ = 0;
};

// Copies len bytes of `in` from in_off to out_off: copy_file_range where the
// kernel has it (no copy through this process; a reflink on file systems
// that share extents), else through one buffer.
sg::result<void> copy_range(input_file& in, sgcli::output_file& out, std::uint64_t in_off, std::uint64_t out_off,
                            std::uint64_t len) {
#if defined(__linux__) && defined(SYS_copy_file_range)
  if (len > 0 && in_off <= static_cast<std::uint64_t>((std::numeric_limits<loff_t>::max)()) - len &&
      out_off <= static_cast<std::uint64_t>((std::numeric_limits<loff_t>::max)()) - len) {
    auto src = static_cast<loff_t>(in_off);
    auto dst = static_cast<loff_t>(out_off);
    std::uint64_t left = len;
    bool usable = true;
    while (left > 0) {
      const std::size_t want = static_cast<std::size_t>(std::min<std::uint64_t>(left, std::uint64_t{1} << 30));
      const long got = ::syscall(SYS_copy_file_range, in.fd(), &src, out.fd(), &dst, want, 0u);
      if (got < 0) {
        if (errno == EINTR) continue;
        // Not on this kernel or between these file systems: copy by hand
        // from where it stopped.
        if (errno == ENOSYS || errno == EXDEV || errno == EINVAL || errno == EOPNOTSUPP || errno == EBADF) {
          usable = false;
          break;
        }
        return errc_from_errno(errno);
      }
      if (got == 0) return sg::errc::truncated;  // the input shrank
      left -= static_cast<std::uint64_t>(got);
    }
    if (usable) return sg::ok();
    const std::uint64_t copied = len - left;
    in_off += copied;
    out_off += copied;
    len = left;
  }
#endif
  std::vector<std::uint8_t> buf(static_cast<std::size_t>(std::min<std::uint64_t>(len, io_chunk)));
  std::uint64_t done = 0;
  while (done < len) {
    const std::size_t want = static_cast<std::size_t>(std::min<std::uint64_t>(len - done, buf.size()));
    const auto got = in.read_at(in_off + done, buf.data(), want);
    if (!got) return got.error();
    if (*got == 0) return sg::errc::truncated;
    SLOTGUARD_TRY(out.write_at(out_off + done, sg::byte_view(buf.data(), *got)));
    done += *got;
  }
  return sg::ok();
}

// Opens a bundle and reads its head (header first, then the manifest and
// the signature block); prints the failure and returns nullopt.
std::optional<sg::bundle_head> open_bundle(const char* cmd, input_file& f, const std::string& path,
                                           const sg::bundle_limits& limits, int& status) {
  const auto opened = f.open(path);
  if (!opened) {
    status = sgcli::fail(cmd, opened.error(), opened.error() == sg::errc::invalid_argument
                                                  ? path + " is not a regular file"
                                                  : path);
    return std::nullopt;
  }
  auto head = sg::read_bundle_head(f.reader(), f.size(), limits);
  if (!head) {
    status = sgcli::fail(cmd, head.error(), path);
    return std::nullopt;
  }
  return std::move(*head);
}

// SHA-256 of `len` bytes of f from `off`, read in chunks.
sg::result<sg::sha256_digest> hash_range(input_file& f, std::uint64_t off, std::uint64_t len) {
  std::vector<std::uint8_t> buf(static_cast<std::size_t>(std::min<std::uint64_t>(len, io_chunk)));
  sg::sha256 h;
  std::uint64_t done = 0;
  while (done < len) {
    const std::size_t want = static_cast<std::size_t>(std::min<std::uint64_t>(len - done, buf.size()));
    const auto got = f.read_at(off + done, buf.data(), want);
    if (!got) return got.error();
    if (*got == 0) return sg::errc::truncated;
    h.update(buf.data(), *got);
    done += *got;
  }
  return h.finish();
}

// A tree payload's table, read from the bundle (bounded by tree_limits'
// max_table_size) and parsed.
sg::result<sg::tree_index> read_tree_table(input_file& f, const sg::bundle_head& h) {
  std::vector<std::uint8_t> prefix(static_cast<std::size_t>(std::min<std::uint64_t>(h.payload_size, sg::tree_header_size)));
  std::size_t got_total = 0;
  while (got_total < prefix.size()) {
    const auto got = f.read_at(h.payload_offset + got_total, prefix.data() + got_total, prefix.size() - got_total);
    if (!got) return got.error();
    if (*got == 0) return sg::errc::truncated;
    got_total += *got;
  }
  const auto table_size = sg::tree_table_size(prefix, h.payload_size);
  if (!table_size) return table_size.error();
  std::vector<std::uint8_t> table(static_cast<std::size_t>(*table_size));
  got_total = 0;
  while (got_total < table.size()) {
    const auto got = f.read_at(h.payload_offset + got_total, table.data() + got_total, table.size() - got_total);
    if (!got) return got.error();
    if (*got == 0) return sg::errc::truncated;
    got_total += *got;
  }
  return sg::parse_tree_table(table, h.payload_size);
}

std::string mode_text(std::uint32_t mode) {
  char buf[8];
  std::snprintf(buf, sizeof buf, "%04o", static_cast<unsigned>(mode & 07777u));
  return buf;
}

const char pack_help[] =
    "usage: slotguard pack --channel C --sequence N --schema ID@VER (--payload FILE | --payload-dir DIR) -o OUT\n"
    "                      [--version S] [--host-min V] [--host-max V] [--created T]\n"
    "                      [--not-before T] [--expires T] [--rollout SPEC] [--recall N]...\n"
    "                      [--key KEY]...\n"
#if SLOTGUARD_CLI_WITH_SCHEMA
    "       slotguard pack ... --schema-file F (--records FILE | --payload FILE) -o OUT\n"
#endif
    "\n"
    "Builds a bundle (docs/FORMAT.md) and writes it to OUT atomically (a temporary\n"
    "file flushed, then renamed). The payload is read once, in chunks, and hashed\n"
    "as it is written: memory stays small whatever its size (with --schema-file\n"
    "the payload is validated whole, in memory).\n"
    "\n"
    "  --channel C        channel name: 1-64 of A-Z a-z 0-9 . _ -, starting with\n"
    "                     a letter or digit (required)\n"
    "  --sequence N       anti-rollback sequence, u64 (required)\n"
    "  --schema ID@VER    schema id and u32 version of the payload (required\n"
    "                     unless --schema-file gives them)\n"
    "  --payload FILE     the content (required unless --records or --payload-dir)\n"
    "  --payload-dir DIR  the content is the tree under DIR (docs/FORMAT.md, \"Tree\n"
    "                     payloads\"): directories and regular files with their\n"
    "                     permission bits; a link, device, FIFO or socket is refused\n"
    "  -o, --out OUT      where to write the bundle (required)\n"
    "  --version S        display version (UTF-8 text); --version \"\" writes a\n"
    "                     present, empty version (absent when not given)\n"
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
    "Parses BUNDLE and prints its header, manifest and signatures. The file is\n"
    "read in parts (header first), so a bundle of any size takes little memory;\n"
    "the payload is hashed as it is read. Signatures are not checked: use\n"
    "verify. With --json, prints one JSON object with the keys\n"
    "format_version, size (of the file), channel, sequence, version (null when\n"
    "absent, \"\" when present and empty), schema {id, version}, host_min,\n"
    "host_max, created, not_before, expires (RFC 3339 or null), payload_size\n"
    "(the manifest's), payload_sha256 (lowercase hex, the manifest's),\n"
    "payload_size_matches (the manifest's payload_size equals the number of\n"
    "payload bytes the header gives), payload_sha256_matches (the SHA-256 of\n"
    "those bytes equals the manifest's, whatever the sizes), payload_kind\n"
    "(\"bytes\" or \"tree\"), rollout [{offset, percent}], recalls, fields,\n"
    "unknown_fields, signatures [{key_id}], and for a tree payload tree\n"
    "[{path, kind (\"file\" or \"directory\"), mode (octal text), size, sha256\n"
    "(null for a directory)}] from its table. The text output lists a tree's\n"
    "entries the same way, one a line.\n"
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
    "floor, expiry and not-before against the clock, host version range; for a\n"
    "tree payload then its table and each file's SHA-256. The bundle is read in\n"
    "parts and the payload hashed as it is read: memory stays small whatever\n"
    "its size.\n"
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

struct copy_failure {
  sg::errc code = sg::errc::ok;
  bool in_input = true;  // the payload's read, else the output's write
  std::string detail;
};

// Copies `size` bytes of `in` (from 0) to `out` at `at` and returns their
// SHA-256, reading each byte once: what is hashed is what is written. One
// thread reads a chunk and writes it out while this one hashes the chunk
// before, so the time is the longer of the I/O and the hashing, not their
// sum; memory is a ring of chunks. A payload that shrinks or grows while it
// is read is an error.
sg::result<sg::sha256_digest, copy_failure> copy_and_hash(input_file& in, sgcli::output_file& out, std::uint64_t at,
                                                           std::uint64_t size) {
  constexpr std::size_t ring = 4;
  const std::size_t chunk = static_cast<std::size_t>(std::min<std::uint64_t>(std::max<std::uint64_t>(size, 1), io_chunk));
  std::vector<std::vector<std::uint8_t>> bufs(ring, std::vector<std::uint8_t>(chunk));
  std::vector<std::size_t> lens(ring, 0);
  const std::uint64_t chunks = (size + chunk - 1) / chunk;
  std::mutex mu;
  std::condition_variable cv;
  std::uint64_t published = 0, released = 0;  // chunks ready to hash; chunks hashed
  copy_failure first_failure;
  bool failed = false;
  std::thread io([&] {
    for (std::uint64_t k = 0; k < chunks; ++k) {
      {
        std::unique_lock<std::mutex> lock(mu);
        cv.wait(lock, [&] { return failed || k < released + ring; });
        if (failed) return;
      }
      std::vector<std::uint8_t>& buf = bufs[static_cast<std::size_t>(k % ring)];
      const std::uint64_t off = k * chunk;
      const std::size_t want = static_cast<std::size_t>(std::min<std::uint64_t>(size - off, chunk));
      copy_failure f;
      std::size_t done = 0;
      while (done < want && f.code == sg::errc::ok) {
        const auto got = in.read_at(off + done, buf.data() + done, want - done);
        if (!got)
          f.code = got.error();
        else if (*got == 0)
          f = copy_failure{sg::errc::io_error, true, " shrank while it was read"};
        else
          done += *got;
      }
      if (f.code == sg::errc::ok) {
        const auto w = out.write_at(at + off, sg::byte_view(buf.data(), want));
        if (!w) f = copy_failure{w.error(), false, {}};
      }
      std::lock_guard<std::mutex> lock(mu);
      if (f.code != sg::errc::ok) {
        first_failure = f;
        failed = true;
        cv.notify_all();
        return;
      }
      lens[static_cast<std::size_t>(k % ring)] = want;
      ++published;
      cv.notify_all();
    }
  });
  sg::sha256 hash;
  for (std::uint64_t k = 0; k < chunks; ++k) {
    {
      std::unique_lock<std::mutex> lock(mu);
      cv.wait(lock, [&] { return failed || k < published; });
      if (failed) break;
    }
    const std::size_t i = static_cast<std::size_t>(k % ring);
    hash.update(bufs[i].data(), lens[i]);
    std::lock_guard<std::mutex> lock(mu);
    ++released;
    cv.notify_all();
  }
  io.join();
  if (failed) return sg::failure{first_failure};
  std::uint8_t extra = 0;
  const auto more = in.read_at(size, &extra, 1);
  if (!more) return sg::failure{copy_failure{more.error(), true, {}}};
  if (*more != 0) return sg::failure{copy_failure{sg::errc::io_error, true, " grew while it was read"}};
  return hash.finish();
}

// pack without a schema: the payload is read once, in chunks, hashed and
// written into the temporary output file at its place after the head (whose
// size does not depend on the hash); then the head and the signature block
// are written around it, the file flushed and renamed. Memory: one chunk.
int pack_streamed(const char* cmd, sg::bundle_builder& b, const std::string& schema_id, std::uint32_t schema_version,
                  const std::string& payload_path, const std::vector<std::string>& keys, const std::string& out_path,
                  const std::string& channel, std::uint64_t seq, const sg::bundle_limits& limits) {
  input_file in;
  const auto opened = in.open(payload_path);
  if (!opened)
    return sgcli::fail(cmd, opened.error(),
                       opened.error() == sg::errc::invalid_argument ? payload_path + " is not a regular file"
                                                                    : payload_path);
  const std::uint64_t size = in.size();
  if (size > limits.max_payload_size)
    return sgcli::fail(cmd, sg::errc::too_large,
                       payload_path + ": " + std::to_string(size) + " bytes, the limit is " +
                           std::to_string(limits.max_payload_size));
  b.schema(schema_id, schema_version);
  for (const std::string& k : keys) {
    const auto seed = sgcli::load_private_key(k);
    if (!seed) return sgcli::fail(cmd, seed.error(), k);
    b.sign_with(*seed);
  }
  // Everything but the hash is checked before the payload is read.
  b.payload_digest(size, sg::sha256_digest{});
  const auto shape = b.build_parts(limits);
  if (!shape) return sgcli::fail(cmd, shape.error());
  const std::uint64_t at = shape->head.size();
  sgcli::output_file out;
  const auto created = out.create(out_path, 0644);
  if (!created) return sgcli::fail(cmd, created.error(), out_path);
  const auto copied = copy_and_hash(in, out, at, size);
  if (!copied) {
    const copy_failure& f = copied.error();
    return sgcli::fail(cmd, f.code, f.in_input ? payload_path + f.detail : out_path);
  }
  b.payload_digest(size, *copied);
  const auto parts = b.build_parts(limits);
  if (!parts) return sgcli::fail(cmd, parts.error());
  if (parts->head.size() != at) return sgcli::fail(cmd, sg::errc::internal, "the manifest changed size");
  auto w = out.write_at(0, parts->head);
  if (w) w = out.write_at(at + size, parts->tail);
  if (w) w = out.commit();
  if (!w) return sgcli::fail(cmd, w.error(), out_path);
  std::printf("wrote %s: %llu bytes, channel %s, sequence %llu, %zu signature(s)\n", sgcli::printable(out_path).c_str(),
              static_cast<unsigned long long>(at + size + parts->tail.size()), sgcli::printable(channel).c_str(),
              static_cast<unsigned long long>(seq), keys.size());
  return exit_ok;
}

// pack --payload-dir: the directory is scanned (each file hashed), then the
// tree payload is written into the temporary output file after the head
// while it is hashed, each file checked against the scan as it is read.
int pack_tree(const char* cmd, sg::bundle_builder& b, const std::string& schema_id, std::uint32_t schema_version,
              const std::string& dir, const std::vector<std::string>& keys, const std::string& out_path,
              const std::string& channel, std::uint64_t seq, const sg::bundle_limits& limits) {
  std::string problem;
  const auto index = sg::scan_directory(dir, {}, &problem);
  if (!index) return sgcli::fail(cmd, index.error(), problem.empty() ? dir : dir + ": " + problem);
  const std::uint64_t size = index->payload_size;
  if (size > limits.max_payload_size)
    return sgcli::fail(cmd, sg::errc::too_large,
                       dir + ": the tree payload is " + std::to_string(size) + " bytes, the limit is " +
                           std::to_string(limits.max_payload_size));
  b.schema(schema_id, schema_version);
  b.set_payload_kind(sg::payload_kind::tree);
  for (const std::string& k : keys) {
    const auto seed = sgcli::load_private_key(k);
    if (!seed) return sgcli::fail(cmd, seed.error(), k);
    b.sign_with(*seed);
  }
  b.payload_digest(size, sg::sha256_digest{});
  const auto shape = b.build_parts(limits);
  if (!shape) return sgcli::fail(cmd, shape.error());
  const std::uint64_t at = shape->head.size();
  sgcli::output_file out;
  const auto created = out.create(out_path, 0644);
  if (!created) return sgcli::fail(cmd, created.error(), out_path);
  sg::sha256 hash;
  std::uint64_t done = 0;
  bool write_failed = false;
  const auto written = sg::write_tree_payload(
      dir, *index,
      [&](sg::byte_view chunk) -> sg::result<void> {
        if (chunk.size() > size - done) return sg::errc::tree_size_mismatch;
        hash.update(chunk);
        const auto w = out.write_at(at + done, chunk);
        if (!w) {
          write_failed = true;
          return w.error();
        }
        done += chunk.size();
        return sg::ok();
      },
      &problem);
  if (!written) {
    if (write_failed) return sgcli::fail(cmd, written.error(), out_path);
    return sgcli::fail(cmd, written.error(), problem.empty() ? dir : dir + ": " + problem);
  }
  if (done != size) return sgcli::fail(cmd, sg::errc::tree_size_mismatch, dir);
  b.payload_digest(size, hash.finish());
  const auto parts = b.build_parts(limits);
  if (!parts) return sgcli::fail(cmd, parts.error());
  if (parts->head.size() != at) return sgcli::fail(cmd, sg::errc::internal, "the manifest changed size");
  auto w = out.write_at(0, parts->head);
  if (w) w = out.write_at(at + size, parts->tail);
  if (w) w = out.commit();
  if (!w) return sgcli::fail(cmd, w.error(), out_path);
  std::printf("wrote %s: %llu bytes, channel %s, sequence %llu, %zu signature(s), tree of %zu entries\n",
              sgcli::printable(out_path).c_str(), static_cast<unsigned long long>(at + size + parts->tail.size()),
              sgcli::printable(channel).c_str(), static_cast<unsigned long long>(seq), keys.size(),
              index->entries.size());
  return exit_ok;
}

}  // namespace

int cmd_pack(int argc, char** argv) {
  // `--version ""` (or `--version=`) writes a present, empty version: the
  // option parser refuses every other empty value, so this one is taken out
  // before it runs.
  std::vector<char*> kept_args;
  bool empty_version = false;
  bool options_done = false;
  for (int i = 0; i < argc; ++i) {
    const std::string_view a = argv[i];
    if (i > 0 && !options_done && a == "--version" && i + 1 < argc && argv[i + 1][0] == '\0') {
      if (empty_version) return sgcli::usage_error("pack", "--version given more than once");
      empty_version = true;
      ++i;
      continue;
    }
    if (i > 0 && !options_done && a == "--version=") {
      if (empty_version) return sgcli::usage_error("pack", "--version given more than once");
      empty_version = true;
      continue;
    }
    if (a == "--") options_done = true;
    kept_args.push_back(argv[i]);
  }
  argc = static_cast<int>(kept_args.size());
  argv = kept_args.data();
  const sgcli::arg_parser args(argc, argv,
                               {{{"--channel"}},
                                {{"--sequence"}},
                                {{"--schema"}},
                                {{"--payload"}},
                                {{"--payload-dir"}},
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
  const auto payload_dir = args.value("--payload-dir");
  if (payload_dir && (payload_path || records || schema_file))
    return sgcli::usage_error(cmd, "--payload-dir takes no --payload, --records or --schema-file");
  if (!records && !payload_path && !payload_dir) return sgcli::usage_error(cmd, "--payload FILE is required");

  if (const auto v = args.value("--version")) {
    if (empty_version) return sgcli::usage_error(cmd, "--version given more than once");
    b.version(*v);
  } else if (empty_version) {
    b.version("");
  }
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
  const std::vector<std::string> keys = args.values("--key");
  if (payload_dir) return pack_tree(cmd, b, schema_id, schema_version, *payload_dir, keys, *out, *channel, *seq, limits);
  if (!schema_file) return pack_streamed(cmd, b, schema_id, schema_version, *payload_path, keys, *out, *channel,
                                         *seq, limits);
  std::vector<std::uint8_t> payload;
  if (payload_path) {
    // A payload checked by a schema is validated whole, in memory.
    auto p = sgcli::read_file(*payload_path, limits.max_payload_size);
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
      const auto text = sgcli::read_file(*records, limits.max_payload_size);
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

  // The head is read and checked; the new file is the new head, the
  // payload copied as it is (by the kernel where it can), and the new
  // signature block: memory stays bounded whatever the payload's size.
  const sg::bundle_limits limits;
  input_file in;
  int status = exit_rejected;
  auto head = open_bundle(cmd, in, path, limits, status);
  if (!head) return status;
  std::vector<std::string> ids;
  for (const std::string& k : keys) {
    const auto seed = sgcli::load_private_key(k);
    if (!seed) return sgcli::fail(cmd, seed.error(), k);
    const auto added = sg::add_signature(*head, *seed, limits);
    if (!added) return sgcli::fail(cmd, added.error(), k);
    ids.push_back(sg::to_hex(sg::key_id_of(sg::ed25519_public_key_from_seed(*seed))));
  }
  // The replacement keeps the file's permission bits.
  unsigned mode = 0644;
  std::error_code ec;
  const auto st = std::filesystem::status(path, ec);
  if (!ec) mode = static_cast<unsigned>(st.permissions()) & 0777u;
  sgcli::output_file out;
  auto w = out.create(path, mode);
  if (w) w = out.write_at(0, head->header_and_manifest);
  if (w) w = copy_range(in, out, head->payload_offset, head->payload_offset, head->payload_size);
  if (w) w = out.write_at(head->payload_offset + head->payload_size, head->signature_block);
  // Windows refuses to replace a file this process holds open.
  in.close();
  if (w) w = out.commit();
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
  input_file in;
  int status = exit_rejected;
  const auto head = open_bundle(cmd, in, path, limits, status);
  if (!head) return status;
  const sg::bundle_view& b = head->view;
  const sg::bundle_manifest& m = b.manifest;
  // Size and hash are compared apart: the payload's bytes (as many as the
  // header says) hashed against the manifest's SHA-256 whatever the sizes.
  const auto actual = hash_range(in, head->payload_offset, head->payload_size);
  if (!actual) return sgcli::fail(cmd, actual.error(), path);
  const bool size_ok = m.payload_size == head->payload_size;
  const bool hash_ok = *actual == m.payload_sha256;
  const std::string digest = sg::to_hex(m.payload_sha256);
  // A tree payload's entries, from its table.
  std::optional<sg::tree_index> tree;
  if (m.kind == sg::payload_kind::tree) {
    auto t = read_tree_table(in, *head);
    if (!t) return sgcli::fail(cmd, t.error(), path + ": the tree payload's table");
    tree = std::move(*t);
  }
  const auto kind_name = [](sg::tree_kind k) { return k == sg::tree_kind::directory ? "directory" : "file"; };

  if (args.has("--json")) {
    std::string j = "{";
    j += "\"format_version\":" + std::to_string(b.format_version);
    j += ",\"size\":" + std::to_string(head->file_size);
    j += ",\"channel\":" + sgcli::json_string(m.channel);
    j += ",\"sequence\":" + std::to_string(m.sequence);
    j += ",\"version\":" + (m.has_version ? sgcli::json_string(m.version) : std::string("null"));
    j += ",\"schema\":{\"id\":" + sgcli::json_string(m.schema_id) + ",\"version\":" + std::to_string(m.schema_version) + "}";
    j += ",\"host_min\":" + (m.host_min ? sgcli::json_string(sg::to_string(*m.host_min)) : std::string("null"));
    j += ",\"host_max\":" + (m.host_max ? sgcli::json_string(sg::to_string(*m.host_max)) : std::string("null"));
    j += ",\"created\":" + json_time(m.created);
    j += ",\"not_before\":" + json_time(m.not_before);
    j += ",\"expires\":" + json_time(m.expires);
    j += ",\"payload_size\":" + std::to_string(m.payload_size);
    j += ",\"payload_sha256\":" + sgcli::json_string(digest);
    j += std::string(",\"payload_size_matches\":") + (size_ok ? "true" : "false");
    j += std::string(",\"payload_sha256_matches\":") + (hash_ok ? "true" : "false");
    j += std::string(",\"payload_kind\":") + (m.kind == sg::payload_kind::tree ? "\"tree\"" : "\"bytes\"");
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
    j += "]";
    if (tree) {
      j += ",\"tree\":[";
      for (std::size_t i = 0; i < tree->entries.size(); ++i) {
        const sg::tree_entry& e = tree->entries[i];
        j += (i ? "," : "") + std::string("{\"path\":") + sgcli::json_string(e.path) + ",\"kind\":\"" +
             kind_name(e.kind) + "\",\"mode\":\"" + mode_text(e.mode) + "\",\"size\":" + std::to_string(e.size) +
             ",\"sha256\":" +
             (e.kind == sg::tree_kind::file ? sgcli::json_string(sg::to_hex(e.sha256)) : std::string("null")) + "}";
      }
      j += "]";
    }
    j += "}\n";
    std::fputs(j.c_str(), stdout);
    return exit_ok;
  }

  // Every string from the bundle goes through printable(): a manifest is
  // untrusted text, and a newline or a terminal escape in it must not forge
  // a line or hide the ones that follow.
  using sgcli::printable;
  std::printf("bundle      %s (%llu bytes, format %u)\n", printable(path).c_str(),
              static_cast<unsigned long long>(head->file_size),
              static_cast<unsigned>(b.format_version));
  std::printf("channel     %s\n", printable(m.channel).c_str());
  std::printf("sequence    %llu\n", static_cast<unsigned long long>(m.sequence));
  std::printf("version     %s\n", !m.has_version ? "-" : m.version.empty() ? "\"\" (present, empty)" : printable(m.version).c_str());
  std::printf("schema      %s@%u\n", printable(m.schema_id).c_str(), static_cast<unsigned>(m.schema_version));
  std::printf("host        %s .. %s\n", m.host_min ? printable(sg::to_string(*m.host_min)).c_str() : "any",
              m.host_max ? printable(sg::to_string(*m.host_max)).c_str() : "any");
  std::printf("created     %s\n", sg::detail::format_rfc3339(m.created).c_str());
  std::printf("not_before  %s\n", time_or_dash(m.not_before).c_str());
  std::printf("expires     %s\n", time_or_dash(m.expires).c_str());
  std::printf("payload     %llu bytes, sha256 %s (%s)\n", static_cast<unsigned long long>(m.payload_size),
              digest.c_str(), hash_ok ? "matches" : "DOES NOT MATCH the payload");
  if (!size_ok)
    std::printf("            the payload holds %llu bytes: payload_size DOES NOT MATCH\n",
                static_cast<unsigned long long>(head->payload_size));
  std::printf("kind        %s\n", m.kind == sg::payload_kind::tree ? "tree" : "bytes");
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
  if (tree) {
    std::printf("tree        %zu entries (path, kind, mode, size, sha256)\n", tree->entries.size());
    for (const sg::tree_entry& e : tree->entries)
      std::printf("  %s  %s  %s  %llu  %s\n", printable(e.path).c_str(), kind_name(e.kind), mode_text(e.mode).c_str(),
                  static_cast<unsigned long long>(e.size),
                  e.kind == sg::tree_kind::file ? sg::to_hex(e.sha256).c_str() : "-");
  }
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
  input_file in;
  int status = exit_rejected;
  const auto head = open_bundle(cmd, in, path, limits, status);
  if (!head) return status;
  const sg::bundle_manifest& m = head->view.manifest;
  // verify_bundle's order: payload, signatures, eligibility. The payload is
  // hashed as it is read; a schema check needs it whole, so only then is it
  // kept (within the validator's own size limit).
  std::vector<std::uint8_t> kept;
  sg::chunk_fn keep;
#if SLOTGUARD_CLI_WITH_SCHEMA
  if (schema_file) {
    if (head->payload_size > sg::validate_limits{}.max_bytes)
      return sgcli::fail(cmd, sg::errc::too_large, path + ": the payload is too large to validate in memory");
    kept.reserve(static_cast<std::size_t>(head->payload_size));
    keep = [&kept](sg::byte_view c) -> sg::result<void> {
      kept.insert(kept.end(), c.begin(), c.end());
      return sg::ok();
    };
  }
#endif
  auto verified = sg::stream_payload(in.reader(), *head, keep, io_chunk);
  if (verified) verified = sg::verify_signatures(*head, trust);
  if (verified) verified = sg::check_eligibility(m, opts);
  if (!verified) {
    if (verified.error() == sg::errc::unknown_key && head->view.signature_count() == 0)
      return sgcli::fail(cmd, verified.error(), path + ": the bundle carries no signature");
    return sgcli::fail(cmd, verified.error(), path);
  }
  // A tree payload: its table (every rule) and each file's SHA-256, as a
  // device checks them before unpacking.
  if (m.kind == sg::payload_kind::tree) {
    const auto index = read_tree_table(in, *head);
    if (!index) return sgcli::fail(cmd, index.error(), path + ": the tree payload's table");
    const std::uint64_t base = head->payload_offset;
    const sg::read_at_fn payload = [&in, base](std::uint64_t off, std::uint8_t* out, std::size_t n) {
      return in.read_at(base + off, out, n);
    };
    std::string problem;
    const auto files = sg::verify_tree_data(payload, *index, &problem);
    if (!files) return sgcli::fail(cmd, files.error(), path + ": tree entry " + problem);
  }
#if SLOTGUARD_CLI_WITH_SCHEMA
  if (schema_file) {
    status = exit_rejected;
    const auto schema = load_schema(cmd, *schema_file, status);
    if (!schema) return status;
    if (!schema->matches(m.schema_id, m.schema_version))
      return sgcli::fail(cmd, sg::errc::schema_mismatch,
                         "the bundle is for " + std::string(m.schema_id) + "@" + std::to_string(m.schema_version) +
                             ", the schema file declares " + std::string(schema->id()) + "@" +
                             std::to_string(schema->version()));
    const auto checked = sg::validate(*schema, kept);
    if (!checked) return report_validation(cmd, checked.error());
  }
#endif
  std::printf("ok: %s: channel %s, sequence %llu, signed by at least %zu trusted key(s)\n",
              sgcli::printable(path).c_str(), sgcli::printable(m.channel).c_str(),
              static_cast<unsigned long long>(m.sequence), threshold);
  return exit_ok;
}
