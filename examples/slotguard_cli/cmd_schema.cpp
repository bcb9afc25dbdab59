// SPDX-License-Identifier: Apache-2.0
// `slotguard schema`: checks a schema text file, and (for content authors)
// compiles a records text against a schema into the binary payload encoding
// and validates a binary payload, with the same messages the library gives
// (docs/SCHEMA.md).
#include "cli.hpp"

#include <slotguard/schema.hpp>

#include <cstdio>
#include <optional>
#include <string>

namespace sg = slotguard;

namespace {

constexpr const char* kUsage =
    "usage: slotguard schema check SCHEMA_FILE\n"
    "       slotguard schema compile SCHEMA_FILE RECORDS_FILE -o OUT\n"
    "       slotguard schema validate SCHEMA_FILE PAYLOAD_FILE\n"
    "\n"
    "check     parse a schema text file (docs/SCHEMA.md) and print a summary\n"
    "compile   compile records text (one record a line) into a payload in the\n"
    "          binary record encoding, checking every value against the schema\n"
    "validate  validate a binary payload against the schema\n"
    "\n"
    "options:\n"
    "  -o, --out FILE   where compile writes the payload (replaced atomically)\n"
    "  -h, --help       this text\n"
    "\n"
    "exit status: 0 valid, 1 invalid (on stderr: the errc's name, its sentence,\n"
    "and FILE:LINE:COLUMN or the record and field index with what is wrong),\n"
    "2 usage error.\n";

constexpr const char* kCmd = "schema";

int text_error(const std::string& path, sg::errc code, std::size_t line, std::size_t column,
               const std::string& message) {
  return sgcli::fail(kCmd, code,
                     path + ":" + std::to_string(line) + ":" + std::to_string(column) + ": " + message);
}

std::optional<sg::schema> load(const std::string& path, int& status) {
  const auto text = sgcli::read_file(path, sg::schema_limits::max_text_size);
  if (!text) {
    status = sgcli::fail(kCmd, text.error(), path);
    return std::nullopt;
  }
  auto s = sg::parse_schema_text(sg::byte_view(*text).as_chars());
  if (!s) {
    const sg::schema_error& e = s.error();
    status = text_error(path, e.code, e.line, e.column, e.message);
    return std::nullopt;
  }
  return std::move(*s);
}

int check(const std::string& path) {
  int status = sgcli::exit_ok;
  const auto s = load(path, status);
  if (!s) return status;
  std::size_t fields = 0;
  for (std::size_t i = 0; i < s->record_type_count(); ++i) fields += s->record_type(i).field_count();
  std::printf("%s: schema \"%s\" version %u: %zu record types, %zu fields\n", path.c_str(),
              std::string(s->id()).c_str(), static_cast<unsigned>(s->version()), s->record_type_count(), fields);
  for (std::size_t i = 0; i < s->record_type_count(); ++i) {
    const sg::record_spec& r = s->record_type(i);
    std::printf("  record %s = %u: %zu fields\n", r.name.c_str(), static_cast<unsigned>(r.type_id), r.field_count());
  }
  return sgcli::exit_ok;
}

int report(const sg::validation_error& e) {
  std::string where;
  if (e.record != sg::validation_error::npos) where += "record " + std::to_string(e.record);
  if (e.field != sg::validation_error::npos)
    where += (where.empty() ? "" : ", ") + std::string("field ") + std::to_string(e.field);
  return sgcli::fail(kCmd, e.code, where.empty() ? e.message : where + ": " + e.message);
}

int compile(const std::string& schema_path, const std::string& records_path, const std::string& out) {
  int status = sgcli::exit_ok;
  const auto s = load(schema_path, status);
  if (!s) return status;
  const sg::validate_limits limits;
  const auto text = sgcli::read_file(records_path, limits.max_bytes);
  if (!text) return sgcli::fail(kCmd, text.error(), records_path);
  auto bin = sg::compile_records_text(*s, sg::byte_view(*text).as_chars(), limits);
  if (!bin) {
    const sg::records_error& e = bin.error();
    return text_error(records_path, e.code, e.line, e.column, e.message);
  }
  auto w = sgcli::write_file_atomic(out, *bin);
  if (!w) return sgcli::fail(kCmd, w.error(), out);
  std::printf("%s: %zu bytes\n", out.c_str(), bin->size());
  return sgcli::exit_ok;
}

int validate(const std::string& schema_path, const std::string& payload_path) {
  int status = sgcli::exit_ok;
  const auto s = load(schema_path, status);
  if (!s) return status;
  const sg::validate_limits limits;
  const auto bytes = sgcli::read_file(payload_path, limits.max_bytes);
  if (!bytes) return sgcli::fail(kCmd, bytes.error(), payload_path);
  const auto v = sg::validate(*s, *bytes, limits);
  if (!v) return report(v.error());
  std::printf("%s: valid, %zu records\n", payload_path.c_str(), v->record_count());
  return sgcli::exit_ok;
}

}  // namespace

int cmd_schema(int argc, char** argv) {
  sgcli::arg_parser args(argc, argv, {{{"--out", "-o"}}});
  if (args.help()) {
    std::fputs(kUsage, stdout);
    return sgcli::exit_ok;
  }
  if (!args.ok()) return sgcli::usage_error(kCmd, args.error());
  const auto& pos = args.positional();
  if (pos.empty()) return sgcli::usage_error(kCmd, "a subcommand is required (check, compile, validate)");
  const std::string& sub = pos[0];
  if (sub == "check") {
    if (pos.size() != 2) return sgcli::usage_error(kCmd, "check takes one schema file");
    if (args.has("--out")) return sgcli::usage_error(kCmd, "check takes no --out");
    return check(pos[1]);
  }
  if (sub == "compile") {
    if (pos.size() != 3) return sgcli::usage_error(kCmd, "compile takes a schema file and a records file");
    const auto out = args.value("--out");
    if (!out) return sgcli::usage_error(kCmd, "compile needs -o OUT");
    return compile(pos[1], pos[2], *out);
  }
  if (sub == "validate") {
    if (pos.size() != 3) return sgcli::usage_error(kCmd, "validate takes a schema file and a payload file");
    if (args.has("--out")) return sgcli::usage_error(kCmd, "validate takes no --out");
    return validate(pos[1], pos[2]);
  }
  return sgcli::usage_error(kCmd, "unknown subcommand '" + sub + "' (check, compile, validate)");
}
