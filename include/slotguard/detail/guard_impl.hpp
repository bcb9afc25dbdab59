// SPDX-License-Identifier: Apache-2.0
// Defines what slotguard/guard.hpp declares of the guard: the handle's calls,
// each forwarding to the guard's core (detail/guard_core.hpp), whose code is
// in detail/guard_*.hpp by role. Included at the end of slotguard/guard.hpp
// with those definitions (header-only, or in the implementation unit of a
// separately compiled program); it includes guard.hpp, so it also compiles on
// its own.
#ifndef SLOTGUARD_DETAIL_GUARD_IMPL_HPP
#define SLOTGUARD_DETAIL_GUARD_IMPL_HPP

#include <slotguard/guard.hpp>
#include <slotguard/detail/guard_core.hpp>

#include <memory>
#include <string>
#include <string_view>
#include <utility>

namespace slotguard {
inline namespace SLOTGUARD_ABI_NAMESPACE {

SLOTGUARD_DECL result<std::unique_ptr<guard>> guard::open(guard_options options) {
  auto core = detail::guard_core::open(std::move(options));
  if (!core) return core.error();
  return std::unique_ptr<guard>(new guard(std::move(*core)));
}

SLOTGUARD_DECL guard::guard(std::unique_ptr<detail::guard_core> core) noexcept : core_(std::move(core)) {}

SLOTGUARD_DECL guard::~guard() = default;

SLOTGUARD_DECL result<void> guard::shutdown() { return core_->shutdown(); }

SLOTGUARD_DECL result<void> guard::apply(byte_view bundle) { return core_->apply(bundle); }

SLOTGUARD_DECL result<void> guard::apply_file(const std::string& path) { return core_->apply_file(path); }

SLOTGUARD_DECL void guard::heartbeat() { core_->heartbeat(); }

SLOTGUARD_DECL result<void> guard::report_unhealthy(std::string_view reason) {
  return core_->report_unhealthy(reason);
}

SLOTGUARD_DECL void guard::poll() { core_->poll(); }

SLOTGUARD_DECL result<void> guard::confirm() { return core_->confirm(); }

SLOTGUARD_DECL result<void> guard::revert() { return core_->revert(); }

SLOTGUARD_DECL result<void> guard::rollback() { return core_->rollback(); }

SLOTGUARD_DECL result<void> guard::release(std::uint64_t sequence) { return core_->release(sequence); }

SLOTGUARD_DECL content_handle guard::current() const { return core_->current(); }

SLOTGUARD_DECL content_reader guard::reader() const { return core_->reader(); }

SLOTGUARD_DECL guard_status guard::status() const { return core_->status(); }

SLOTGUARD_DECL std::uint64_t guard::on_event(event_handler h) { return core_->on_event(std::move(h)); }

SLOTGUARD_DECL bool guard::unsubscribe(std::uint64_t id) { return core_->unsubscribe(id); }

SLOTGUARD_DECL const std::string& guard::channel() const noexcept { return core_->channel(); }

}  // inline namespace SLOTGUARD_ABI_NAMESPACE
}  // namespace slotguard

#endif  // SLOTGUARD_DETAIL_GUARD_IMPL_HPP
