// SPDX-License-Identifier: Apache-2.0
// Hot-swap publication of immutable snapshots. A writer publishes a new
// std::shared_ptr<const T>; any thread may take a shared handle to the current
// one with current(); a per-thread snapshot_reader gives the hot path the
// current snapshot for the cost of one atomic load while nothing changed, and
// never waits for a writer, not even during a swap. Old snapshots are freed by
// the writer (on its next publish, or by reclaim()), never on a reader's call.
// The readers' side is slotguard/snapshot_reader.hpp (which a worker's unit
// includes alone); the memory-ordering argument is written out there and in
// docs/GUARD.md.
#ifndef SLOTGUARD_SNAPSHOT_HPP
#define SLOTGUARD_SNAPSHOT_HPP

#include <slotguard/config.hpp>
#include <slotguard/snapshot_reader.hpp>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <utility>
#include <vector>

namespace slotguard {
inline namespace SLOTGUARD_ABI_NAMESPACE {
namespace detail {

// How it works: see slotguard/snapshot_reader.hpp.

// The whole state of a cell: the readers' part (snapshot_core) and the
// writers', who serialize among themselves with a mutex.
template <class T>
class snapshot_state final : public snapshot_core<T> {
 public:
  using node = snapshot_node<T>;

  explicit snapshot_state(std::shared_ptr<const T> initial)
      : snapshot_core<T>(std::move(initial)) {}
  ~snapshot_state() {
    // Only reached when neither the cell nor any reader refers to the state.
    // The current node first, then the retired ones (snapshot_core's
    // destructor frees the hazard records).
    delete this->current_.exchange(nullptr, detail::order::relaxed);
    for (node* n : retired_) delete n;
  }

  std::uint64_t publish(std::shared_ptr<const T> next) {
    std::vector<node*> doomed;
    std::uint64_t gen = 0;
    {
      std::lock_guard<std::mutex> lock(writer_);
      gen = ++generation_;
      node* fresh = new node{std::move(next), gen};
      node* old = this->current_.exchange(fresh, detail::order::seq_cst);
      this->current_generation_.store(gen, detail::order::release);
      retired_.push_back(old);
      collect(doomed);
    }
    // Destroying a snapshot may be costly; do it outside the writer lock.
    for (node* n : doomed) delete n;
    return gen;
  }

  std::size_t reclaim() {
    std::vector<node*> doomed;
    std::size_t left = 0;
    {
      std::lock_guard<std::mutex> lock(writer_);
      collect(doomed);
      left = retired_.size();
    }
    for (node* n : doomed) delete n;
    return left;
  }

 private:
  // Moves every retired node that no record pins into doomed. Holds writer_.
  void collect(std::vector<node*>& doomed) {
    std::vector<const void*> pins;
    for (hazard_record* r = this->records_.load(detail::order::acquire); r != nullptr; r = r->next) {
      const void* p = r->pin.load(detail::order::seq_cst);
      if (p != nullptr) pins.push_back(p);
    }
    // A linear search per retired node: both lists are bounded by the
    // number of readers and this runs on a publish only, and it keeps
    // <algorithm> and <functional> out of every reader's translation unit.
    doomed.clear();
    std::size_t kept = 0;
    for (node* n : retired_) {
      bool pinned = false;
      for (const void* p : pins) {
        if (p == static_cast<const void*>(n)) {
          pinned = true;
          break;
        }
      }
      if (pinned)
        retired_[kept++] = n;
      else
        doomed.push_back(n);
    }
    retired_.resize(kept);
  }

  std::mutex writer_;
  std::uint64_t generation_ = 0;  // guarded by writer_
  std::vector<node*> retired_;    // guarded by writer_; bounded by the number of readers
};

}  // namespace detail

// The publication point. publish() and reclaim() may be called from any
// thread (writers serialize on an internal mutex); current() and readers never
// block.
template <class T>
class snapshot_cell {
 public:
  using handle = std::shared_ptr<const T>;

  explicit snapshot_cell(handle initial = nullptr)
      : state_(std::make_shared<detail::snapshot_state<T>>(std::move(initial))) {}
  snapshot_cell(const snapshot_cell&) = delete;
  snapshot_cell& operator=(const snapshot_cell&) = delete;

  // Makes next the current snapshot for every later read. Frees the retired
  // snapshots no reader still holds. Returns the new generation.
  std::uint64_t publish(handle next) { return state_->publish(std::move(next)); }

  // A shared handle to the current snapshot (may be null). Lock-free: pins
  // the node with a temporary hazard record while copying its handle.
  handle current() const {
    detail::hazard_record* r = state_->acquire_record();
    handle h = state_->protect(r)->value;
    detail::snapshot_state<T>::release_record(r);
    return h;
  }

  // The generation of the current snapshot.
  std::uint64_t generation() const noexcept { return state_->current_generation(); }

  // A new reader; see snapshot_reader.
  snapshot_reader<T> make_reader() const { return snapshot_reader<T>(state_); }

  // Frees retired snapshots that no reader still holds (publish does this
  // too). Returns how many retired snapshots are still held by readers.
  std::size_t reclaim() { return state_->reclaim(); }

 private:
  std::shared_ptr<detail::snapshot_state<T>> state_;
};

}  // inline namespace SLOTGUARD_ABI_NAMESPACE
}  // namespace slotguard

#endif  // SLOTGUARD_SNAPSHOT_HPP
