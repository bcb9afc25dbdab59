// SPDX-License-Identifier: Apache-2.0
// The readers' side of hot-swap publication (slotguard/snapshot.hpp): the
// per-thread snapshot_reader, whose hot path is one atomic load while
// nothing changed and which never waits for a writer, and the part of a
// cell's state it uses. A reader's translation unit (slotguard/reader.hpp)
// includes this alone; slotguard/snapshot.hpp includes it and adds the
// writers' side, snapshot_cell. The memory-ordering argument is written out
// below and in docs/GUARD.md.
#ifndef SLOTGUARD_SNAPSHOT_READER_HPP
#define SLOTGUARD_SNAPSHOT_READER_HPP

#include <slotguard/config.hpp>
#include <slotguard/detail/atomic_word.hpp>
#include <slotguard/detail/shared_ptr.hpp>

#include <cstdint>
#include <utility>

namespace slotguard {
inline namespace SLOTGUARD_ABI_NAMESPACE {
namespace detail {

// How it works (hazard pointers, one per reader):
//
// - Every publication allocates a node {handle, generation}. `current` points
//   at the newest node. A node is immutable after it is published.
// - Each reader owns a hazard record. Its `pin` holds the node the reader has
//   cached, for as long as it caches it. A node is freed only by a writer, and
//   only after it was unpublished and no record pins it.
// - Reader slow path (only when `current` differs from its cached node):
//     p = current.load(); pin.store(p); if (current.load() != p) retry;
//   Writer: old = current.exchange(new); then read every pin; free `old`
//   (and older retired nodes) only if no pin equals it.
//   All four operations are seq_cst, so they fall into one total order S.
//   If the reader's second load returned p, that load precedes the writer's
//   exchange in S (after the exchange `current` never holds p again unless p
//   was reallocated, see below), hence so does the pin store, hence the
//   writer's later read of the pin sees p (or a later value of that pin) and
//   keeps the node. If the second load comes after the exchange, it returns a
//   different node and the reader retries without having used p.
// - Address reuse: a node is freed only when unpinned, so if the address of a
//   freed node is reused by a newer node, a reader that validates it is
//   validating that newer, live node, which it then pins: harmless.
// - Reader fast path: `current.load(acquire) == cached`. The cached node is
//   pinned, so it cannot be freed and its address cannot come back as a
//   different node: pointer equality is an exact "nothing changed" test with
//   no counter that could wrap. The acquire pairs with the exchange's release,
//   so a reader that does move to a new node sees it fully constructed.
// - Freeing happens-after the reader's last use of a node: the reader's last
//   use comes before it stores a new pin (or clears it) in program order; the
//   writer's seq_cst read of that pin returns the new value and synchronizes
//   with the store, so the reads of the old node happen-before its deletion.
//
// Readers thus never block (no mutex; the retry loop only repeats while a
// writer publishes in between two loads), and never touch a shared reference
// count on their path. Writers serialize among themselves with a mutex.

template <class T>
struct snapshot_node {
  std::shared_ptr<const T> value;
  std::uint64_t generation;
};

struct hazard_record {
  atomic_word<const void*> pin{nullptr};
  atomic_word<bool> in_use{true};
  hazard_record* next = nullptr;  // immutable once the record is linked
};

// The part of a cell's state that readers use: the current node, the
// generation of the newest publication and the hazard records. The writers'
// part (their mutex and the retired nodes) is snapshot_state<T>, which
// derives from this in slotguard/snapshot.hpp; readers hold the state
// through this base, so a reader's translation unit needs no <mutex>.
template <class T>
class snapshot_core {
 public:
  using node = snapshot_node<T>;

  snapshot_core(const snapshot_core&) = delete;
  snapshot_core& operator=(const snapshot_core&) = delete;

  // Takes a free hazard record or links a new one; lock-free.
  hazard_record* acquire_record() {
    for (hazard_record* r = records_.load(order::acquire); r != nullptr; r = r->next) {
      bool expected = false;
      if (!r->in_use.load(order::relaxed) &&
          r->in_use.compare_exchange_strong(expected, true, order::acq_rel, order::acquire))
        return r;
    }
    auto* r = new hazard_record;
    hazard_record* head = records_.load(order::relaxed);
    do {
      r->next = head;
    } while (!records_.compare_exchange_weak(head, r, order::release,
                                             order::relaxed));
    return r;
  }
  static void release_record(hazard_record* r) noexcept {
    r->pin.store(nullptr, order::seq_cst);
    r->in_use.store(false, order::release);
  }

  // The current node, pinned in r. Never blocks.
  const node* protect(hazard_record* r) const noexcept {
    const node* p = current_.load(order::acquire);
    for (;;) {
      r->pin.store(p, order::seq_cst);
      const node* again = current_.load(order::seq_cst);
      if (again == p) return p;
      p = again;
    }
  }
  const node* peek() const noexcept { return current_.load(order::acquire); }
  // The generation of the newest publication, without touching a node
  // (one that is not pinned may be freed by a concurrent publish).
  std::uint64_t current_generation() const noexcept {
    return current_generation_.load(order::acquire);
  }

 protected:
  explicit snapshot_core(std::shared_ptr<const T> initial)
      : current_(new node{std::move(initial), 0}) {}
  // Only reached when neither the cell nor any reader refers to the state
  // (snapshot_state's destructor has freed the current and retired nodes).
  ~snapshot_core() {
    delete current_.load(order::relaxed);
    hazard_record* r = records_.load(order::relaxed);
    while (r != nullptr) {
      hazard_record* next = r->next;
      delete r;
      r = next;
    }
  }

  atomic_word<node*> current_;
  atomic_word<std::uint64_t> current_generation_{0};
  atomic_word<hazard_record*> records_{nullptr};
};

}  // namespace detail

template <class T>
class snapshot_cell;

// A per-thread view of a snapshot_cell's current snapshot. Not thread-safe
// itself: give each thread its own (readers are cheap to make, but making one
// may allocate, so make them once, not per call). A reader may outlive its
// cell; it then keeps returning the last snapshot it saw.
template <class T>
class snapshot_reader {
 public:
  snapshot_reader() noexcept = default;
  snapshot_reader(snapshot_reader&& o) noexcept
      : state_(std::move(o.state_)), record_(o.record_), cached_(o.cached_) {
    o.record_ = nullptr;
    o.cached_ = nullptr;
  }
  snapshot_reader& operator=(snapshot_reader&& o) noexcept {
    if (this != &o) {
      reset();
      state_ = std::move(o.state_);
      record_ = o.record_;
      cached_ = o.cached_;
      o.record_ = nullptr;
      o.cached_ = nullptr;
    }
    return *this;
  }
  snapshot_reader(const snapshot_reader&) = delete;
  snapshot_reader& operator=(const snapshot_reader&) = delete;
  ~snapshot_reader() { reset(); }

  // The current snapshot (nullptr when none is published, or for a reader
  // made by the default constructor). The pointee stays alive and unchanged
  // until the next get() on this reader, or its destruction. One atomic load
  // when nothing changed; never blocks, never allocates.
  const T* get() noexcept {
    if (SLOTGUARD_UNLIKELY(record_ == nullptr)) return nullptr;
    const auto* p = state_->peek();
    if (SLOTGUARD_LIKELY(p == cached_)) return cached_->value.get();
    cached_ = state_->protect(record_);
    return cached_->value.get();
  }

  // A shared handle to the snapshot get() would return, for keeping it past
  // the next get(). Costs a reference-count increment.
  std::shared_ptr<const T> get_shared() noexcept {
    if (get() == nullptr) return nullptr;
    return cached_->value;
  }

  // The generation of the snapshot the last get() returned: 0 for the cell's
  // initial snapshot, then 1, 2, ... per publish.
  std::uint64_t generation() const noexcept { return cached_ != nullptr ? cached_->generation : 0; }

  bool attached() const noexcept { return record_ != nullptr; }

 private:
  friend class snapshot_cell<T>;
  explicit snapshot_reader(std::shared_ptr<detail::snapshot_core<T>> st)
      : state_(std::move(st)), record_(state_->acquire_record()) {}

  void reset() noexcept {
    if (record_ != nullptr) detail::snapshot_core<T>::release_record(record_);
    record_ = nullptr;
    cached_ = nullptr;
    state_.reset();
  }

  std::shared_ptr<detail::snapshot_core<T>> state_;
  detail::hazard_record* record_ = nullptr;
  const detail::snapshot_node<T>* cached_ = nullptr;
};

}  // inline namespace SLOTGUARD_ABI_NAMESPACE
}  // namespace slotguard

#endif  // SLOTGUARD_SNAPSHOT_READER_HPP
