// SPDX-License-Identifier: Apache-2.0
// The tool's shared helpers: option parsing, bounded file reads, atomic file
// replacement, number and time parsing, JSON strings.
#include "cli.hpp"

#include <slotguard/detail/posix_lfs.hpp>
#include <slotguard/detail/schema_utf8.hpp>
#include <slotguard/detail/time.hpp>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <limits>

#if defined(_WIN32)
#ifndef NOMINMAX
#define NOMINMAX
#endif
#include <process.h>
#include <windows.h>
#include <sddl.h>
#else
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#endif

namespace sg = slotguard;
namespace fs = std::filesystem;

namespace sgcli {

namespace {
std::atomic<bool> json_errors{false};

// The OS's words for the errno behind an I/O failure, if any.
std::string os_error_text(sg::errc e, int err) {
  if (err == 0) return {};
  // not_found says it all, unless something else was in the way (a file
  // where a directory should be).
  if (e == sg::errc::not_found && err == ENOENT) return {};
  if (e != sg::errc::not_found && e != sg::errc::io_error && e != sg::errc::permission_denied && e != sg::errc::no_space &&
      e != sg::errc::read_only_store && e != sg::errc::sharing_violation && e != sg::errc::insecure_permissions &&
      e != sg::errc::busy && e != sg::errc::not_regular_file)
    return {};
  const char* t = std::strerror(err);
  return t != nullptr ? std::string(t) : std::string();
}
}  // namespace

void set_json_mode(bool on) noexcept { json_errors.store(on); }
bool json_mode() noexcept { return json_errors.load(); }

int fail(const char* cmd, sg::errc e, const std::string& detail) {
  const std::string os = os_error_text(e, errno);
  if (json_mode()) {
    std::string out = std::string("{\"errc\":\"") + sg::to_string(e) + "\",\"sentence\":" +
                      json_string(sg::describe(e)) + ",\"context\":" + json_string(detail) +
                      ",\"command\":" + json_string(cmd);
    if (!os.empty()) out += ",\"os_error\":" + json_string(os);
    out += "}\n";
    std::fputs(out.c_str(), stdout);
    return exit_rejected;
  }
  std::fprintf(stderr, "slotguard %s: %s: %s%s%s%s%s\n", cmd, sg::to_string(e), sg::describe(e),
               detail.empty() ? "" : ": ", printable(detail).c_str(), os.empty() ? "" : " (os: ",
               os.empty() ? "" : (printable(os) + ")").c_str());
  return exit_rejected;
}

int usage_error(const char* cmd, const std::string& message) {
  if (json_mode()) {
    std::string out = std::string("{\"errc\":\"invalid_argument\",\"sentence\":") +
                      json_string("the command line cannot be used") + ",\"context\":" + json_string(message) +
                      ",\"command\":" + json_string(cmd) + ",\"usage\":true}\n";
    std::fputs(out.c_str(), stdout);
    return exit_usage;
  }
  std::fprintf(stderr, "slotguard %s: %s\n(see 'slotguard %s --help')\n", cmd, printable(message).c_str(), cmd);
  return exit_usage;
}

arg_parser::arg_parser(int argc, char** argv, std::initializer_list<option> options) {
  for (const option& o : options) {
    spec s;
    for (const char* n : o.names) s.names.emplace_back(n);
    s.takes_value = o.takes_value;
    s.repeatable = o.repeatable;
    specs_.push_back(std::move(s));
  }
  bool options_done = false;
  for (int i = 1; i < argc; ++i) {
    const std::string_view a = argv[i];
    if (options_done || a.size() < 2 || a[0] != '-') {
      positional_.emplace_back(a);
      continue;
    }
    if (a == "--") {
      options_done = true;
      continue;
    }
    if (a == "--help" || a == "-h") {
      help_ = true;
      continue;
    }
    // Every subcommand takes --json (its errors become JSON objects).
    if (a == "--json" && find(a) == nullptr) continue;
    std::string_view name = a;
    std::optional<std::string> inline_value;
    const std::size_t eq = a.find('=');
    if (a.substr(0, 2) == "--" && eq != std::string_view::npos) {
      name = a.substr(0, eq);
      inline_value = std::string(a.substr(eq + 1));
    }
    const spec* s = find(name);
    if (s == nullptr) {
      if (error_.empty()) error_ = "unknown option '" + std::string(name) + "'";
      continue;
    }
    if (!s->takes_value) {
      if (inline_value && error_.empty()) error_ = "option '" + std::string(name) + "' takes no value";
      given_.emplace_back(s, std::string());
      continue;
    }
    std::string v;
    if (inline_value) {
      v = std::move(*inline_value);
    } else if (i + 1 < argc) {
      v = argv[++i];
    } else {
      if (error_.empty()) error_ = "option '" + std::string(name) + "' needs a value";
      continue;
    }
    // "--channel ''" from an unset variable must not mean "any channel".
    if (v.empty() && error_.empty()) error_ = "option '" + std::string(name) + "' needs a non-empty value";
    if (!s->repeatable && error_.empty())
      for (const auto& g : given_)
        if (g.first == s) {
          error_ = "option '" + std::string(name) + "' is given more than once";
          break;
        }
    given_.emplace_back(s, std::move(v));
  }
}

const arg_parser::spec* arg_parser::find(std::string_view name) const {
  for (const spec& s : specs_)
    for (const std::string& n : s.names)
      if (n == name) return &s;
  return nullptr;
}

bool arg_parser::has(std::string_view name) const {
  const spec* s = find(name);
  for (const auto& g : given_)
    if (g.first == s) return true;
  return false;
}

std::optional<std::string> arg_parser::value(std::string_view name) const {
  const spec* s = find(name);
  std::optional<std::string> v;
  for (const auto& g : given_)
    if (g.first == s) v = g.second;
  return v;
}

std::vector<std::string> arg_parser::values(std::string_view name) const {
  const spec* s = find(name);
  std::vector<std::string> v;
  for (const auto& g : given_)
    if (g.first == s) v.push_back(g.second);
  return v;
}

sg::errc errc_from_errno(int e) {
  switch (e) {
    case ENOENT:
      return sg::errc::not_found;
    case EACCES:
    case EPERM:
      return sg::errc::permission_denied;
    case EEXIST:
      return sg::errc::already_exists;
    case ENOSPC:
      return sg::errc::no_space;
    case EFBIG:
      return sg::errc::too_large;
    default:
      return sg::errc::io_error;
  }
}

sg::result<std::vector<std::uint8_t>> read_file(const std::string& path, std::uint64_t max_size) {
  std::FILE* f = std::fopen(path.c_str(), "rb");
  if (f == nullptr) return errc_from_errno(errno);
  std::error_code ec;
  const std::uintmax_t size = fs::file_size(path, ec);
  if (ec) {
    std::fclose(f);
    errno = ec.value();  // the OS's words for fail() (e.g. a directory)
    return ec.value() == EISDIR ? sg::errc::not_regular_file : sg::errc::io_error;
  }
  if (size > max_size || size > (std::numeric_limits<std::size_t>::max)()) {
    std::fclose(f);
    return sg::errc::too_large;
  }
  std::vector<std::uint8_t> out(static_cast<std::size_t>(size));
  const std::size_t got = out.empty() ? 0 : std::fread(out.data(), 1, out.size(), f);
  // A file that grew after file_size() is rejected rather than cut.
  const bool at_end = std::fgetc(f) == EOF;
  const bool err = std::ferror(f) != 0;
  std::fclose(f);
  if (err || got != out.size() || !at_end) return sg::errc::io_error;
  return out;
}

#if defined(_WIN32)
sg::errc errc_from_win32(unsigned long e) {
  switch (e) {
    case ERROR_FILE_NOT_FOUND:
    case ERROR_PATH_NOT_FOUND:
      return sg::errc::not_found;
    case ERROR_ACCESS_DENIED:
      return sg::errc::permission_denied;
    case ERROR_FILE_EXISTS:
    case ERROR_ALREADY_EXISTS:
      return sg::errc::already_exists;
    case ERROR_DISK_FULL:
    case ERROR_HANDLE_DISK_FULL:
      return sg::errc::no_space;
    case ERROR_SHARING_VIOLATION:
    case ERROR_LOCK_VIOLATION:
      return sg::errc::sharing_violation;
    default:
      return sg::errc::io_error;
  }
}

namespace {

// A security descriptor whose protected access list grants the current
// account and SYSTEM full access and nobody else anything (what mode 0600
// means on POSIX). Null when it cannot be built.
struct owner_only_descriptor {
  PSECURITY_DESCRIPTOR sd = nullptr;
  owner_only_descriptor() {
    HANDLE token = nullptr;
    if (!::OpenProcessToken(::GetCurrentProcess(), TOKEN_QUERY, &token)) return;
    DWORD size = 0;
    (void)::GetTokenInformation(token, TokenUser, nullptr, 0, &size);
    std::vector<unsigned char> buf(size);
    LPWSTR sid = nullptr;
    if (size != 0 && ::GetTokenInformation(token, TokenUser, buf.data(), size, &size) &&
        ::ConvertSidToStringSidW(reinterpret_cast<TOKEN_USER*>(buf.data())->User.Sid, &sid)) {
      const std::wstring sddl = L"D:P(A;;FA;;;" + std::wstring(sid) + L")(A;;FA;;;SY)";
      (void)::ConvertStringSecurityDescriptorToSecurityDescriptorW(sddl.c_str(), SDDL_REVISION_1, &sd, nullptr);
      ::LocalFree(sid);
    }
    ::CloseHandle(token);
  }
  ~owner_only_descriptor() {
    if (sd != nullptr) ::LocalFree(sd);
  }
  owner_only_descriptor(const owner_only_descriptor&) = delete;
  owner_only_descriptor& operator=(const owner_only_descriptor&) = delete;
};

// MoveFileExW, retried for a while when another program (an antivirus
// scanner, a backup, an indexer) holds one of the files open.
bool move_file(const std::wstring& from, const std::wstring& to, DWORD flags, DWORD& error) {
  for (int attempt = 0;; ++attempt) {
    if (::MoveFileExW(from.c_str(), to.c_str(), flags)) return true;
    error = ::GetLastError();
    const bool transient = error == ERROR_SHARING_VIOLATION || error == ERROR_LOCK_VIOLATION ||
                           (error == ERROR_ACCESS_DENIED && (flags & MOVEFILE_REPLACE_EXISTING) != 0);
    if (!transient || attempt >= 20) return false;
    ::Sleep(static_cast<DWORD>(10 * (attempt + 1)));
  }
}

}  // namespace

output_file::~output_file() {
  close();
  if (!tmp_.empty() && !committed_) (void)::DeleteFileW(fs::path(tmp_).wstring().c_str());
}

sg::result<void> output_file::create(const std::string& target, unsigned mode) {
  static std::atomic<unsigned> counter{0};
  target_ = target;
  const std::string tmp = target + ".tmp-" + std::to_string(_getpid()) + "-" + std::to_string(counter++);
  // Private files (mode 0600, the private key) get an owner-only access
  // list instead of the one the directory would pass on.
  owner_only_descriptor owner_only;
  SECURITY_ATTRIBUTES sa{};
  sa.nLength = sizeof sa;
  sa.bInheritHandle = FALSE;
  sa.lpSecurityDescriptor = owner_only.sd;
  const bool is_private = (mode & 077u) == 0;
  if (is_private && owner_only.sd == nullptr) return sg::errc::permission_denied;
  // CREATE_NEW fails on any existing name, a symbolic link included.
  const HANDLE h = ::CreateFileW(fs::path(tmp).wstring().c_str(), GENERIC_WRITE, 0, is_private ? &sa : nullptr,
                                 CREATE_NEW, FILE_ATTRIBUTE_NORMAL | FILE_FLAG_SEQUENTIAL_SCAN, nullptr);
  if (h == INVALID_HANDLE_VALUE) return errc_from_win32(::GetLastError());
  h_ = h;
  tmp_ = tmp;
  return sg::ok();
}

sg::result<void> output_file::write_at(std::uint64_t off, sg::byte_view bytes) {
  std::size_t done = 0;
  while (done < bytes.size()) {
    const std::size_t n = std::min<std::size_t>(bytes.size() - done, std::size_t{1} << 30);
    const std::uint64_t at = off + done;
    OVERLAPPED ov{};
    ov.Offset = static_cast<DWORD>(at & 0xFFFFFFFFu);
    ov.OffsetHigh = static_cast<DWORD>(at >> 32);
    DWORD put = 0;
    if (!::WriteFile(static_cast<HANDLE>(h_), bytes.data() + done, static_cast<DWORD>(n), &put, &ov))
      return errc_from_win32(::GetLastError());
    if (put == 0) return sg::errc::io_error;
    done += put;
  }
  return sg::ok();
}

sg::result<void> output_file::commit(bool exclusive) {
  if (!::FlushFileBuffers(static_cast<HANDLE>(h_))) return errc_from_win32(::GetLastError());
  const HANDLE h = static_cast<HANDLE>(h_);
  h_ = INVALID_HANDLE_VALUE;
  if (!::CloseHandle(h)) return errc_from_win32(::GetLastError());
  // Without MOVEFILE_REPLACE_EXISTING the move fails when the name exists;
  // MOVEFILE_WRITE_THROUGH returns only once the rename is on the device.
  DWORD error = 0;
  const DWORD flags = MOVEFILE_WRITE_THROUGH | (exclusive ? 0 : MOVEFILE_REPLACE_EXISTING);
  if (!move_file(fs::path(tmp_).wstring(), fs::path(target_).wstring(), flags, error)) return errc_from_win32(error);
  committed_ = true;
  return sg::ok();
}

void output_file::close() noexcept {
  if (static_cast<HANDLE>(h_) != INVALID_HANDLE_VALUE) ::CloseHandle(static_cast<HANDLE>(h_));
  h_ = INVALID_HANDLE_VALUE;
}
#else
namespace {

// Makes a directory's entries (a rename, a new link) durable.
sg::errc sync_directory(const std::string& path) {
  fs::path dir = fs::path(path).parent_path();
  if (dir.empty()) dir = ".";
  const int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd < 0) return errc_from_errno(errno);
  sg::errc r = sg::errc::ok;
  // A file system that cannot sync a directory says EINVAL; there is
  // nothing more to do on it.
  if (::fsync(dfd) != 0 && errno != EINVAL) r = errc_from_errno(errno);
  ::close(dfd);
  return r;
}

}  // namespace

