// SPDX-License-Identifier: Apache-2.0
// The file-system primitives the slot store is built from, as a small
// interface, and its two real backends: POSIX (open/write/fsync/rename/flock)
// and Win32 (CreateFileW/WriteFile/FlushFileBuffers/MoveFileExW/LockFileEx).
// The store reaches the OS only through this interface, so a test can put the
// power-loss simulator of sim_storage.hpp in its place. Paths are UTF-8 with
// '/' as separator (Windows accepts it too); every call reports failure as an
// errc: io_error, not_found, already_exists, no_space, permission_denied, busy,
// too_large or invalid_argument.
#ifndef SLOTGUARD_STORAGE_HPP
#define SLOTGUARD_STORAGE_HPP

#include <slotguard/bytes.hpp>
#include <slotguard/error.hpp>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#if SLOTGUARD_OS_WINDOWS
#ifndef WIN32_LEAN_AND_MEAN
#define WIN32_LEAN_AND_MEAN
#endif
#ifndef NOMINMAX
#define NOMINMAX
#endif
#include <windows.h>
#else
#include <cerrno>
#include <dirent.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>
#endif

namespace slotguard {
inline namespace v1 {

// An open file or a held lock, as the backend names it.
using file_handle = std::uint64_t;
using lock_handle = std::uint64_t;

// The primitives. Durability contract (what the store relies on, and what
// sim_storage models): a file's data is durable only after flush() returned
// success; a create, rename or remove only after sync_dir() of its directory
// returned success. A backend never retries a failed flush on its own.
class storage {
 public:
  virtual ~storage() = default;

  // Creates a new, empty file for writing. Fails with already_exists when
  // the path exists (the store never overwrites a file in place).
  virtual result<file_handle> create(const std::string& path) = 0;
  // Appends all of data to the file, handling partial writes.
  virtual result<void> write(file_handle f, byte_view data) = 0;
  // Makes the file's data durable (fsync / FlushFileBuffers).
  virtual result<void> flush(file_handle f) = 0;
  // Closes the handle; it is invalid afterwards whatever the result.
  virtual result<void> close(file_handle f) = 0;
  // Renames from to to, replacing to atomically when it exists.
  virtual result<void> rename(const std::string& from, const std::string& to) = 0;
  // Removes a file; not_found when it does not exist.
  virtual result<void> remove(const std::string& path) = 0;
  // Makes the creates, renames and removes in directory dir durable.
  virtual result<void> sync_dir(const std::string& dir) = 0;
  // Reads the whole file; too_large when it holds more than max_size bytes
  // (no more than max_size + 1 bytes are ever allocated).
  virtual result<std::vector<std::uint8_t>> read_file(const std::string& path,
                                                      std::uint64_t max_size) = 0;
  // The names (not paths) of the entries of directory dir, in no order.
  virtual result<std::vector<std::string>> list(const std::string& dir) = 0;
  // Whether a file or directory exists at path.
  virtual result<bool> exists(const std::string& path) = 0;
  // Creates (if needed) the file at path and takes an exclusive lock on it
  // without waiting: busy when another holder has it, in this process or
  // another. The lock ends with unlock() or with the process.
  virtual result<lock_handle> lock(const std::string& path) = 0;
  virtual result<void> unlock(lock_handle l) = 0;
  // Creates directory path durably (its parent is synced); success when it
  // already exists as a directory.
  virtual result<void> mkdir(const std::string& path) = 0;
};

namespace detail {

// The directory part of a '/'-separated path ("." when there is none).
inline std::string parent_dir(const std::string& path) {
  const auto pos = path.find_last_of("/\\");
  if (pos == std::string::npos) return ".";
  if (pos == 0) return path.substr(0, 1);
  return path.substr(0, pos);
}

inline std::string join_path(const std::string& dir, const std::string& name) {
  if (dir.empty()) return name;
  const char last = dir.back();
  if (last == '/' || last == '\\') return dir + name;
  return dir + "/" + name;
}

}  // namespace detail

#if !SLOTGUARD_OS_WINDOWS

namespace detail {

inline errc errno_to_errc(int e) noexcept {
  switch (e) {
    case ENOENT:
    case ENOTDIR:
      return errc::not_found;
    case EEXIST:
      return errc::already_exists;
    case EACCES:
    case EPERM:
    case EROFS:
      return errc::permission_denied;
    case ENOSPC:
#ifdef EDQUOT
    case EDQUOT:
#endif
      return errc::no_space;
#if defined(EWOULDBLOCK) && EWOULDBLOCK != EAGAIN
    case EWOULDBLOCK:
#endif
    case EAGAIN:
    case EBUSY:
      return errc::busy;
    case ENAMETOOLONG:
      return errc::invalid_argument;
    default:
      return errc::io_error;
  }
}

// On 32-bit glibc without _FILE_OFFSET_BITS=64 (which a header cannot choose
// for its host), stat() and readdir() fail with EOVERFLOW on file systems
// with 64-bit inode numbers: use the explicit 64-bit calls there.
#if defined(__GLIBC__) && defined(__USE_LARGEFILE64)
using stat_buf = struct stat64;
using dirent_t = struct dirent64;
inline int sys_stat(const char* p, stat_buf* st) noexcept { return ::stat64(p, st); }
inline int sys_fstat(int fd, stat_buf* st) noexcept { return ::fstat64(fd, st); }
inline dirent_t* sys_readdir(DIR* d) noexcept { return ::readdir64(d); }
inline constexpr int large_file_flag = O_LARGEFILE;
#else
using stat_buf = struct stat;
using dirent_t = struct dirent;
inline int sys_stat(const char* p, stat_buf* st) noexcept { return ::stat(p, st); }
inline int sys_fstat(int fd, stat_buf* st) noexcept { return ::fstat(fd, st); }
inline dirent_t* sys_readdir(DIR* d) noexcept { return ::readdir(d); }
inline constexpr int large_file_flag = 0;
#endif

inline int posix_open(const char* path, int flags, mode_t mode) noexcept {
  for (;;) {
    const int fd = ::open(path, flags | O_CLOEXEC | large_file_flag, mode);
    if (fd >= 0 || errno != EINTR) return fd;
  }
}

inline int posix_fd(file_handle f) noexcept { return static_cast<int>(f); }


}  // namespace detail

// The POSIX backend: plain system calls, EINTR and short writes handled,
// every descriptor O_CLOEXEC so a probe child never inherits the store's
// files or lock.
class posix_storage final : public storage {
 public:
  result<file_handle> create(const std::string& path) override {
    const int fd = detail::posix_open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL, 0644);
    if (fd < 0) return detail::errno_to_errc(errno);
    return static_cast<file_handle>(fd);
  }

  result<void> write(file_handle f, byte_view data) override {
    const std::uint8_t* p = data.data();
    std::size_t left = data.size();
    while (left > 0) {
      // Linux caps one write at about 2 GiB; stay well below on every system.
      const std::size_t chunk = left < (std::size_t{1} << 30) ? left : (std::size_t{1} << 30);
      const ssize_t n = ::write(detail::posix_fd(f), p, chunk);
      if (n < 0) {
        if (errno == EINTR) continue;
        return detail::errno_to_errc(errno);
      }
      if (n == 0) return errc::io_error;
      p += n;
      left -= static_cast<std::size_t>(n);
    }
    return ok();
  }

  result<void> flush(file_handle f) override {
#if defined(__APPLE__)
    // fsync on macOS does not reach the medium; F_FULLFSYNC does.
    if (::fcntl(detail::posix_fd(f), F_FULLFSYNC) == 0) return ok();
#endif
    // EINTR is not retried either: after a failed fsync the kernel may have
    // dropped the dirty pages, and the caller rewrites from scratch.
    if (::fsync(detail::posix_fd(f)) != 0) return detail::errno_to_errc(errno);
    return ok();
  }

  result<void> close(file_handle f) override {
    // Never retried: on Linux the descriptor is gone even after EINTR.
    if (::close(detail::posix_fd(f)) != 0 && errno != EINTR) return detail::errno_to_errc(errno);
    return ok();
  }

  result<void> rename(const std::string& from, const std::string& to) override {
    if (::rename(from.c_str(), to.c_str()) != 0) return detail::errno_to_errc(errno);
    return ok();
  }

  result<void> remove(const std::string& path) override {
    if (::unlink(path.c_str()) != 0) return detail::errno_to_errc(errno);
    return ok();
  }

  result<void> sync_dir(const std::string& dir) override {
    int flags = O_RDONLY;
#ifdef O_DIRECTORY
    flags |= O_DIRECTORY;
#endif
    const int fd = detail::posix_open(dir.c_str(), flags, 0);
    if (fd < 0) return detail::errno_to_errc(errno);
    int rc = ::fsync(fd);
    const int e = errno;
    ::close(fd);
    // A few file systems cannot fsync a directory and say EINVAL; their
    // metadata is synchronous or journaled in order, so there is nothing to do.
    if (rc != 0 && e != EINVAL) return detail::errno_to_errc(e);
    return ok();
  }

  result<std::vector<std::uint8_t>> read_file(const std::string& path,
                                              std::uint64_t max_size) override {
    const int fd = detail::posix_open(path.c_str(), O_RDONLY, 0);
    if (fd < 0) return detail::errno_to_errc(errno);
    struct fd_closer {
      int fd;
      ~fd_closer() { ::close(fd); }
    } closer{fd};
    detail::stat_buf st{};
    if (detail::sys_fstat(fd, &st) != 0) return detail::errno_to_errc(errno);
    if (st.st_size < 0 || static_cast<std::uint64_t>(st.st_size) > max_size) return errc::too_large;
    if (static_cast<std::uint64_t>(st.st_size) > static_cast<std::uint64_t>(SIZE_MAX / 2))
      return errc::too_large;
    const std::uint64_t cap = std::min<std::uint64_t>(max_size, SIZE_MAX / 2);
    std::vector<std::uint8_t> out;
    // One byte more than the size, to notice a file that grew meanwhile.
    out.resize(static_cast<std::size_t>(st.st_size) + 1);
    std::size_t got = 0;
    for (;;) {
      const ssize_t n = ::read(fd, out.data() + got, out.size() - got);
      if (n < 0) {
        if (errno == EINTR) continue;
        return detail::errno_to_errc(errno);
      }
      if (n == 0) break;
      got += static_cast<std::size_t>(n);
      if (got == out.size()) {
        if (got > cap) return errc::too_large;
        const std::size_t grow = out.size() < 4096 ? 4096 : out.size();
        // cap <= SIZE_MAX / 2, so none of this wraps.
        if (out.size() + grow > cap + 1) out.resize(static_cast<std::size_t>(cap) + 1);
        else out.resize(out.size() + grow);
        if (got == out.size()) return errc::too_large;
      }
    }
    out.resize(got);
    return out;
  }

  result<std::vector<std::string>> list(const std::string& dir) override {
    DIR* d = ::opendir(dir.c_str());
    if (d == nullptr) return detail::errno_to_errc(errno);
    std::vector<std::string> names;
    errno = 0;
    while (const detail::dirent_t* e = detail::sys_readdir(d)) {
      const std::string name = e->d_name;
      if (name != "." && name != "..") names.push_back(name);
      errno = 0;
    }
    const int err = errno;
    ::closedir(d);
    if (err != 0) return detail::errno_to_errc(err);
    return names;
  }

  result<bool> exists(const std::string& path) override {
    detail::stat_buf st{};
    if (detail::sys_stat(path.c_str(), &st) == 0) return true;
    if (errno == ENOENT || errno == ENOTDIR) return false;
    return detail::errno_to_errc(errno);
  }

  result<lock_handle> lock(const std::string& path) override {
    const int fd = detail::posix_open(path.c_str(), O_RDWR | O_CREAT, 0644);
    if (fd < 0) return detail::errno_to_errc(errno);
    // flock locks belong to the open file description: a second open in the
    // same process conflicts too, which is what the store wants.
    for (;;) {
      if (::flock(fd, LOCK_EX | LOCK_NB) == 0) return static_cast<lock_handle>(fd);
      if (errno == EINTR) continue;
      const int e = errno;
      ::close(fd);
      return (e == EWOULDBLOCK || e == EAGAIN) ? errc::busy : detail::errno_to_errc(e);
    }
  }

  result<void> unlock(lock_handle l) override {
    // Closing the last descriptor of the description releases the lock.
    if (::close(static_cast<int>(l)) != 0 && errno != EINTR) return detail::errno_to_errc(errno);
    return ok();
  }

  result<void> mkdir(const std::string& path) override {
    if (::mkdir(path.c_str(), 0755) != 0) {
      if (errno != EEXIST) return detail::errno_to_errc(errno);
      detail::stat_buf st{};
      if (detail::sys_stat(path.c_str(), &st) != 0) return detail::errno_to_errc(errno);
      if (!S_ISDIR(st.st_mode)) return errc::already_exists;
      return ok();
    }
    return sync_dir(detail::parent_dir(path));
  }
};

using native_storage = posix_storage;

#else  // SLOTGUARD_OS_WINDOWS

namespace detail {

inline errc win32_to_errc(DWORD e) noexcept {
  switch (e) {
    case ERROR_FILE_NOT_FOUND:
    case ERROR_PATH_NOT_FOUND:
    case ERROR_INVALID_DRIVE:
      return errc::not_found;
    case ERROR_FILE_EXISTS:
    case ERROR_ALREADY_EXISTS:
      return errc::already_exists;
    case ERROR_ACCESS_DENIED:
    case ERROR_WRITE_PROTECT:
      return errc::permission_denied;
    case ERROR_DISK_FULL:
    case ERROR_HANDLE_DISK_FULL:
      return errc::no_space;
    case ERROR_LOCK_VIOLATION:
    case ERROR_SHARING_VIOLATION:
      return errc::busy;
    case ERROR_INVALID_NAME:
    case ERROR_FILENAME_EXCED_RANGE:
      return errc::invalid_argument;
    default:
      return errc::io_error;
  }
}

inline errc last_errc() noexcept { return win32_to_errc(::GetLastError()); }

// UTF-8 to UTF-16 for the W functions; invalid_argument for malformed UTF-8.
inline result<std::wstring> widen(const std::string& s) {
  if (s.empty()) return std::wstring();
  if (s.size() > 0x7fffffffu) return errc::invalid_argument;
  const int n = ::MultiByteToWideChar(CP_UTF8, MB_ERR_INVALID_CHARS, s.data(),
                                      static_cast<int>(s.size()), nullptr, 0);
  if (n <= 0) return errc::invalid_argument;
  std::wstring w(static_cast<std::size_t>(n), L'\0');
  if (::MultiByteToWideChar(CP_UTF8, MB_ERR_INVALID_CHARS, s.data(), static_cast<int>(s.size()),
                            &w[0], n) != n)
    return errc::invalid_argument;
  return w;
}

inline result<std::string> narrow(const wchar_t* w) {
  const int n = ::WideCharToMultiByte(CP_UTF8, 0, w, -1, nullptr, 0, nullptr, nullptr);
  if (n <= 0) return errc::invalid_argument;
  std::string s(static_cast<std::size_t>(n), '\0');
  if (::WideCharToMultiByte(CP_UTF8, 0, w, -1, &s[0], n, nullptr, nullptr) != n)
    return errc::invalid_argument;
  s.resize(static_cast<std::size_t>(n - 1));
  return s;
}

inline HANDLE win32_handle(std::uint64_t h) noexcept {
  return reinterpret_cast<HANDLE>(static_cast<std::uintptr_t>(h));
}
inline std::uint64_t from_win32_handle(HANDLE h) noexcept {
  return static_cast<std::uint64_t>(reinterpret_cast<std::uintptr_t>(h));
}

}  // namespace detail

// The Win32 backend, with wide (UTF-16) paths. There is no directory sync
// on Windows: NTFS journals its metadata (creates, renames, deletes) itself
// and user mode cannot flush a directory, so sync_dir() succeeds without
// doing anything; renames are made durable by MOVEFILE_WRITE_THROUGH instead.
class win32_storage final : public storage {
 public:
  result<file_handle> create(const std::string& path) override {
    auto w = detail::widen(path);
    if (!w) return w.error();
    const HANDLE h = ::CreateFileW(w->c_str(), GENERIC_WRITE, FILE_SHARE_READ | FILE_SHARE_DELETE,
                                   nullptr, CREATE_NEW, FILE_ATTRIBUTE_NORMAL, nullptr);
    if (h == INVALID_HANDLE_VALUE) return detail::last_errc();
    return detail::from_win32_handle(h);
  }

