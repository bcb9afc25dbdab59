// SPDX-License-Identifier: Apache-2.0
// The file-system primitives the slot store is built from, as a small
// interface, and its two real backends: POSIX (open/write/fsync/rename/flock)
// and Win32 (CreateFileW/WriteFile/FlushFileBuffers/MoveFileExW/LockFileEx).
// The store reaches the OS only through this interface, so a test can put the
// power-loss simulator of sim_storage.hpp in its place. Paths are UTF-8 with
// '/' as separator (Windows accepts it too); every call reports failure as an
// errc: io_error, not_found, already_exists, no_space, permission_denied, busy,
// too_large or invalid_argument; and for the store's safety (docs/STORE.md,
// "Permissions and file safety"): not_regular_file (a FIFO, directory or
// symbolic link where a store file should be), read_only_store (lock() on a
// store this account cannot write), insecure_permissions (check_private())
// and sharing_violation (Windows: another program kept the file open).
#ifndef SLOTGUARD_STORAGE_HPP
#define SLOTGUARD_STORAGE_HPP

#include <slotguard/config.hpp>

#include <slotguard/bytes.hpp>
#include <slotguard/error.hpp>
#include <slotguard/mapped_file.hpp>
#include <slotguard/detail/posix_lfs.hpp>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#if SLOTGUARD_OS_WINDOWS
#include <slotguard/detail/windows.hpp>
#include <aclapi.h>
#include <sddl.h>
#if defined(_MSC_VER)
#pragma comment(lib, "advapi32.lib")
#endif
#else
#include <cerrno>
#include <dirent.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>
#endif

