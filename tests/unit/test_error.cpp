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

TEST_CASE("version numbers agree with the combined number", "[error.version]") {
  CHECK(SLOTGUARD_VERSION == SLOTGUARD_VERSION_MAJOR * 10000 + SLOTGUARD_VERSION_MINOR * 100 +
                                 SLOTGUARD_VERSION_PATCH);
}
