// SPDX-License-Identifier: Apache-2.0
// std::shared_ptr, std::weak_ptr and std::make_shared for the headers a
// worker's translation unit includes (slotguard/reader.hpp's tree). <memory>
// declares them with everything else it holds (the uninitialized-memory
// algorithms, std::align, the atomic shared_ptr functions, the parallel
// algorithms' declarations), which costs a unit more than the shared
// pointers themselves; libstdc++ declares them in a header of their own, and
// that is what this includes there. Other standard libraries: <memory>.
#ifndef SLOTGUARD_DETAIL_SHARED_PTR_HPP
#define SLOTGUARD_DETAIL_SHARED_PTR_HPP

#include <cstddef>  // defines __GLIBCXX__ with libstdc++

#if defined(__GLIBCXX__) && defined(__has_include)
#if __has_include(<bits/shared_ptr.h>)
#define SLOTGUARD_DETAIL_GLIBCXX_SHARED_PTR 1
#endif
#endif

#if defined(SLOTGUARD_DETAIL_GLIBCXX_SHARED_PTR)
#undef SLOTGUARD_DETAIL_GLIBCXX_SHARED_PTR
#include <bits/shared_ptr.h>
#else
#include <memory>
#endif

#endif  // SLOTGUARD_DETAIL_SHARED_PTR_HPP
