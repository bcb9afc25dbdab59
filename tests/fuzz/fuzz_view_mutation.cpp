// SPDX-License-Identifier: Apache-2.0
// Fuzzes the views over a validated payload whose bytes change after
// validation (a reused or mapped buffer): the input is a payload and a
// mutation. The payload is validated against the schema of
// tests/data/schema/edr.schema; then the mutation changes its bytes
// arbitrarily, and every record is read through every view (runtime and
// typed). Nothing may be read outside the payload (the buffer is exactly
// its size, so a sanitizer sees any such read), and the types, field counts,
// wildcards and lengths the views report must be the validated ones.
//
// Input: u16 payload length n (little-endian), n payload bytes, then the
// mutation: a mode byte and its operands. Mode 0: XOR the payload with the
// operands, repeated; mode 1: (u16 offset, byte) triples set bytes; any
// other mode: every byte becomes the mode byte.
#include <slotguard/schema.hpp>

#include "../edr_schema.hpp"

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string_view>
#include <utility>
#include <vector>

namespace {
namespace sg = slotguard;

using namespace edr_test;  // the schema of the schema tests: tests/edr_schema.hpp
// Lists: a bounded count of elements, each checked as a field.
constexpr sg::field_decl kListFields[] = {
    sg::fields::string("tokens", 8).list(4),
    sg::fields::u16("ports").allowed(kRemotePorts).list(3).wildcard(),
    sg::fields::enumeration("actions", kActions).list(2),
    sg::fields::bytes("blobs", 4).list(3).wildcard(),
    sg::fields::u8("tail"),
};
constexpr sg::record_decl kList{3, "list_rule", kListFields};
constexpr sg::record_decl kRecords[] = {kProcessRule, kNetRule, kTemplateInput, kList};
constexpr sg::schema_decl kDecl{"edr.rules", 3, kRecords};

const sg::schema& fixed_schema() {
  static const sg::schema s = [] {
    auto r = sg::schema::from_decl(kDecl);
    if (!r) std::abort();
    return *r;
  }();
  return s;
}

// Touches every byte a view hands out, so a sanitizer sees any bad span.
std::uint64_t consume(sg::byte_view b) {
  std::uint64_t h = 0;
  for (std::uint8_t c : b) h = h * 31 + c;
  return h;
}
std::uint64_t consume(std::string_view s) {
  std::uint64_t h = 0;
  for (char c : s) h = h * 31 + static_cast<unsigned char>(c);
  return h;
}
std::uint64_t consume(bool v) { return v ? 1 : 0; }
std::uint64_t consume(sg::enum_code v) { return v.code; }
template <class T>
std::uint64_t consume(T v) {
  return static_cast<std::uint64_t>(v);
}
template <class T>
std::uint64_t consume(const sg::list_view<T>& l) {
  std::uint64_t h = l.count();
  for (const T& e : l) h = h * 31 + consume(e);
  for (std::size_t i = 0; i <= l.count(); ++i) {
    auto e = l.at(i);
    if (e.has_value() != (i < l.count())) std::abort();
    if (e) h += consume(*e);
  }
  return h;
}
template <class T>
std::uint64_t consume(const sg::field_value<T>& f) {
  if (f.is_wildcard()) return 7;
  if (!f.has_value()) std::abort();  // a validated record holds a value or a wildcard
  return consume(f.value());
}

// What a field looked like when it was validated.
struct field_shape {
  bool wildcard = false;
  std::size_t length = 0;
  std::size_t count = 0;                 // a list's elements
  std::vector<std::size_t> element_lengths;
};
struct record_shape {
  std::uint16_t type = 0;
  std::size_t body = 0;
  std::vector<field_shape> fields;
};

std::vector<record_shape> shapes(const sg::validated_payload& v, std::uint64_t& sink) {
  std::vector<record_shape> out;
  for (std::size_t i = 0; i < v.record_count(); ++i) {
    const sg::record_view r = v.record(i);
    record_shape s;
    s.type = r.type_id();
    s.body = r.body().size();
    sink += consume(r.body());
    for (std::size_t k = 0; k < r.field_count(); ++k) {
      auto f = r.field(k);
      if (!f) std::abort();
      sink += f->bits + consume(f->data);
      field_shape fs{f->wildcard, f->data.size(), f->count, {}};
      for (std::size_t j = 0; f->list && j < f->count; ++j) {
        auto e = r.element(k, j);
        if (!e) std::abort();
        sink += e->bits + consume(e->data);
        fs.element_lengths.push_back(e->data.size());
      }
      if (f->list && r.element(k, f->count)) std::abort();
      s.fields.push_back(std::move(fs));
    }
    if (r.field(r.field_count())) std::abort();
    out.push_back(std::move(s));
  }
  return out;
}

template <const sg::record_decl& R, std::size_t K>
std::uint64_t read_one(const sg::typed_record<R>& r, const record_shape& shape) {
  const auto f = r.template get<K>();
  if (f.is_wildcard() != shape.fields[K].wildcard) std::abort();
  if constexpr (sg::detail::is_list_view<sg::field_cpp_t<R, K>>::value) {
    if (f.value().count() != shape.fields[K].count) std::abort();
  }
  std::uint64_t h = consume(f);
  if constexpr (!R.fields[K].wildcard_ok) h += consume(r.template value<K>());
  // The runtime typed read agrees with the typed view.
  auto g = r.untyped().template get<sg::field_cpp_t<R, K>>(K);
  if (!g || g->is_wildcard() != f.is_wildcard()) std::abort();
  return h + consume(*g);
}
template <const sg::record_decl& R, std::size_t... K>
std::uint64_t read_typed(const sg::validated_payload& v, const std::vector<record_shape>& before,
                         std::index_sequence<K...>) {
  auto range = v.records_of<R>();
  if (!range) std::abort();  // the payload's schema is R's, field for field
  std::uint64_t h = 0;
  std::size_t n = 0;
  for (auto r : *range) {
    if (!r.valid() || r.index() >= before.size()) std::abort();
    const record_shape& shape = before[r.index()];
    if (shape.type != R.type_id) std::abort();
    h += (read_one<R, K>(r, shape) + ... + 0);
    ++n;
  }
  if (n != range->size() || n != v.records_of(R.type_id).size()) std::abort();
  return h;
}

void mutate(std::uint8_t* p, std::size_t n, const std::uint8_t* m, std::size_t mn) {
  if (n == 0) return;
  const std::uint8_t mode = mn ? m[0] : 0xFF;
  const std::uint8_t* ops = m + (mn ? 1 : 0);
  const std::size_t on = mn ? mn - 1 : 0;
  if (mode == 0) {
    for (std::size_t i = 0; on && i < n; ++i) p[i] ^= ops[i % on];
  } else if (mode == 1) {
    for (std::size_t i = 0; i + 3 <= on; i += 3) p[(ops[i] | (std::size_t{ops[i + 1]} << 8)) % n] = ops[i + 2];
  } else {
    std::memset(p, mode, n);
  }
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 2) return 0;
  const std::size_t stated = static_cast<std::size_t>(data[0]) | (static_cast<std::size_t>(data[1]) << 8);
  const std::size_t n = stated < size - 2 ? stated : size - 2;
  // Exactly the payload's size, so that a read past it is a sanitizer error.
  std::unique_ptr<std::uint8_t[]> buf(new std::uint8_t[n ? n : 1]);
  if (n) std::memcpy(buf.get(), data + 2, n);
  const sg::schema& s = fixed_schema();
  auto v = sg::validate(s, sg::byte_view(buf.get(), n));
  if (!v) return 0;
  std::uint64_t sink = 0;
  const std::vector<record_shape> before = shapes(*v, sink);

