// SPDX-License-Identifier: Apache-2.0
// Nothing in the public namespace takes a name from the C library: a
// translation unit that includes everything and says `using namespace
// slotguard;` still calls the C library's clock(), time(), log() and the
// others unqualified. This file is the test: it would not compile otherwise.
#include <slotguard/slotguard.hpp>
#include <slotguard/log.hpp>
#include <slotguard/history.hpp>
#include <slotguard/requests.hpp>
#include <slotguard/tree_pack.hpp>

#include <catch2/catch.hpp>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <string>

using namespace slotguard;
using namespace std;

TEST_CASE("the C library's names stay usable with using namespace slotguard", "[names]") {
  const clock_t c = clock();
  const time_t t = time(nullptr);
  const double l = log(1.0);
  const double e = exp(0.0);
  const size_t n = strlen("abc");
  const int a = abs(-3);
  const div_t d = div(7, 2);
  CHECK(c >= 0);
  CHECK(t > 0);
  CHECK(l == 0.0);
  CHECK(e == 1.0);
  CHECK(n == 3u);
  CHECK(a == 3);
  CHECK(d.quot == 3);
  // remove() and rename() of <cstdio> on a name that does not exist.
  CHECK(remove("slotguard-no-such-file-for-the-names-test") != 0);
  CHECK(rename("slotguard-no-such-file-for-the-names-test", "slotguard-no-such-file-2") != 0);
  // And slotguard's own, qualified or not.
  const time_source& real = real_clock();
  CHECK(real.unix_seconds() > 0);
  log_message(log_level::debug, "no sink: nothing happens");
}