  result<void> write(file_handle f, byte_view data) override {
    const std::uint8_t* p = data.data();
    std::size_t left = data.size();
    while (left > 0) {
      const DWORD chunk = left < (std::size_t{1} << 30) ? static_cast<DWORD>(left) : (DWORD{1} << 30);
      DWORD done = 0;
      if (!::WriteFile(detail::win32_handle(f), p, chunk, &done, nullptr)) return detail::last_errc();
      if (done == 0) return errc::io_error;
      p += done;
      left -= done;
    }
    return ok();
  }

  result<void> flush(file_handle f) override {
    if (!::FlushFileBuffers(detail::win32_handle(f))) return detail::last_errc();
    return ok();
  }

  result<void> close(file_handle f) override {
    if (!::CloseHandle(detail::win32_handle(f))) return detail::last_errc();
    return ok();
  }

  result<void> rename(const std::string& from, const std::string& to) override {
    auto wf = detail::widen(from);
    if (!wf) return wf.error();
    auto wt = detail::widen(to);
    if (!wt) return wt.error();
    if (!::MoveFileExW(wf->c_str(), wt->c_str(), MOVEFILE_REPLACE_EXISTING | MOVEFILE_WRITE_THROUGH))
      return detail::last_errc();
    return ok();
  }

  result<void> remove(const std::string& path) override {
    auto w = detail::widen(path);
    if (!w) return w.error();
    if (!::DeleteFileW(w->c_str())) return detail::last_errc();
    return ok();
  }

