// SPDX-License-Identifier: Apache-2.0
// mapped_file: a read-only view of a whole file's bytes that keeps them alive
// (a memory map, or a copy), the interface the content readers hold. The
// implementations that map files live with the storage backends
// (slotguard/storage.hpp); this header includes no OS header.
#ifndef SLOTGUARD_MAPPED_FILE_HPP
#define SLOTGUARD_MAPPED_FILE_HPP

#include <slotguard/config.hpp>

#include <slotguard/byte_view.hpp>

#include <cstddef>
#include <cstdint>
#include <utility>
#include <vector>

namespace slotguard {
inline namespace SLOTGUARD_ABI_NAMESPACE {

// A read-only view of a whole file's bytes (a memory map, or a copy in memory
// for backends that cannot map), valid while the object lives. What a map
// shows is what the file held when it was mapped, provided nobody writes to
// the file meanwhile: the store never writes to a file it has finished.
class mapped_file {
 public:
  mapped_file(const mapped_file&) = delete;
  mapped_file& operator=(const mapped_file&) = delete;
  virtual ~mapped_file() = default;
  byte_view bytes() const noexcept { return byte_view(data_, size_); }

 protected:
  mapped_file() = default;
  const std::uint8_t* data_ = nullptr;
  std::size_t size_ = 0;
};

namespace detail {
// A mapped_file that owns a copy of the bytes.
class copied_file final : public mapped_file {
 public:
  explicit copied_file(std::vector<std::uint8_t> bytes) noexcept : bytes_(std::move(bytes)) {
    data_ = bytes_.data();
    size_ = bytes_.size();
  }

 private:
  std::vector<std::uint8_t> bytes_;
};
}  // namespace detail

}  // inline namespace SLOTGUARD_ABI_NAMESPACE
}  // namespace slotguard

#endif  // SLOTGUARD_MAPPED_FILE_HPP
