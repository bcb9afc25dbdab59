// SPDX-License-Identifier: Apache-2.0
// SHA-256, SHA-512 and CRC-32C: published vectors, agreement of every
// dispatch path with the portable one, incremental updates in random splits,
// and interop with coreutils' sha256sum.
#include <catch2/catch.hpp>

#include <slotguard/crc.hpp>
#include <slotguard/hash.hpp>
#include <slotguard/sha512.hpp>

#include "support.hpp"

#include <cstdint>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <random>
#include <string>
#include <vector>

using namespace slotguard;

namespace {

const std::string msg448 = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
const std::string msg896 =
    "abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmnhijklmnoijklmnopjklmnopqklmnopqrlmnopqrs"
    "mnopqrstnopqrstu";

std::vector<std::uint8_t> random_bytes(std::size_t n, std::uint32_t seed) {
  std::mt19937 rng(seed);
  std::vector<std::uint8_t> v(n);
  for (auto& b : v) b = static_cast<std::uint8_t>(rng());
  return v;
}

std::vector<sha256_impl> sha256_paths() {
  std::vector<sha256_impl> out;
  for (sha256_impl impl : {sha256_impl::portable, sha256_impl::sha_ni, sha256_impl::armv8}) {
    if (is_available(impl))
      out.push_back(impl);
    else
      WARN("SHA-256 path '" << to_string(impl) << "' is not available on this CPU/build: not tested");
  }
  return out;
}

std::vector<crc32c_impl> crc32c_paths() {
  std::vector<crc32c_impl> out;
  for (crc32c_impl impl : {crc32c_impl::portable, crc32c_impl::sse42}) {
    if (is_available(impl))
      out.push_back(impl);
    else
      WARN("CRC-32C path '" << to_string(impl) << "' is not available on this CPU/build: not tested");
  }
  return out;
}

// Feeds `data` to h in random pieces (including empty ones).
template <class H>
void update_in_pieces(H& h, const std::vector<std::uint8_t>& data, std::mt19937& rng) {
  std::size_t pos = 0;
  while (pos < data.size()) {
    const std::size_t max = data.size() - pos;
    std::size_t n = static_cast<std::size_t>(rng() % 200);
    if (rng() % 8 == 0) n = static_cast<std::size_t>(rng() % 3000);
    if (n > max) n = max;
    h.update(byte_view(data.data() + pos, n));
    pos += n;
  }
}

}  // namespace