  mutate(buf.get(), n, data + 2 + n, size - 2 - n);

  const std::vector<record_shape> after = shapes(*v, sink);
  if (after.size() != before.size()) std::abort();
  for (std::size_t i = 0; i < before.size(); ++i) {
    if (after[i].type != before[i].type || after[i].body != before[i].body ||
        after[i].fields.size() != before[i].fields.size())
      std::abort();
    for (std::size_t k = 0; k < before[i].fields.size(); ++k)
      if (after[i].fields[k].wildcard != before[i].fields[k].wildcard ||
          after[i].fields[k].length != before[i].fields[k].length ||
          after[i].fields[k].count != before[i].fields[k].count ||
          after[i].fields[k].element_lengths != before[i].fields[k].element_lengths)
        std::abort();
  }
  sink += read_typed<kProcessRule>(*v, before, std::make_index_sequence<kProcessRule.field_count()>{});
  sink += read_typed<kNetRule>(*v, before, std::make_index_sequence<kNetRule.field_count()>{});
  sink += read_typed<kTemplateInput>(*v, before, std::make_index_sequence<kTemplateInput.field_count()>{});
  sink += read_typed<kList>(*v, before, std::make_index_sequence<kList.field_count()>{});
  volatile std::uint64_t keep = sink;
  (void)keep;
  return 0;
}
