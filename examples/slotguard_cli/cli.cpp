// SPDX-License-Identifier: Apache-2.0
// The tool's shared helpers: option parsing, bounded file reads, atomic file
// replacement, number and time parsing, JSON strings.
#include "cli.hpp"

#include <slotguard/detail/time.hpp>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <limits>

#if defined(_WIN32)
#include <fcntl.h>
#include <io.h>
#include <process.h>
#include <sys/stat.h>
#else
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#endif

namespace sg = slotguard;
namespace fs = std::filesystem;

namespace sgcli {

int fail(const char* cmd, sg::errc e, const std::string& detail) {
  std::fprintf(stderr, "slotguard %s: %s: %s%s%s\n", cmd, sg::to_string(e), sg::describe(e),
               detail.empty() ? "" : ": ", detail.c_str());
  return exit_rejected;
}

int usage_error(const char* cmd, const std::string& message) {
  std::fprintf(stderr, "slotguard %s: %s\n(see 'slotguard %s --help')\n", cmd, message.c_str(), cmd);
  return exit_usage;
}

arg_parser::arg_parser(int argc, char** argv, std::initializer_list<option> options) {
  for (const option& o : options) {
    spec s;
    for (const char* n : o.names) s.names.emplace_back(n);
    s.takes_value = o.takes_value;
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
    if (inline_value) {
      given_.emplace_back(s, *inline_value);
    } else if (i + 1 < argc) {
      given_.emplace_back(s, std::string(argv[++i]));
    } else if (error_.empty()) {
      error_ = "option '" + std::string(name) + "' needs a value";
    }
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

static sg::errc errc_from_errno(int e) {
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
    return sg::errc::io_error;
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

sg::result<void> write_file_atomic(const std::string& path, sg::byte_view bytes, unsigned mode, bool exclusive) {
  std::error_code ec;
  if (exclusive && fs::exists(path, ec)) return sg::errc::already_exists;
  static std::atomic<unsigned> counter{0};
#if defined(_WIN32)
  const int pid = _getpid();
#else
  const int pid = static_cast<int>(getpid());
#endif
  const std::string tmp = path + ".tmp-" + std::to_string(pid) + "-" + std::to_string(counter++);
#if defined(_WIN32)
  (void)mode;
  const int fd = _open(tmp.c_str(), _O_WRONLY | _O_CREAT | _O_EXCL | _O_BINARY, _S_IREAD | _S_IWRITE);
#else
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, static_cast<mode_t>(mode));
#endif
  if (fd < 0) return errc_from_errno(errno);
  sg::errc failure = sg::errc::ok;
  std::size_t done = 0;
  while (done < bytes.size() && failure == sg::errc::ok) {
    const std::size_t chunk = std::min<std::size_t>(bytes.size() - done, std::size_t{1} << 30);
#if defined(_WIN32)
    const int n = _write(fd, bytes.data() + done, static_cast<unsigned>(chunk));
#else
    const ssize_t n = ::write(fd, bytes.data() + done, chunk);
#endif
    if (n < 0) {
      if (errno != EINTR) failure = errc_from_errno(errno);
    } else {
      done += static_cast<std::size_t>(n);
    }
  }
#if defined(_WIN32)
  if (failure == sg::errc::ok && _commit(fd) != 0) failure = errc_from_errno(errno);
  if (_close(fd) != 0 && failure == sg::errc::ok) failure = errc_from_errno(errno);
#else
  if (failure == sg::errc::ok && ::fsync(fd) != 0) failure = errc_from_errno(errno);
  if (::close(fd) != 0 && failure == sg::errc::ok) failure = errc_from_errno(errno);
#endif
  if (failure == sg::errc::ok) {
    // std::filesystem::rename replaces an existing target on POSIX and on
    // Windows (MoveFileEx with MOVEFILE_REPLACE_EXISTING).
    fs::rename(tmp, path, ec);
    if (ec) failure = ec == std::errc::permission_denied ? sg::errc::permission_denied : sg::errc::io_error;
  }
  if (failure != sg::errc::ok) {
    fs::remove(tmp, ec);
    return failure;
  }
#if !defined(_WIN32)
  // Make the rename itself durable.
  fs::path dir = fs::path(path).parent_path();
  if (dir.empty()) dir = ".";
  const int dfd = ::open(dir.c_str(), O_RDONLY | O_CLOEXEC);
  if (dfd >= 0) {
    (void)::fsync(dfd);
    ::close(dfd);
  }
#endif
  return sg::ok();
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

std::string json_string(std::string_view s) {
  std::string out = "\"";
  for (char ch : s) {
    const auto c = static_cast<unsigned char>(ch);
    switch (ch) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        if (c < 0x20 || c == 0x7F) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\u%04x", c);
          out += buf;
        } else {
          out.push_back(ch);
        }
    }
  }
  out += "\"";
  return out;
}

}  // namespace sgcli
