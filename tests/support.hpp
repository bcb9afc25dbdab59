// SPDX-License-Identifier: Apache-2.0
// Helpers shared by the tests: temporary directories that clean up after
// themselves, and the scale of heavy loops.
#ifndef SLOTGUARD_TESTS_SUPPORT_HPP
#define SLOTGUARD_TESTS_SUPPORT_HPP

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <random>
#include <string>
#include <system_error>

namespace slotguard_test {

// SLOTGUARD_TEST_QUICK=1 shrinks exhaustive loops (for runs under an
// emulator, where a full run would take hours). Tests that scale down say so
// in their output; normal runs never set it.
inline bool quick_mode() {
  const char* v = std::getenv("SLOTGUARD_TEST_QUICK");
  return v != nullptr && *v != '\0' && *v != '0';
}

// A fresh directory under the system's temporary folder, removed with its
// contents when the object goes out of scope.
class temp_dir {
 public:
  explicit temp_dir(const std::string& tag = "t") {
    static std::atomic<unsigned> counter{0};
    std::random_device rd;
    const auto base = std::filesystem::temp_directory_path();
    for (;;) {
      path_ = base / ("slotguard-" + tag + "-" + std::to_string(rd()) + "-" +
                      std::to_string(counter++));
      std::error_code ec;
      if (std::filesystem::create_directory(path_, ec)) break;
    }
  }
  temp_dir(const temp_dir&) = delete;
  temp_dir& operator=(const temp_dir&) = delete;
  ~temp_dir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

}  // namespace slotguard_test

#endif  // SLOTGUARD_TESTS_SUPPORT_HPP
