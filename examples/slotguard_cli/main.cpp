// SPDX-License-Identifier: Apache-2.0
// The `slotguard` tool: makes keys, packs, signs, inspects and verifies
// bundles. This file is only the dispatcher; each subcommand group lives in
// its own source file and is listed in the table below.
#include "cli.hpp"

#include <slotguard/version.hpp>

#include <cerrno>
#include <cstdio>
#include <cstring>

namespace {

struct command {
  const char* name;
  int (*run)(int argc, char** argv);
  const char* summary;
};

const command commands[] = {
    {"keygen", cmd_keygen, "make an Ed25519 key pair (KEY and KEY.pub, PEM)"},
    {"pack", cmd_pack, "build a bundle from a payload and manifest fields, optionally signed"},
    {"sign", cmd_sign, "add a signature to a bundle, replacing the file atomically"},
    {"inspect", cmd_inspect, "print a bundle's header, manifest and signatures (--json)"},
    {"verify", cmd_verify, "check a bundle against trusted keys and this device's constraints"},
#if SLOTGUARD_CLI_HAVE_SCHEMA
    {"schema", cmd_schema, "check a schema file, compile records ('schema --help')"},
#endif
#if SLOTGUARD_CLI_HAVE_STORE
    {"apply", cmd_store, "run a bundle through the pipeline into a store and begin its trial"},
    {"status", cmd_store, "print a store's state (--json)"},
    {"confirm", cmd_store, "commit the running trial"},
    {"revert", cmd_store, "end the running trial with failure (its sequence is quarantined)"},
    {"rollback", cmd_store, "go back to the previously committed content (lowers the floor)"},
    {"release", cmd_store, "lift a sequence's quarantine"},
    {"history", cmd_history, "print a store's decisions (--json)"},
#endif
};

void print_usage(std::FILE* out) {
  std::fprintf(out,
               "usage: slotguard COMMAND [OPTIONS]\n"
               "       slotguard COMMAND --help\n\ncommands:\n");
  for (const command& c : commands) std::fprintf(out, "  %-9s %s\n", c.name, c.summary);
  std::fprintf(out,
               "\nexit status: 0 success, 1 input rejected or operation failed (the reason\n"
               "on stderr; also when the standard output cannot be written), 2 usage\n"
               "error. An empty option value and a repeated single-value option are usage\n"
               "errors.\n");
}

// The exit status once standard output is written out: what the tool
// printed is its result (status --json feeds scripts), so output that could
// not be written (a full disk, a closed pipe, /dev/full) is a failure, never
// a success with half an answer.
int finish(const char* name, int status) {
  const bool flushed = std::fflush(stdout) == 0;
  const bool failed = !flushed || std::ferror(stdout) != 0;
  if (!failed) return status;
  const int err = errno;
  std::fprintf(stderr, "slotguard %s: io_error: %s: writing the standard output failed%s%s%s\n", name,
               slotguard::describe(slotguard::errc::io_error), err != 0 ? " (os: " : "",
               err != 0 ? std::strerror(err) : "", err != 0 ? ")" : "");
  return status == sgcli::exit_ok ? sgcli::exit_rejected : status;
}

int run(int argc, char** argv) {
  if (argc < 2) {
    print_usage(stderr);
    return sgcli::exit_usage;
  }
  const char* name = argv[1];
  // --json anywhere before "--" (or apply's --probe, whose arguments are the
  // probe's): errors become JSON objects on stdout, for every subcommand.
  for (int i = 2; i < argc; ++i) {
    if (std::strcmp(argv[i], "--") == 0 || std::strcmp(argv[i], "--probe") == 0) break;
    if (std::strcmp(argv[i], "--json") == 0) sgcli::set_json_mode(true);
  }
  if (std::strcmp(name, "--help") == 0 || std::strcmp(name, "-h") == 0 || std::strcmp(name, "help") == 0) {
    print_usage(stdout);
    return sgcli::exit_ok;
  }
  if (std::strcmp(name, "--version") == 0) {
    std::printf("slotguard %d.%d.%d\n", SLOTGUARD_VERSION_MAJOR, SLOTGUARD_VERSION_MINOR,
                SLOTGUARD_VERSION_PATCH);
    return sgcli::exit_ok;
  }
  for (const command& c : commands)
    if (std::strcmp(name, c.name) == 0) return c.run(argc - 1, argv + 1);
  if (sgcli::json_mode()) return sgcli::usage_error(name, "unknown command");
  std::fprintf(stderr, "slotguard: unknown command '%s'\n\n", sgcli::printable(name).c_str());
  print_usage(stderr);
  return sgcli::exit_usage;
}

}  // namespace

int main(int argc, char** argv) {
  const int status = run(argc, argv);
  return finish(argc >= 2 ? sgcli::printable(argv[1]).c_str() : "", status);
}
