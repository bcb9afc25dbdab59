// SPDX-License-Identifier: Apache-2.0
// The umbrella header: everything slotguard offers in one include.
#ifndef SLOTGUARD_SLOTGUARD_HPP
#define SLOTGUARD_SLOTGUARD_HPP

#include <slotguard/version.hpp>
#include <slotguard/config.hpp>
#include <slotguard/error.hpp>
#include <slotguard/bytes.hpp>

#endif  // SLOTGUARD_SLOTGUARD_HPP