output_file::~output_file() {
  close();
  if (!tmp_.empty() && !committed_) (void)::unlink(tmp_.c_str());
}

sg::result<void> output_file::create(const std::string& target, unsigned mode) {
  static std::atomic<unsigned> counter{0};
  target_ = target;
  const std::string tmp =
      target + ".tmp-" + std::to_string(static_cast<long>(::getpid())) + "-" + std::to_string(counter++);
  // O_EXCL: a new file, never an existing one and never through a link.
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC | sg::detail::large_file_flag,
                        static_cast<mode_t>(mode));
  if (fd < 0) return errc_from_errno(errno);
  fd_ = fd;
  tmp_ = tmp;
  return sg::ok();
}

sg::result<void> output_file::write_at(std::uint64_t off, sg::byte_view bytes) {
  std::size_t done = 0;
  while (done < bytes.size()) {
    const std::size_t n = std::min<std::size_t>(bytes.size() - done, std::size_t{1} << 30);
    const std::uint64_t at = off + done;
    if (at > sg::detail::max_file_offset - n) return sg::errc::too_large;
    const ssize_t put = sg::detail::sys_pwrite(fd_, bytes.data() + done, n, at);
    if (put < 0) {
      if (errno == EINTR) continue;
      return errc_from_errno(errno);
    }
    if (put == 0) return sg::errc::io_error;
    done += static_cast<std::size_t>(put);
  }
  return sg::ok();
}

