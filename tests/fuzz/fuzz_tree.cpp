// SPDX-License-Identifier: Apache-2.0
// libFuzzer target: arbitrary bytes as a tree payload (docs/FORMAT.md, "Tree
// payloads"), under default and tight limits. What the parser accepts must
// obey every rule it claims to check (paths safe, canonical order, parents
// listed, sizes adding up, the encoding unique), the two checks of the
// files' bytes must agree, and a tree whose bytes check out must unpack into
// the simulator, verify as unpacked, and be removed without a trace. Any
// crash, sanitizer report or broken invariant is a finding. The checked-in
// corpus (tests/fuzz/corpus/tree) replays as a regression test in every build.
#include <slotguard/sim_storage.hpp>
#include <slotguard/tree.hpp>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

namespace sg = slotguard;

namespace {

void require(bool cond) {
  if (!cond) std::abort();
}

void exercise(sg::byte_view in, const sg::tree_limits& limits) {
  const auto size = sg::tree_table_size(in.sub(0, sg::tree_header_size), in.size(), limits);
  const auto r = sg::parse_tree_table(in, in.size(), limits);
  if (!r) return;
  require(size && *size == r->table_size);
  const sg::tree_index& idx = *r;
  require(idx.payload_size == in.size());
  require(idx.table_size <= in.size() && idx.table_size <= limits.max_table_size);
  require(idx.entries.size() <= limits.max_entries);
  std::uint64_t next = idx.table_size;
  for (std::size_t i = 0; i < idx.entries.size(); ++i) {
    const sg::tree_entry& e = idx.entries[i];
    require(sg::check_tree_path(e.path, limits) == sg::errc::ok);
    require((e.mode & ~0777u) == 0);
    require(e.kind == sg::tree_kind::file || e.kind == sg::tree_kind::directory);
    if (i > 0) require(sg::tree_path_compare(idx.entries[i - 1].path, e.path) < 0);
    const auto slash = e.path.rfind('/');
    if (slash != std::string::npos) {
      // The parent is listed, as a directory, before.
      const std::string parent = e.path.substr(0, slash);
      bool found = false;
      for (std::size_t k = 0; k < i && !found; ++k)
        found = idx.entries[k].path == parent && idx.entries[k].kind == sg::tree_kind::directory;
      require(found);
    }
    require(e.data_offset == next);
    if (e.kind == sg::tree_kind::file) {
      require(e.size <= in.size() - next);
      next += e.size;
    } else {
      require(e.size == 0);
    }
  }
  require(next == in.size());
  // One encoding per table: the parser's index encodes to the same bytes.
  const auto table = sg::encode_tree_table(idx);
  require(table && sg::byte_view(*table) == in.sub(0, static_cast<std::size_t>(idx.table_size)));

  const auto whole = sg::verify_tree_data(in, idx);
  const auto streamed = sg::verify_tree_data(sg::read_at_memory(in), idx);
  require(whole.has_value() == streamed.has_value());
  if (!whole || idx.entries.size() > 64) return;

  sg::sim_storage fs;
  require(fs.mkdir("/s").has_value());
  const std::string dest = "/s/t";
  require(sg::unpack_tree(fs, dest, idx, sg::read_at_memory(in)).has_value());
  require(sg::verify_unpacked_tree(fs, dest, idx).has_value());
  require(sg::remove_tree(fs, dest).has_value());
  const auto there = fs.exists(dest);
  require(there && !*there);
  require(fs.files().empty());
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const sg::byte_view in(data, size);
  exercise(in, sg::tree_limits{});
  sg::tree_limits tight;
  tight.max_entries = 8;
  tight.max_path = 24;
  tight.max_depth = 3;
  tight.max_component = 8;
  tight.max_table_size = 512;
  exercise(in, tight);
  return 0;
}