  result<void> sync_dir(const std::string& dir) override {
    (void)dir;
    return ok();
  }

  result<std::vector<std::uint8_t>> read_file(const std::string& path,
                                              std::uint64_t max_size) override {
    auto w = detail::widen(path);
    if (!w) return w.error();
    const HANDLE h = ::CreateFileW(w->c_str(), GENERIC_READ,
                                   FILE_SHARE_READ | FILE_SHARE_WRITE | FILE_SHARE_DELETE, nullptr,
                                   OPEN_EXISTING, FILE_ATTRIBUTE_NORMAL, nullptr);
    if (h == INVALID_HANDLE_VALUE) return detail::last_errc();
    struct closer_t {
      HANDLE h;
      ~closer_t() { ::CloseHandle(h); }
    } closer{h};
    LARGE_INTEGER size{};
    if (!::GetFileSizeEx(h, &size)) return detail::last_errc();
    if (size.QuadPart < 0 || static_cast<std::uint64_t>(size.QuadPart) > max_size ||
        static_cast<std::uint64_t>(size.QuadPart) > static_cast<std::uint64_t>(SIZE_MAX / 2))
      return errc::too_large;
    const std::uint64_t cap = std::min<std::uint64_t>(max_size, SIZE_MAX / 2);
    std::vector<std::uint8_t> out(static_cast<std::size_t>(size.QuadPart) + 1);
    std::size_t got = 0;
    for (;;) {
      const std::size_t want = out.size() - got;
      const DWORD chunk = want < (std::size_t{1} << 30) ? static_cast<DWORD>(want) : (DWORD{1} << 30);
      DWORD n = 0;
      if (!::ReadFile(h, out.data() + got, chunk, &n, nullptr)) return detail::last_errc();
      if (n == 0) break;
      got += n;
      if (got == out.size()) {
        if (got > cap) return errc::too_large;
        const std::size_t grow = out.size() < 4096 ? 4096 : out.size();
        // cap <= SIZE_MAX / 2, so none of this wraps.
        if (out.size() + grow > cap + 1) out.resize(static_cast<std::size_t>(cap) + 1);
        else out.resize(out.size() + grow);
        if (got == out.size()) return errc::too_large;
      }
    }
    out.resize(got);
    return out;
  }

