// SPDX-License-Identifier: Apache-2.0
// The POSIX stat and readdir calls, 64-bit where it matters. On 32-bit glibc
// without _FILE_OFFSET_BITS=64 (which a header cannot choose for its host),
// stat() and readdir() fail with EOVERFLOW on file systems with 64-bit inode
// numbers: the explicit 64-bit calls are used there. Shared by the storage
// backend and the probe's workspace code.
#ifndef SLOTGUARD_DETAIL_POSIX_LFS_HPP
#define SLOTGUARD_DETAIL_POSIX_LFS_HPP

#include <slotguard/config.hpp>

#if !SLOTGUARD_OS_WINDOWS
#include <cstddef>
#include <cstdint>
#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

namespace slotguard {
inline namespace SLOTGUARD_ABI_NAMESPACE {
namespace detail {

#if defined(__GLIBC__) && defined(__USE_LARGEFILE64)
using stat_buf = struct stat64;
using dirent_t = struct dirent64;
inline int sys_stat(const char* p, stat_buf* st) noexcept { return ::stat64(p, st); }
inline int sys_lstat(const char* p, stat_buf* st) noexcept { return ::lstat64(p, st); }
inline int sys_fstat(int fd, stat_buf* st) noexcept { return ::fstat64(fd, st); }
inline int sys_fstatat(int dfd, const char* name, stat_buf* st) noexcept {
  return ::fstatat64(dfd, name, st, AT_SYMLINK_NOFOLLOW);
}
inline dirent_t* sys_readdir(DIR* d) noexcept { return ::readdir64(d); }
inline ssize_t sys_pread(int fd, void* out, std::size_t n, std::uint64_t offset) noexcept {
  return ::pread64(fd, out, n, static_cast<off64_t>(offset));
}
inline ssize_t sys_pwrite(int fd, const void* in, std::size_t n, std::uint64_t offset) noexcept {
  return ::pwrite64(fd, in, n, static_cast<off64_t>(offset));
}
inline constexpr std::uint64_t max_file_offset = static_cast<std::uint64_t>(INT64_MAX);
inline constexpr int large_file_flag = O_LARGEFILE;
#else
using stat_buf = struct stat;
using dirent_t = struct dirent;
inline int sys_stat(const char* p, stat_buf* st) noexcept { return ::stat(p, st); }
inline int sys_lstat(const char* p, stat_buf* st) noexcept { return ::lstat(p, st); }
inline int sys_fstat(int fd, stat_buf* st) noexcept { return ::fstat(fd, st); }
inline int sys_fstatat(int dfd, const char* name, stat_buf* st) noexcept {
  return ::fstatat(dfd, name, st, AT_SYMLINK_NOFOLLOW);
}
inline dirent_t* sys_readdir(DIR* d) noexcept { return ::readdir(d); }
inline ssize_t sys_pread(int fd, void* out, std::size_t n, std::uint64_t offset) noexcept {
  return ::pread(fd, out, n, static_cast<off_t>(offset));
}
inline ssize_t sys_pwrite(int fd, const void* in, std::size_t n, std::uint64_t offset) noexcept {
  return ::pwrite(fd, in, n, static_cast<off_t>(offset));
}
// The largest offset off_t holds (2^31 - 1 where it is 32 bits wide).
inline constexpr std::uint64_t max_file_offset =
    sizeof(off_t) >= 8 ? static_cast<std::uint64_t>(INT64_MAX) : static_cast<std::uint64_t>(INT32_MAX);
inline constexpr int large_file_flag = 0;
#endif

}  // namespace detail
}  // inline namespace SLOTGUARD_ABI_NAMESPACE
}  // namespace slotguard

#endif  // !SLOTGUARD_OS_WINDOWS
#endif  // SLOTGUARD_DETAIL_POSIX_LFS_HPP
