// SPDX-License-Identifier: Apache-2.0
// An in-memory storage that models durability the way a real file system
// does, for power-loss and fault-injection tests of the store (and of hosts'
// own code built on the storage interface). A file's data is durable only
// after its flush; a create, rename or remove only after its directory's sync.
// It can fail the Nth call (of any kind or of one kind) with io_error; cut
// the power after the Nth call; and on reboot keep only what was durable plus
// any chosen subset of the unsynced operations (each file's writes kept as a
// prefix, in order, optionally torn at any byte), as a real file system may.
// Copyable: a test can snapshot the machine at the moment of a cut and try
// many reboots of it.
#ifndef SLOTGUARD_SIM_STORAGE_HPP
#define SLOTGUARD_SIM_STORAGE_HPP

#include <slotguard/config.hpp>

#include <slotguard/bytes.hpp>
#include <slotguard/error.hpp>
#include <slotguard/storage.hpp>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

namespace slotguard {
inline namespace SLOTGUARD_ABI_NAMESPACE {

// The kinds of storage calls, for counting and targeted failures.
enum class sim_call : std::uint8_t {
  any,
  create,
  write,
  flush,
  close,
  rename,
  remove,
  sync_dir,
  read_file,
  list,
  exists,
  lock,
  unlock,
  mkdir,
  open_read,
  read_at,
  remove_dir
};

// What survives a power cut besides what was durable.
struct sim_power_cut {
  enum class keep_mode : std::uint8_t {
    durable_only,  // nothing unsynced survives
    everything,    // every unsynced operation survives (as if synced)
    mask,          // unsynced operation i survives when bit i of mask is set
    random         // each unsynced operation survives with probability 1/2 (seed)
  };
  keep_mode keep = keep_mode::durable_only;
  std::uint64_t mask = 0;
  std::uint64_t seed = 0;
  // Tears the unsynced write with this index (in unsynced()) when it is
  // kept: only its first tear_bytes bytes survive, and no later write of that
  // file. npos: no tear.
  std::size_t tear_op = static_cast<std::size_t>(-1);
  std::size_t tear_bytes = 0;
};

// One unsynced operation, as unsynced() reports it.
struct sim_unsynced_op {
  sim_call kind = sim_call::any;  // write, create, rename or remove
  std::string path;               // for rename: the destination
  std::size_t size = 0;           // bytes, for a write
};

class sim_storage final : public storage {
 public:
  using write_observer = std::function<void(const std::string& path, byte_view data)>;

  sim_storage() = default;

  // --- fault injection -------------------------------------------------
  // The n-th call (1-based, counted from now) of the given kind fails with
  // io_error and changes nothing. One armed failure at a time; n = 0 disarms.
  void fail_nth_call(std::uint64_t n, sim_call kind = sim_call::any) noexcept {
    fail_in_ = n;
    fail_kind_ = kind;
  }
  // The power goes off right after the n-th call (1-based, counted from
  // now) has taken effect; every later call fails with io_error and changes
  // nothing until reboot(). n = 0 disarms.
  void cut_power_after(std::uint64_t n) noexcept { cut_in_ = n; }
  void cut_power() noexcept { powered_ = false; }
  // A read-only file system (a remount after errors, or a user without
  // write access): every call that would create, change, remove or lock
  // fails with read_only_store; reads go on.
  void set_read_only(bool on) noexcept { read_only_ = on; }
  bool read_only() const noexcept { return read_only_; }
  bool powered() const noexcept { return powered_; }
  // Calls made since construction (failed ones included).
  std::uint64_t call_count() const noexcept { return calls_; }
  // The operations not yet durable, oldest first (indices for the mask).
  std::vector<sim_unsynced_op> unsynced() const {
    std::lock_guard<std::recursive_mutex> serial(mu_.m);
    std::vector<sim_unsynced_op> out;
    for (const pending_op& p : pending_) {
      sim_unsynced_op o;
      o.kind = p.kind;
      o.path = p.kind == sim_call::rename ? p.to : p.path;
      o.size = p.data.size();
      out.push_back(std::move(o));
    }
    return out;
  }
  // Turns the machine on again after a cut (cutting it first if still on):
  // the files are what was durable plus what `cut` keeps; every handle and
  // lock is gone.
  void reboot(const sim_power_cut& cut = {}) {
    std::lock_guard<std::recursive_mutex> serial(mu_.m);
    powered_ = false;
    std::uint64_t rng = cut.seed * 0x9E3779B97F4A7C15ull + 0x2545F4914F6CDD1Dull;
    std::map<std::uint64_t, std::vector<std::uint8_t>> data;
    for (auto& kv : inodes_) data[kv.first] = kv.second.durable;
    dir_map dirs = durable_;
    std::set<std::uint64_t> cut_files;  // files whose later writes are lost
    for (std::size_t i = 0; i < pending_.size(); ++i) {
      const pending_op& p = pending_[i];
      bool keep = false;
      switch (cut.keep) {
        case sim_power_cut::keep_mode::durable_only: keep = false; break;
        case sim_power_cut::keep_mode::everything: keep = true; break;
        case sim_power_cut::keep_mode::mask: keep = i < 64 && ((cut.mask >> i) & 1u) != 0; break;
        case sim_power_cut::keep_mode::random: keep = (splitmix(rng) & 1u) != 0; break;
      }
      if (p.kind == sim_call::write) {
        if (cut_files.count(p.inode) != 0) continue;
        if (!keep) {
          cut_files.insert(p.inode);
          continue;
        }
        std::vector<std::uint8_t>& d = data[p.inode];
        std::size_t n = p.data.size();
        if (i == cut.tear_op) {
          if (cut.tear_bytes < n) n = cut.tear_bytes;
          cut_files.insert(p.inode);
        }
        // An append extends the file; a rewrite in place replaces bytes and
        // keeps what lies after them (a torn rewrite: new bytes, then old).
        const auto at = static_cast<std::size_t>(p.offset);
        if (d.size() < at + n) d.resize(at + n);
        std::copy(p.data.begin(), p.data.begin() + static_cast<std::ptrdiff_t>(n),
                  d.begin() + static_cast<std::ptrdiff_t>(at));
        continue;
      }
      if (!keep) continue;
      auto& entries = dirs[p.dir];
      if (p.kind == sim_call::create) {
        entries[p.name] = p.inode;
      } else if (p.kind == sim_call::remove) {
        auto it = entries.find(p.name);
        if (it != entries.end() && it->second == p.inode) entries.erase(it);
      } else if (p.kind == sim_call::rename) {
        auto it = entries.find(p.name);
        if (it != entries.end() && it->second == p.inode) entries.erase(it);
        entries[p.to_name] = p.inode;
      }
    }
    pending_.clear();
    handles_.clear();
    locks_.clear();
    current_ = dirs;
    durable_ = std::move(dirs);
    // Only files some entry names survive.
    std::map<std::uint64_t, inode> kept;
    for (const auto& d : current_)
      for (const auto& e : d.second) {
        inode n;
        n.data = data[e.second];
        n.durable = n.data;
        kept[e.second] = std::move(n);
      }
    inodes_ = std::move(kept);
    powered_ = true;
    fail_in_ = 0;
    cut_in_ = 0;
  }

  // --- observation and direct access (no call counted, no fault) --------
  // Called on every write with the path the file was created under.
  void on_write(write_observer w) { observer_ = std::move(w); }
  // The current (not necessarily durable) content of the file at path.
  std::optional<std::vector<std::uint8_t>> peek(const std::string& path) const {
    std::lock_guard<std::recursive_mutex> serial(mu_.m);
    auto id = lookup(current_, path);
    if (!id) return std::nullopt;
    return inodes_.at(*id).data;
  }
  // Replaces the file's content durably, creating it when needed (for
  // tests that corrupt a file on purpose). The directory must exist.
  void poke(const std::string& path, byte_view bytes) {
    std::lock_guard<std::recursive_mutex> serial(mu_.m);
    const auto dn = split(path);
    auto id = lookup(current_, path);
    if (!id) {
      id = next_inode_++;
      current_[dn.first][dn.second] = *id;
      durable_[dn.first][dn.second] = *id;
    }
    inode& n = inodes_[*id];
    n.data = bytes.to_vector();
    n.durable = n.data;
    for (auto it = pending_.begin(); it != pending_.end();)
      it = (it->kind == sim_call::write && it->inode == *id) ? pending_.erase(it) : it + 1;
  }
  // Removes the file at path durably (for tests).
  void erase(const std::string& path) {
    std::lock_guard<std::recursive_mutex> serial(mu_.m);
    const auto dn = split(path);
    current_[dn.first].erase(dn.second);
    durable_[dn.first].erase(dn.second);
  }
  // Every file's path, current view, sorted.
  std::vector<std::string> files() const {
    std::lock_guard<std::recursive_mutex> serial(mu_.m);
    std::vector<std::string> out;
    for (const auto& d : current_)
      for (const auto& e : d.second) out.push_back(detail::join_path(d.first, e.first));
    return out;
  }
  // A 64-bit fingerprint of the current tree (names and contents), for
  // counting distinct states.
  std::uint64_t fingerprint() const {
    std::lock_guard<std::recursive_mutex> serial(mu_.m);
    std::uint64_t h = 1469598103934665603ull;
    auto mix = [&h](const void* p, std::size_t n) {
      const auto* b = static_cast<const std::uint8_t*>(p);
      for (std::size_t i = 0; i < n; ++i) {
        h ^= b[i];
        h *= 1099511628211ull;
      }
    };
    for (const auto& d : current_) {
      mix(d.first.data(), d.first.size());
      for (const auto& e : d.second) {
        mix(e.first.data(), e.first.size() + 1);
        const auto& v = inodes_.at(e.second).data;
        const std::uint64_t n = v.size();
        mix(&n, sizeof n);
        if (!v.empty()) mix(v.data(), v.size());
      }
    }
    return h;
  }

  // --- the storage interface ---------------------------------------------
  result<file_handle> create(const std::string& path) override {
    std::lock_guard<std::recursive_mutex> serial(mu_.m);
    SLOTGUARD_TRY(enter(sim_call::create));
    const auto dn = split(path);
    auto d = current_.find(dn.first);
    if (d == current_.end() || dn.second.empty()) return fail(errc::not_found);
    if (d->second.count(dn.second) != 0) return fail(errc::already_exists);
    const std::uint64_t id = next_inode_++;
    inodes_[id] = inode{};
    d->second[dn.second] = id;
    pending_op p;
    p.kind = sim_call::create;
    p.path = path;
    p.dir = dn.first;
    p.name = dn.second;
    p.inode = id;
    pending_.push_back(std::move(p));
    const file_handle h = next_handle_++;
    handles_[h] = open_file{id, path};
    return done(h);
  }

  result<void> write(file_handle f, byte_view data) override {
    std::lock_guard<std::recursive_mutex> serial(mu_.m);
    SLOTGUARD_TRY(enter(sim_call::write));
    auto it = handles_.find(f);
    if (it == handles_.end()) return fail(errc::io_error);
    if (observer_) observer_(it->second.path, data);
    inode& n = inodes_[it->second.inode];
    pending_op p;
    p.kind = sim_call::write;
    p.path = it->second.path;
    p.inode = it->second.inode;
    p.offset = n.data.size();
    p.data = data.to_vector();
    pending_.push_back(std::move(p));
    n.data.insert(n.data.end(), data.begin(), data.end());
    return done_ok();
  }

  result<void> flush(file_handle f) override {
    std::lock_guard<std::recursive_mutex> serial(mu_.m);
    SLOTGUARD_TRY(enter(sim_call::flush));
    auto it = handles_.find(f);
    if (it == handles_.end()) return fail(errc::io_error);
    const std::uint64_t id = it->second.inode;
    inode& n = inodes_[id];
    n.durable = n.data;
    for (auto p = pending_.begin(); p != pending_.end();)
      p = (p->kind == sim_call::write && p->inode == id) ? pending_.erase(p) : p + 1;
    return done_ok();
  }

  // Like POSIX close(), the handle is gone even when the call fails.
  result<void> close(file_handle f) override {
    std::lock_guard<std::recursive_mutex> serial(mu_.m);
    const bool known = handles_.erase(f) != 0;
    SLOTGUARD_TRY(enter(sim_call::close));
    if (!known) return fail(errc::io_error);
    return done_ok();
  }

  result<void> rename(const std::string& from, const std::string& to) override {
    std::lock_guard<std::recursive_mutex> serial(mu_.m);
    SLOTGUARD_TRY(enter(sim_call::rename));
    const auto a = split(from);
    const auto b = split(to);
    // Renames across directories are not modelled (the store never does one).
    if (a.first != b.first) return fail(errc::unsupported);
    auto d = current_.find(a.first);
    if (d == current_.end()) return fail(errc::not_found);
    auto e = d->second.find(a.second);
    if (e == d->second.end()) return fail(errc::not_found);
    const std::uint64_t id = e->second;
    d->second.erase(e);
    d->second[b.second] = id;
    pending_op p;
    p.kind = sim_call::rename;
    p.path = from;
    p.to = to;
    p.dir = a.first;
    p.name = a.second;
    p.to_name = b.second;
    p.inode = id;
    pending_.push_back(std::move(p));
    return done_ok();
  }

  result<void> remove(const std::string& path) override {
    std::lock_guard<std::recursive_mutex> serial(mu_.m);
    SLOTGUARD_TRY(enter(sim_call::remove));
    const auto dn = split(path);
    auto d = current_.find(dn.first);
    if (d == current_.end()) return fail(errc::not_found);
    auto e = d->second.find(dn.second);
    if (e == d->second.end()) return fail(errc::not_found);
    pending_op p;
    p.kind = sim_call::remove;
    p.path = path;
    p.dir = dn.first;
    p.name = dn.second;
    p.inode = e->second;
    d->second.erase(e);
    pending_.push_back(std::move(p));
    return done_ok();
  }

  result<void> sync_dir(const std::string& dir) override {
    std::lock_guard<std::recursive_mutex> serial(mu_.m);
    SLOTGUARD_TRY(enter(sim_call::sync_dir));
    auto d = current_.find(dir);
    if (d == current_.end()) return fail(errc::not_found);
    durable_[dir] = d->second;
    for (auto p = pending_.begin(); p != pending_.end();)
      p = (p->kind != sim_call::write && p->dir == dir) ? pending_.erase(p) : p + 1;
    return done_ok();
  }

  result<std::vector<std::uint8_t>> read_file(const std::string& path,
                                              std::uint64_t max_size) override {
    std::lock_guard<std::recursive_mutex> serial(mu_.m);
    SLOTGUARD_TRY(enter(sim_call::read_file));
    auto id = lookup(current_, path);
    if (!id) return fail(errc::not_found);
    const auto& v = inodes_.at(*id).data;
    if (v.size() > max_size) return fail(errc::too_large);
    return done(v);
  }

  result<std::vector<std::string>> list(const std::string& dir) override {
    std::lock_guard<std::recursive_mutex> serial(mu_.m);
    SLOTGUARD_TRY(enter(sim_call::list));
    auto d = current_.find(dir);
    if (d == current_.end()) return fail(errc::not_found);
    std::vector<std::string> names;
    for (const auto& e : d->second) names.push_back(e.first);
    for (const std::string& sub : subdirs(dir)) names.push_back(sub);
    return done(std::move(names));
  }

  result<bool> exists(const std::string& path) override {
    std::lock_guard<std::recursive_mutex> serial(mu_.m);
    SLOTGUARD_TRY(enter(sim_call::exists));
    const bool found = current_.count(path) != 0 || lookup(current_, path).has_value();
    return done(found);
  }

  result<lock_handle> lock(const std::string& path) override {
    std::lock_guard<std::recursive_mutex> serial(mu_.m);
    SLOTGUARD_TRY(enter(sim_call::lock));
    if (current_.find(split(path).first) == current_.end()) return fail(errc::not_found);
    for (const auto& l : locks_)
      if (l.second == path) return fail(errc::busy);
    const lock_handle h = next_handle_++;
    locks_[h] = path;
    return done(h);
  }

  // The lock is released even when the call fails, as closing a
  // descriptor releases its flock.
  result<void> unlock(lock_handle l) override {
    std::lock_guard<std::recursive_mutex> serial(mu_.m);
    const bool known = locks_.erase(l) != 0;
    SLOTGUARD_TRY(enter(sim_call::unlock));
    if (!known) return fail(errc::io_error);
    return done_ok();
  }

  // Reads see the current (not necessarily durable) content, as read_file.
  result<file_handle> open_read(const std::string& path) override {
    std::lock_guard<std::recursive_mutex> serial(mu_.m);
    SLOTGUARD_TRY(enter(sim_call::open_read));
    auto id = lookup(current_, path);
    if (!id) return fail(current_.count(path) != 0 ? errc::not_regular_file : errc::not_found);
    const file_handle h = next_handle_++;
    handles_[h] = open_file{*id, path};
    return done(h);
  }

  result<std::size_t> read_at(file_handle f, std::uint64_t offset, std::uint8_t* out,
                              std::size_t n) override {
    std::lock_guard<std::recursive_mutex> serial(mu_.m);
    SLOTGUARD_TRY(enter(sim_call::read_at));
    auto it = handles_.find(f);
    if (it == handles_.end()) return fail(errc::io_error);
    const auto& v = inodes_.at(it->second.inode).data;
    if (offset >= v.size()) return done(std::size_t{0});
    const std::size_t at = static_cast<std::size_t>(offset);
    const std::size_t k = std::min(n, v.size() - at);
    if (k != 0) std::memcpy(out, v.data() + at, k);
    return done(k);
  }

  result<std::uint64_t> file_size(file_handle f) override {
    std::lock_guard<std::recursive_mutex> serial(mu_.m);
    auto it = handles_.find(f);
    if (it == handles_.end()) return errc::io_error;
    return static_cast<std::uint64_t>(inodes_.at(it->second.inode).data.size());
  }

  // Two counted calls, as the real call makes two steps: a write in place
  // (sim_call::write; unsynced, so a cut keeps it, loses it or tears it),
  // then its flush (sim_call::flush).
  result<void> rewrite(const std::string& path, byte_view data) override {
    std::lock_guard<std::recursive_mutex> serial(mu_.m);
    SLOTGUARD_TRY(enter(sim_call::write));
    auto id = lookup(current_, path);
    if (!id) return fail(errc::not_found);
    inode& n = inodes_[*id];
    if (n.data.size() != data.size()) return fail(errc::invalid_argument);
    if (observer_) observer_(path, data);
    pending_op p;
    p.kind = sim_call::write;
    p.path = path;
    p.inode = *id;
    p.offset = 0;
    p.data = data.to_vector();
    pending_.push_back(std::move(p));
    std::copy(data.begin(), data.end(), n.data.begin());
    after_call();
    SLOTGUARD_TRY(enter(sim_call::flush));
    n.durable = n.data;
    for (auto q = pending_.begin(); q != pending_.end();)
      q = (q->kind == sim_call::write && q->inode == *id) ? pending_.erase(q) : q + 1;
    return done_ok();
  }

  // Like mkdir, durable at once; busy when the directory holds anything.
  result<void> remove_dir(const std::string& path) override {
    std::lock_guard<std::recursive_mutex> serial(mu_.m);
    SLOTGUARD_TRY(enter(sim_call::remove_dir));
    auto d = current_.find(path);
    if (d == current_.end()) return fail(lookup(current_, path) ? errc::io_error : errc::not_found);
    if (!d->second.empty() || !subdirs(path).empty()) return fail(errc::busy);
    current_.erase(d);
    durable_.erase(path);
    return done_ok();
  }

  // Directories are created durably at once (the store's directory exists
  // before any of its files matter).
  result<void> mkdir(const std::string& path) override {
    std::lock_guard<std::recursive_mutex> serial(mu_.m);
    SLOTGUARD_TRY(enter(sim_call::mkdir));
    if (lookup(current_, path)) return fail(errc::already_exists);
    // Missing parents too, as the real backends make them.
    for (std::string p = path; !p.empty() && current_.count(p) == 0;) {
      current_[p];
      durable_[p];
      const auto pos = p.find_last_of('/');
      if (pos == std::string::npos || pos == 0) break;
      p = p.substr(0, pos);
    }
    return done_ok();
  }

 private:
  using dir_map = std::map<std::string, std::map<std::string, std::uint64_t>>;
  struct inode {
    std::vector<std::uint8_t> data;     // what reads see
    std::vector<std::uint8_t> durable;  // what survives a cut for sure
  };
  struct open_file {
    std::uint64_t inode = 0;
    std::string path;
  };
  struct pending_op {
    sim_call kind = sim_call::any;
    std::string path, to, dir, name, to_name;
    std::uint64_t inode = 0;
    std::uint64_t offset = 0;
    std::vector<std::uint8_t> data;
  };

  static std::uint64_t splitmix(std::uint64_t& x) noexcept {
    std::uint64_t z = (x += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
  }

  static std::pair<std::string, std::string> split(const std::string& path) {
    const auto pos = path.find_last_of('/');
    if (pos == std::string::npos) return {".", path};
    return {pos == 0 ? std::string("/") : path.substr(0, pos), path.substr(pos + 1)};
  }

  // The names of the directories directly under dir.
  std::vector<std::string> subdirs(const std::string& dir) const {
    std::vector<std::string> out;
    const std::string prefix = dir == "/" ? dir : dir + "/";
    for (auto it = current_.lower_bound(prefix); it != current_.end(); ++it) {
      if (it->first.compare(0, prefix.size(), prefix) != 0) break;
      const std::string rest = it->first.substr(prefix.size());
      if (!rest.empty() && rest.find('/') == std::string::npos) out.push_back(rest);
    }
    return out;
  }

  static std::optional<std::uint64_t> lookup(const dir_map& m, const std::string& path) {
    const auto dn = split(path);
    auto d = m.find(dn.first);
    if (d == m.end()) return std::nullopt;
    auto e = d->second.find(dn.second);
    if (e == d->second.end()) return std::nullopt;
    return e->second;
  }

  // Counts the call and decides whether it runs: io_error when the power is
  // off or this is the call chosen to fail.
  result<void> enter(sim_call kind) noexcept {
    ++calls_;
    if (!powered_) return errc::io_error;
    if (read_only_ && (kind == sim_call::create || kind == sim_call::write ||
                       kind == sim_call::rename || kind == sim_call::remove ||
                       kind == sim_call::lock || kind == sim_call::mkdir)) {
      after_call();
      return errc::read_only_store;
    }
    if (fail_in_ != 0 && (fail_kind_ == sim_call::any || fail_kind_ == kind)) {
      if (--fail_in_ == 0) {
        after_call();
        return errc::io_error;
      }
    }
    return ok();
  }
  void after_call() noexcept {
    if (cut_in_ != 0 && --cut_in_ == 0) powered_ = false;
  }
  result<void> done_ok() noexcept {
    after_call();
    return ok();
  }
  errc fail(errc e) noexcept {
    after_call();
    return e;
  }
  template <class T>
  T done(T v) {
    after_call();
    return v;
  }

  // Every call is serialised, as a real file system's are: a guard serves
  // operator requests on its watchdog's thread beside its own I/O. Copies
  // (the crash tests copy a machine) get a mutex of their own.
  struct copyable_mutex {
    std::recursive_mutex m;
    copyable_mutex() = default;
    copyable_mutex(const copyable_mutex&) {}
    copyable_mutex& operator=(const copyable_mutex&) { return *this; }
  };
  mutable copyable_mutex mu_;
  bool read_only_ = false;
  dir_map current_;
  dir_map durable_;
  std::map<std::uint64_t, inode> inodes_;
  std::vector<pending_op> pending_;
  std::map<file_handle, open_file> handles_;
  std::map<lock_handle, std::string> locks_;
  write_observer observer_;
  std::uint64_t next_inode_ = 1;
  std::uint64_t next_handle_ = 1;
  std::uint64_t calls_ = 0;
  std::uint64_t fail_in_ = 0;
  sim_call fail_kind_ = sim_call::any;
  std::uint64_t cut_in_ = 0;
  bool powered_ = true;
};

}  // inline namespace SLOTGUARD_ABI_NAMESPACE
}  // namespace slotguard

#endif  // SLOTGUARD_SIM_STORAGE_HPP
