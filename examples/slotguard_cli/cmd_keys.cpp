// SPDX-License-Identifier: Apache-2.0
// `slotguard keygen`, and reading key files for the other subcommands.
#include "cli.hpp"

#include <slotguard/ed25519.hpp>
#include <slotguard/pem.hpp>
#include <slotguard/trust.hpp>

#include <cstdio>
#include <filesystem>
#include <system_error>

namespace sg = slotguard;

namespace sgcli {

// A PEM key file is a few hundred bytes; anything much larger is not one.
constexpr std::uint64_t max_key_file = 64 * 1024;

sg::result<sg::ed25519_seed> load_private_key(const std::string& path) {
  auto text = read_file(path, max_key_file);
  if (!text) return text.error();
  auto seed = sg::parse_private_key_pem(sg::byte_view(*text).as_chars());
  // The key file's text is key material: wiped before its memory goes back.
  if (!text->empty()) sg::secure_wipe(text->data(), text->size());
  return seed;
}

sg::result<sg::ed25519_public_key> load_public_key(const std::string& path) {
  const auto text = read_file(path, max_key_file);
  if (!text) return text.error();
  return sg::parse_public_key_pem(sg::byte_view(*text).as_chars());
}

}  // namespace sgcli

static const char keygen_help[] =
    "usage: slotguard keygen --out KEY [--force]\n"
    "\n"
    "Makes an Ed25519 key pair. Writes the private key to KEY (PKCS#8 PEM,\n"
    "\"BEGIN PRIVATE KEY\"; mode 0600 on POSIX, an access list of the owner and\n"
    "SYSTEM only on Windows) and the public key to KEY.pub (SubjectPublicKeyInfo\n"
    "PEM, \"BEGIN PUBLIC KEY\"): the forms openssl uses, so keys made by\n"
    "'openssl genpkey -algorithm ed25519' work too. Each file is created new\n"
    "(never through a symbolic link), flushed, and renamed into place durably.\n"
    "Prints the key id (hex of the first 8 bytes of SHA-256 of the public key).\n"
    "\n"
    "  -o, --out KEY   where to write the private key (required)\n"
    "  --force         replace existing files (a symbolic link is replaced, not\n"
    "                  followed)\n"
    "\n"
    "exit status: 0 written, 1 failed (e.g. already_exists), 2 usage error\n";

namespace {

// Whether anything, a dangling symbolic link included, has the name.
bool name_taken(const std::string& path) {
  std::error_code ec;
  const auto st = std::filesystem::symlink_status(path, ec);
  return !ec && std::filesystem::exists(st);
}

}  // namespace

int cmd_keygen(int argc, char** argv) {
  const sgcli::arg_parser args(argc, argv, {{{"--out", "-o"}, true}, {{"--force"}, false}});
  if (args.help()) {
    std::fputs(keygen_help, stdout);
    return sgcli::exit_ok;
  }
  if (!args.ok()) return sgcli::usage_error("keygen", args.error());
  if (!args.positional().empty()) return sgcli::usage_error("keygen", "unexpected argument '" + args.positional()[0] + "'");
  const auto out = args.value("--out");
  if (!out || out->empty()) return sgcli::usage_error("keygen", "--out KEY is required");
  const bool force = args.has("--force");
  const std::string pub_path = *out + ".pub";

  const auto seed = sg::ed25519_generate_seed();
  if (!seed) return sgcli::fail("keygen", seed.error());
  const sg::ed25519_public_key pub = sg::ed25519_public_key_from_seed(*seed);
  std::string priv_pem = sg::private_key_pem(*seed);
  // The private key's text is wiped on every way out of this function.
  struct wipe_at_end {
    std::string& s;
    ~wipe_at_end() {
      if (!s.empty()) sg::secure_wipe(&s[0], s.size());
    }
  } wipe_priv{priv_pem};
  const std::string pub_pem = sg::public_key_pem(pub);
  if (!force) {
    // Check both first so that neither is written when one exists; the
    // writes below are exclusive too, so a name taken in between is never
    // replaced.
    for (const std::string* p : {&*out, &pub_path})
      if (name_taken(*p)) return sgcli::fail("keygen", sg::errc::already_exists, *p);
  }
  auto r = sgcli::write_file_atomic(*out, sg::byte_view(std::string_view(priv_pem)), 0600, !force);
  if (!r) return sgcli::fail("keygen", r.error(), *out);
  r = sgcli::write_file_atomic(pub_path, sg::byte_view(std::string_view(pub_pem)), 0644, !force);
  if (!r) {
    // A private key without its public half is of no use; it was created
    // new just now (without --force), so it is ours to remove.
    if (!force) {
      std::error_code ec;
      std::filesystem::remove(*out, ec);
    }
    return sgcli::fail("keygen", r.error(), pub_path);
  }
  std::printf("key id %s\nwrote %s and %s\n", sg::to_hex(sg::key_id_of(pub)).c_str(),
              sgcli::printable(*out).c_str(), sgcli::printable(pub_path).c_str());
  return sgcli::exit_ok;
}
