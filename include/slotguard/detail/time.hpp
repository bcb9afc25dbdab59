// SPDX-License-Identifier: Apache-2.0
// Calendar arithmetic for the times a bundle carries (seconds since the Unix
// epoch, UTC, no leap seconds, as POSIX time counts them) and their RFC 3339
// text form, which is what operators read and type. Proleptic Gregorian
// calendar; no time-zone database is needed because only UTC and numeric
// offsets are accepted.
#ifndef SLOTGUARD_DETAIL_TIME_HPP
#define SLOTGUARD_DETAIL_TIME_HPP

#include <slotguard/config.hpp>

#include <slotguard/error.hpp>

#include <cstdint>
#include <cstdio>
#include <limits>
#include <string>
#include <string_view>

namespace slotguard {
inline namespace SLOTGUARD_ABI_NAMESPACE {
namespace detail {

// Days from 1970-01-01 to the given date (negative before it). Month 1..12,
// day 1..31; the caller checks ranges. The year is shifted to start in March
// so that the leap day is the last day of the shifted year, and the 400-year
// Gregorian cycle (146097 days) makes the rest exact integer arithmetic.
constexpr std::int64_t days_from_civil(std::int64_t y, unsigned m, unsigned d) noexcept {
  y -= m <= 2 ? 1 : 0;
  const std::int64_t era = (y >= 0 ? y : y - 399) / 400;
  const std::int64_t yoe = y - era * 400;                                      // [0, 399]
  const std::int64_t mp = m > 2 ? static_cast<std::int64_t>(m) - 3 : static_cast<std::int64_t>(m) + 9;
  const std::int64_t doy = (153 * mp + 2) / 5 + static_cast<std::int64_t>(d) - 1;  // [0, 365]
  const std::int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;               // [0, 146096]
  return era * 146097 + doe - 719468;
}

struct civil_date {
  std::int64_t year;
  unsigned month;
  unsigned day;
};

// The inverse of days_from_civil.
constexpr civil_date civil_from_days(std::int64_t z) noexcept {
  z += 719468;
  const std::int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const std::int64_t doe = z - era * 146097;                                 // [0, 146096]
  const std::int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;  // [0, 399]
  const std::int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);           // [0, 365]
  const std::int64_t mp = (5 * doy + 2) / 153;                                // [0, 11]
  const auto d = static_cast<unsigned>(doy - (153 * mp + 2) / 5 + 1);
  const auto m = static_cast<unsigned>(mp < 10 ? mp + 3 : mp - 9);
  return {yoe + era * 400 + (m <= 2 ? 1 : 0), m, d};
}

constexpr bool is_leap_year(std::int64_t y) noexcept {
  return y % 4 == 0 && (y % 100 != 0 || y % 400 == 0);
}

constexpr unsigned days_in_month(std::int64_t y, unsigned m) noexcept {
  constexpr unsigned table[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  return m == 2 && is_leap_year(y) ? 29u : table[m - 1];
}

// Formats seconds since the epoch as "YYYY-MM-DDTHH:MM:SSZ". Times whose year
// falls outside 0000..9999, which RFC 3339 cannot express, come out as the
// plain decimal number of seconds.
inline std::string format_rfc3339(std::int64_t t) {
  std::int64_t days = t / 86400;
  std::int64_t secs = t % 86400;
  if (secs < 0) {
    secs += 86400;
    days -= 1;
  }
  const civil_date c = civil_from_days(days);
  if (c.year < 0 || c.year > 9999) return std::to_string(t);
  char buf[32];
  std::snprintf(buf, sizeof buf, "%04d-%02u-%02uT%02d:%02d:%02dZ", static_cast<int>(c.year), c.month,
                c.day, static_cast<int>(secs / 3600), static_cast<int>(secs / 60 % 60),
                static_cast<int>(secs % 60));
  return buf;
}

// Parses an RFC 3339 date-time ("2026-11-26T15:04:05Z", lowercase t/z,
// fractional seconds, which are dropped, and numeric offsets "+01:00" are
// accepted; a space in place of 'T' is accepted too, as RFC 3339 allows).
// A second of 60 (a leap second) counts as the next minute's first second.
// Returns invalid_argument for anything else.
inline result<std::int64_t> parse_rfc3339(std::string_view s) noexcept {
  std::size_t i = 0;
  auto digits = [&](std::size_t n, unsigned& out) -> bool {
    if (s.size() - i < n) return false;
    unsigned v = 0;
    for (std::size_t k = 0; k < n; ++k) {
      const char c = s[i + k];
      if (c < '0' || c > '9') return false;
      v = v * 10 + static_cast<unsigned>(c - '0');
    }
    i += n;
    out = v;
    return true;
  };
  auto expect = [&](char c) -> bool {
    if (i < s.size() && s[i] == c) {
      ++i;
      return true;
    }
    return false;
  };
  unsigned year = 0, month = 0, day = 0, hour = 0, minute = 0, second = 0;
  if (!digits(4, year) || !expect('-') || !digits(2, month) || !expect('-') || !digits(2, day))
    return errc::invalid_argument;
  if (i >= s.size() || (s[i] != 'T' && s[i] != 't' && s[i] != ' ')) return errc::invalid_argument;
  ++i;
  if (!digits(2, hour) || !expect(':') || !digits(2, minute) || !expect(':') || !digits(2, second))
    return errc::invalid_argument;
  if (month < 1 || month > 12 || day < 1 || day > days_in_month(year, month) || hour > 23 ||
      minute > 59 || second > 60)
    return errc::invalid_argument;
  if (expect('.')) {
    const std::size_t start = i;
    while (i < s.size() && s[i] >= '0' && s[i] <= '9') ++i;
    if (i == start) return errc::invalid_argument;
  }
  std::int64_t offset = 0;
  if (expect('Z') || expect('z')) {
    // UTC
  } else if (i < s.size() && (s[i] == '+' || s[i] == '-')) {
    const bool negative = s[i] == '-';
    ++i;
    unsigned oh = 0, om = 0;
    if (!digits(2, oh) || !expect(':') || !digits(2, om) || oh > 23 || om > 59)
      return errc::invalid_argument;
    offset = (static_cast<std::int64_t>(oh) * 60 + om) * 60;
    if (negative) offset = -offset;
  } else {
    return errc::invalid_argument;
  }
  if (i != s.size()) return errc::invalid_argument;
  const std::int64_t days = days_from_civil(year, month, day);
  return days * 86400 + static_cast<std::int64_t>(hour) * 3600 +
         static_cast<std::int64_t>(minute) * 60 + static_cast<std::int64_t>(second) - offset;
}

}  // namespace detail
}  // inline namespace SLOTGUARD_ABI_NAMESPACE
}  // namespace slotguard

#endif  // SLOTGUARD_DETAIL_TIME_HPP