  result<std::vector<std::string>> list(const std::string& dir) override {
    auto w = detail::widen(detail::join_path(dir, "*"));
    if (!w) return w.error();
    WIN32_FIND_DATAW fd{};
    const HANDLE h = ::FindFirstFileW(w->c_str(), &fd);
    std::vector<std::string> names;
    if (h == INVALID_HANDLE_VALUE) {
      const DWORD e = ::GetLastError();
      if (e == ERROR_FILE_NOT_FOUND) return names;
      return detail::win32_to_errc(e);
    }
    do {
      auto n = detail::narrow(fd.cFileName);
      if (!n) {
        ::FindClose(h);
        return n.error();
      }
      if (*n != "." && *n != "..") names.push_back(std::move(*n));
    } while (::FindNextFileW(h, &fd));
    const DWORD e = ::GetLastError();
    ::FindClose(h);
    if (e != ERROR_NO_MORE_FILES) return detail::win32_to_errc(e);
    return names;
  }

  result<bool> exists(const std::string& path) override {
    auto w = detail::widen(path);
    if (!w) return w.error();
    if (::GetFileAttributesW(w->c_str()) != INVALID_FILE_ATTRIBUTES) return true;
    const DWORD e = ::GetLastError();
    if (e == ERROR_FILE_NOT_FOUND || e == ERROR_PATH_NOT_FOUND) return false;
    return detail::win32_to_errc(e);
  }