sg::result<void> output_file::commit(bool exclusive) {
  if (::fsync(fd_) != 0) return errc_from_errno(errno);
  const int fd = fd_;
  fd_ = -1;
  if (::close(fd) != 0) return errc_from_errno(errno);
  if (exclusive) {
    // link() gives the file its name only if the name is free (a dangling
    // symbolic link included), in one step; a check before a rename would
    // leave a window and would follow a link. The temporary name then goes
    // (the destructor removes it).
    if (::link(tmp_.c_str(), target_.c_str()) != 0) {
      const int e = errno;
      if (e != EPERM && e != ENOTSUP && e != EOPNOTSUPP && e != ENOSYS) return errc_from_errno(e);
      // A file system without hard links: check without following links,
      // then rename.
      struct stat st {};
      if (::lstat(target_.c_str(), &st) == 0) return sg::errc::already_exists;
      if (errno != ENOENT) return errc_from_errno(errno);
      if (::rename(tmp_.c_str(), target_.c_str()) != 0) return errc_from_errno(errno);
      committed_ = true;
    } else {
      (void)::unlink(tmp_.c_str());
      committed_ = true;
    }
  } else {
    // rename() replaces a symbolic link at the target itself, not its target.
    if (::rename(tmp_.c_str(), target_.c_str()) != 0) return errc_from_errno(errno);
    committed_ = true;
  }
  // Make the new name itself durable.
  const sg::errc synced = sync_directory(target_);
  if (synced != sg::errc::ok) return synced;
  return sg::ok();
}

