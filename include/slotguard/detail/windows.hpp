// SPDX-License-Identifier: Apache-2.0
// <windows.h> as slotguard includes it, on Windows only: with NOMINMAX
// (min and max as macros would break std::numeric_limits<T>::max()) and
// WIN32_LEAN_AND_MEAN, each defined only when the user had not defined it,
// and undefined again afterwards, so that neither reaches the user's code
// and a user's own choice stays as it was. slotguard's headers include
// this, never <windows.h> itself (tests/hygiene checks the macros).
#ifndef SLOTGUARD_DETAIL_WINDOWS_HPP
#define SLOTGUARD_DETAIL_WINDOWS_HPP

#include <slotguard/config.hpp>

#if SLOTGUARD_OS_WINDOWS
#ifndef WIN32_LEAN_AND_MEAN
#define WIN32_LEAN_AND_MEAN
#define SLOTGUARD_DEFINED_WIN32_LEAN_AND_MEAN
#endif
#ifndef NOMINMAX
#define NOMINMAX
#define SLOTGUARD_DEFINED_NOMINMAX
#endif
#include <windows.h>
#ifdef SLOTGUARD_DEFINED_WIN32_LEAN_AND_MEAN
#undef WIN32_LEAN_AND_MEAN
#undef SLOTGUARD_DEFINED_WIN32_LEAN_AND_MEAN
#endif
#ifdef SLOTGUARD_DEFINED_NOMINMAX
#undef NOMINMAX
#undef SLOTGUARD_DEFINED_NOMINMAX
#endif
#endif  // SLOTGUARD_OS_WINDOWS

#endif  // SLOTGUARD_DETAIL_WINDOWS_HPP
