// SPDX-License-Identifier: Apache-2.0
#include <slotguard/error.hpp>
#include <slotguard/version.hpp>

#include <catch2/catch.hpp>

#include <memory>
#include <set>
#include <string>
#include <vector>

namespace sg = slotguard;

TEST_CASE("every errc has a distinct name and a sentence", "[error.errc]") {
  std::set<std::string> names;
  int count = 0;
#define SLOTGUARD_TEST_NAME(name, text)                           \
  {                                                               \
    const sg::errc e = sg::errc::name;                            \
    CHECK(std::string(sg::to_string(e)) == #name);                \
    CHECK(std::string(sg::describe(e)) == text);                  \
    CHECK(static_cast<int>(e) != 0);                              \
    names.insert(sg::to_string(e));                               \
    ++count;                                                      \
  }
  SLOTGUARD_ERRC_LIST(SLOTGUARD_TEST_NAME)
#undef SLOTGUARD_TEST_NAME
  CHECK(names.size() == static_cast<std::size_t>(count));
  CHECK(std::string(sg::to_string(sg::errc::ok)) == "ok");
  CHECK(std::string(sg::to_string(static_cast<sg::errc>(100000))) == "unknown");
  // Just past the last enumerator, and below the first: no value of the list.
  const auto past = static_cast<sg::errc>(count + 1);
  CHECK(std::string(sg::to_string(past)) == "unknown");
  CHECK(std::string(sg::describe(past)) == "unknown error");
  CHECK(std::string(sg::to_string(static_cast<sg::errc>(-1))) == "unknown");
  CHECK(std::string(sg::describe(static_cast<sg::errc>(-1))) == "unknown error");
  CHECK(std::string(sg::describe(sg::errc::ok)) == "success");
  // Both stay usable in constant expressions.
  static_assert(sg::to_string(sg::errc::tree_unexpected_entry)[0] == 't');
  static_assert(sg::describe(sg::errc::ok)[0] == 's');
}

TEST_CASE("errc converts to std::error_code in the slotguard category", "[error.category]") {
  std::error_code ec = sg::errc::field_count_mismatch;
  CHECK(ec.category().name() == std::string("slotguard"));
  CHECK(ec.value() == static_cast<int>(sg::errc::field_count_mismatch));
  CHECK(ec.message() == sg::describe(sg::errc::field_count_mismatch));
  CHECK(ec == sg::make_error_code(sg::errc::field_count_mismatch));
  CHECK(ec != sg::make_error_code(sg::errc::truncated));
  CHECK(&sg::error_category() == &ec.category());
  // A generic error with the same number is a different error.
  CHECK(ec != std::error_code(ec.value(), std::generic_category()));
}

TEST_CASE("result holds a value or an error", "[error.result]") {
  sg::result<int> good = 7;
  REQUIRE(good.has_value());
  CHECK(static_cast<bool>(good));
  CHECK(*good == 7);
  CHECK(good.value_or(3) == 7);

  sg::result<int> bad = sg::errc::expired;
  REQUIRE_FALSE(bad.has_value());
  CHECK(bad.error() == sg::errc::expired);
  CHECK(bad.value_or(3) == 3);

  sg::result<int> via_failure = sg::failure{sg::errc::truncated};
  CHECK(via_failure.error() == sg::errc::truncated);
}

TEST_CASE("result copies, moves and assigns across value and error", "[error.result]") {
  sg::result<std::string> a = std::string(100, 'x');
  sg::result<std::string> b = sg::errc::busy;
  b = a;
  REQUIRE(b.has_value());
  CHECK(b->size() == 100);
  a = sg::result<std::string>(sg::errc::timeout);
  CHECK(a.error() == sg::errc::timeout);
  sg::result<std::string> c = std::move(b);
  CHECK(c->size() == 100);
  c = std::move(a);
  CHECK(c.error() == sg::errc::timeout);

  sg::result<std::unique_ptr<int>> owned = std::make_unique<int>(5);
  std::unique_ptr<int> p = std::move(owned).value();
  CHECK(*p == 5);
}

namespace {
struct detailed_error {
  sg::errc code;
  std::size_t record;
};
sg::result<int, detailed_error> check_record(std::size_t i) {
  if (i == 3) return detailed_error{sg::errc::field_count_mismatch, i};
  return static_cast<int>(i);
}
sg::result<void> need(bool b) {
  if (!b) return sg::errc::invalid_argument;
  return sg::ok();
}
sg::result<int> chain(bool b) {
  SLOTGUARD_TRY(need(b));
  return 1;
}
}  // namespace

TEST_CASE("result carries a richer error type where a part needs one", "[error.result]") {
  auto r = check_record(3);
  REQUIRE_FALSE(r);
  CHECK(r.error().code == sg::errc::field_count_mismatch);
  CHECK(r.error().record == 3);
  CHECK(*check_record(2) == 2);
}

TEST_CASE("result<void> and SLOTGUARD_TRY propagate the first error", "[error.result]") {
  CHECK(need(true).has_value());
  CHECK(need(false).error() == sg::errc::invalid_argument);
  CHECK(*chain(true) == 1);
  CHECK(chain(false).error() == sg::errc::invalid_argument);
}

namespace {
sg::result<int> parse_digit(char c) {
  if (c < '0' || c > '9') return sg::errc::malformed_field;
  return c - '0';
}
sg::result<int> half(int v) {
  if (v % 2 != 0) return sg::errc::invalid_argument;
  return v / 2;
}
// SLOTGUARD_TRY_ASSIGN declaring a variable and assigning to one.
sg::result<int> sum_of_halves(char a, char b) {
  SLOTGUARD_TRY_ASSIGN(auto x, parse_digit(a).and_then(half));
  int y = 0;
  SLOTGUARD_TRY_ASSIGN(y, parse_digit(b).and_then(half));
  return x + y;
}
// An lvalue result is copied from, a prvalue's value moved.
sg::result<std::size_t> sizes(const sg::result<std::string>& kept, int& moved_from) {
  SLOTGUARD_TRY_ASSIGN(std::string copy, kept);
  sg::result<std::unique_ptr<int>> owned = std::make_unique<int>(4);
  SLOTGUARD_TRY_ASSIGN(std::unique_ptr<int> p, std::move(owned));
  moved_from = owned.has_value() && owned.value() == nullptr ? 1 : 0;
  return copy.size() + static_cast<std::size_t>(*p);
}
// Into a function whose error type is richer: errc converts.
struct rich_error {
  sg::errc code;
  int where = -1;
  rich_error(sg::errc c) : code(c) {}  // NOLINT: implicit on purpose
  rich_error(sg::errc c, int w) : code(c), where(w) {}
};
sg::result<int, rich_error> rich(char c) {
  SLOTGUARD_TRY_ASSIGN(const int v, parse_digit(c));
  if (v == 7) return rich_error(sg::errc::value_not_allowed, 7);
  return v;
}
}  // namespace

TEST_CASE("result::and_then chains calls and passes the first error through", "[error.result.monad]") {
  CHECK(*parse_digit('8').and_then(half) == 4);
  CHECK(parse_digit('7').and_then(half).error() == sg::errc::invalid_argument);
  CHECK(parse_digit('x').and_then(half).error() == sg::errc::malformed_field);
  int calls = 0;
  const sg::result<int> bad = sg::errc::expired;
  const auto r = bad.and_then([&](int v) -> sg::result<int> {
    ++calls;
    return v;
  });
  CHECK(r.error() == sg::errc::expired);
  CHECK(calls == 0);  // never called on an error
  // Another value type; the error type stays.
  const auto s = parse_digit('3').and_then([](int v) -> sg::result<std::string> {
    return std::string(static_cast<std::size_t>(v), 'z');
  });
  CHECK(*s == "zzz");
  // To result<void> and from it.
  sg::result<void> v = parse_digit('1').and_then([](int) { return sg::ok(); });
  CHECK(v.has_value());
  CHECK(*v.and_then([] { return sg::result<int>(9); }) == 9);
  const sg::result<void> verr = sg::errc::busy;
  CHECK(verr.and_then([] { return sg::result<int>(9); }).error() == sg::errc::busy);
  // On an rvalue the value is moved into the function.
  sg::result<std::unique_ptr<int>> owned = std::make_unique<int>(6);
  const auto got = std::move(owned).and_then([](std::unique_ptr<int> p) -> sg::result<int> { return *p; });
  CHECK(*got == 6);
}

TEST_CASE("result::transform maps the value, and may give result<void>", "[error.result.monad]") {
  const sg::result<int> three = 3;
  const sg::result<std::string> t = three.transform([](int v) { return std::to_string(v * 2); });
  CHECK(*t == "6");
  const sg::result<int> e = sg::errc::timeout;
  CHECK(e.transform([](int v) { return v + 1; }).error() == sg::errc::timeout);
  int seen = 0;
  sg::result<void> side = three.transform([&](int v) { seen = v; });
  CHECK(side.has_value());
  CHECK(seen == 3);
  // Mutable lvalue: the function can take the value by reference.
  sg::result<std::string> s = std::string("ab");
  (void)s.transform([](std::string& str) {
    str += "c";
    return 0;
  });
  CHECK(*s == "abc");
  // result<void>::transform makes a value from nothing.
  CHECK(*sg::ok().transform([] { return 5; }) == 5);
  CHECK(sg::result<void>(sg::errc::busy).transform([] { return 5; }).error() == sg::errc::busy);
}

TEST_CASE("result::or_else recovers from an error, a value passes through", "[error.result.monad]") {
  const auto fallback = [](sg::errc e) -> sg::result<int> {
    if (e == sg::errc::not_found) return 0;
    return e;
  };
  CHECK(*parse_digit('5').or_else(fallback) == 5);
  CHECK(*sg::result<int>(sg::errc::not_found).or_else(fallback) == 0);
  CHECK(sg::result<int>(sg::errc::io_error).or_else(fallback).error() == sg::errc::io_error);
  // It may change the error type.
  const sg::result<int, std::string> named =
      parse_digit('x').or_else([](sg::errc e) -> sg::result<int, std::string> { return std::string(sg::to_string(e)); });
  CHECK(named.error() == "malformed_field");
  // result<void>.
  int calls = 0;
  CHECK(sg::ok().or_else([&](sg::errc) { ++calls; return sg::ok(); }).has_value());
  CHECK(calls == 0);
  CHECK(sg::result<void>(sg::errc::busy).or_else([](sg::errc) { return sg::ok(); }).has_value());
  // On an rvalue the error is moved into the function.
  sg::result<int, std::unique_ptr<int>> boxed = sg::failure{std::make_unique<int>(11)};
  const auto unboxed = std::move(boxed).or_else([](std::unique_ptr<int> p) -> sg::result<int, std::unique_ptr<int>> { return *p; });
  CHECK(*unboxed == 11);
}

TEST_CASE("result::transform_error maps the error, and code_of gives every error type's errc",
          "[error.result.monad]") {
  const sg::result<int, rich_error> r = rich('7');
  REQUIRE_FALSE(r);
  CHECK(r.error().where == 7);
  const sg::result<int> plain = r.transform_error(sg::code_of);
  CHECK(plain.error() == sg::errc::value_not_allowed);
  CHECK(*rich('4').transform_error(sg::code_of) == 4);
  CHECK(rich('q').transform_error(sg::code_of).error() == sg::errc::malformed_field);
  const sg::result<int, std::string> text =
      parse_digit('x').transform_error([](sg::errc e) { return std::string(sg::describe(e)); });
  CHECK(text.error() == sg::describe(sg::errc::malformed_field));
  const sg::result<void, std::error_code> ec =
      sg::result<void>(sg::errc::busy).transform_error([](sg::errc e) { return sg::make_error_code(e); });
  CHECK(ec.error() == sg::errc::busy);
  CHECK(sg::ok().transform_error(sg::code_of).has_value());
  CHECK(sg::code_of(sg::errc::expired) == sg::errc::expired);
  CHECK(sg::code_of(rich_error(sg::errc::truncated, 1)) == sg::errc::truncated);
}

TEST_CASE("SLOTGUARD_TRY_ASSIGN declares or assigns, and returns the first error",
          "[error.result.monad]") {
  CHECK(*sum_of_halves('4', '8') == 6);
  CHECK(sum_of_halves('3', '8').error() == sg::errc::invalid_argument);
  CHECK(sum_of_halves('4', 'x').error() == sg::errc::malformed_field);
  int moved_from = 0;
  const sg::result<std::string> kept = std::string("hello");
  CHECK(*sizes(kept, moved_from) == 9);
  CHECK(*kept == "hello");   // copied from, not moved
  CHECK(moved_from == 1);    // the rvalue's value was moved out
  CHECK(sizes(sg::result<std::string>(sg::errc::busy), moved_from).error() == sg::errc::busy);
  CHECK(*rich('2') == 2);
  CHECK(rich('x').error().code == sg::errc::malformed_field);
  CHECK(rich('x').error().where == -1);
}

TEST_CASE("version numbers agree with the combined number", "[error.version]") {
  CHECK(SLOTGUARD_VERSION == SLOTGUARD_VERSION_MAJOR * 10000 + SLOTGUARD_VERSION_MINOR * 100 +
                                 SLOTGUARD_VERSION_PATCH);
}