TEST_CASE("SHA-256 published vectors on every path", "[hash.sha256.vectors]") {
  const std::string million(1000000, 'a');
  for (sha256_impl impl : sha256_paths()) {
    INFO("path " << to_string(impl));
    CHECK(to_hex(sha256_of(impl, byte_view())) ==
          "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    CHECK(to_hex(sha256_of(impl, std::string_view("abc"))) ==
          "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    CHECK(to_hex(sha256_of(impl, std::string_view(msg448))) ==
          "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
    CHECK(to_hex(sha256_of(impl, std::string_view(msg896))) ==
          "cf5b16a778af8380036ce59e7b0492370b249b11e8f07a51afac45037afee9d1");
    CHECK(to_hex(sha256_of(impl, std::string_view(million))) ==
          "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
  }
}

TEST_CASE("SHA-256 default path and one-shot helper", "[hash.sha256.api]") {
  const sha256_impl def = sha256_default_impl();
  CHECK(is_available(def));
  sha256 h;
  CHECK(h.impl() == def);
  h.update("ab", 2);
  h.update(std::string_view("c"));
  const sha256_digest d = h.finish();
  CHECK(d == sha256_of(std::string_view("abc")));
  // finish() resets: the same object hashes the next message from scratch.
  h.update(std::string_view("abc"));
  CHECK(h.finish() == d);
  h.update(std::string_view("garbage"));
  h.reset();
  CHECK(h.finish() == sha256_of(byte_view()));
#if SLOTGUARD_CONFIG_NO_HW_ACCEL
  CHECK(def == sha256_impl::portable);
#endif
}

TEST_CASE("SHA-256 paths agree with the portable one for every length 0..1024",
          "[hash.sha256.dispatch]") {
  const auto data = random_bytes(1024 + 64, 1);
  for (sha256_impl impl : sha256_paths()) {
    if (impl == sha256_impl::portable) continue;
    INFO("path " << to_string(impl));
    for (std::size_t len = 0; len <= 1024; ++len) {
      // An odd offset as well, so unaligned input is covered.
      const byte_view a(data.data(), len);
      const byte_view b(data.data() + 3, len);
      REQUIRE(sha256_of(impl, a) == sha256_of(sha256_impl::portable, a));
      REQUIRE(sha256_of(impl, b) == sha256_of(sha256_impl::portable, b));
    }
  }
}

TEST_CASE("SHA-256 incremental updates in random splits match one-shot on every path",
          "[hash.sha256.incremental]") {
  std::mt19937 rng(7);
  const int rounds = slotguard_test::quick_mode() ? 20 : 200;
  if (slotguard_test::quick_mode()) WARN("quick mode: " << rounds << " random splits instead of 200");
  const auto paths = sha256_paths();
  for (int r = 0; r < rounds; ++r) {
    const auto data = random_bytes(static_cast<std::size_t>(rng() % 5000), static_cast<std::uint32_t>(r));
    const sha256_digest expected = sha256_of(sha256_impl::portable, data);
    for (sha256_impl impl : paths) {
      sha256 h(impl);
      update_in_pieces(h, data, rng);
      REQUIRE(h.finish() == expected);
    }
  }
}

TEST_CASE("SHA-512 published vectors", "[hash.sha512.vectors]") {
  CHECK(to_hex(sha512_of(byte_view())) ==
        "cf83e1357eefb8bdf1542850d66d8007d620e4050b5715dc83f4a921d36ce9ce"
        "47d0d13c5d85f2b0ff8318d2877eec2f63b931bd47417a81a538327af927da3e");
  CHECK(to_hex(sha512_of(std::string_view("abc"))) ==
        "ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a"
        "2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f");
  CHECK(to_hex(sha512_of(std::string_view(msg448))) ==
        "204a8fc6dda82f0a0ced7beb8e08a41657c16ef468b228a8279be331a703c335"
        "96fd15c13b1b07f9aa1d3bea57789ca031ad85c7a71dd70354ec631238ca3445");
  CHECK(to_hex(sha512_of(std::string_view(msg896))) ==
        "8e959b75dae313da8cf4f72814fc143f8f7779c6eb9f7fa17299aeadb6889018"
        "501d289e4900f7e4331b99dec4b5433ac7d329eeb6dd26545e96e55b874be909");
  const std::string million(1000000, 'a');
  CHECK(to_hex(sha512_of(std::string_view(million))) ==
        "e718483d0ce769644e2e42c7bc15b4638e1f98b13b2044285632a803afa973eb"
        "de0ff244877ea60a4cb0432ce577c31beb009c5c2c49aa2e4eadb217ad8cc09b");
}

TEST_CASE("SHA-512 incremental updates in random splits match one-shot", "[hash.sha512.incremental]") {
  std::mt19937 rng(11);
  for (int r = 0; r < 100; ++r) {
    const auto data = random_bytes(static_cast<std::size_t>(rng() % 3000), static_cast<std::uint32_t>(r));
    sha512 h;
    update_in_pieces(h, data, rng);
    REQUIRE(h.finish() == sha512_of(data));
  }
  // Every length around the block and padding boundaries, one byte at a time.
  const auto data = random_bytes(300, 3);
  for (std::size_t len = 0; len <= data.size(); ++len) {
    sha512 h;
    for (std::size_t i = 0; i < len; ++i) h.update(byte_view(data.data() + i, 1));
    REQUIRE(h.finish() == sha512_of(byte_view(data.data(), len)));
  }
}

TEST_CASE("CRC-32C published values on every path", "[crc.vectors]") {
  std::uint8_t zeros[32] = {};
  std::uint8_t ones[32];
  std::uint8_t inc[32];
  std::uint8_t dec[32];
  for (int i = 0; i < 32; ++i) {
    ones[i] = 0xFF;
    inc[i] = static_cast<std::uint8_t>(i);
    dec[i] = static_cast<std::uint8_t>(31 - i);
  }
  for (crc32c_impl impl : crc32c_paths()) {
    INFO("path " << to_string(impl));
    CHECK(crc32c(impl, std::string_view("123456789")) == 0xE3069283u);
    CHECK(crc32c(impl, byte_view()) == 0u);
    // RFC 3720 appendix B.4 (iSCSI).
    CHECK(crc32c(impl, byte_view(zeros, 32)) == 0x8A9136AAu);
    CHECK(crc32c(impl, byte_view(ones, 32)) == 0x62A8AB43u);
    CHECK(crc32c(impl, byte_view(inc, 32)) == 0x46DD794Eu);
    CHECK(crc32c(impl, byte_view(dec, 32)) == 0x113FDB5Cu);
  }
  CHECK(crc32c(std::string_view("123456789")) == 0xE3069283u);
  CHECK(is_available(crc32c_default_impl()));
}

TEST_CASE("CRC-32C paths agree with the portable one", "[crc.dispatch]") {
  const auto data = random_bytes(3 * 8192 * 2 + 3 * 256 * 3 + 1000, 5);
  std::vector<std::size_t> lengths;
  for (std::size_t len = 0; len <= 1024; ++len) lengths.push_back(len);
  // Around the lane boundaries of the interleaved code.
  for (std::size_t base : {std::size_t{3 * 256}, std::size_t{3 * 8192}, std::size_t{6 * 8192}})
    for (std::size_t d = 0; d < 20; ++d) {
      lengths.push_back(base + d);
      lengths.push_back(base - d - 1);
    }
  lengths.push_back(data.size() - 1);
  for (crc32c_impl impl : crc32c_paths()) {
    if (impl == crc32c_impl::portable) continue;
    INFO("path " << to_string(impl));
    for (std::size_t len : lengths) {
      INFO("length " << len);
      const byte_view a(data.data() + 1, len);
      REQUIRE(crc32c(impl, a) == crc32c(crc32c_impl::portable, a));
      REQUIRE(crc32c(impl, a, 0x12345678u) == crc32c(crc32c_impl::portable, a, 0x12345678u));
    }
  }
}

TEST_CASE("CRC-32C chains across random splits on every path", "[crc.chain]") {
  std::mt19937 rng(9);
  const auto paths = crc32c_paths();
  for (int r = 0; r < 100; ++r) {
    const auto data = random_bytes(static_cast<std::size_t>(rng() % 70000), static_cast<std::uint32_t>(r));
    const std::uint32_t whole = crc32c(crc32c_impl::portable, data);
    for (crc32c_impl impl : paths) {
      std::uint32_t c = 0;
      std::size_t pos = 0;
      while (pos < data.size()) {
        std::size_t n = static_cast<std::size_t>(rng() % 30000);
        if (n > data.size() - pos) n = data.size() - pos;
        c = crc32c(impl, byte_view(data.data() + pos, n), c);
        pos += n;
      }
      REQUIRE(c == whole);
    }
  }
}

TEST_CASE("SHA-256 of random files equals sha256sum's", "[hash.sha256.interop]") {
#if SLOTGUARD_OS_WINDOWS
  WARN("SKIPPED: sha256sum interop is not run on Windows");
#else
  if (std::system("command -v sha256sum >/dev/null 2>&1") != 0) {
    WARN("SKIPPED: sha256sum is not installed");
    return;
  }
  slotguard_test::temp_dir dir("sha");
  std::mt19937 rng(13);
  const auto paths = sha256_paths();
  for (std::size_t size : {std::size_t{0}, std::size_t{1}, std::size_t{55}, std::size_t{64},
                           std::size_t{1000}, std::size_t{65537}, std::size_t{1} << 20}) {
    const auto data = random_bytes(size, static_cast<std::uint32_t>(rng()));
    const auto file = dir.path() / ("f" + std::to_string(size));
    const auto out = dir.path() / "sum.txt";
    {
      std::ofstream f(file, std::ios::binary);
      f.write(reinterpret_cast<const char*>(data.data()), static_cast<std::streamsize>(data.size()));
    }
    const std::string cmd = "sha256sum '" + file.string() + "' > '" + out.string() + "'";
    REQUIRE(std::system(cmd.c_str()) == 0);
    std::ifstream in(out);
    std::string hex;
    in >> hex;
    for (sha256_impl impl : paths) {
      INFO("size " << size << " path " << to_string(impl));
      CHECK(to_hex(sha256_of(impl, data)) == hex);
    }
  }
#endif
}
