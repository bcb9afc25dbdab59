// SPDX-License-Identifier: Apache-2.0
// Shared pieces of the `slotguard` tool: the subcommand functions the
// dispatcher in main.cpp calls, exit statuses, a small option parser, and
// file helpers (bounded reads, atomic replacement, private key files).
// Every subcommand has the signature int(int argc, char** argv), where
// argv[0] is the subcommand's name, and returns the process's exit status.
#ifndef SLOTGUARD_CLI_CLI_HPP
#define SLOTGUARD_CLI_CLI_HPP

#include <slotguard/bytes.hpp>
#include <slotguard/ed25519.hpp>
#include <slotguard/error.hpp>

#include <cstdint>
#include <cstdio>
#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

// Subcommands, one source file per group.
int cmd_keygen(int argc, char** argv);   // cmd_keys.cpp
int cmd_pack(int argc, char** argv);     // cmd_bundle.cpp
int cmd_sign(int argc, char** argv);     // cmd_bundle.cpp
int cmd_inspect(int argc, char** argv);  // cmd_bundle.cpp
int cmd_verify(int argc, char** argv);   // cmd_bundle.cpp
#if SLOTGUARD_CLI_HAVE_SCHEMA
int cmd_schema(int argc, char** argv);   // cmd_schema.cpp
#endif
#if SLOTGUARD_CLI_HAVE_STORE
// apply, status, confirm, revert, rollback and release; argv[0] says which.
int cmd_store(int argc, char** argv);    // cmd_store.cpp
int cmd_history(int argc, char** argv);  // cmd_store.cpp
#endif

namespace sgcli {

// Exit statuses: success, a rejected input or failed operation (the errc's
// name and a sentence on stderr), and a command line the tool cannot use.
inline constexpr int exit_ok = 0;
inline constexpr int exit_rejected = 1;
inline constexpr int exit_usage = 2;

// "slotguard CMD: NAME: sentence[: context]" on stderr, the context (what
// failed: "store DIR", "bundle FILE", "--trust FILE", a record or field)
// through printable(), followed by the OS's own words ("os: ...") for an
// I/O failure when errno holds them (callers clear errno before the call
// that may fail); returns exit_rejected. In JSON mode (set_json_mode), one
// object {"errc", "sentence", "context", "command"[, "os_error"]} on stdout
// instead, same exit status.
int fail(const char* cmd, slotguard::errc e, const std::string& detail = {});
// "slotguard CMD: message" (through printable()) and a pointer to --help on
// stderr; returns exit_usage. In JSON mode, one object {"errc":
// "invalid_argument", "sentence", "context": message, "command", "usage":
// true} on stdout, same exit status.
int usage_error(const char* cmd, const std::string& message);

// JSON mode: errors as JSON objects on stdout. main() sets it when "--json"
// is among the arguments (every subcommand accepts --json; see arg_parser).
void set_json_mode(bool on) noexcept;
bool json_mode() noexcept;

// One option a subcommand accepts: its names ("--out", "-o"), whether it
// takes a value, and whether it may be given more than once (--key, --trust).
// Values come as "--name VALUE" or "--name=VALUE".
struct option {
  std::initializer_list<const char*> names;
  bool takes_value = true;
  bool repeatable = false;
};

// Parses a subcommand's arguments (argv[1..argc)). "--help" and "-h" are
// always accepted, and so is "--json" (a subcommand that does not list it
// prints only its errors as JSON); "--" ends the options. An empty value ("--channel ''",
// as a script's unset variable gives) and a second value for an option
// that is not repeatable are usage errors naming the option: an option
// that names a constraint never silently means "no constraint" or "the
// other value".
class arg_parser {
 public:
  arg_parser(int argc, char** argv, std::initializer_list<option> options);
  // False after an unknown option, a missing or empty value or a repeated
  // single-value option; error() says which.
  bool ok() const noexcept { return error_.empty(); }
  const std::string& error() const noexcept { return error_; }
  bool help() const noexcept { return help_; }
  // Any of the option's names may be used to look it up.
  bool has(std::string_view name) const;
  std::optional<std::string> value(std::string_view name) const;  // the last one given
  std::vector<std::string> values(std::string_view name) const;   // all, in order
  const std::vector<std::string>& positional() const noexcept { return positional_; }

