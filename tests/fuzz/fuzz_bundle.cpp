// SPDX-License-Identifier: Apache-2.0
// libFuzzer target: parse and verify arbitrary bytes as a bundle, with a
// fixed trust set and clock, under default and tight limits, and touch every
// view the parser returns. Any crash, sanitizer report or broken invariant
// (a view outside the input, a verified bundle whose parts disagree, the
// streamed reader disagreeing with parse_bundle) is a finding. The checked-in corpus (tests/fuzz/corpus/bundle) replays as a
// regression test in every build.
#include <slotguard/bundle.hpp>
#include <slotguard/hash.hpp>
#include <slotguard/io_fn.hpp>
#include <slotguard/trust.hpp>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <vector>

namespace sg = slotguard;

namespace {

// The secret keys of RFC 8032's first two test vectors; the seed corpus is
// signed with them.
sg::ed25519_seed seed(const char* hex) {
  sg::ed25519_seed s{};
  const auto bytes = sg::from_hex(hex);
  if (!bytes || bytes->size() != s.size()) std::abort();
  for (std::size_t i = 0; i < s.size(); ++i) s[i] = (*bytes)[i];
  return s;
}

const sg::trust_set& trust(std::size_t threshold) {
  static const sg::trust_set sets[2] = {
      [] {
        sg::trust_set t;
        (void)t.add(sg::ed25519_public_key_from_seed(
            seed("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60")));
        (void)t.add(sg::ed25519_public_key_from_seed(
            seed("4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb")));
        return t;
      }(),
      [] {
        sg::trust_set t;
        (void)t.add(sg::ed25519_public_key_from_seed(
            seed("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60")));
        (void)t.add(sg::ed25519_public_key_from_seed(
            seed("4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb")));
        (void)t.set_threshold(2);
        return t;
      }(),
  };
  return sets[threshold > 1 ? 1 : 0];
}

void require(bool cond) {
  if (!cond) std::abort();
}

bool inside(sg::byte_view part, sg::byte_view whole) {
  if (part.empty()) return true;
  return part.data() >= whole.data() && part.size() <= whole.size() &&
         static_cast<std::size_t>(part.data() - whole.data()) <= whole.size() - part.size();
}

// The streamed reader (what apply_file and the tool use on files) agrees
// with parse_bundle on every input: the same verdict and errc, the same
// parts, the same signature verdict, and its payload stream succeeds exactly
// when verify_payload does, with the payload's bytes.
void agree(sg::byte_view in, const sg::bundle_limits& limits, const sg::result<sg::bundle_view>& r) {
  const auto read = sg::read_at_memory(in);
  const auto h = sg::read_bundle_head(read, in.size(), limits);
  require(h.has_value() == r.has_value());
  if (!r) {
    require(h.error() == r.error());
    return;
  }
  const sg::bundle_view& b = *r;
  const sg::bundle_manifest& m = b.manifest;
  const sg::bundle_manifest& hm = h->view.manifest;
  require(h->payload_offset == b.header.size() + b.manifest_bytes.size());
  require(h->payload_size == b.payload.size() && h->file_size == in.size());
  require(h->header_and_manifest.size() == h->payload_offset &&
          std::equal(h->header_and_manifest.begin(), h->header_and_manifest.end(), in.begin()));
  require(h->signature_block.size() == b.signature_block.size() &&
          std::equal(h->signature_block.begin(), h->signature_block.end(), b.signature_block.begin()));
  require(hm.sequence == m.sequence && hm.payload_size == m.payload_size && hm.payload_sha256 == m.payload_sha256 &&
          hm.channel == m.channel && hm.field_count == m.field_count && hm.kind == m.kind);
  require(h->view.signature_count() == b.signature_count());
  const auto vs = sg::verify_signatures(b, trust(1));
  const auto hs = sg::verify_signatures(*h, trust(1));
  require(vs.has_value() == hs.has_value() && (vs || vs.error() == hs.error()));
  std::vector<std::uint8_t> streamed;
  const auto st = sg::stream_payload(
      read, *h,
      [&](sg::byte_view c) -> sg::result<void> {
        streamed.insert(streamed.end(), c.begin(), c.end());
        return sg::ok();
      },
      97);
  const auto vp = sg::verify_payload(b);
  require(st.has_value() == vp.has_value() && (vp || vp.error() == st.error()));
  if (st) require(streamed.size() == b.payload.size() && std::equal(streamed.begin(), streamed.end(), b.payload.begin()));
}

void exercise(sg::byte_view in, const sg::bundle_limits& limits) {
  const auto r = sg::parse_bundle(in, limits);
  agree(in, limits, r);
  if (!r) return;
  const sg::bundle_view& b = *r;
  require(b.bytes.size() == in.size());
  require(b.header.size() + b.manifest_bytes.size() + b.payload.size() + b.signature_block.size() == in.size());
  require(inside(b.manifest_bytes, in) && inside(b.payload, in) && inside(b.signature_block, in));
  require(b.signature_count() <= limits.max_signatures);
  const sg::bundle_manifest& m = b.manifest;
  require(m.field_count <= limits.max_fields);
  require(sg::detail::bundle_valid_channel(m.channel));
  require(inside(sg::byte_view(m.channel), in) && inside(sg::byte_view(m.schema_id), in) &&
          inside(sg::byte_view(m.version), in));
  require(m.rollout.size() <= limits.max_rollout_steps && m.recalls.size() <= limits.max_recalls);
  unsigned sink = 0;
  for (std::size_t i = 0; i < m.rollout.size(); ++i) sink += m.rollout[i].percent;
  sink += m.rollout.percent_at(3600);
  for (std::size_t i = 0; i < m.recalls.size(); ++i) sink += m.recalls.contains(m.recalls[i]) ? 1u : 0u;
  for (std::size_t i = 0; i < b.signature_count(); ++i) sink += b.signature(i).id[0];
  (void)sink;

  sg::verify_options opts;
  opts.now = 1790003600;
  opts.host = sg::host_version{7, 12, 0};
  const auto v = sg::verify_bundle(b, trust(1), opts);
  if (v) {
    // A verified bundle's payload is what its manifest says.
    require(m.payload_size == b.payload.size());
    require(sg::sha256_of(b.payload) == m.payload_sha256);
  }
  (void)sg::verify_bundle(b, trust(2), sg::verify_options{"rules", 3, 0, std::nullopt});
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const sg::byte_view in(data, size);
  exercise(in, sg::bundle_limits{});
  sg::bundle_limits tight;
  tight.max_bundle_size = 4096;
  tight.max_manifest_size = 512;
  tight.max_field_size = 64;
  tight.max_fields = 8;
  tight.max_signatures = 2;
  tight.max_rollout_steps = 3;
  tight.max_recalls = 4;
  exercise(in, tight);
  return 0;
}
