// SPDX-License-Identifier: Apache-2.0
// The error model: one errc value per distinct reason a call can fail, its name
// and a one-sentence description, a std::error_category so errc values travel
// as std::error_code, and result<T>, a value-or-error return type in the
// spirit of std::expected. No exception crosses the library's API; every
// fallible call returns a [[nodiscard]] result.
//
// One story for the error types: errc is the reason, and the only one. Most
// calls return result<T> (error type errc). A few parts return a richer
// error that wraps an errc with where it happened: schema_error (a schema
// declaration's line and column), records_error (a records text's line and
// column) and validation_error (the record and field index of a payload).
// Each has a member `code` of type errc, and code_of(e) returns it for any of
// them (and for an errc itself), so r.transform_error(code_of) turns any
// result into a result<T>; make_error_code(code_of(e)) gives the
// std::error_code. SLOTGUARD_TRY and SLOTGUARD_TRY_ASSIGN pass an error on to
// any result whose error type can be made from it.
#ifndef SLOTGUARD_ERROR_HPP
#define SLOTGUARD_ERROR_HPP

#include <slotguard/config.hpp>
#include <slotguard/result.hpp>

#include <string>
#include <system_error>

namespace slotguard {
inline namespace SLOTGUARD_ABI_NAMESPACE {

namespace detail {

class error_category_impl final : public std::error_category {
 public:
  const char* name() const noexcept override { return "slotguard"; }
  std::string message(int ev) const override { return describe(static_cast<errc>(ev)); }
};

}  // namespace detail

// The category of every errc. A function-local static: no global constructor.
inline const std::error_category& error_category() noexcept {
  static const detail::error_category_impl instance;
  return instance;
}

inline std::error_code make_error_code(errc e) noexcept {
  return {static_cast<int>(e), error_category()};
}

}  // inline namespace SLOTGUARD_ABI_NAMESPACE
}  // namespace slotguard

namespace std {
template <>
struct is_error_code_enum<::slotguard::errc> : true_type {};
}  // namespace std

#endif  // SLOTGUARD_ERROR_HPP
