// SPDX-License-Identifier: Apache-2.0
// The library's version, in the one place it is defined. CMake reads the three
// numbers from here, so a release changes this file and nothing else.
#ifndef SLOTGUARD_VERSION_HPP
#define SLOTGUARD_VERSION_HPP

#define SLOTGUARD_VERSION_MAJOR 0
#define SLOTGUARD_VERSION_MINOR 1
#define SLOTGUARD_VERSION_PATCH 0

// One comparable number: MAJOR * 10000 + MINOR * 100 + PATCH.
#define SLOTGUARD_VERSION \
  (SLOTGUARD_VERSION_MAJOR * 10000 + SLOTGUARD_VERSION_MINOR * 100 + SLOTGUARD_VERSION_PATCH)

#endif  // SLOTGUARD_VERSION_HPP