  result<lock_handle> lock(const std::string& path) override {
    auto w = detail::widen(path);
    if (!w) return w.error();
    const HANDLE h = ::CreateFileW(w->c_str(), GENERIC_READ | GENERIC_WRITE,
                                   FILE_SHARE_READ | FILE_SHARE_WRITE | FILE_SHARE_DELETE, nullptr,
                                   OPEN_ALWAYS, FILE_ATTRIBUTE_NORMAL, nullptr);
    if (h == INVALID_HANDLE_VALUE) return detail::last_errc();
    OVERLAPPED ov{};
    // Byte-range locks belong to the handle: a second handle in the same
    // process is refused as another process would be.
    if (!::LockFileEx(h, LOCKFILE_EXCLUSIVE_LOCK | LOCKFILE_FAIL_IMMEDIATELY, 0, MAXDWORD, MAXDWORD,
                      &ov)) {
      const DWORD e = ::GetLastError();
      ::CloseHandle(h);
      return e == ERROR_LOCK_VIOLATION || e == ERROR_IO_PENDING ? errc::busy
                                                                 : detail::win32_to_errc(e);
    }
    return detail::from_win32_handle(h);
  }

  result<void> unlock(lock_handle l) override {
    OVERLAPPED ov{};
    const HANDLE h = detail::win32_handle(l);
    ::UnlockFileEx(h, 0, MAXDWORD, MAXDWORD, &ov);
    if (!::CloseHandle(h)) return detail::last_errc();
    return ok();
  }

  result<void> mkdir(const std::string& path) override {
    auto w = detail::widen(path);
    if (!w) return w.error();
    if (::CreateDirectoryW(w->c_str(), nullptr)) return ok();
    const DWORD e = ::GetLastError();
    if (e != ERROR_ALREADY_EXISTS) return detail::win32_to_errc(e);
    const DWORD attrs = ::GetFileAttributesW(w->c_str());
    if (attrs == INVALID_FILE_ATTRIBUTES) return detail::last_errc();
    if ((attrs & FILE_ATTRIBUTE_DIRECTORY) == 0) return errc::already_exists;
    return ok();
  }
};

using native_storage = win32_storage;

#endif  // SLOTGUARD_OS_WINDOWS

}  // namespace v1
}  // namespace slotguard

#endif  // SLOTGUARD_STORAGE_HPP
