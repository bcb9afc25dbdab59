// SPDX-License-Identifier: Apache-2.0
// The name of one of a channel's two slots, what the slot store keeps and
// what active_content reports. Apart from the store so that readers need
// none of it.
#ifndef SLOTGUARD_SLOT_ID_HPP
#define SLOTGUARD_SLOT_ID_HPP

#include <slotguard/config.hpp>

#include <cstdint>

namespace slotguard {
inline namespace SLOTGUARD_ABI_NAMESPACE {

enum class slot_id : std::uint8_t { a = 0, b = 1 };

constexpr slot_id other_slot(slot_id s) noexcept { return s == slot_id::a ? slot_id::b : slot_id::a; }
constexpr const char* to_string(slot_id s) noexcept { return s == slot_id::a ? "a" : "b"; }

}  // inline namespace SLOTGUARD_ABI_NAMESPACE
}  // namespace slotguard

#endif  // SLOTGUARD_SLOT_ID_HPP