 private:
  struct spec {
    std::vector<std::string> names;
    bool takes_value;
    bool repeatable;
  };
  const spec* find(std::string_view name) const;
  std::vector<spec> specs_;
  std::vector<std::pair<const spec*, std::string>> given_;
  std::vector<std::string> positional_;
  std::string error_;
  bool help_ = false;
};

// Reads a whole file of at most max_size bytes: not_found, permission_denied,
// io_error, or too_large (checked before reading, so memory stays bounded).
slotguard::result<std::vector<std::uint8_t>> read_file(const std::string& path, std::uint64_t max_size);

// The OS's error codes as errc (the same mapping everywhere in the tool).
slotguard::errc errc_from_errno(int e);
#if defined(_WIN32)
slotguard::errc errc_from_win32(unsigned long e);  // a DWORD
#endif

// A file that replaces `target` atomically once committed, written at any
// offsets and in any order first (the tool streams bundles of any size
// through it): a temporary file in the same directory (created exclusively
// and never through a symbolic link, with `mode` on POSIX; a private mode
// such as 0600 gives an access list of the owner and SYSTEM only on
// Windows); commit() flushes it to the device, renames it over `target`
// (Windows: MOVEFILE_WRITE_THROUGH) and syncs the directory (POSIX), so that
// the new name survives a power cut once it returns. Until then `target` is
// unchanged, and a file never committed is removed. With exclusive, the new
// file takes the name only if nothing (not even a dangling symbolic link)
// has it, atomically: already_exists otherwise. A symbolic link at `target`
// is replaced, never followed.
class output_file {
 public:
  output_file() = default;
  output_file(const output_file&) = delete;
  output_file& operator=(const output_file&) = delete;
  ~output_file();

  slotguard::result<void> create(const std::string& target, unsigned mode = 0644);
  // Writes all of `bytes` at offset `off`.
  slotguard::result<void> write_at(std::uint64_t off, slotguard::byte_view bytes);
  slotguard::result<void> commit(bool exclusive = false);
#if !defined(_WIN32)
  int fd() const noexcept { return fd_; }
#endif

 private:
  void close() noexcept;
  std::string target_, tmp_;
  bool committed_ = false;
#if defined(_WIN32)
  void* h_ = reinterpret_cast<void*>(static_cast<std::intptr_t>(-1));  // INVALID_HANDLE_VALUE
#else
  int fd_ = -1;
#endif
};

// A whole file written through output_file: create, write, commit.
slotguard::result<void> write_file_atomic(const std::string& path, slotguard::byte_view bytes,
                                          unsigned mode = 0644, bool exclusive = false);

// Strict decimal parsing of an unsigned 64-bit number.
std::optional<std::uint64_t> parse_u64(std::string_view s);

// A time on the command line: RFC 3339 ("2026-11-26T15:00:00Z") or
// "@SECONDS" since the Unix epoch.
std::optional<std::int64_t> parse_time(std::string_view s);

// Seconds since the Unix epoch now.
std::int64_t now_seconds();

// Text from an untrusted source (a bundle's manifest, a store, a file name)
// made safe for a terminal, for every string the tool prints in text mode:
// valid printable UTF-8 stays as it is; control bytes become escapes
// (newline "\n", carriage return "\r", tab "\t", others and DEL "\xNN",
// e.g. ESC "\x1b"), C1 controls and invisible formatting characters
// (bidirectional overrides and isolates, zero-width characters, line and
// paragraph separators, BOM, tags) become "\uXXXX" or "\UXXXXXXXX", and each
// byte that is not part of valid UTF-8 becomes "\xNN". The result is one
// line of valid UTF-8 that cannot move the cursor, change colours or hide
// what follows. Backslashes are left as they are (Windows paths stay
// readable): an escape is never needed to tell lines apart.
std::string printable(std::string_view s);

// JSON string literal with the quotes. Always valid UTF-8 and valid JSON:
// control characters, C1 controls, U+2028/U+2029 and the invisible
// formatting characters printable() escapes are written as \uXXXX (exact);
// each byte that is not part of valid UTF-8 becomes \ufffd (U+FFFD, the
// replacement character).
std::string json_string(std::string_view s);

// Key files (PEM, as openssl writes them), in cmd_keys.cpp. Errors: those of
// read_file, pem_invalid, key_invalid.
slotguard::result<slotguard::ed25519_seed> load_private_key(const std::string& path);
slotguard::result<slotguard::ed25519_public_key> load_public_key(const std::string& path);

}  // namespace sgcli

#endif  // SLOTGUARD_CLI_CLI_HPP
