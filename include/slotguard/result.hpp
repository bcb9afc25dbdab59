// SPDX-License-Identifier: Apache-2.0
// The error model without its std::error_code side: errc (one value per
// distinct reason a call can fail, with its name and a one-sentence
// description), result<T, E>, code_of and SLOTGUARD_TRY. slotguard/error.hpp
// includes this and adds the std::error_category that makes errc values
// std::error_codes (and <system_error>, which a worker's translation unit,
// slotguard/reader.hpp, does without); the whole story is told there.
#ifndef SLOTGUARD_RESULT_HPP
#define SLOTGUARD_RESULT_HPP

#include <slotguard/config.hpp>

#include <new>
#include <type_traits>
#include <utility>

namespace slotguard {
inline namespace SLOTGUARD_ABI_NAMESPACE {

// X(name, sentence). The order fixes the numeric values, which are part of the
// ABI of events and logs: append new values, never reorder.
#define SLOTGUARD_ERRC_LIST(X)                                                          \
  /* general */                                                                         \
  X(invalid_argument, "an argument is outside what the call accepts")                   \
  X(io_error, "the operating system reported an input/output error")                    \
  X(not_found, "the file or entry does not exist")                                      \
  X(already_exists, "the file or entry already exists")                                 \
  X(busy, "another process holds the store's lock")                                     \
  X(permission_denied, "the operating system denied access")                            \
  X(no_space, "the device has no space left")                                           \
  X(unsupported, "the operation is not supported on this platform or build")            \
  X(out_of_memory, "memory could not be allocated")                                     \
  X(timeout, "the operation did not finish within its time limit")                      \
  X(internal, "an internal invariant was broken")                                       \
  /* bundle structure */                                                                \
  X(truncated, "the input ends before a length it declares")                            \
  X(bad_magic, "the input does not start with the bundle magic")                        \
  X(unsupported_format_version, "the bundle's format version is not supported")         \
  X(bad_header, "a header field holds a value the format does not allow")               \
  X(trailing_bytes, "bytes follow the end of the bundle")                               \
  X(too_large, "the input exceeds a configured size limit")                             \
  X(field_too_large, "a manifest field exceeds its size limit")                         \
  X(too_many_fields, "the manifest holds more fields than the limit")                   \
  X(too_many_signatures, "the bundle holds more signatures than the limit")             \
  X(malformed_field, "a manifest field's value is not well-formed for its type")        \
  X(duplicate_field, "a manifest field appears more than once")                         \
  X(missing_field, "a required manifest field is absent")                               \
  X(unknown_critical_field, "the manifest holds a critical field this reader does not know") \
  X(checksum_mismatch, "a checksum does not match the data it covers")                  \
  /* integrity and trust */                                                             \
  X(payload_size_mismatch, "the payload's size differs from the manifest's")            \
  X(payload_hash_mismatch, "the payload's SHA-256 differs from the manifest's")         \
  X(signature_invalid, "a signature does not verify")                                   \
  X(unknown_key, "no signature is by a key in the trust set (or the bundle carries none)") \
  X(below_threshold, "fewer distinct trusted keys signed than the threshold requires")  \
  X(key_invalid, "a key is malformed or not an Ed25519 key")                            \
  X(pem_invalid, "the PEM text is malformed or holds an unsupported key type")          \
  /* eligibility */                                                                     \
  X(channel_mismatch, "the bundle is for another channel")                              \
  X(sequence_rollback, "the bundle's sequence is at or below the committed floor")      \
  X(expired, "the bundle's expiry time has passed")                                     \
  X(not_yet_valid, "the bundle's not-before time has not come")                         \
  X(host_version_out_of_range, "the bundle is not for this host version")               \
  X(quarantined, "the bundle's sequence is quarantined")                                \
  X(not_pinned, "the device is pinned to another sequence")                             \
  X(not_in_rollout, "the rollout has not reached this device yet")                      \
  X(soak_pending, "the bundle has not soaked for the minimum time since publication")   \
  X(recalled, "the bundle's sequence was recalled by its publisher")                    \
  /* schema */                                                                          \
  X(schema_mismatch, "the payload's schema id or version differs from the host's")      \
  X(schema_invalid, "the schema declaration is malformed")                              \
  X(records_syntax, "the records text is malformed")                                    \
  X(unknown_record_type, "a record names a type the schema does not declare")           \
  X(field_count_mismatch, "a record's field count differs from its type's declaration") \
  X(field_type_mismatch, "a field's encoding does not match its declared type")         \
  X(field_out_of_range, "a field's value is outside its declared range")                \
  X(field_too_long, "a string or bytes field exceeds its maximum length")               \
  X(invalid_utf8, "a string field is not valid UTF-8")                                  \
  X(value_not_allowed, "a field's value is not among its allowed values")               \
  X(wildcard_not_allowed, "a field holds a wildcard where its type forbids one")        \
  X(too_many_records, "the payload holds more records than the limit")                  \
  X(validator_rejected, "the host's validator rejected the payload")                    \
  /* activation */                                                                      \
  X(probe_failed, "the host's probe rejected the candidate")                            \
  X(probe_crashed, "the host's probe crashed on the candidate")                         \
  X(probe_timeout, "the host's probe did not finish within its time limit")             \
  X(journal_corrupt, "no valid journal record could be read")                           \
  X(slot_corrupt, "a slot's content fails its integrity check")                         \
  X(no_content, "the store holds no content")                                           \
  X(no_trial, "no trial is running")                                                    \
  X(trial_active, "a trial is running")                                                 \
  X(no_fallback, "there is no fallback content to go back to")                          \
  X(already_active, "the bundle is already the active content")                         \
  /* store safety */                                                                    \
  X(read_only_store, "the store is open read-only: nothing can be written to it")       \
  X(insecure_permissions, "the store or a file in it is owned by another account or open to others") \
  X(not_regular_file, "the file is not a regular file (a directory, device, FIFO or link)") \
  X(counter_exhausted, "a store counter has reached its largest value")                 \
  X(sharing_violation, "another program holds the file open and the retries ran out")   \
  /* probe verdicts */                                                                  \
  X(probe_limit_exceeded, "the host's probe exceeded a resource limit")                 \
  X(probe_start_failed, "the host's probe could not be started")                      \
  /* tree payloads (docs/FORMAT.md, "Tree payloads") */                                 \
  X(tree_path_absolute, "a tree path is absolute or starts with a drive letter")        \
  X(tree_path_dotdot, "a tree path has a '..' component")                               \
  X(tree_path_empty, "a tree path, or one of its components, is empty or '.'")          \
  X(tree_path_bad_char, "a tree path holds a control character, a backslash or a character Windows forbids in names") \
  X(tree_reserved_name, "a tree path component is a device name Windows reserves, or ends in a dot or a space") \
  X(tree_duplicate_path, "a tree lists the same path twice")                            \
  X(tree_case_collision, "two tree paths differ only in the case of ASCII letters")     \
  X(tree_too_many_entries, "the tree holds more entries than the limit")                \
  X(tree_path_too_long, "a tree path is longer than the limit")                         \
  X(tree_component_too_long, "a tree path component is longer than the limit")          \
  X(tree_too_deep, "a tree path has more components than the limit")                   \
  X(tree_bad_kind, "a tree entry is neither a directory nor a regular file")            \
  X(tree_not_canonical, "the tree's entries are not in canonical order")                \
  X(tree_bad_mode, "a tree entry's mode has bits outside 0777")                         \
  X(tree_missing_parent, "a tree entry's parent directory is not listed before it")     \
  X(tree_size_mismatch, "the tree's file sizes do not add up to the payload's size")    \
  X(tree_directory_data, "a tree directory entry has a size or a SHA-256")              \
  X(tree_not_regular, "a tree source holds a symbolic link, device, FIFO or socket")    \
  X(tree_unexpected_entry, "an unpacked tree holds an entry its index does not list")

enum class errc : int {
  ok = 0,
#define SLOTGUARD_ERRC_ENUM(name, text) name,
  SLOTGUARD_ERRC_LIST(SLOTGUARD_ERRC_ENUM)
#undef SLOTGUARD_ERRC_ENUM
};

namespace detail {
// errc's names and sentences by value (the enumerators are 0, 1, 2, ... in
// the list's order): two tables parse faster than two switches.
inline constexpr const char* errc_names[] = {
    "ok",
#define SLOTGUARD_ERRC_NAME(name, text) #name,
    SLOTGUARD_ERRC_LIST(SLOTGUARD_ERRC_NAME)
#undef SLOTGUARD_ERRC_NAME
};
inline constexpr const char* errc_texts[] = {
    "success",
#define SLOTGUARD_ERRC_TEXT(name, text) text,
    SLOTGUARD_ERRC_LIST(SLOTGUARD_ERRC_TEXT)
#undef SLOTGUARD_ERRC_TEXT
};
}  // namespace detail

// The value's identifier, e.g. "field_count_mismatch"; "unknown" for a value
// that is not an enumerator.
constexpr const char* to_string(errc e) noexcept {
  const auto i = static_cast<unsigned>(e);
  return i < sizeof(detail::errc_names) / sizeof(detail::errc_names[0]) ? detail::errc_names[i] : "unknown";
}

// One sentence that says what the value means, for operators' eyes.
constexpr const char* describe(errc e) noexcept {
  const auto i = static_cast<unsigned>(e);
  return i < sizeof(detail::errc_texts) / sizeof(detail::errc_texts[0]) ? detail::errc_texts[i] : "unknown error";
}

// Wraps an error for constructing a result<T, E> unambiguously, as
// std::unexpected does; result also converts implicitly from E itself.
template <class E>
struct failure {
  E error;
};
template <class E>
failure(E) -> failure<E>;

template <class T, class E = errc>
class result;

namespace detail {
template <class T>
using remove_cvref_t = std::remove_cv_t<std::remove_reference_t<T>>;
template <class R>
struct is_result : std::false_type {};
template <class T, class E>
struct is_result<result<T, E>> : std::true_type {};
}  // namespace detail

// The errc of any of the library's error types: an errc itself, or the
// `code` member that every detailed error (schema_error, records_error,
// validation_error) carries. A function object, so that it can be handed to
// transform_error: `validate(...).transform_error(slotguard::code_of)`.
struct code_of_fn {
  constexpr errc operator()(errc e) const noexcept { return e; }
  template <class E, class = std::enable_if_t<std::is_same<
                         std::remove_cv_t<decltype(std::declval<const E&>().code)>, errc>::value>>
  constexpr errc operator()(const E& e) const noexcept {
    return e.code;
  }
};
inline constexpr code_of_fn code_of{};

// A value of T or an error of E (errc unless the part needs more detail, as
// schema validation does). Reading value() of an error is a programmer error.
//
// The monadic operations are those of C++23's std::expected, with a callable
// invoked as f(args) (so not a pointer to member):
//   and_then(f)         f(value) -> result<U, E>; an error passes through.
//   transform(f)        f(value) -> U, giving result<U, E> (U may be void).
//   or_else(f)          f(error) -> result<T, G>; a value passes through.
//   transform_error(f)  f(error) -> G, giving result<T, G>.
// Each has &, const&, && and const&& forms: on an rvalue the value or error
// is moved into f.
template <class T, class E>
class [[nodiscard]] result {
  static_assert(!std::is_reference<T>::value, "result<T&> is not supported");
  static_assert(!std::is_same<std::decay_t<T>, E>::value, "T and E must differ");

 public:
  using value_type = T;
  using error_type = E;

  template <class U = T,
            class = std::enable_if_t<std::is_default_constructible<U>::value>>
  result() noexcept(std::is_nothrow_default_constructible<T>::value) : has_(true) {
    ::new (static_cast<void*>(&val_)) T();
  }
  result(const T& v) : has_(true) { ::new (static_cast<void*>(&val_)) T(v); }
  result(T&& v) noexcept(std::is_nothrow_move_constructible<T>::value) : has_(true) {
    ::new (static_cast<void*>(&val_)) T(std::move(v));
  }
  template <class U, class = std::enable_if_t<std::is_constructible<T, U&&>::value &&
                                              !std::is_same<std::decay_t<U>, T>::value &&
                                              !std::is_same<std::decay_t<U>, E>::value &&
                                              !std::is_same<std::decay_t<U>, result>::value>>
  result(U&& v) : has_(true) {
    ::new (static_cast<void*>(&val_)) T(std::forward<U>(v));
  }
  result(E e) noexcept : has_(false) { ::new (static_cast<void*>(&err_)) E(std::move(e)); }
  template <class G, class = std::enable_if_t<std::is_constructible<E, G>::value>>
  result(failure<G> f) noexcept : has_(false) {
    ::new (static_cast<void*>(&err_)) E(std::move(f.error));
  }

  result(const result& o) : has_(o.has_) {
    if (has_)
      ::new (static_cast<void*>(&val_)) T(o.val_);
    else
      ::new (static_cast<void*>(&err_)) E(o.err_);
  }
  result(result&& o) noexcept(std::is_nothrow_move_constructible<T>::value) : has_(o.has_) {
    if (has_)
      ::new (static_cast<void*>(&val_)) T(std::move(o.val_));
    else
      ::new (static_cast<void*>(&err_)) E(std::move(o.err_));
  }
  result& operator=(const result& o) {
    if (this != &o) {
      destroy();
      has_ = o.has_;
      if (has_)
        ::new (static_cast<void*>(&val_)) T(o.val_);
      else
        ::new (static_cast<void*>(&err_)) E(o.err_);
    }
    return *this;
  }
  result& operator=(result&& o) noexcept(std::is_nothrow_move_constructible<T>::value) {
    if (this != &o) {
      destroy();
      has_ = o.has_;
      if (has_)
        ::new (static_cast<void*>(&val_)) T(std::move(o.val_));
      else
        ::new (static_cast<void*>(&err_)) E(std::move(o.err_));
    }
    return *this;
  }
  ~result() { destroy(); }

  bool has_value() const noexcept { return has_; }
  explicit operator bool() const noexcept { return has_; }

  // Requires has_value().
  T& value() & noexcept {
    SLOTGUARD_ASSERT(has_);
    return val_;
  }
  const T& value() const& noexcept {
    SLOTGUARD_ASSERT(has_);
    return val_;
  }
  T&& value() && noexcept {
    SLOTGUARD_ASSERT(has_);
    return std::move(val_);
  }
  T& operator*() & noexcept { return value(); }
  const T& operator*() const& noexcept { return value(); }
  T&& operator*() && noexcept { return std::move(*this).value(); }
  T* operator->() noexcept { return &value(); }
  const T* operator->() const noexcept { return &value(); }

  // Requires !has_value().
  const E& error() const& noexcept {
    SLOTGUARD_ASSERT(!has_);
    return err_;
  }
  E& error() & noexcept {
    SLOTGUARD_ASSERT(!has_);
    return err_;
  }
  E&& error() && noexcept {
    SLOTGUARD_ASSERT(!has_);
    return std::move(err_);
  }

  template <class U>
  T value_or(U&& fallback) const& {
    return has_ ? val_ : static_cast<T>(std::forward<U>(fallback));
  }
  template <class U>
  T value_or(U&& fallback) && {
    return has_ ? std::move(val_) : static_cast<T>(std::forward<U>(fallback));
  }

  template <class F>
  auto and_then(F&& f) & { return and_then_(*this, std::forward<F>(f)); }
  template <class F>
  auto and_then(F&& f) const& { return and_then_(*this, std::forward<F>(f)); }
  template <class F>
  auto and_then(F&& f) && { return and_then_(std::move(*this), std::forward<F>(f)); }
  template <class F>
  auto and_then(F&& f) const&& { return and_then_(std::move(*this), std::forward<F>(f)); }

  template <class F>
  auto transform(F&& f) & { return transform_(*this, std::forward<F>(f)); }
  template <class F>
  auto transform(F&& f) const& { return transform_(*this, std::forward<F>(f)); }
  template <class F>
  auto transform(F&& f) && { return transform_(std::move(*this), std::forward<F>(f)); }
  template <class F>
  auto transform(F&& f) const&& { return transform_(std::move(*this), std::forward<F>(f)); }

  template <class F>
  auto or_else(F&& f) & { return or_else_(*this, std::forward<F>(f)); }
  template <class F>
  auto or_else(F&& f) const& { return or_else_(*this, std::forward<F>(f)); }
  template <class F>
  auto or_else(F&& f) && { return or_else_(std::move(*this), std::forward<F>(f)); }
  template <class F>
  auto or_else(F&& f) const&& { return or_else_(std::move(*this), std::forward<F>(f)); }

  template <class F>
  auto transform_error(F&& f) & { return transform_error_(*this, std::forward<F>(f)); }
  template <class F>
  auto transform_error(F&& f) const& { return transform_error_(*this, std::forward<F>(f)); }
  template <class F>
  auto transform_error(F&& f) && { return transform_error_(std::move(*this), std::forward<F>(f)); }
  template <class F>
  auto transform_error(F&& f) const&& {
    return transform_error_(std::move(*this), std::forward<F>(f));
  }

 private:
  // Self is this result as the overload saw it (const or not, lvalue or
  // rvalue); forwarding it forwards its value or error the same way.
  template <class Self, class F>
  static auto and_then_(Self&& self, F&& f) {
    using R = detail::remove_cvref_t<decltype(std::forward<F>(f)(std::forward<Self>(self).val_))>;
    static_assert(detail::is_result<R>::value, "and_then: the function must return a result");
    static_assert(std::is_same<typename R::error_type, E>::value,
                  "and_then: the function's result must have the same error type");
    if (self.has_) return std::forward<F>(f)(std::forward<Self>(self).val_);
    return R(failure<E>{std::forward<Self>(self).err_});
  }
  template <class Self, class F>
  static auto transform_(Self&& self, F&& f) {
    using U = std::remove_cv_t<decltype(std::forward<F>(f)(std::forward<Self>(self).val_))>;
    using R = result<U, E>;
    if (!self.has_) return R(failure<E>{std::forward<Self>(self).err_});
    if constexpr (std::is_void<U>::value) {
      std::forward<F>(f)(std::forward<Self>(self).val_);
      return R();
    } else {
      return R(std::forward<F>(f)(std::forward<Self>(self).val_));
    }
  }
  template <class Self, class F>
  static auto or_else_(Self&& self, F&& f) {
    using R = detail::remove_cvref_t<decltype(std::forward<F>(f)(std::forward<Self>(self).err_))>;
    static_assert(detail::is_result<R>::value, "or_else: the function must return a result");
    static_assert(std::is_same<typename R::value_type, T>::value,
                  "or_else: the function's result must have the same value type");
    if (self.has_) return R(std::forward<Self>(self).val_);
    return std::forward<F>(f)(std::forward<Self>(self).err_);
  }
  template <class Self, class F>
  static auto transform_error_(Self&& self, F&& f) {
    using G = std::remove_cv_t<decltype(std::forward<F>(f)(std::forward<Self>(self).err_))>;
    using R = result<T, G>;
    if (self.has_) return R(std::forward<Self>(self).val_);
    return R(failure<G>{std::forward<F>(f)(std::forward<Self>(self).err_)});
  }

  void destroy() noexcept {
    if (has_)
      val_.~T();
    else
      err_.~E();
  }
  union {
    T val_;
    E err_;
  };
  bool has_;
};

// result<void>: success or an error.
template <class E>
class [[nodiscard]] result<void, E> {
 public:
  using value_type = void;
  using error_type = E;

  result() noexcept : err_(), has_(true) {}
  result(E e) noexcept : err_(std::move(e)), has_(false) {}
  template <class G, class = std::enable_if_t<std::is_constructible<E, G>::value>>
  result(failure<G> f) noexcept : err_(std::move(f.error)), has_(false) {}

  bool has_value() const noexcept { return has_; }
  explicit operator bool() const noexcept { return has_; }
  void value() const noexcept { SLOTGUARD_ASSERT(has_); }
  const E& error() const& noexcept {
    SLOTGUARD_ASSERT(!has_);
    return err_;
  }
  E& error() & noexcept {
    SLOTGUARD_ASSERT(!has_);
    return err_;
  }
  E&& error() && noexcept {
    SLOTGUARD_ASSERT(!has_);
    return std::move(err_);
  }

  // As result<T, E>'s, with f taking no argument where it would take the
  // value.
  template <class F>
  auto and_then(F&& f) const& { return and_then_(*this, std::forward<F>(f)); }
  template <class F>
  auto and_then(F&& f) && { return and_then_(std::move(*this), std::forward<F>(f)); }
  template <class F>
  auto transform(F&& f) const& { return transform_(*this, std::forward<F>(f)); }
  template <class F>
  auto transform(F&& f) && { return transform_(std::move(*this), std::forward<F>(f)); }
  template <class F>
  auto or_else(F&& f) const& { return or_else_(*this, std::forward<F>(f)); }
  template <class F>
  auto or_else(F&& f) && { return or_else_(std::move(*this), std::forward<F>(f)); }
  template <class F>
  auto transform_error(F&& f) const& { return transform_error_(*this, std::forward<F>(f)); }
  template <class F>
  auto transform_error(F&& f) && { return transform_error_(std::move(*this), std::forward<F>(f)); }

 private:
  template <class Self, class F>
  static auto and_then_(Self&& self, F&& f) {
    using R = detail::remove_cvref_t<decltype(std::forward<F>(f)())>;
    static_assert(detail::is_result<R>::value, "and_then: the function must return a result");
    static_assert(std::is_same<typename R::error_type, E>::value,
                  "and_then: the function's result must have the same error type");
    if (self.has_) return std::forward<F>(f)();
    return R(failure<E>{std::forward<Self>(self).err_});
  }
  template <class Self, class F>
  static auto transform_(Self&& self, F&& f) {
    using U = std::remove_cv_t<decltype(std::forward<F>(f)())>;
    using R = result<U, E>;
    if (!self.has_) return R(failure<E>{std::forward<Self>(self).err_});
    if constexpr (std::is_void<U>::value) {
      std::forward<F>(f)();
      return R();
    } else {
      return R(std::forward<F>(f)());
    }
  }
  template <class Self, class F>
  static auto or_else_(Self&& self, F&& f) {
    using R = detail::remove_cvref_t<decltype(std::forward<F>(f)(std::forward<Self>(self).err_))>;
    static_assert(detail::is_result<R>::value, "or_else: the function must return a result");
    static_assert(std::is_void<typename R::value_type>::value,
                  "or_else: the function's result must be a result<void, G>");
    if (self.has_) return R();
    return std::forward<F>(f)(std::forward<Self>(self).err_);
  }
  template <class Self, class F>
  static auto transform_error_(Self&& self, F&& f) {
    using G = std::remove_cv_t<decltype(std::forward<F>(f)(std::forward<Self>(self).err_))>;
    using R = result<void, G>;
    if (self.has_) return R();
    return R(failure<G>{std::forward<F>(f)(std::forward<Self>(self).err_)});
  }

  E err_;
  bool has_;
};

// Success of result<void>, for symmetry with a returned value: `return ok();`.
inline result<void> ok() noexcept { return {}; }

}  // inline namespace SLOTGUARD_ABI_NAMESPACE
}  // namespace slotguard

