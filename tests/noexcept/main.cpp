// SPDX-License-Identifier: Apache-2.0
// Built with -fno-exceptions -fno-rtti: the umbrella header must compile and
// the API must work without either. Exits non-zero on the first wrong answer.
#include <slotguard/slotguard.hpp>

#include <cstdio>
#include <cstring>
#include <string>

#if defined(__cpp_exceptions) || defined(__cpp_rtti)
#error "this program must be built with -fno-exceptions -fno-rtti"
#endif

namespace sg = slotguard;

static int failures = 0;
#define CHECK(cond)                                                \
  do {                                                             \
    if (!(cond)) {                                                 \
      std::fprintf(stderr, "%s:%d: failed: %s\n", __FILE__, __LINE__, #cond); \
      ++failures;                                                  \
    }                                                              \
  } while (0)

static sg::result<int> parse_digit(char c) {
  if (c < '0' || c > '9') return sg::errc::invalid_argument;
  return c - '0';
}

static sg::result<void> need_even(int v) {
  if (v % 2 != 0) return sg::failure{sg::errc::field_out_of_range};
  return sg::ok();
}

static sg::result<int> twice_even(char c) {
  auto d = parse_digit(c);
  SLOTGUARD_TRY(d);
  SLOTGUARD_TRY(need_even(*d));
  return *d * 2;
}

int main() {
  CHECK(SLOTGUARD_CONFIG_NO_EXCEPTIONS == 1);
  CHECK(twice_even('4').has_value() && *twice_even('4') == 8);
  CHECK(!twice_even('x') && twice_even('x').error() == sg::errc::invalid_argument);
  CHECK(!twice_even('3') && twice_even('3').error() == sg::errc::field_out_of_range);
  std::error_code ec = sg::errc::busy;
  CHECK(ec.category().name() == std::string("slotguard"));
  CHECK(std::strcmp(sg::to_string(sg::errc::field_count_mismatch), "field_count_mismatch") == 0);
  sg::result<std::string> s = std::string("abc");
  CHECK(s->size() == 3);
  std::printf("noexcept_smoke: %s\n", failures == 0 ? "ok" : "FAILED");
  return failures == 0 ? 0 : 1;
}
