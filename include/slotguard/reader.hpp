// SPDX-License-Identifier: Apache-2.0
// What a worker thread that reads content needs, and nothing else: the
// active content (active_content: the bytes, the parsed manifest, the
// validated records, a tree payload's table), the handles to it
// (content_handle, and content_reader, the per-thread reader whose hot path
// is one atomic load), and the typed views of validated records
// (record_view, typed_record, list_view, field_value; slotguard/
// schema_reader.hpp). It includes no OS, process, crypto or storage header
// and defines no macro beyond slotguard's own, so a worker's translation
// unit stays cheap to compile and clean of OS names. The guard that
// publishes the content is in slotguard/guard.hpp, which includes this.
#ifndef SLOTGUARD_READER_HPP
#define SLOTGUARD_READER_HPP

#include <slotguard/bundle_view.hpp>
#include <slotguard/byte_view.hpp>
#include <slotguard/config.hpp>
#include <slotguard/mapped_file.hpp>
#include <slotguard/schema_reader.hpp>
#include <slotguard/slot_id.hpp>
#include <slotguard/snapshot_reader.hpp>
#include <slotguard/tree_index.hpp>
#include <slotguard/detail/atomic_word.hpp>
#include <slotguard/detail/shared_ptr.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <utility>

namespace slotguard {
inline namespace SLOTGUARD_ABI_NAMESPACE {

class guard;

namespace detail {
// What an active_content sets when it is destroyed: the guard's "a sweep is
// due" flag (null until the guard registers the content). A member of its
// own, and active_content's last, so that it is set before the content's
// other members go, as a destructor body would, while active_content's
// destructor stays implicit: a unit that never destroys one (a worker's)
// then instantiates none of its members' destructors.
class release_flag {
 public:
  release_flag() noexcept = default;
  release_flag(const release_flag&) = delete;
  release_flag& operator=(const release_flag&) = delete;
  release_flag& operator=(std::shared_ptr<atomic_word<bool>> flag) noexcept {
    flag_ = std::move(flag);
    return *this;
  }
  ~release_flag() {
    if (flag_) flag_->store(true, order::release);
  }

 private:
  std::shared_ptr<atomic_word<bool>> flag_;
};
}  // namespace detail

// The content readers see: a verified bundle's bytes, its parsed manifest and
// its validated payload (with the schema's record index when a schema is
// configured). Immutable; shared by every reader that holds it.
class active_content {
 public:
  active_content(const active_content&) = delete;
  active_content& operator=(const active_content&) = delete;

  const bundle_manifest& manifest() const noexcept { return bundle_.manifest; }
  std::uint64_t sequence() const noexcept { return bundle_.manifest.sequence; }
  // The payload: what the host's interpreter reads.
  byte_view payload() const noexcept { return bundle_.payload; }
  // The payload's validated records (has_index() is false for a validator_fn).
  const validated_payload& records() const noexcept { return records_; }
  // The whole bundle, as stored: a read-only map of the slot's file (or,
  // for content applied from memory, the bytes themselves), alive while
  // anybody holds this content.
  byte_view bundle_bytes() const noexcept { return data_ ? data_->bytes() : byte_view(); }
  slot_id slot() const noexcept { return slot_; }
  // The kind of payload (docs/FORMAT.md, "payload_kind").
  payload_kind kind() const noexcept { return bundle_.manifest.kind; }
  // For a tree payload: its table (nullptr for bytes).
  const tree_index* tree() const noexcept { return tree_ ? &*tree_ : nullptr; }
  // Where the content is as files, valid while this content is held (its
  // files are removed only when no reader holds them): a tree payload's
  // root directory, or, with guard_options::payload_file, the file holding
  // a bytes payload. Empty otherwise (and for a trial's candidate before it
  // was staged).
  const std::string& path() const noexcept { return path_; }

 private:
  friend struct detail_guard_access;
  active_content() = default;
  std::shared_ptr<const mapped_file> data_;
  std::optional<tree_index> tree_;
  std::string path_;
  std::string file_;  // the slot file it was read from or staged into (empty: none yet)
  bundle_view bundle_;
  validated_payload records_;
  slot_id slot_ = slot_id::a;
  mutable detail::release_flag released_;  // set when released (the guard sweeps); destroyed first
};

using content_handle = std::shared_ptr<const active_content>;
using content_reader = snapshot_reader<active_content>;

}  // inline namespace SLOTGUARD_ABI_NAMESPACE
}  // namespace slotguard

#endif  // SLOTGUARD_READER_HPP