// Returns the error of a failed result from the enclosing function.
#define SLOTGUARD_TRY(expr)                                  \
  do {                                                       \
    auto&& slotguard_try_r_ = (expr);                        \
    if (SLOTGUARD_UNLIKELY(!slotguard_try_r_.has_value()))   \
      return ::slotguard::failure{slotguard_try_r_.error()}; \
  } while (0)

// Evaluates `expr` (a result<T, E>); on an error returns it from the
// enclosing function (whose result's error type must be constructible from
// E), otherwise assigns the value to `lhs`, which may declare a variable:
//   SLOTGUARD_TRY_ASSIGN(auto seed, parse_private_key_pem(text));
//   SLOTGUARD_TRY_ASSIGN(view, reader.active());
// A prvalue result's value is moved, an lvalue's copied. It expands to two
// statements (so it is no single statement after an unbraced `if`) and
// names its temporary after the line: one use per line.
#define SLOTGUARD_TRY_ASSIGN(lhs, expr) \
  SLOTGUARD_TRY_ASSIGN_IMPL_(SLOTGUARD_TRY_CONCAT_(slotguard_try_, __LINE__), lhs, expr)
#define SLOTGUARD_TRY_CONCAT_(a, b) SLOTGUARD_TRY_CONCAT2_(a, b)
#define SLOTGUARD_TRY_CONCAT2_(a, b) a##b
#define SLOTGUARD_TRY_ASSIGN_IMPL_(tmp, lhs, expr)                        \
  auto&& tmp = (expr);                                                     \
  if (SLOTGUARD_UNLIKELY(!tmp.has_value()))                                \
    return ::slotguard::failure{std::forward<decltype(tmp)>(tmp).error()}; \
  lhs = std::forward<decltype(tmp)>(tmp).value()

#endif  // SLOTGUARD_RESULT_HPP