void output_file::close() noexcept {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
}
#endif

sg::result<void> write_file_atomic(const std::string& path, sg::byte_view bytes, unsigned mode, bool exclusive) {
  output_file out;
  SLOTGUARD_TRY(out.create(path, mode));
  SLOTGUARD_TRY(out.write_at(0, bytes));
  return out.commit(exclusive);
}

std::optional<std::uint64_t> parse_u64(std::string_view s) {
  if (s.empty() || s.size() > 20) return std::nullopt;
  std::uint64_t v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return std::nullopt;
    const auto d = static_cast<std::uint64_t>(c - '0');
    if (v > ((std::numeric_limits<std::uint64_t>::max)() - d) / 10) return std::nullopt;
    v = v * 10 + d;
  }
  return v;
}

std::optional<std::int64_t> parse_time(std::string_view s) {
  if (!s.empty() && s[0] == '@') {
    std::string_view digits = s.substr(1);
    bool negative = false;
    if (!digits.empty() && digits[0] == '-') {
      negative = true;
      digits.remove_prefix(1);
    }
    const std::optional<std::uint64_t> v = parse_u64(digits);
    if (!v || *v > static_cast<std::uint64_t>((std::numeric_limits<std::int64_t>::max)())) return std::nullopt;
    const auto t = static_cast<std::int64_t>(*v);
    return negative ? -t : t;
  }
  const sg::result<std::int64_t> t = sg::detail::parse_rfc3339(s);
  if (!t) return std::nullopt;
  return *t;
}

