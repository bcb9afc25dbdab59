// SPDX-License-Identifier: Apache-2.0
// Included after one slotguard header (see CMakeLists.txt here): fails the
// build if that header defined a macro of an OS header it has no business
// including. Each group names the OS headers its macros come from; the
// generated unit defines SLOTGUARD_HYGIENE_ALLOW_<GROUP> (after including the
// header under test, so the header cannot see it) for the groups its allow
// list names. A macro the standard library itself defines on a platform is
// not checked there: glibc's <cstdlib> defines WNOHANG (POSIX asks it to),
// so sys/wait.h is recognised there by WCOREDUMP; mingw-w64's standard
// library defines STDIN_FILENO, SIGTERM and NOMINMAX.
#ifndef SLOTGUARD_HYGIENE_CHECKS_HPP
#define SLOTGUARD_HYGIENE_CHECKS_HPP

// <fcntl.h>, <unistd.h>, <sys/stat.h>, <dirent.h>, <sys/file.h>
#ifndef SLOTGUARD_HYGIENE_ALLOW_FILE
#if defined(O_RDONLY)
#error "O_RDONLY is defined (<fcntl.h>)"
#endif
#if defined(O_CREAT)
#error "O_CREAT is defined (<fcntl.h>)"
#endif
#if defined(O_CLOEXEC)
#error "O_CLOEXEC is defined (<fcntl.h>)"
#endif
#if defined(STDIN_FILENO) && !defined(__MINGW32__)
#error "STDIN_FILENO is defined (<unistd.h>)"
#endif
#if defined(R_OK)
#error "R_OK is defined (<unistd.h>)"
#endif
#if defined(S_IRUSR)
#error "S_IRUSR is defined (<sys/stat.h>)"
#endif
#if defined(DT_DIR)
#error "DT_DIR is defined (<dirent.h>)"
#endif
#if defined(LOCK_EX)
#error "LOCK_EX is defined (<sys/file.h>)"
#endif
#endif

// <sys/mman.h>
#ifndef SLOTGUARD_HYGIENE_ALLOW_MAP
#if defined(PROT_READ)
#error "PROT_READ is defined (<sys/mman.h>)"
#endif
#if defined(MAP_FAILED)
#error "MAP_FAILED is defined (<sys/mman.h>)"
#endif
#endif

// <sys/wait.h>, <signal.h>, <spawn.h>, <poll.h>, <sys/resource.h>,
// <sys/prctl.h>, <sys/mount.h>, <sys/syscall.h>
#ifndef SLOTGUARD_HYGIENE_ALLOW_PROCESS
#if defined(WNOHANG) && !defined(__GLIBC__)
#error "WNOHANG is defined (<sys/wait.h>)"
#endif
#if defined(WCOREDUMP)
#error "WCOREDUMP is defined (<sys/wait.h>)"
#endif
#if defined(SIGKILL)
#error "SIGKILL is defined (<signal.h>)"
#endif
#if defined(SIGTERM) && !defined(__MINGW32__)
#error "SIGTERM is defined (<signal.h>)"
#endif
#if defined(SIGCHLD)
#error "SIGCHLD is defined (<signal.h>)"
#endif
#if defined(POSIX_SPAWN_SETSIGMASK)
#error "POSIX_SPAWN_SETSIGMASK is defined (<spawn.h>)"
#endif
#if defined(POLLIN)
#error "POLLIN is defined (<poll.h>)"
#endif
#if defined(RLIMIT_NOFILE)
#error "RLIMIT_NOFILE is defined (<sys/resource.h>)"
#endif
#if defined(PR_SET_PDEATHSIG)
#error "PR_SET_PDEATHSIG is defined (<sys/prctl.h>)"
#endif
#if defined(MS_BIND)
#error "MS_BIND is defined (<sys/mount.h>)"
#endif
#if defined(SYS_pidfd_open)
#error "SYS_pidfd_open is defined (<sys/syscall.h>)"
#endif
#endif

// <sys/random.h>
#ifndef SLOTGUARD_HYGIENE_ALLOW_RANDOM
#if defined(GRND_NONBLOCK)
#error "GRND_NONBLOCK is defined (<sys/random.h>)"
#endif
#endif

// <windows.h> (which, with mingw-w64, brings <immintrin.h> too)
#ifndef SLOTGUARD_HYGIENE_ALLOW_WINDOWS
#if defined(WINAPI)
#error "WINAPI is defined (<windows.h>)"
#endif
#if defined(_WINDOWS_)
#error "_WINDOWS_ is defined (<windows.h>)"
#endif
#if defined(CreateFile)
#error "CreateFile is defined (<windows.h>)"
#endif
#if defined(INVALID_HANDLE_VALUE)
#error "INVALID_HANDLE_VALUE is defined (<windows.h>)"
#endif
#endif

// Never, from any header.
// <cpuid.h> (CPUID is read by inline assembly, detail/cpu.hpp).
#if defined(__cpuid) || defined(bit_SSE4_2)
#error "__cpuid or bit_SSE4_2 is defined (<cpuid.h>)"
#endif
// <immintrin.h> (the x86 hashing code includes <nmmintrin.h> only).
#if (defined(_IMMINTRIN_H_INCLUDED) || defined(__IMMINTRIN_H)) && \
    !(defined(_WIN32) && defined(SLOTGUARD_HYGIENE_ALLOW_WINDOWS))
#error "<immintrin.h> was included"
#endif
// Windows configuration: a header that sets it for <windows.h> restores it.
#if defined(WIN32_LEAN_AND_MEAN)
#error "WIN32_LEAN_AND_MEAN is defined"
#endif
#if defined(NOMINMAX) && !defined(__MINGW32__)
#error "NOMINMAX is defined"
#endif
#if defined(min) || defined(max)
#error "min or max is a macro (<windows.h> without NOMINMAX)"
#endif

#endif  // SLOTGUARD_HYGIENE_CHECKS_HPP
