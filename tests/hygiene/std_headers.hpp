// SPDX-License-Identifier: Apache-2.0
// Every standard header slotguard's headers include, included first by each
// hygiene unit (see CMakeLists.txt here): a macro these define on a platform
// or in a language mode is the standard library's (glibc's <cstdlib> defines
// WNOHANG, as POSIX asks; in C++20 libstdc++'s <atomic> brings <unistd.h> and
// <sys/syscall.h>; mingw-w64's defines NOMINMAX and STDIN_FILENO), and a
// slotguard header cannot be blamed for it, nor keep it out.
#ifndef SLOTGUARD_HYGIENE_STD_HEADERS_HPP
#define SLOTGUARD_HYGIENE_STD_HEADERS_HPP

#include <algorithm>
#include <array>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <cwchar>
#include <deque>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iterator>
#include <limits>
#include <map>
#include <memory>
#include <mutex>
#include <new>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <system_error>
#include <thread>
#include <type_traits>
#include <utility>
#include <vector>

#endif  // SLOTGUARD_HYGIENE_STD_HEADERS_HPP
