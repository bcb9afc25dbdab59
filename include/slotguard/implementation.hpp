// SPDX-License-Identifier: Apache-2.0
// The implementation unit of a separately compiled slotguard
// (SLOTGUARD_CONFIG_SEPARATE_COMPILATION=1 in every unit of the program):
// exactly one source file includes this header, first and alone, and so
// defines every function the headers only declare in that mode.
//
//   // slotguard.cpp
//   #include <slotguard/implementation.hpp>
#ifndef SLOTGUARD_IMPLEMENTATION_HPP
#define SLOTGUARD_IMPLEMENTATION_HPP

#ifdef SLOTGUARD_CONFIG_HPP
#error "slotguard/implementation.hpp must be included before any other slotguard header"
#endif
#if !defined(SLOTGUARD_CONFIG_SEPARATE_COMPILATION) || !SLOTGUARD_CONFIG_SEPARATE_COMPILATION
#error "slotguard/implementation.hpp is for SLOTGUARD_CONFIG_SEPARATE_COMPILATION=1 builds; header-only builds need no implementation unit"
#endif

#define SLOTGUARD_DETAIL_IMPLEMENTATION_UNIT 1
#include <slotguard/slotguard.hpp>

#endif  // SLOTGUARD_IMPLEMENTATION_HPP
