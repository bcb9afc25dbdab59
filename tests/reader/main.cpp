// SPDX-License-Identifier: Apache-2.0
// The guard's side of a program whose worker unit (worker.cpp) includes
// slotguard/reader.hpp alone: it applies a bundle, hands the worker a
// reader, and checks what the worker read. Exits non-zero on any mismatch.
#include <slotguard/bundle.hpp>
#include <slotguard/guard.hpp>
#include <slotguard/sim_storage.hpp>

#include "worker.hpp"

#include <cstdio>
#include <string>

namespace sg = slotguard;

static int fail(const char* what) {
  std::fprintf(stderr, "reader_unit: %s\n", what);
  return 1;
}

int main() {
  sg::ed25519_seed seed{};
  seed.fill(7);
  sg::payload_writer content(worker::rules_schema.id, worker::rules_schema.version);
  content.begin_record(worker::rule.type_id);
  content.add_string("mimikatz");
  content.add_u8(5);
  content.begin_list();
  content.add_string("sekurlsa");
  content.add_string("lsass");
  content.end_list();
  content.begin_record(worker::rule.type_id);
  content.add_string("psexec");
  content.add_u8(3);
  content.begin_list();
  content.end_list();
  auto payload = content.finish();
  auto bundle = sg::bundle_builder()
                    .channel("rules").sequence(4).version("1")
                    .schema(worker::rules_schema.id, worker::rules_schema.version)
                    .created(sg::real_clock().unix_seconds())
                    .payload(payload).sign_with(seed).build();
  if (!bundle) return fail("build");

  sg::sim_storage fs;
  sg::guard_options opts;
  opts.fs = &fs;
  opts.directory = "/store";
  opts.channel = "rules";
  if (!opts.trust.add(sg::ed25519_public_key_from_seed(seed))) return fail("trust");
  auto check = sg::schema::from_decl(worker::rules_schema);
  if (!check) return fail("schema");
  opts.check = *check;
  auto opened = sg::guard::open(std::move(opts));
  if (!opened) return fail("open");
  sg::guard& guard = **opened;

  sg::content_reader reader = guard.reader();
  if (worker::describe(reader) != "empty") return fail("content before apply");
  if (!guard.apply(sg::byte_view(*bundle))) return fail("apply");
  const std::string got = worker::describe(reader);
  const std::string want = "sequence 4 slot " + std::string(sg::to_string(guard.current()->slot())) +
                           " channel rules\nmimikatz 5 sekurlsa lsass\npsexec 3\n";
  if (got != want) {
    std::fprintf(stderr, "reader_unit: the worker read\n%s\ninstead of\n%s\n", got.c_str(), want.c_str());
    return 1;
  }
  std::printf("%s", got.c_str());
  return 0;
}