std::int64_t now_seconds() {
  return static_cast<std::int64_t>(
      std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch())
          .count());
}

namespace {

// Decodes the UTF-8 sequence at s[i]: its code point and length, or false
// for a byte that does not start a valid sequence (overlong forms,
// surrogates and values above U+10FFFF are not valid).
bool decode_utf8(std::string_view s, std::size_t i, std::uint32_t& cp, std::size_t& len) {
  return slotguard::detail::utf8_decode(reinterpret_cast<const std::uint8_t*>(s.data()), s.size(), i, cp, len);
}

// Code points a terminal does not show as a visible character of their own
// but that act on what it shows: C0 and C1 controls, DEL, and the invisible
// formatting characters (soft hyphen, Arabic letter mark, zero-width
// characters and marks, line and paragraph separators, bidirectional
// embeddings, overrides and isolates, word joiners, BOM, interlinear
// annotation, tags) with which text can pose as other text.
bool hidden(std::uint32_t cp) {
  return cp < 0x20 || (cp >= 0x7F && cp <= 0x9F) || cp == 0xAD || cp == 0x61C || cp == 0x180E ||
         (cp >= 0x200B && cp <= 0x200F) || (cp >= 0x2028 && cp <= 0x202E) || (cp >= 0x2060 && cp <= 0x206F) ||
         cp == 0xFEFF || (cp >= 0xFFF9 && cp <= 0xFFFB) || (cp >= 0xE0000 && cp <= 0xE007F);
}

void append_hex(std::string& out, const char* format, std::uint32_t v) {
  char buf[16];
  std::snprintf(buf, sizeof buf, format, static_cast<unsigned>(v));
  out += buf;
}

}  // namespace

std::string printable(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  std::size_t i = 0;
  while (i < s.size()) {
    std::uint32_t cp = 0;
    std::size_t len = 0;
    if (!decode_utf8(s, i, cp, len)) {
      append_hex(out, "\\x%02x", static_cast<unsigned char>(s[i]));
      ++i;
      continue;
    }
    if (!hidden(cp)) {
      out.append(s.data() + i, len);
    } else if (cp == '\n') {
      out += "\\n";
    } else if (cp == '\r') {
      out += "\\r";
    } else if (cp == '\t') {
      out += "\\t";
    } else if (cp < 0x80) {
      append_hex(out, "\\x%02x", cp);
    } else if (cp <= 0xFFFF) {
      append_hex(out, "\\u%04x", cp);
    } else {
      append_hex(out, "\\U%08x", cp);
    }
    i += len;
  }
  return out;
}

std::string json_string(std::string_view s) {
  std::string out = "\"";
  std::size_t i = 0;
  while (i < s.size()) {
    std::uint32_t cp = 0;
    std::size_t len = 0;
    if (!decode_utf8(s, i, cp, len)) {
      out += "\\ufffd";
      ++i;
      continue;
    }
    if (cp == '"') {
      out += "\\\"";
    } else if (cp == '\\') {
      out += "\\\\";
    } else if (cp == '\n') {
      out += "\\n";
    } else if (cp == '\r') {
      out += "\\r";
    } else if (cp == '\t') {
      out += "\\t";
    } else if (!hidden(cp)) {
      out.append(s.data() + i, len);
    } else if (cp <= 0xFFFF) {
      append_hex(out, "\\u%04x", cp);
    } else {
      // A surrogate pair, as JSON writes code points above U+FFFF.
      const std::uint32_t v = cp - 0x10000;
      append_hex(out, "\\u%04x", 0xD800 + (v >> 10));
      append_hex(out, "\\u%04x", 0xDC00 + (v & 0x3FF));
    }
    i += len;
  }
  out += "\"";
  return out;
}

}  // namespace sgcli