namespace slotguard {
inline namespace SLOTGUARD_ABI_NAMESPACE {

// An open file or a held lock, as the backend names it.
using file_handle = std::uint64_t;
using lock_handle = std::uint64_t;

// mapped_file (and detail::copied_file): mapped_file.hpp.

// The primitives. A backend must be safe to call from several threads at
// once (the guard serves an operator's requests on its watchdog's thread
// beside its own I/O; the POSIX and Win32 calls are, and sim_storage
// serialises its own). Durability contract (what the store relies on, and what
// sim_storage models): a file's data is durable only after flush() returned
// success; a create, rename or remove only after sync_dir() of its directory
// returned success. A backend never retries a failed flush on its own.
class storage {
 public:
  virtual ~storage() = default;

  // Creates a new, empty file for writing, readable by this account only
  // (unless the backend was told to grant group read). Fails with
  // already_exists when the name exists, a symbolic link included (the store
  // never overwrites a file in place, nor writes through a link).
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
  // (no more than max_size + 1 bytes are ever allocated); not_regular_file,
  // without blocking, when path names a FIFO, device, directory or symbolic
  // link (a link is never followed).
  virtual result<std::vector<std::uint8_t>> read_file(const std::string& path,
                                                      std::uint64_t max_size) = 0;
  // The names (not paths) of the entries of directory dir, in no order.
  virtual result<std::vector<std::string>> list(const std::string& dir) = 0;
  // Whether a file or directory exists at path.
  virtual result<bool> exists(const std::string& path) = 0;
  // Creates (if needed) the file at path and takes an exclusive lock on it
  // without waiting: busy when another holder has it, in this process or
  // another, even if the file was unlinked or replaced under that holder;
  // read_only_store when the file cannot be created or opened for writing
  // (read-only file system, no write access: the store can still be read);
  // not_regular_file when path is a link, FIFO or directory. The lock ends
  // with unlock() or with the process. The POSIX backend also locks the
  // directory that holds path (so one lock file per directory).
  virtual result<lock_handle> lock(const std::string& path) = 0;
  virtual result<void> unlock(lock_handle l) = 0;
  // Creates directory path durably (its parent is synced); success when it
  // already exists as a directory. Trailing separators are ignored, and
  // missing parents are created durably too.
  virtual result<void> mkdir(const std::string& path) = 0;
  // Checks that directory dir and every entry in it belong to this process's
  // account (or to root) and that no other account may write to them:
  // insecure_permissions otherwise, as ssh refuses lax key files. A backend
  // may also take away read access it would not have granted on creation.
  // The store calls it when it opens; backends without owners accept all.
  virtual result<void> check_private(const std::string& dir) {
    (void)dir;
    return ok();
  }

  // Streaming reads, for content too big to hold in memory. The defaults
  // say unsupported (a backend written before them keeps working for
  // everything else).
  // Opens a regular file for reading; the same refusals as read_file
  // (not_regular_file for a FIFO, device, directory or link, never
  // followed). Close the handle with close().
  virtual result<file_handle> open_read(const std::string& path) {
    (void)path;
    return errc::unsupported;
  }
  // Reads up to n bytes at offset into out: fewer only at the end of the
  // file (0 at or past it).
  virtual result<std::size_t> read_at(file_handle f, std::uint64_t offset, std::uint8_t* out,
                                      std::size_t n) {
    (void)f, (void)offset, (void)out, (void)n;
    return errc::unsupported;
  }
  // The size of an open file.
  virtual result<std::uint64_t> file_size(file_handle f) {
    (void)f;
    return errc::unsupported;
  }
  // Removes an empty directory: not_found when there is none, busy (or the
  // OS's error) when it is not empty. Durable after sync_dir() of its parent.
  virtual result<void> remove_dir(const std::string& path) {
    (void)path;
    return errc::unsupported;
  }
  // The whole regular file at path, read-only: a memory map where the
  // backend has one, else a copy (this default reads the file). too_large
  // above max_size or what the address space can map.
  virtual result<std::shared_ptr<const mapped_file>> map(const std::string& path,
                                                         std::uint64_t max_size) {
    auto bytes = read_file(path, max_size);
    if (!bytes) return bytes.error();
    return std::shared_ptr<const mapped_file>(std::make_shared<detail::copied_file>(std::move(*bytes)));
  }
  // Overwrites the existing regular file at path, which must hold exactly
  // data.size() bytes, in place from its start, and makes the new bytes
  // durable (fdatasync / FlushFileBuffers): no create, rename or size
  // change, so nothing but the data is written. Refused before anything is
  // written: not_found, not_regular_file (a symbolic link is never
  // followed, and a file with a second name, a hard link, never written),
  // invalid_argument when the file's size differs, unsupported (this
  // default). After any other error the file may hold part of data, or all
  // of it in the cache and not on the medium (a failed flush): the caller
  // must not rely on its content (the store then replaces it). A power cut
  // during the call may leave any mix of old and new bytes.
  virtual result<void> rewrite(const std::string& path, byte_view data) {
    (void)path, (void)data;
    return errc::unsupported;
  }
};

namespace detail {

inline bool is_path_separator(char c) noexcept { return c == '/' || c == '\\'; }

// path without trailing separators, however many: "d/", "d//" and "d" name
// the same directory. A root ("/", "C:/") keeps its separator.
inline std::string trim_separators(const std::string& path) {
  std::size_t n = path.size();
  while (n > 1 && is_path_separator(path[n - 1])) {
    if (n == 3 && path[1] == ':') break;  // "C:/" is a root, "C:" is not
    --n;
  }
  return path.substr(0, n);
}

// The directory that holds the entry path names ("." when there is none),
// with trailing separators of path and of the result ignored: the parent of
// "a/b/" and of "a//b" is "a".
inline std::string parent_dir(const std::string& path) {
  const std::string p = trim_separators(path);
  const auto pos = p.find_last_of("/\\");
  if (pos == std::string::npos) return p.size() == 2 && p[1] == ':' ? p : ".";
  if (pos == 0) return p.substr(0, 1);
  if (pos == 2 && p[1] == ':') return p.substr(0, 3);
  return trim_separators(p.substr(0, pos + 1));
}

inline std::string join_path(const std::string& dir, const std::string& name) {
  if (dir.empty()) return name;
  const char last = dir.back();
  if (last == '/' || last == '\\') return dir + name;
  return dir + "/" + name;
}

// Removes dest and everything under it, whatever it holds: files and links
// are removed as names (a link is never followed), directories emptied and
// removed, deepest first, at any depth (no recursion). Success when dest
// does not exist. Each name is tried as a directory first: on Windows,
// deleting a directory as a file is refused only after the retries meant
// for files that another program holds open (about 0.4 s a directory).
// durable: each emptied directory is synced before it goes, and dest's
// parent at the end, so that no crash brings back names in a directory that
// is gone (remove_tree, slotguard/tree.hpp); without, for leftovers that a
// later sweep removes again if a crash brings them back.
inline result<void> remove_path_tree(storage& fs, const std::string& dest, bool durable) {
  std::vector<std::string> stack;  // directories being emptied, outermost first
  std::vector<bool> expanded;
  // Removes one name: an empty directory, or a file or link (as a name: a
  // link is never followed, since neither call follows one). A directory
  // that holds something (busy) is stacked, to be emptied first.
  const auto take = [&](const std::string& path) -> result<void> {
    const result<void> rd = fs.remove_dir(path);
    if (rd) return ok();
    if (rd.error() == errc::busy) {
      stack.push_back(path);
      expanded.push_back(false);
      return ok();
    }
    const result<void> rm = fs.remove(path);
    if (rm) return ok();
    if (rm.error() != errc::not_found) return rm;
    // Neither: gone (a crash may have left less than the tree), or the
    // directory call's error.
    return rd.error() == errc::not_found ? ok() : rd;
  };
  SLOTGUARD_TRY(take(dest));
  while (!stack.empty()) {
    const std::string dir = stack.back();
    if (!expanded.back()) {
      expanded.back() = true;
      const result<std::vector<std::string>> names = fs.list(dir);
      if (!names) return names.error();
      for (const std::string& name : *names) SLOTGUARD_TRY(take(join_path(dir, name)));
      continue;
    }
    // Emptied (durable: its removes synced before the directory goes).
    stack.pop_back();
    expanded.pop_back();
    if (durable) SLOTGUARD_TRY(fs.sync_dir(dir));
    const result<void> gone = fs.remove_dir(dir);
    if (!gone && gone.error() != errc::not_found) return gone;
  }
  return durable ? fs.sync_dir(parent_dir(dest)) : ok();
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


inline int posix_open(const char* path, int flags, mode_t mode) noexcept {
  for (;;) {
    const int fd = ::open(path, flags | O_CLOEXEC | large_file_flag, mode);
    if (fd >= 0 || errno != EINTR) return fd;
  }
}

inline int posix_fd(file_handle f) noexcept { return static_cast<int>(f); }

inline int sys_openat(int dfd, const char* name, int flags) noexcept {
  for (;;) {
    const int fd = ::openat(dfd, name, flags | O_CLOEXEC | large_file_flag);
    if (fd >= 0 || errno != EINTR) return fd;
  }
}

#ifdef O_NOFOLLOW
inline constexpr int nofollow_flag = O_NOFOLLOW;
#else
inline constexpr int nofollow_flag = 0;
#endif
#ifdef O_DIRECTORY
inline constexpr int directory_flag = O_DIRECTORY;
#else
inline constexpr int directory_flag = 0;
#endif

// errno of an open() with O_NOFOLLOW: a symbolic link as the last component
// is reported as ELOOP (Linux, macOS), EMLINK (FreeBSD) or EFTYPE (NetBSD).
inline errc nofollow_errno_to_errc(int e) noexcept {
  if (e == ELOOP || e == EMLINK) return errc::not_regular_file;
#ifdef EFTYPE
  if (e == EFTYPE) return errc::not_regular_file;
#endif
  return errno_to_errc(e);
}

struct fd_closer {
  int fd;
  ~fd_closer() {
    if (fd >= 0) ::close(fd);
  }
};

// Opens a store file for reading without following a symbolic link and
// without blocking (a FIFO in a slot's place would block open() for ever),
// refuses anything but a regular file, then makes reads blocking again.
inline result<int> open_regular_for_reading(const std::string& path) noexcept {
  const int fd = posix_open(path.c_str(), O_RDONLY | O_NONBLOCK | nofollow_flag, 0);
  if (fd < 0) return nofollow_errno_to_errc(errno);
  fd_closer closer{fd};
  stat_buf st{};
  if (sys_fstat(fd, &st) != 0) return errno_to_errc(errno);
  if (!S_ISREG(st.st_mode)) return errc::not_regular_file;
  const int fl = ::fcntl(fd, F_GETFL);
  if (fl < 0 || ::fcntl(fd, F_SETFL, fl & ~O_NONBLOCK) != 0) return errno_to_errc(errno);
  closer.fd = -1;
  return fd;
}

// A lock handle holds two descriptors: the lock file's in the low 32 bits,
// the store directory's plus one in the high 32 bits (0: none).
inline lock_handle pack_lock(int file_fd, int dir_fd) noexcept {
  return (static_cast<lock_handle>(static_cast<std::uint32_t>(dir_fd + 1)) << 32) |
         static_cast<std::uint32_t>(file_fd);
}
inline int lock_file_fd(lock_handle l) noexcept { return static_cast<int>(l & 0xffffffffu); }
inline int lock_dir_fd(lock_handle l) noexcept { return static_cast<int>(l >> 32) - 1; }

// flock without waiting: 0 when taken, else the errno (EINTR retried).
inline int try_flock(int fd) noexcept {
  for (;;) {
    if (::flock(fd, LOCK_EX | LOCK_NB) == 0) return 0;
    if (errno != EINTR) return errno;
  }
}

inline bool is_would_block(int e) noexcept { return e == EWOULDBLOCK || e == EAGAIN; }

}  // namespace detail

// The POSIX backend: plain system calls, EINTR and short writes handled,
// every descriptor O_CLOEXEC so a probe child never inherits the store's
// files or lock.
//
// A private store (see docs/STORE.md): directories are created 0700 and files
// 0600, so no other account can read the content or open the lock;
// set_group_readable(true) grants the owner's group read access instead
// (0750 and 0640), for a host whose readers run under another account of
// that group. Store files are never opened through a symbolic link, and only
// regular files are read or locked.
class posix_storage : public storage {
  class posix_map final : public mapped_file {
   public:
    posix_map() = default;
    ~posix_map() override {
      if (size_ != 0) ::munmap(const_cast<std::uint8_t*>(data_), size_);
    }
    void set(void* p, std::size_t n) noexcept {
      data_ = static_cast<const std::uint8_t*>(p);
      size_ = n;
    }
  };

 public:
  posix_storage() = default;
  explicit posix_storage(bool group_readable) noexcept : group_readable_(group_readable) {}

  // Whether directories and files this backend creates from now on, and
  // those check_private() tightens, let the owner's group read them.
  void set_group_readable(bool on) noexcept { group_readable_ = on; }
  bool group_readable() const noexcept { return group_readable_; }

  result<file_handle> create(const std::string& path) override {
    const int fd = detail::posix_open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | detail::nofollow_flag,
                                      file_mode());
    if (fd < 0) return detail::nofollow_errno_to_errc(errno);
    // umask may have taken group read away; a host that asked for it gets it.
    if (group_readable_ && ::fchmod(fd, file_mode()) != 0) {
      const int e = errno;
      ::close(fd);
      ::unlink(path.c_str());
      return detail::errno_to_errc(e);
    }
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
    // O_NONBLOCK: where O_DIRECTORY is missing, a FIFO must not block here.
    const int fd = detail::posix_open(dir.c_str(), O_RDONLY | O_NONBLOCK | detail::directory_flag, 0);
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
    auto opened = detail::open_regular_for_reading(path);
    if (!opened) return opened.error();
    const int fd = *opened;
    detail::fd_closer closer{fd};
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

  result<file_handle> open_read(const std::string& path) override {
    auto opened = detail::open_regular_for_reading(path);
    if (!opened) return opened.error();
    return static_cast<file_handle>(*opened);
  }

  result<void> rewrite(const std::string& path, byte_view data) override {
    // O_NONBLOCK: a FIFO planted under the name fails at once, not waits.
    const int fd = detail::posix_open(path.c_str(), O_WRONLY | O_NONBLOCK | detail::nofollow_flag, 0);
    if (fd < 0) return detail::nofollow_errno_to_errc(errno);
    detail::fd_closer closer{fd};
    detail::stat_buf st{};
    if (detail::sys_fstat(fd, &st) != 0) return detail::errno_to_errc(errno);
    // Nor through a second name: a hard link planted in the store would
    // carry the write to the file it shares (a rename replaces the name).
    if (!S_ISREG(st.st_mode) || st.st_nlink != 1) return errc::not_regular_file;
    if (st.st_size < 0 || static_cast<std::uint64_t>(st.st_size) != data.size()) return errc::invalid_argument;
    std::size_t done = 0;
    while (done < data.size()) {
      const std::size_t want = std::min<std::size_t>(data.size() - done, std::size_t{1} << 30);
      const ssize_t n = detail::sys_pwrite(fd, data.data() + done, want, done);
      if (n < 0) {
        if (errno == EINTR) continue;
        return detail::errno_to_errc(errno);
      }
      if (n == 0) return errc::io_error;
      done += static_cast<std::size_t>(n);
    }
#if defined(__APPLE__)
    if (::fcntl(fd, F_FULLFSYNC) == 0) return ok();
    if (::fsync(fd) != 0) return detail::errno_to_errc(errno);
#else
    // Only the data changed (the size did not): fdatasync writes it without
    // a metadata commit.
    if (::fdatasync(fd) != 0) return detail::errno_to_errc(errno);
#endif
    return ok();
  }

  result<std::size_t> read_at(file_handle f, std::uint64_t offset, std::uint8_t* out,
                              std::size_t n) override {
    std::size_t got = 0;
    while (got < n) {
      if (offset > detail::max_file_offset - got) break;  // past what off_t can name: end of file
      const std::size_t want = std::min<std::size_t>(n - got, std::size_t{1} << 30);
      const ssize_t r = detail::sys_pread(detail::posix_fd(f), out + got, want, offset + got);
      if (r < 0) {
        if (errno == EINTR) continue;
        return detail::errno_to_errc(errno);
      }
      if (r == 0) break;
      got += static_cast<std::size_t>(r);
    }
    return got;
  }

  result<std::uint64_t> file_size(file_handle f) override {
    detail::stat_buf st{};
    if (detail::sys_fstat(detail::posix_fd(f), &st) != 0) return detail::errno_to_errc(errno);
    if (st.st_size < 0) return errc::io_error;
    return static_cast<std::uint64_t>(st.st_size);
  }

  result<void> remove_dir(const std::string& path) override {
    if (::rmdir(path.c_str()) != 0) {
      if (errno == ENOTEMPTY || errno == EEXIST) return errc::busy;
      return detail::errno_to_errc(errno);
    }
    return ok();
  }

  // A shared read-only map (the page cache's pages: no copy). The file is
  // closed once mapped; the map stays valid after the name is removed.
  result<std::shared_ptr<const mapped_file>> map(const std::string& path,
                                                 std::uint64_t max_size) override {
    auto opened = detail::open_regular_for_reading(path);
    if (!opened) return opened.error();
    detail::fd_closer closer{*opened};
    detail::stat_buf st{};
    if (detail::sys_fstat(*opened, &st) != 0) return detail::errno_to_errc(errno);
    if (st.st_size < 0) return errc::io_error;
    const auto size = static_cast<std::uint64_t>(st.st_size);
    if (size > max_size || size > static_cast<std::uint64_t>(SIZE_MAX / 2)) return errc::too_large;
    auto m = std::make_shared<posix_map>();
    if (size == 0) return std::shared_ptr<const mapped_file>(std::move(m));
    void* p = ::mmap(nullptr, static_cast<std::size_t>(size), PROT_READ, MAP_SHARED, *opened, 0);
    if (p == MAP_FAILED) return errno == ENOMEM ? errc::too_large : detail::errno_to_errc(errno);
    m->set(p, static_cast<std::size_t>(size));
    return std::shared_ptr<const mapped_file>(std::move(m));
  }

  // Whether a name exists at path; a symbolic link counts, dangling or not,
  // since it takes the name.
  result<bool> exists(const std::string& path) override {
    detail::stat_buf st{};
    if (detail::sys_lstat(path.c_str(), &st) == 0) return true;
    if (errno == ENOENT || errno == ENOTDIR) return false;
    return detail::errno_to_errc(errno);
  }

  // Two locks, both needed (docs/STORE.md, "The lock"): flock on the lock
  // file, as every earlier version took it, and flock on the store directory
  // itself, which nobody can unlink while the store has files in it. A
  // process that unlinked `lock` under a holder only makes the next opener
  // create a new lock file: the directory's lock still keeps it out. After
  // both are taken, the path must still name the locked file, else a
  // concurrent unlink raced the open and the attempt starts again.
  result<lock_handle> lock(const std::string& path) override {
    const std::string dir = detail::parent_dir(path);
    for (int attempt = 0; attempt < 8; ++attempt) {
      // 0600 whatever group access the store grants: no other account can
      // open the lock file, so none can take its lock.
      const int fd = detail::posix_open(
          path.c_str(), O_RDWR | O_CREAT | O_NONBLOCK | detail::nofollow_flag, 0600);
      if (fd < 0) {
        const int e = errno;
        // A read-only file system, or an account without write access: the
        // store can still be read, without the lock.
        if (e == EROFS || e == EACCES || e == EPERM) return errc::read_only_store;
        return detail::nofollow_errno_to_errc(e);
      }
      detail::fd_closer file_closer{fd};
      detail::stat_buf st{};
      if (detail::sys_fstat(fd, &st) != 0) return detail::errno_to_errc(errno);
      if (!S_ISREG(st.st_mode)) return errc::not_regular_file;
      // Lock files of earlier versions are 0644: any account could open one
      // read-only and take its lock.
      if ((st.st_mode & 077) != 0 && st.st_uid == ::geteuid() && ::fchmod(fd, 0600) != 0)
        return detail::errno_to_errc(errno);

      const int dfd = detail::posix_open(dir.c_str(), O_RDONLY | O_NONBLOCK | detail::directory_flag, 0);
      if (dfd < 0) return detail::errno_to_errc(errno);
      detail::fd_closer dir_closer{dfd};
      int e = detail::try_flock(dfd);
      if (detail::is_would_block(e)) return errc::busy;
      // Where a directory cannot be locked (flock emulated by byte-range
      // locks on NFS wants a descriptor open for writing), the lock file's
      // lock alone stands.
      if (e != 0) {
        ::close(dfd);
        dir_closer.fd = -1;
      }
      e = detail::try_flock(fd);
      if (e != 0) return detail::is_would_block(e) ? errc::busy : detail::errno_to_errc(e);

      detail::stat_buf now{};
      if (detail::sys_lstat(path.c_str(), &now) == 0 && now.st_dev == st.st_dev &&
          now.st_ino == st.st_ino) {
        const int held_dfd = dir_closer.fd;
        file_closer.fd = -1;
        dir_closer.fd = -1;
        return detail::pack_lock(fd, held_dfd);
      }
      // The name was unlinked or replaced after the open: try again on what
      // it names now (the closers release both locks).
    }
    return errc::busy;
  }

  result<void> unlock(lock_handle l) override {
    // Closing the last descriptor of a description releases its lock.
    const int dfd = detail::lock_dir_fd(l);
    const int frc = ::close(detail::lock_file_fd(l));
    const int fe = errno;
    if (dfd >= 0) ::close(dfd);
    if (frc != 0 && fe != EINTR) return detail::errno_to_errc(fe);
    return ok();
  }

  result<void> mkdir(const std::string& path) override {
    const std::string p = detail::trim_separators(path);
    if (p.empty()) return errc::invalid_argument;
    return make_dir(p, 0);
  }

  // Checks dir itself (through a symbolic link the host may have put in its
  // path) and each entry in it (not through links). An entry that belongs to
  // this account and grants read access the backend would not have granted
  // (stores made by earlier versions are 0755 with files 0644) loses it.
  result<void> check_private(const std::string& dir) override {
    const std::string d = detail::trim_separators(dir);
    const int dfd = detail::posix_open(d.c_str(), O_RDONLY | O_NONBLOCK | detail::directory_flag, 0);
    if (dfd < 0) return detail::errno_to_errc(errno);
    detail::fd_closer dir_closer{dfd};
    detail::stat_buf st{};
    if (detail::sys_fstat(dfd, &st) != 0) return detail::errno_to_errc(errno);
    if (!S_ISDIR(st.st_mode)) return errc::invalid_argument;
    SLOTGUARD_TRY(check_entry(dfd, st, dir_mode()));
    auto names = list(d);
    if (!names) return names.error();
    for (const auto& name : *names) {
      detail::stat_buf est{};
      if (detail::sys_fstatat(dfd, name.c_str(), &est) != 0) {
        if (errno == ENOENT) continue;  // removed meanwhile
        return detail::errno_to_errc(errno);
      }
      if (S_ISLNK(est.st_mode)) {
        // A link's own mode means nothing; its owner still must be ours.
        if (!owner_ok(est)) return errc::insecure_permissions;
        continue;
      }
      if (!owner_ok(est) || (est.st_mode & 022) != 0) return errc::insecure_permissions;
      const mode_t allowed = S_ISDIR(est.st_mode) ? dir_mode() : file_mode();
      if ((est.st_mode & 077 & ~allowed) == 0 || est.st_uid != ::geteuid()) continue;
      const int fd = detail::sys_openat(dfd, name.c_str(), O_RDONLY | O_NONBLOCK | detail::nofollow_flag);
      if (fd < 0) {
        if (errno == ENOENT) continue;
        return detail::nofollow_errno_to_errc(errno);
      }
      detail::fd_closer closer{fd};
      SLOTGUARD_TRY(check_entry(fd, est, allowed));
    }
    return ok();
  }

 private:
  mode_t dir_mode() const noexcept { return group_readable_ ? 0750 : 0700; }
  mode_t file_mode() const noexcept { return group_readable_ ? 0640 : 0600; }

  static bool owner_ok(const detail::stat_buf& st) noexcept {
    return st.st_uid == ::geteuid() || st.st_uid == 0;
  }

  // Refuses what others may write; takes away group and other access beyond
  // allowed from what this account owns (fd is open on the entry).
  static result<void> check_entry(int fd, const detail::stat_buf& st, mode_t allowed) noexcept {
    if (!owner_ok(st) || (st.st_mode & 022) != 0) return errc::insecure_permissions;
    const mode_t extra = static_cast<mode_t>(st.st_mode & 077 & ~allowed);
    if (extra == 0 || st.st_uid != ::geteuid()) return ok();
    if (::fchmod(fd, static_cast<mode_t>(st.st_mode & 07777 & ~extra)) != 0)
      return detail::errno_to_errc(errno);
    return ok();
  }

  result<void> make_dir(const std::string& p, int depth) {
    if (::mkdir(p.c_str(), dir_mode()) != 0) {
      const int e = errno;
      if (e == ENOENT && depth < 32) {
        // A missing parent: create it durably first, then this one.
        const std::string parent = detail::parent_dir(p);
        if (parent != p && parent != "." && parent != "/") {
          SLOTGUARD_TRY(make_dir(parent, depth + 1));
          return make_dir(p, depth + 1);
        }
      }
      if (e != EEXIST) return detail::errno_to_errc(e);
      detail::stat_buf st{};
      if (detail::sys_stat(p.c_str(), &st) != 0) return detail::errno_to_errc(errno);
      if (!S_ISDIR(st.st_mode)) return errc::already_exists;
      return ok();
    }
    // umask may have taken group access away; a host that asked for it gets it.
    if (group_readable_ && ::chmod(p.c_str(), dir_mode()) != 0) return detail::errno_to_errc(errno);
    // The new entry is durable once its parent (not the new directory) is.
    return sync_dir(detail::parent_dir(p));
  }

  bool group_readable_ = false;
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

inline bool is_wide_separator(wchar_t c) noexcept { return c == L'/' || c == L'\\'; }

// A UTF-8 path in the form the W functions take. An absolute path
// ("C:/x", "\\server\share\x") becomes its "\\?\" form, so it may be longer
// than MAX_PATH (260): GetFullPathNameW first does what Win32 would do to
// it ('/' to '\', "." and ".." resolved, trailing dots and spaces dropped),
// because after "\\?\" nothing is normalised. Relative paths stay as given.
inline result<std::wstring> win32_path(const std::string& s) {
  auto w = widen(s);
  if (!w) return w.error();
  const std::wstring& p = *w;
  if (p.size() >= 4 && is_wide_separator(p[0]) && is_wide_separator(p[1]) &&
      (p[2] == L'?' || p[2] == L'.') && is_wide_separator(p[3]))
    return std::move(*w);  // already a device or verbatim path
  const bool drive = p.size() >= 3 && p[1] == L':' && is_wide_separator(p[2]) &&
                     ((p[0] >= L'A' && p[0] <= L'Z') || (p[0] >= L'a' && p[0] <= L'z'));
  const bool unc = p.size() >= 3 && is_wide_separator(p[0]) && is_wide_separator(p[1]) &&
                   !is_wide_separator(p[2]);
  if (!drive && !unc) return std::move(*w);
  const DWORD need = ::GetFullPathNameW(p.c_str(), 0, nullptr, nullptr);
  if (need == 0) return last_errc();
  std::wstring full(need, L'\0');
  const DWORD got = ::GetFullPathNameW(p.c_str(), need, &full[0], nullptr);
  if (got == 0 || got >= need) return errc::invalid_argument;
  full.resize(got);
  if (unc) return L"\\\\?\\UNC\\" + full.substr(2);
  return L"\\\\?\\" + full;
}

inline HANDLE win32_handle(std::uint64_t h) noexcept {
  return reinterpret_cast<HANDLE>(static_cast<std::uintptr_t>(h));
}
inline std::uint64_t from_win32_handle(HANDLE h) noexcept {
  return static_cast<std::uint64_t>(reinterpret_cast<std::uintptr_t>(h));
}

// Antivirus scanners, backup agents and the indexer open files for a
// moment; a rename or delete that meets one is tried again, waiting 1, 2,
// 4 ... 64 ms (about 0.4 s in all), then fails with sharing_violation
// (permission_denied when access stayed denied: a file pending deletion
// answers ERROR_ACCESS_DENIED while another handle keeps it, but so does a
// file nobody may delete).
inline constexpr int win32_retry_attempts = 12;

// After the retries: whether path is held open by another program (then
// even a handle that asks only for DELETE and shares everything is refused
// with a sharing violation), as opposed to denied to this account.
inline bool win32_held_open(const std::wstring& path) noexcept {
  const HANDLE h = ::CreateFileW(path.c_str(), DELETE, FILE_SHARE_READ | FILE_SHARE_WRITE | FILE_SHARE_DELETE,
                                 nullptr, OPEN_EXISTING,
                                 FILE_FLAG_OPEN_REPARSE_POINT | FILE_FLAG_BACKUP_SEMANTICS, nullptr);
  if (h != INVALID_HANDLE_VALUE) {
    ::CloseHandle(h);
    return false;
  }
  return ::GetLastError() == ERROR_SHARING_VIOLATION;
}

template <class Op>
result<void> win32_retry(Op op, int attempts = win32_retry_attempts, bool retry_denied = true) {
  DWORD delay_ms = 1;
  for (int attempt = 1;; ++attempt) {
    if (op()) return ok();
    const DWORD e = ::GetLastError();
    const bool transient = e == ERROR_SHARING_VIOLATION || e == ERROR_LOCK_VIOLATION ||
                           (retry_denied && e == ERROR_ACCESS_DENIED);
    if (!transient) return win32_to_errc(e);
    if (attempt >= attempts)
      return e == ERROR_ACCESS_DENIED ? errc::permission_denied : errc::sharing_violation;
    ::Sleep(delay_ms);
    if (delay_ms < 64) delay_ms *= 2;
  }
}

struct win32_closer {
  HANDLE h;
  ~win32_closer() {
    if (h != INVALID_HANDLE_VALUE) ::CloseHandle(h);
  }
};

// Only a regular file on disk: not a directory, a reparse point (symbolic
// link, junction; the handle was opened on the link itself) or a device.
inline result<void> win32_require_regular(HANDLE h) noexcept {
  if (::GetFileType(h) != FILE_TYPE_DISK) return errc::not_regular_file;
  BY_HANDLE_FILE_INFORMATION info{};
  if (!::GetFileInformationByHandle(h, &info)) return last_errc();
  if ((info.dwFileAttributes & (FILE_ATTRIBUTE_DIRECTORY | FILE_ATTRIBUTE_REPARSE_POINT)) != 0)
    return errc::not_regular_file;
  return ok();
}

// This process's user, as a SID that lives in buf.
inline result<PSID> win32_token_user(std::vector<unsigned char>& buf) {
  HANDLE token = nullptr;
  if (!::OpenProcessToken(::GetCurrentProcess(), TOKEN_QUERY, &token)) return last_errc();
  win32_closer token_closer{token};
  DWORD len = 0;
  ::GetTokenInformation(token, TokenUser, nullptr, 0, &len);
  if (len < sizeof(TOKEN_USER)) return last_errc();
  buf.assign(len, 0);
  if (!::GetTokenInformation(token, TokenUser, buf.data(), len, &len)) return last_errc();
  TOKEN_USER user{};
  std::memcpy(&user, buf.data(), sizeof user);
  return user.User.Sid;
}

// The accounts a private store may belong to and grant write access to:
// this process's user, SYSTEM and the Administrators group.
class win32_trusted_accounts {
 public:
  result<void> make() {
    auto user = win32_token_user(user_buf_);
    if (!user) return user.error();
    user_ = *user;
    DWORD n = sizeof system_;
    if (!::CreateWellKnownSid(WinLocalSystemSid, nullptr, system_, &n)) return last_errc();
    n = sizeof admins_;
    if (!::CreateWellKnownSid(WinBuiltinAdministratorsSid, nullptr, admins_, &n)) return last_errc();
    return ok();
  }
  bool holds(PSID sid) const noexcept {
    return sid != nullptr && ::IsValidSid(sid) &&
           (::EqualSid(sid, user_) || ::EqualSid(sid, const_cast<unsigned char*>(system_)) ||
            ::EqualSid(sid, const_cast<unsigned char*>(admins_)));
  }

 private:
  std::vector<unsigned char> user_buf_;
  PSID user_ = nullptr;
  unsigned char system_[SECURITY_MAX_SID_SIZE] = {};
  unsigned char admins_[SECURITY_MAX_SID_SIZE] = {};
};

// insecure_permissions when the security descriptor says its object
// belongs to an account outside trusted, or lets such an account write,
// delete, or change its access (a missing list lets everyone do anything).
// Denying entries only take access away, and inherit-only ones do not
// apply to the object itself.
inline result<void> win32_check_descriptor(PSECURITY_DESCRIPTOR sd, const win32_trusted_accounts& trusted) {
  PSID owner = nullptr;
  BOOL defaulted = FALSE;
  if (!::GetSecurityDescriptorOwner(sd, &owner, &defaulted)) return last_errc();
  BOOL present = FALSE;
  PACL dacl = nullptr;
  if (!::GetSecurityDescriptorDacl(sd, &present, &dacl, &defaulted)) return last_errc();
  if (!trusted.holds(owner) || !present || dacl == nullptr) return errc::insecure_permissions;
  constexpr DWORD writes = FILE_WRITE_DATA | FILE_APPEND_DATA | FILE_WRITE_EA | FILE_WRITE_ATTRIBUTES |
                           FILE_DELETE_CHILD | DELETE | WRITE_DAC | WRITE_OWNER | GENERIC_WRITE |
                           GENERIC_ALL;
  for (DWORD i = 0; i < dacl->AceCount; ++i) {
    void* ace = nullptr;
    if (!::GetAce(dacl, i, &ace)) return last_errc();
    const auto* header = static_cast<const ACE_HEADER*>(ace);
    if (header->AceType != ACCESS_ALLOWED_ACE_TYPE || (header->AceFlags & INHERIT_ONLY_ACE) != 0) continue;
    const auto* allowed = static_cast<const ACCESS_ALLOWED_ACE*>(ace);
    if ((allowed->Mask & writes) == 0) continue;
    if (!trusted.holds(const_cast<DWORD*>(&allowed->SidStart))) return errc::insecure_permissions;
  }
  return ok();
}

// The same check for the file or directory at path (not through a link).
inline result<void> win32_check_private(const std::wstring& path, const win32_trusted_accounts& trusted) {
  const HANDLE h = ::CreateFileW(path.c_str(), READ_CONTROL,
                                 FILE_SHARE_READ | FILE_SHARE_WRITE | FILE_SHARE_DELETE, nullptr,
                                 OPEN_EXISTING, FILE_FLAG_BACKUP_SEMANTICS | FILE_FLAG_OPEN_REPARSE_POINT,
                                 nullptr);
  if (h == INVALID_HANDLE_VALUE) return last_errc();
  win32_closer closer{h};
  PSECURITY_DESCRIPTOR sd = nullptr;
  const DWORD rc = ::GetSecurityInfo(h, SE_FILE_OBJECT, OWNER_SECURITY_INFORMATION | DACL_SECURITY_INFORMATION,
                                     nullptr, nullptr, nullptr, nullptr, &sd);
  if (rc != ERROR_SUCCESS) return win32_to_errc(rc);
  struct sd_free {
    PSECURITY_DESCRIPTOR sd;
    ~sd_free() { ::LocalFree(sd); }
  } free_sd{sd};
  return win32_check_descriptor(sd, trusted);
}

// A security descriptor whose access list, protected from the parent's
// inheritable entries, grants full control to this process's user and to
// SYSTEM only, and is inherited by everything created inside.
class win32_private_descriptor {
 public:
  win32_private_descriptor() = default;
  win32_private_descriptor(const win32_private_descriptor&) = delete;
  win32_private_descriptor& operator=(const win32_private_descriptor&) = delete;
  ~win32_private_descriptor() {
    if (sd_ != nullptr) ::LocalFree(sd_);
  }

  result<void> make() {
    std::vector<unsigned char> buf;
    auto user = win32_token_user(buf);
    if (!user) return user.error();
    LPWSTR sid = nullptr;
    if (!::ConvertSidToStringSidW(*user, &sid)) return last_errc();
    std::wstring sddl = L"D:P(A;OICI;FA;;;";
    sddl += sid;
    sddl += L")(A;OICI;FA;;;SY)";
    ::LocalFree(sid);
    if (!::ConvertStringSecurityDescriptorToSecurityDescriptorW(sddl.c_str(), SDDL_REVISION_1, &sd_,
                                                                nullptr))
      return last_errc();
    return ok();
  }

  SECURITY_ATTRIBUTES attributes() const noexcept {
    SECURITY_ATTRIBUTES sa{};
    sa.nLength = sizeof sa;
    sa.lpSecurityDescriptor = sd_;
    sa.bInheritHandle = FALSE;
    return sa;
  }

 private:
  PSECURITY_DESCRIPTOR sd_ = nullptr;
};

}  // namespace detail

// The Win32 backend, with wide (UTF-16) paths, absolute ones in their
// "\\?\" form. There is no directory sync on Windows: NTFS journals its
// metadata (creates, renames, deletes) itself and user mode cannot flush a
// directory, so sync_dir() succeeds without doing anything; renames are made
// durable by MOVEFILE_WRITE_THROUGH instead. Directories it creates get an
// access list of their own (this user and SYSTEM, nothing inherited from
// the parent), which the files created in them inherit.
class win32_storage final : public storage {
  class win32_map final : public mapped_file {
   public:
    win32_map() = default;
    ~win32_map() override {
      if (size_ != 0) ::UnmapViewOfFile(data_);
    }
    void set(void* p, std::size_t n) noexcept {
      data_ = static_cast<const std::uint8_t*>(p);
      size_ = n;
    }
  };

 public:
  result<file_handle> create(const std::string& path) override {
    auto w = detail::win32_path(path);
    if (!w) return w.error();
    // A name removed while another program still held the file stays
    // taken (pending deletion, ERROR_ACCESS_DENIED) until that handle closes.
    HANDLE h = INVALID_HANDLE_VALUE;
    SLOTGUARD_TRY(detail::win32_retry([&] {
      h = ::CreateFileW(w->c_str(), GENERIC_WRITE, FILE_SHARE_READ | FILE_SHARE_DELETE, nullptr,
                        CREATE_NEW, FILE_ATTRIBUTE_NORMAL, nullptr);
      return h != INVALID_HANDLE_VALUE;
    }));
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
    auto wf = detail::win32_path(from);
    if (!wf) return wf.error();
    auto wt = detail::win32_path(to);
    if (!wt) return wt.error();
    auto r = detail::win32_retry([&] {
      return ::MoveFileExW(wf->c_str(), wt->c_str(),
                           MOVEFILE_REPLACE_EXISTING | MOVEFILE_WRITE_THROUGH) != 0;
    });
    // Replacing a file another program holds open is denied, not refused
    // as a sharing violation: tell the two apart for the caller.
    if (!r && r.error() == errc::permission_denied &&
        (detail::win32_held_open(*wt) || detail::win32_held_open(*wf)))
      return errc::sharing_violation;
    return r;
  }

  result<void> remove(const std::string& path) override {
    auto w = detail::win32_path(path);
    if (!w) return w.error();
    auto r = detail::win32_retry([&] { return ::DeleteFileW(w->c_str()) != 0; });
    if (!r && r.error() == errc::permission_denied && detail::win32_held_open(*w))
      return errc::sharing_violation;
    return r;
  }

  result<void> sync_dir(const std::string& dir) override {
    (void)dir;
    return ok();
  }

  result<std::vector<std::uint8_t>> read_file(const std::string& path,
                                              std::uint64_t max_size) override {
    auto w = detail::win32_path(path);
    if (!w) return w.error();
    const HANDLE h = ::CreateFileW(w->c_str(), GENERIC_READ,
                                   FILE_SHARE_READ | FILE_SHARE_WRITE | FILE_SHARE_DELETE, nullptr,
                                   OPEN_EXISTING, FILE_ATTRIBUTE_NORMAL | FILE_FLAG_OPEN_REPARSE_POINT,
                                   nullptr);
    if (h == INVALID_HANDLE_VALUE) return detail::last_errc();
    detail::win32_closer closer{h};
    SLOTGUARD_TRY(detail::win32_require_regular(h));
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
    auto w = detail::win32_path(detail::join_path(dir, "*"));
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
    auto w = detail::win32_path(path);
    if (!w) return w.error();
    if (::GetFileAttributesW(w->c_str()) != INVALID_FILE_ATTRIBUTES) return true;
    const DWORD e = ::GetLastError();
    if (e == ERROR_FILE_NOT_FOUND || e == ERROR_PATH_NOT_FOUND) return false;
    return detail::win32_to_errc(e);
  }

  result<file_handle> open_read(const std::string& path) override {
    auto w = detail::win32_path(path);
    if (!w) return w.error();
    const HANDLE h = ::CreateFileW(w->c_str(), GENERIC_READ,
                                   FILE_SHARE_READ | FILE_SHARE_WRITE | FILE_SHARE_DELETE, nullptr,
                                   OPEN_EXISTING, FILE_ATTRIBUTE_NORMAL | FILE_FLAG_OPEN_REPARSE_POINT,
                                   nullptr);
    if (h == INVALID_HANDLE_VALUE) return detail::last_errc();
    detail::win32_closer closer{h};
    SLOTGUARD_TRY(detail::win32_require_regular(h));
    closer.h = INVALID_HANDLE_VALUE;
    return detail::from_win32_handle(h);
  }

  result<void> rewrite(const std::string& path, byte_view data) override {
    auto w = detail::win32_path(path);
    if (!w) return w.error();
    const HANDLE h = ::CreateFileW(w->c_str(), GENERIC_WRITE, FILE_SHARE_READ | FILE_SHARE_DELETE, nullptr,
                                   OPEN_EXISTING, FILE_ATTRIBUTE_NORMAL | FILE_FLAG_OPEN_REPARSE_POINT, nullptr);
    if (h == INVALID_HANDLE_VALUE) return detail::last_errc();
    detail::win32_closer closer{h};
    SLOTGUARD_TRY(detail::win32_require_regular(h));
    // Nor through a second name (a hard link shares the file).
    BY_HANDLE_FILE_INFORMATION info{};
    if (!::GetFileInformationByHandle(h, &info)) return detail::last_errc();
    if (info.nNumberOfLinks != 1) return errc::not_regular_file;
    LARGE_INTEGER size{};
    if (!::GetFileSizeEx(h, &size)) return detail::last_errc();
    if (size.QuadPart < 0 || static_cast<std::uint64_t>(size.QuadPart) != data.size()) return errc::invalid_argument;
    std::size_t done = 0;
    while (done < data.size()) {
      const std::size_t want = data.size() - done;
      const DWORD chunk = want < (std::size_t{1} << 30) ? static_cast<DWORD>(want) : (DWORD{1} << 30);
      const std::uint64_t at = done;
      OVERLAPPED ov{};
      ov.Offset = static_cast<DWORD>(at & 0xffffffffu);
      ov.OffsetHigh = static_cast<DWORD>(at >> 32);
      DWORD n = 0;
      if (!::WriteFile(h, data.data() + done, chunk, &n, &ov)) return detail::last_errc();
      if (n == 0) return errc::io_error;
      done += n;
    }
    if (!::FlushFileBuffers(h)) return detail::last_errc();
    return ok();
  }

  result<std::size_t> read_at(file_handle f, std::uint64_t offset, std::uint8_t* out,
                              std::size_t n) override {
    // At or past the end: nothing (an offset beyond what the file system can
    // address is refused by ReadFile otherwise).
    LARGE_INTEGER size{};
    if (!::GetFileSizeEx(detail::win32_handle(f), &size)) return detail::last_errc();
    if (size.QuadPart < 0 || offset >= static_cast<std::uint64_t>(size.QuadPart)) return std::size_t{0};
    std::size_t got = 0;
    while (got < n) {
      const std::size_t want = n - got;
      const DWORD chunk = want < (std::size_t{1} << 30) ? static_cast<DWORD>(want) : (DWORD{1} << 30);
      const std::uint64_t at = offset + got;
      OVERLAPPED ov{};
      ov.Offset = static_cast<DWORD>(at & 0xffffffffu);
      ov.OffsetHigh = static_cast<DWORD>(at >> 32);
      DWORD done = 0;
      if (!::ReadFile(detail::win32_handle(f), out + got, chunk, &done, &ov)) {
        if (::GetLastError() == ERROR_HANDLE_EOF) break;
        return detail::last_errc();
      }
      if (done == 0) break;
      got += done;
    }
    return got;
  }

  result<std::uint64_t> file_size(file_handle f) override {
    LARGE_INTEGER size{};
    if (!::GetFileSizeEx(detail::win32_handle(f), &size)) return detail::last_errc();
    if (size.QuadPart < 0) return errc::io_error;
    return static_cast<std::uint64_t>(size.QuadPart);
  }

  result<void> remove_dir(const std::string& path) override {
    auto w = detail::win32_path(path);
    if (!w) return w.error();
    if (::RemoveDirectoryW(w->c_str())) return ok();
    const DWORD e = ::GetLastError();
    if (e == ERROR_DIR_NOT_EMPTY) return errc::busy;
    return detail::win32_to_errc(e);
  }

  // A read-only view of a file mapping. While it exists the file cannot be
  // removed (the store defers removing a slot until no reader holds it).
  result<std::shared_ptr<const mapped_file>> map(const std::string& path,
                                                 std::uint64_t max_size) override {
    auto opened = open_read(path);
    if (!opened) return opened.error();
    const HANDLE h = detail::win32_handle(*opened);
    detail::win32_closer closer{h};
    LARGE_INTEGER size{};
    if (!::GetFileSizeEx(h, &size)) return detail::last_errc();
    if (size.QuadPart < 0) return errc::io_error;
    const auto n = static_cast<std::uint64_t>(size.QuadPart);
    if (n > max_size || n > static_cast<std::uint64_t>(SIZE_MAX / 2)) return errc::too_large;
    auto m = std::make_shared<win32_map>();
    if (n == 0) return std::shared_ptr<const mapped_file>(std::move(m));
    const HANDLE mapping = ::CreateFileMappingW(h, nullptr, PAGE_READONLY, 0, 0, nullptr);
    if (mapping == nullptr) return detail::last_errc();
    void* p = ::MapViewOfFile(mapping, FILE_MAP_READ, 0, 0, static_cast<SIZE_T>(n));
    const DWORD e = ::GetLastError();
    ::CloseHandle(mapping);  // the view keeps the mapping alive
    if (p == nullptr) return e == ERROR_NOT_ENOUGH_MEMORY ? errc::too_large : detail::win32_to_errc(e);
    m->set(p, static_cast<std::size_t>(n));
    return std::shared_ptr<const mapped_file>(std::move(m));
  }

  // The lock file is opened with no sharing at all: while it is held no
  // other handle to it can exist, so nobody else can lock it, and nobody can
  // delete or rename it (that needs a handle with DELETE access). A short
  // retry rides out a scanner that has the file open for a moment.
  result<lock_handle> lock(const std::string& path) override {
    auto w = detail::win32_path(path);
    if (!w) return w.error();
    HANDLE h = INVALID_HANDLE_VALUE;
    auto opened = detail::win32_retry(
        [&] {
          h = ::CreateFileW(w->c_str(), GENERIC_READ | GENERIC_WRITE, 0, nullptr, OPEN_ALWAYS,
                            FILE_ATTRIBUTE_NORMAL | FILE_FLAG_OPEN_REPARSE_POINT, nullptr);
          return h != INVALID_HANDLE_VALUE;
        },
        4, false);
    if (!opened) {
      if (opened.error() == errc::sharing_violation) return errc::busy;
      // A read-only volume or an account without write access: the store
      // can still be read, without the lock.
      if (opened.error() == errc::permission_denied) return errc::read_only_store;
      return opened.error();
    }
    detail::win32_closer closer{h};
    SLOTGUARD_TRY(detail::win32_require_regular(h));
    OVERLAPPED ov{};
    // Byte-range locks belong to the handle: a second handle in the same
    // process is refused as another process would be.
    if (!::LockFileEx(h, LOCKFILE_EXCLUSIVE_LOCK | LOCKFILE_FAIL_IMMEDIATELY, 0, MAXDWORD, MAXDWORD,
                      &ov)) {
      const DWORD e = ::GetLastError();
      return e == ERROR_LOCK_VIOLATION || e == ERROR_IO_PENDING ? errc::busy
                                                                 : detail::win32_to_errc(e);
    }
    closer.h = INVALID_HANDLE_VALUE;
    return detail::from_win32_handle(h);
  }

  result<void> unlock(lock_handle l) override {
    OVERLAPPED ov{};
    const HANDLE h = detail::win32_handle(l);
    ::UnlockFileEx(h, 0, MAXDWORD, MAXDWORD, &ov);
    if (!::CloseHandle(h)) return detail::last_errc();
    return ok();
  }

  // The directory and each entry in it must belong to this process's user,
  // SYSTEM or the Administrators group, and grant no other account write,
  // delete or access-changing rights: insecure_permissions otherwise.
  // Nothing is changed.
  result<void> check_private(const std::string& dir) override {
    const std::string d = detail::trim_separators(dir);
    detail::win32_trusted_accounts trusted;
    SLOTGUARD_TRY(trusted.make());
    auto w = detail::win32_path(d);
    if (!w) return w.error();
    SLOTGUARD_TRY(detail::win32_check_private(*w, trusted));
    auto names = list(d);
    if (!names) return names.error();
    for (const auto& name : *names) {
      auto e = detail::win32_path(detail::join_path(d, name));
      if (!e) return e.error();
      auto r = detail::win32_check_private(*e, trusted);
      if (!r && r.error() != errc::not_found) return r.error();
    }
    return ok();
  }

  result<void> mkdir(const std::string& path) override {
    const std::string p = detail::trim_separators(path);
    if (p.empty()) return errc::invalid_argument;
    detail::win32_private_descriptor sd;
    SLOTGUARD_TRY(sd.make());
    return make_dir(p, sd, 0);
  }

 private:
  static result<void> make_dir(const std::string& p, const detail::win32_private_descriptor& sd,
                               int depth) {
    auto w = detail::win32_path(p);
    if (!w) return w.error();
    SECURITY_ATTRIBUTES sa = sd.attributes();
    if (::CreateDirectoryW(w->c_str(), &sa)) return ok();
    const DWORD e = ::GetLastError();
    if (e == ERROR_PATH_NOT_FOUND && depth < 32) {
      const std::string parent = detail::parent_dir(p);
      if (parent != p && parent != ".") {
        SLOTGUARD_TRY(make_dir(parent, sd, depth + 1));
        return make_dir(p, sd, depth + 1);
      }
    }
    if (e != ERROR_ALREADY_EXISTS) return detail::win32_to_errc(e);
    const DWORD attrs = ::GetFileAttributesW(w->c_str());
    if (attrs == INVALID_FILE_ATTRIBUTES) return detail::last_errc();
    if ((attrs & FILE_ATTRIBUTE_DIRECTORY) == 0) return errc::already_exists;
    return ok();
  }
};

using native_storage = win32_storage;

#endif  // SLOTGUARD_OS_WINDOWS

}  // inline namespace SLOTGUARD_ABI_NAMESPACE
}  // namespace slotguard

#endif  // SLOTGUARD_STORAGE_HPP
