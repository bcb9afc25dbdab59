// SPDX-License-Identifier: Apache-2.0
// Ed25519 and PEM keys: RFC 8032 vectors, the field and curve constants
// against their definitions, every rejection the verifier promises, PEM
// parsing errors, and interop with the openssl command-line tool.
#include <catch2/catch.hpp>

#include <slotguard/ed25519.hpp>
#include <slotguard/pem.hpp>
// The field, group and scalar arithmetic the constants and rejection tests
// use directly: internal, and read by ed25519.hpp's definitions only.
#include <slotguard/detail/ed25519_core.hpp>

#include "support.hpp"

#include <atomic>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iterator>
#include <new>
#include <random>
#include <string>
#include <vector>

using namespace slotguard;

namespace {

template <std::size_t N>
std::array<std::uint8_t, N> hex_array(std::string_view hex) {
  auto v = from_hex(hex);
  REQUIRE(v.has_value());
  REQUIRE(v->size() == N);
  std::array<std::uint8_t, N> out{};
  std::memcpy(out.data(), v->data(), N);
  return out;
}

std::vector<std::uint8_t> hex_vec(std::string_view hex) {
  auto v = from_hex(hex);
  REQUIRE(v.has_value());
  return *v;
}

struct rfc_vector {
  const char* name;
  const char* seed;
  const char* pk;
  const char* msg;
  const char* sig;
};

// RFC 8032 section 7.1.
const rfc_vector rfc_vectors[] = {
    {"TEST 1", "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60",
     "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a", "",
     "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46b"
     "d25bf5f0595bbe24655141438e7a100b"},
    {"TEST 2", "4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb",
     "3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c", "72",
     "92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da085ac1e43e15996e458f3613d0f11d8c"
     "387b2eaeb4302aeeb00d291612bb0c00"},
    {"TEST 3", "c5aa8df43f9f837bedb7442f31dcb7b166d38535076f094b85ce3a2e0b4458f7",
     "fc51cd8e6218a1a38da47ed00230f0580816ed13ba3303ac5deb911548908025", "af82",
     "6291d657deec24024827e69c3abe01a30ce548a284743a445e3680d7db5ac3ac18ff9b538d16f290ae67f760984dc659"
     "4a7c15e9716ed28dc027beceea1ec40a"},
    {"TEST 1024", "f5e5767cf153319517630f226876b86c8160cc583bc013744c6bf255f5cc0ee5",
     "278117fc144c72340f67d0f2316e8386ceffbf2b2428c9c51fef7c597f1d426e",
     "08b8b2b733424243760fe426a4b54908632110a66c2f6591eabd3345e3e4eb98fa6e264bf09efe12ee50f8f54e9f77b1"
     "e355f6c50544e23fb1433ddf73be84d879de7c0046dc4996d9e773f4bc9efe5738829adb26c81b37c93a1b270b20329d"
     "658675fc6ea534e0810a4432826bf58c941efb65d57a338bbd2e26640f89ffbc1a858efcb8550ee3a5e1998bd177e93a"
     "7363c344fe6b199ee5d02e82d522c4feba15452f80288a821a579116ec6dad2b3b310da903401aa62100ab5d1a36553e"
     "06203b33890cc9b832f79ef80560ccb9a39ce767967ed628c6ad573cb116dbefefd75499da96bd68a8a97b928a8bbc10"
     "3b6621fcde2beca1231d206be6cd9ec7aff6f6c94fcd7204ed3455c68c83f4a41da4af2b74ef5c53f1d8ac70bdcb7ed1"
     "85ce81bd84359d44254d95629e9855a94a7c1958d1f8ada5d0532ed8a5aa3fb2d17ba70eb6248e594e1a2297acbbb39d"
     "502f1a8c6eb6f1ce22b3de1a1f40cc24554119a831a9aad6079cad88425de6bde1a9187ebb6092cf67bf2b13fd65f270"
     "88d78b7e883c8759d2c4f5c65adb7553878ad575f9fad878e80a0c9ba63bcbcc2732e69485bbc9c90bfbd62481d9089b"
     "eccf80cfe2df16a2cf65bd92dd597b0707e0917af48bbb75fed413d238f5555a7a569d80c3414a8d0859dc65a46128ba"
     "b27af87a71314f318c782b23ebfe808b82b0ce26401d2e22f04d83d1255dc51addd3b75a2b1ae0784504df543af8969b"
     "e3ea7082ff7fc9888c144da2af58429ec96031dbcad3dad9af0dcbaaaf268cb8fcffead94f3c7ca495e056a9b47acdb7"
     "51fb73e666c6c655ade8297297d07ad1ba5e43f1bca32301651339e22904cc8c42f58c30c04aafdb038dda0847dd988d"
     "cda6f3bfd15c4b4c4525004aa06eeff8ca61783aacec57fb3d1f92b0fe2fd1a85f6724517b65e614ad6808d6f6ee34df"
     "f7310fdc82aebfd904b01e1dc54b2927094b2db68d6f903b68401adebf5a7e08d78ff4ef5d63653a65040cf9bfd4aca7"
     "984a74d37145986780fc0b16ac451649de6188a7dbdf191f64b5fc5e2ab47b57f7f7276cd419c17a3ca8e1b939ae49e4"
     "88acba6b965610b5480109c8b17b80e1b7b750dfc7598d5d5011fd2dcc5600a32ef5b52a1ecc820e308aa342721aac09"
     "43bf6686b64b2579376504ccc493d97e6aed3fb0f9cd71a43dd497f01f17c0e2cb3797aa2a2f256656168e6c496afc5f"
     "b93246f6b1116398a346f1a641f3b041e989f7914f90cc2c7fff357876e506b50d334ba77c225bc307ba537152f3f161"
     "0e4eafe595f6d9d90d11faa933a15ef1369546868a7f3a45a96768d40fd9d03412c091c6315cf4fde7cb68606937380d"
     "b2eaaa707b4c4185c32eddcdd306705e4dc1ffc872eeee475a64dfac86aba41c0618983f8741c5ef68d3a101e8a3b8ca"
     "c60c905c15fc910840b94c00a0b9d0",
     "0aab4c900501b3e24d7cdf4663326a3a87df5e4843b2cbdb67cbf6e460fec350aa5371b1508f9f4528ecea23c436d94b"
     "5e8fcd4f681e30a6ac00a9704a188a03"},
    {"TEST SHA(abc)", "833fe62409237b9d62ec77587520911e9a759cec1d19755b7da901b96dca3d42",
     "ec172b93ad5e563bf4932c70e1245034c35467ef2efd4d64ebf819683467e2bf",
     "ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a2192992a274fc1a836ba3c23a3feebbd"
     "454d4423643ce80e2a9ac94fa54ca49f",
     "dc2a4459e7369633a52b1bf277839a00201009a3efbf3ecb69bea2186c26b58909351fc9ac90b3ecfdfbc7c66431e030"
     "3dca179c138ac17ad9bef1177331a704"},
};

// The eight points of order dividing 8, as their canonical encodings.
const char* const small_order_points[] = {
    "0100000000000000000000000000000000000000000000000000000000000000",  // identity
    "ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",  // (0, -1), order 2
    "0000000000000000000000000000000000000000000000000000000000000000",  // order 4
    "0000000000000000000000000000000000000000000000000000000000000080",  // order 4
    "26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05",  // order 8
    "26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc85",
    "c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a",
    "c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac03fa",
};

// The encoding with y = p + delta (non-canonical for delta in [0, 19)).
std::array<std::uint8_t, 32> y_above_p(int delta, bool sign) {
  std::array<std::uint8_t, 32> e{};
  e[0] = static_cast<std::uint8_t>(0xED + delta);
  for (int i = 1; i < 31; ++i) e[static_cast<std::size_t>(i)] = 0xFF;
  e[31] = static_cast<std::uint8_t>(sign ? 0xFF : 0x7F);
  return e;
}

detail::fe25519 fe_small(std::int32_t v) {
  detail::fe25519 f = detail::fe_zero();
  f.v[0] = v;
  return f;
}

struct signed_example {
  ed25519_seed seed;
  ed25519_public_key pk;
  std::vector<std::uint8_t> msg;
  ed25519_signature sig;
};

signed_example make_example() {
  signed_example ex;
  ex.seed = hex_array<32>(rfc_vectors[2].seed);
  ex.pk = ed25519_public_key_from_seed(ex.seed);
  ex.msg = {'s', 'l', 'o', 't', 'g', 'u', 'a', 'r', 'd'};
  ex.sig = ed25519_sign(ex.seed, ex.msg);
  return ex;
}

bool have_openssl() {
#if SLOTGUARD_OS_WINDOWS
  return false;
#else
  return std::system("command -v openssl >/dev/null 2>&1") == 0;
#endif
}

std::string read_file(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

void write_file(const std::filesystem::path& p, byte_view data) {
  std::ofstream out(p, std::ios::binary);
  out.write(reinterpret_cast<const char*>(data.data()), static_cast<std::streamsize>(data.size()));
}

int run(const std::string& cmd) { return std::system((cmd + " >/dev/null 2>&1").c_str()); }

std::string q(const std::filesystem::path& p) { return "'" + p.string() + "'"; }

}  // namespace

TEST_CASE("RFC 8032 section 7.1 vectors: key, signature, verification", "[ed25519.rfc8032]") {
  for (const rfc_vector& v : rfc_vectors) {
    INFO(v.name);
    const auto seed = hex_array<32>(v.seed);
    const auto msg = hex_vec(v.msg);
    const auto pk = ed25519_public_key_from_seed(seed);
    CHECK(to_hex(pk) == v.pk);
    const auto sig = ed25519_sign(seed, msg);
    CHECK(to_hex(sig) == v.sig);
    CHECK(ed25519_verify(pk, msg, hex_array<64>(v.sig)).has_value());
  }
}

TEST_CASE("Field and curve constants match their definitions", "[ed25519.constants]") {
  using namespace slotguard::detail;
  const fe25519 d = fe_const_d();
  // d = -121665 / 121666
  CHECK(fe_equal(fe_mul(d, fe_small(121666)), fe_neg(fe_small(121665))));
  CHECK(fe_equal(fe_const_d2(), fe_add(d, d)));
  CHECK(fe_equal(fe_sq(fe_const_sqrtm1()), fe_neg(fe_one())));
  // B = (x, 4/5) with x even, on the curve, T = x y.
  const ge25519 b = ge_base();
  CHECK(fe_equal(fe_mul(b.Y, fe_small(5)), fe_small(4)));
  CHECK_FALSE(fe_isnegative(b.X));
  const fe25519 xx = fe_sq(b.X), yy = fe_sq(b.Y);
  CHECK(fe_equal(fe_sub(yy, xx), fe_add(fe_one(), fe_mul(d, fe_mul(xx, yy)))));
  CHECK(fe_equal(b.T, fe_mul(b.X, b.Y)));
  std::uint8_t enc[32];
  ge_tobytes(enc, b);
  CHECK(to_hex(byte_view(enc, 32)) == "5866666666666666666666666666666666666666666666666666666666666666");
  // [L]B is the identity; [L-1]B is -B.
  std::uint8_t l[32];
  sc_to_bytes(l, sc_l);
  std::uint8_t zero[32] = {};
  CHECK(ge_is_identity(ge_double_scalarmult_vartime(l, zero, b)));
  CHECK(ge_is_identity(ge_scalarmult_base_ct(l)));
}

TEST_CASE("Field encoding reduces every value below 2^255 to its canonical form",
          "[ed25519.field]") {
  using namespace slotguard::detail;
  for (int delta = 0; delta < 19; ++delta) {
    const auto e = y_above_p(delta, false);
    std::uint8_t out[32];
    fe_tobytes(out, fe_frombytes(e.data()));
    std::uint8_t expected[32] = {};
    expected[0] = static_cast<std::uint8_t>(delta);
    CHECK(std::memcmp(out, expected, 32) == 0);
  }
  // Random values: (a * b) encoded equals (b * a), and x - x = 0, x + (-x) = 0.
  std::mt19937 rng(3);
  for (int i = 0; i < 200; ++i) {
    std::uint8_t a[32], b[32];
    for (auto& x : a) x = static_cast<std::uint8_t>(rng());
    for (auto& x : b) x = static_cast<std::uint8_t>(rng());
    const fe25519 fa = fe_frombytes(a), fb = fe_frombytes(b);
    CHECK(fe_equal(fe_mul(fa, fb), fe_mul(fb, fa)));
    CHECK(fe_iszero(fe_add(fa, fe_neg(fa))));
    CHECK(fe_equal(fe_mul(fe_invert(fa), fa), fe_one()));
  }
}

TEST_CASE("Signatures round-trip for random seeds and messages", "[ed25519.roundtrip]") {
  std::mt19937 rng(21);
  const int rounds = slotguard_test::quick_mode() ? 5 : 40;
  if (slotguard_test::quick_mode()) WARN("quick mode: " << rounds << " round trips instead of 40");
  for (int i = 0; i < rounds; ++i) {
    ed25519_seed seed;
    for (auto& b : seed) b = static_cast<std::uint8_t>(rng());
    std::vector<std::uint8_t> msg(static_cast<std::size_t>(rng() % 300));
    for (auto& b : msg) b = static_cast<std::uint8_t>(rng());
    const auto pk = ed25519_public_key_from_seed(seed);
    const auto sig = ed25519_sign(seed, msg);
    REQUIRE(ed25519_verify(pk, msg, sig).has_value());
    REQUIRE(sig == ed25519_sign(seed, msg));  // deterministic
  }
}

TEST_CASE("Verify rejects S >= L", "[ed25519.verify.reject]") {
  const signed_example ex = make_example();
  // S + L: the same scalar mod L, but not the canonical encoding.
  ed25519_signature bad = ex.sig;
  std::uint32_t carry = 0;
  for (int i = 0; i < 32; ++i) {
    const std::uint32_t l = (detail::sc_l[i / 4] >> (8 * (i % 4))) & 0xFFu;
    const std::uint32_t s = bad[32 + static_cast<std::size_t>(i)] + l + carry;
    bad[32 + static_cast<std::size_t>(i)] = static_cast<std::uint8_t>(s);
    carry = s >> 8;
  }
  REQUIRE(carry == 0);  // S + L < 2^256 since S < L < 2^253
  auto r = ed25519_verify(ex.pk, ex.msg, bad);
  REQUIRE_FALSE(r.has_value());
  CHECK(r.error() == errc::signature_invalid);
  // S = L exactly, and S = 2^256 - 1.
  for (int i = 0; i < 32; ++i)
    bad[32 + static_cast<std::size_t>(i)] = static_cast<std::uint8_t>(detail::sc_l[i / 4] >> (8 * (i % 4)));
  r = ed25519_verify(ex.pk, ex.msg, bad);
  REQUIRE_FALSE(r.has_value());
  CHECK(r.error() == errc::signature_invalid);
  for (int i = 32; i < 64; ++i) bad[static_cast<std::size_t>(i)] = 0xFF;
  r = ed25519_verify(ex.pk, ex.msg, bad);
  REQUIRE_FALSE(r.has_value());
  CHECK(r.error() == errc::signature_invalid);
}

TEST_CASE("Verify rejects a flipped bit anywhere in signature, message or key",
          "[ed25519.verify.reject]") {
  const signed_example ex = make_example();
  REQUIRE(ed25519_verify(ex.pk, ex.msg, ex.sig).has_value());
  for (std::size_t bit = 0; bit < 512; ++bit) {
    ed25519_signature s = ex.sig;
    s[bit / 8] = static_cast<std::uint8_t>(s[bit / 8] ^ (1u << (bit % 8)));
    const auto r = ed25519_verify(ex.pk, ex.msg, s);
    INFO("signature bit " << bit);
    REQUIRE_FALSE(r.has_value());
    CHECK(r.error() == errc::signature_invalid);
  }
  for (std::size_t bit = 0; bit < ex.msg.size() * 8; ++bit) {
    auto m = ex.msg;
    m[bit / 8] = static_cast<std::uint8_t>(m[bit / 8] ^ (1u << (bit % 8)));
    const auto r = ed25519_verify(ex.pk, m, ex.sig);
    INFO("message bit " << bit);
    REQUIRE_FALSE(r.has_value());
    CHECK(r.error() == errc::signature_invalid);
  }
  // One byte more or less also fails.
  auto longer = ex.msg;
  longer.push_back(0);
  CHECK_FALSE(ed25519_verify(ex.pk, longer, ex.sig).has_value());
  CHECK_FALSE(ed25519_verify(ex.pk, byte_view(ex.msg.data(), ex.msg.size() - 1), ex.sig).has_value());
  for (std::size_t bit = 0; bit < 256; ++bit) {
    ed25519_public_key k = ex.pk;
    k[bit / 8] = static_cast<std::uint8_t>(k[bit / 8] ^ (1u << (bit % 8)));
    const auto r = ed25519_verify(k, ex.msg, ex.sig);
    INFO("key bit " << bit);
    REQUIRE_FALSE(r.has_value());
    // Either the flipped key is not a point (key_invalid) or it is another
    // key, under which the signature fails.
    CHECK((r.error() == errc::key_invalid || r.error() == errc::signature_invalid));
  }
}

TEST_CASE("Verify rejects small-order public keys", "[ed25519.verify.reject]") {
  const signed_example ex = make_example();
  for (const char* hex : small_order_points) {
    INFO("key " << hex);
    const auto key = hex_array<32>(hex);
    detail::ge25519 p;
    REQUIRE(detail::ge_frombytes(p, key.data()));  // a valid encoding, so rejected for its order
    const auto r = ed25519_verify(key, ex.msg, ex.sig);
    REQUIRE_FALSE(r.has_value());
    CHECK(r.error() == errc::key_invalid);
  }
  // A signature that satisfies the equation under a small-order key: with
  // A of small order and R = identity, S = 0 makes [S]B = R + [k]A hold
  // whenever [k]A is the identity (k a multiple of A's order), as for A =
  // the identity itself. The verifier must still refuse it.
  ed25519_signature forged{};
  forged[0] = 0x01;  // R = identity, S = 0
  const auto identity = hex_array<32>(small_order_points[0]);
  const auto r = ed25519_verify(identity, ex.msg, forged);
  REQUIRE_FALSE(r.has_value());
  CHECK(r.error() == errc::key_invalid);
}

TEST_CASE("Verify rejects non-canonical and invalid key encodings", "[ed25519.verify.reject]") {
  const signed_example ex = make_example();
  // y = p + delta for every delta that still fits in 255 bits, both signs.
  for (int delta = 0; delta < 19; ++delta) {
    for (bool sign : {false, true}) {
      INFO("y = p + " << delta << " sign " << sign);
      const auto r = ed25519_verify(y_above_p(delta, sign), ex.msg, ex.sig);
      REQUIRE_FALSE(r.has_value());
      CHECK(r.error() == errc::key_invalid);
    }
  }
  // x = 0 with the sign bit set: a second encoding of (0, 1) and (0, -1).
  auto neg_zero = hex_array<32>(small_order_points[0]);
  neg_zero[31] |= 0x80;
  auto r = ed25519_verify(neg_zero, ex.msg, ex.sig);
  REQUIRE_FALSE(r.has_value());
  CHECK(r.error() == errc::key_invalid);
  // y = 2: no x makes it a curve point (u / v is not a square).
  auto off_curve = hex_array<32>("0200000000000000000000000000000000000000000000000000000000000000");
  detail::ge25519 p;
  REQUIRE_FALSE(detail::ge_frombytes(p, off_curve.data()));
  r = ed25519_verify(off_curve, ex.msg, ex.sig);
  REQUIRE_FALSE(r.has_value());
  CHECK(r.error() == errc::key_invalid);
}

TEST_CASE("Verify rejects non-canonical, invalid and small-order R", "[ed25519.verify.reject]") {
  const signed_example ex = make_example();
  auto with_r = [&](const std::array<std::uint8_t, 32>& r) {
    ed25519_signature s = ex.sig;
    std::memcpy(s.data(), r.data(), 32);
    return s;
  };
  for (int delta = 0; delta < 19; ++delta) {
    for (bool sign : {false, true}) {
      const auto r = ed25519_verify(ex.pk, ex.msg, with_r(y_above_p(delta, sign)));
      REQUIRE_FALSE(r.has_value());
      CHECK(r.error() == errc::signature_invalid);
    }
  }
  for (const char* hex : small_order_points) {
    const auto r = ed25519_verify(ex.pk, ex.msg, with_r(hex_array<32>(hex)));
    REQUIRE_FALSE(r.has_value());
    CHECK(r.error() == errc::signature_invalid);
  }
}

TEST_CASE("Seeds come from the OS and differ", "[ed25519.seed]") {
  const auto a = ed25519_generate_seed();
  const auto b = ed25519_generate_seed();
  REQUIRE(a.has_value());
  REQUIRE(b.has_value());
  CHECK(*a != *b);
  CHECK(*a != ed25519_seed{});
  const auto pk = ed25519_public_key_from_seed(*a);
  CHECK(ed25519_verify(pk, std::string_view("x"), ed25519_sign(*a, std::string_view("x"))).has_value());
}

// ---- PEM ----

namespace {

// From RFC 8410 section 10.3 (private) and section 10.1 (public); they are
// not a pair.
const char* const rfc8410_private =
    "-----BEGIN PRIVATE KEY-----\n"
    "MC4CAQAwBQYDK2VwBCIEINTuctv5E1hK1bbY8fdp+K06/nwoy/HU++CXqI9EdVhC\n"
    "-----END PRIVATE KEY-----\n";
const char* const rfc8410_public =
    "-----BEGIN PUBLIC KEY-----\n"
    "MCowBQYDK2VwAyEAGb9ECWmEzf6FQbrBZ9w7lshQhqowtrbLDFw4rXAxZuE=\n"
    "-----END PUBLIC KEY-----\n";

// Throwaway test keys made by openssl 3.0: RSA-512 and P-256 in PKCS#8 and
// in their traditional forms (PKCS#1, SEC 1).
const char* const rsa_pkcs8 =
    "-----BEGIN PRIVATE KEY-----\n"
    "MIIBVAIBADANBgkqhkiG9w0BAQEFAASCAT4wggE6AgEAAkEAp19Y0ZPIi18MOpRn\n"
    "FRU+8YHmNrldenYxLBM7/hszkWXw6enOQt3S/IG1N9+OK8P5w3umK3/xTetbhghY\n"
    "PQJaJwIDAQABAkBSeCSnf439PmQkKSNxu/o7vanVpRhuUvZ/pSqWVojeRvScVB99\n"
    "S5TBT0aHU/WKnYRlGhy0ltTmBENZliqak/FhAiEA0sRwDs0dUGQfi4ZaO3k4l6M1\n"
    "5zAPw7LIMBcZ00YK6E0CIQDLSssOL63I2+UpKlmuq2rCyoHKqXhIxnoDp00cWGzG\n"
    "QwIgXJRCsI2yaaSBIrVSHzug+yKKw9Edq5V1T4JmKqJimiUCIEioJ6CfW85BAUtQ\n"
    "LpNmApcyB2dmYG4qOauanM23sNC/AiEApVvd26OSeO6ICQjYwUTYH22Rmex0GNAg\n"
    "3aJwaqjMp3Q=\n"
    "-----END PRIVATE KEY-----\n";
const char* const ec_pkcs8 =
    "-----BEGIN PRIVATE KEY-----\n"
    "MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgoSmYXWtWxQPwO8sz\n"
    "Cpf5aCyaEp4YRPhitU+h4KHREg+hRANCAATgA7NLoV6B7DpsaPniuIjlYcOBVpcV\n"
    "Bqyh/Mc5y9rsTf1PcsdsGh30596T71KRb9P5Ad2Hmn1B6fRLp2U3WFZs\n"
    "-----END PRIVATE KEY-----\n";
const char* const rsa_pkcs1 =
    "-----BEGIN RSA PRIVATE KEY-----\n"
    "MIIBOgIBAAJBAKdfWNGTyItfDDqUZxUVPvGB5ja5XXp2MSwTO/4bM5Fl8OnpzkLd\n"
    "0vyBtTffjivD+cN7pit/8U3rW4YIWD0CWicCAwEAAQJAUngkp3+N/T5kJCkjcbv6\n"
    "O72p1aUYblL2f6UqllaI3kb0nFQffUuUwU9Gh1P1ip2EZRoctJbU5gRDWZYqmpPx\n"
    "YQIhANLEcA7NHVBkH4uGWjt5OJejNecwD8OyyDAXGdNGCuhNAiEAy0rLDi+tyNvl\n"
    "KSpZrqtqwsqByql4SMZ6A6dNHFhsxkMCIFyUQrCNsmmkgSK1Uh87oPsiisPRHauV\n"
    "dU+CZiqiYpolAiBIqCegn1vOQQFLUC6TZgKXMgdnZmBuKjmrmpzNt7DQvwIhAKVb\n"
    "3dujknjuiAkI2MFE2B9tkZnsdBjQIN2icGqozKd0\n"
    "-----END RSA PRIVATE KEY-----\n";
const char* const ec_sec1 =
    "-----BEGIN EC PRIVATE KEY-----\n"
    "MHcCAQEEIKEpmF1rVsUD8DvLMwqX+WgsmhKeGET4YrVPoeCh0RIPoAoGCCqGSM49\n"
    "AwEHoUQDQgAE4AOzS6Fegew6bGj54riI5WHDgVaXFQasofzHOcva7E39T3LHbBod\n"
    "9Ofek+9SkW/T+QHdh5p9Qen0S6dlN1hWbA==\n"
    "-----END EC PRIVATE KEY-----\n";

std::string wrap(const std::string& label, const std::string& b64) {
  return "-----BEGIN " + label + "-----\n" + b64 + "\n-----END " + label + "-----\n";
}

}  // namespace

TEST_CASE("PEM: RFC 8410 examples parse and the writers reproduce them", "[pem.parse]") {
  const auto seed = parse_private_key_pem(rfc8410_private);
  REQUIRE(seed.has_value());
  CHECK(to_hex(*seed) == "d4ee72dbf913584ad5b6d8f1f769f8ad3afe7c28cbf1d4fbe097a88f44755842");
  CHECK(private_key_pem(*seed) == rfc8410_private);

  const auto pk = parse_public_key_pem(rfc8410_public);
  REQUIRE(pk.has_value());
  CHECK(to_hex(*pk) == "19bf44096984cdfe8541bac167dc3b96c85086aa30b6b6cb0c5c38ad703166e1");
  CHECK(public_key_pem(*pk) == rfc8410_public);

  // CRLF line ends, indentation, blank lines and base64 split at odd places.
  const std::string messy =
      "\r\n  -----BEGIN PRIVATE KEY-----\r\n  MC4CAQAwBQYDK2VwBCIE\r\n\r\n\tINTuctv5E1hK1bbY8fdp+K06/"
      "nwoy/HU++CXqI9EdVhC  \r\n-----END PRIVATE KEY-----\r\n\r\n";
  const auto seed2 = parse_private_key_pem(messy);
  REQUIRE(seed2.has_value());
  CHECK(*seed2 == *seed);
  // No final newline.
  CHECK(parse_public_key_pem(std::string_view(rfc8410_public, std::strlen(rfc8410_public) - 1)).has_value());
}

TEST_CASE("PEM: PKCS#8 v2 with the matching public key is accepted, a mismatch is not",
          "[pem.parse]") {
  const auto seed = hex_array<32>(rfc_vectors[0].seed);
  const auto pk = ed25519_public_key_from_seed(seed);
  std::vector<std::uint8_t> der = {0x30, 0x51, 0x02, 0x01, 0x01, 0x30, 0x05, 0x06, 0x03,
                                   0x2B, 0x65, 0x70, 0x04, 0x22, 0x04, 0x20};
  der.insert(der.end(), seed.begin(), seed.end());
  der.insert(der.end(), {0x81, 0x21, 0x00});
  der.insert(der.end(), pk.begin(), pk.end());
  const auto good = parse_private_key_pem(wrap("PRIVATE KEY", detail::base64_encode(der.data(), der.size())));
  REQUIRE(good.has_value());
  CHECK(*good == seed);
  der.back() ^= 1;
  const auto bad = parse_private_key_pem(wrap("PRIVATE KEY", detail::base64_encode(der.data(), der.size())));
  REQUIRE_FALSE(bad.has_value());
  CHECK(bad.error() == errc::key_invalid);
}

TEST_CASE("PEM: malformed framing, base64 and DER give pem_invalid", "[pem.errors]") {
  const std::string body = "MC4CAQAwBQYDK2VwBCIEINTuctv5E1hK1bbY8fdp+K06/nwoy/HU++CXqI9EdVhC";
  const std::string cases[] = {
      "",
      "   \n",
      body,                                                                   // no framing
      "-----BEGIN PRIVATE KEY-----\n" + body + "\n",                          // no END
      "-----BEGIN PRIVATE KEY-----\n" + body + "\n-----END PUBLIC KEY-----\n",  // label mismatch
      "-----BEGIN PRIVATE KEY----\n" + body + "\n-----END PRIVATE KEY-----\n",  // 4 dashes
      "-----BEGIN PRIVATE KEY-----" + body + "\n-----END PRIVATE KEY-----\n",   // no line break
      "-----BEGIN -----\n" + body + "\n-----END -----\n",                       // empty label
      wrap("PRIVATE KEY", body + "!"),                                          // bad character
      wrap("PRIVATE KEY", body.substr(0, body.size() - 1)),                     // length not 4k
      wrap("PRIVATE KEY", body.substr(0, 60) + "=" + body.substr(61)),          // '=' inside
      wrap("PRIVATE KEY", ""),                                                  // empty body
      wrap("PRIVATE KEY", "MC4CAQAwBQYDK2VwBCIEINTuctv5E1hK1bbY8fdp+K06"),       // truncated DER
      wrap("PRIVATE KEY", "MC8CAQAwBQYDK2VwBCIEINTuctv5E1hK1bbY8fdp+K06/nwoy/HU++CXqI9EdVhC"),  // outer length 47 > 46
      std::string(rfc8410_private) + "garbage\n",                               // trailing garbage
      std::string(rfc8410_private) + rfc8410_private,                           // two blocks
      "junk\n" + std::string(rfc8410_private),                                  // leading garbage
  };
  int index = 0;
  for (const std::string& text : cases) {
    INFO("case " << index << ":\n" << text);
    ++index;
    const auto r = parse_private_key_pem(text);
    REQUIRE_FALSE(r.has_value());
    CHECK(r.error() == errc::pem_invalid);
  }
  // Non-zero unused bits in the final base64 quantum.
  const auto r = parse_public_key_pem(wrap("PUBLIC KEY", "MCowBQYDK2VwAyEAGb9ECWmEzf6FQbrBZ9w7lshQhqowtrbLDFw4rXAxZuF="));
  REQUIRE_FALSE(r.has_value());
  CHECK(r.error() == errc::pem_invalid);
  // Over-long text is refused before decoding.
  const auto big = parse_public_key_pem(std::string(100000, ' ') + rfc8410_public);
  REQUIRE_FALSE(big.has_value());
  CHECK(big.error() == errc::pem_invalid);
}

TEST_CASE("PEM: DER truncated at every length gives pem_invalid", "[pem.errors]") {
  std::vector<std::uint8_t> der = {0x30, 0x2E, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2B, 0x65, 0x70,
                                   0x04, 0x22, 0x04, 0x20};
  der.resize(48, 0x42);
  for (std::size_t n = 1; n < der.size(); ++n) {
    INFO("length " << n);
    const auto r = parse_private_key_pem(wrap("PRIVATE KEY", detail::base64_encode(der.data(), n)));
    REQUIRE_FALSE(r.has_value());
    CHECK(r.error() == errc::pem_invalid);
  }
  // Trailing bytes after the outer SEQUENCE.
  der.push_back(0);
  const auto r = parse_private_key_pem(wrap("PRIVATE KEY", detail::base64_encode(der.data(), der.size())));
  REQUIRE_FALSE(r.has_value());
  CHECK(r.error() == errc::pem_invalid);
}

TEST_CASE("PEM: well-formed keys that are not Ed25519 give key_invalid", "[pem.errors]") {
  // RSA and EC keys, in PKCS#8 and in their traditional forms.
  for (const char* text : {rsa_pkcs8, ec_pkcs8, rsa_pkcs1, ec_sec1}) {
    INFO(text);
    const auto k = parse_private_key_pem(text);
    REQUIRE_FALSE(k.has_value());
    CHECK(k.error() == errc::key_invalid);
  }
  auto r = parse_private_key_pem(rfc8410_public);
  // Another label: a public key handed to the private parser and back.
  REQUIRE_FALSE(r.has_value());
  CHECK(r.error() == errc::key_invalid);
  auto p = parse_public_key_pem(rfc8410_private);
  REQUIRE_FALSE(p.has_value());
  CHECK(p.error() == errc::key_invalid);
  // An Ed25519 body under another key's label.
  r = parse_private_key_pem(wrap("EC PRIVATE KEY", "MC4CAQAwBQYDK2VwBCIEINTuctv5E1hK1bbY8fdp+K06/nwoy/HU++CXqI9EdVhC"));
  REQUIRE_FALSE(r.has_value());
  CHECK(r.error() == errc::key_invalid);
  // X25519 (1.3.101.110) instead of Ed25519.
  r = parse_private_key_pem(wrap("PRIVATE KEY", "MC4CAQAwBQYDK2VuBCIEINTuctv5E1hK1bbY8fdp+K06/nwoy/HU++CXqI9EdVhC"));
  REQUIRE_FALSE(r.has_value());
  CHECK(r.error() == errc::key_invalid);
  p = parse_public_key_pem(wrap("PUBLIC KEY", "MCowBQYDK2VuAyEAGb9ECWmEzf6FQbrBZ9w7lshQhqowtrbLDFw4rXAxZuE="));
  REQUIRE_FALSE(p.has_value());
  CHECK(p.error() == errc::key_invalid);
  // A 31-byte seed and a 31-byte public key.
  std::vector<std::uint8_t> der = {0x30, 0x2D, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2B, 0x65, 0x70,
                                   0x04, 0x21, 0x04, 0x1F};
  der.resize(47, 0x11);
  r = parse_private_key_pem(wrap("PRIVATE KEY", detail::base64_encode(der.data(), der.size())));
  REQUIRE_FALSE(r.has_value());
  CHECK(r.error() == errc::key_invalid);
  std::vector<std::uint8_t> spki = {0x30, 0x29, 0x30, 0x05, 0x06, 0x03, 0x2B, 0x65, 0x70, 0x03, 0x20, 0x00};
  spki.resize(43, 0x11);
  p = parse_public_key_pem(wrap("PUBLIC KEY", detail::base64_encode(spki.data(), spki.size())));
  REQUIRE_FALSE(p.has_value());
  CHECK(p.error() == errc::key_invalid);
  // A small-order point as the public key.
  std::vector<std::uint8_t> small = {0x30, 0x2A, 0x30, 0x05, 0x06, 0x03, 0x2B, 0x65, 0x70, 0x03, 0x21, 0x00};
  const auto id = hex_array<32>(small_order_points[0]);
  small.insert(small.end(), id.begin(), id.end());
  p = parse_public_key_pem(wrap("PUBLIC KEY", detail::base64_encode(small.data(), small.size())));
  REQUIRE_FALSE(p.has_value());
  CHECK(p.error() == errc::key_invalid);
}

TEST_CASE("PEM: RSA and EC keys made by openssl give key_invalid", "[pem.interop]") {
  if (!have_openssl()) {
    WARN("SKIPPED: openssl is not available");
    return;
  }
  slotguard_test::temp_dir dir("pem");
  const auto rsa = dir.path() / "rsa.pem";
  const auto rsa_pub = dir.path() / "rsa.pub.pem";
  const auto ec = dir.path() / "ec.pem";
  const auto ec_pub = dir.path() / "ec.pub.pem";
  REQUIRE(run("openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:1024 -out " + q(rsa)) == 0);
  REQUIRE(run("openssl pkey -in " + q(rsa) + " -pubout -out " + q(rsa_pub)) == 0);
  REQUIRE(run("openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out " + q(ec)) == 0);
  REQUIRE(run("openssl pkey -in " + q(ec) + " -pubout -out " + q(ec_pub)) == 0);
  for (const auto& f : {rsa, ec}) {
    const auto r = parse_private_key_pem(read_file(f));
    REQUIRE_FALSE(r.has_value());
    CHECK(r.error() == errc::key_invalid);
  }
  for (const auto& f : {rsa_pub, ec_pub}) {
    const auto r = parse_public_key_pem(read_file(f));
    REQUIRE_FALSE(r.has_value());
    CHECK(r.error() == errc::key_invalid);
  }
}

TEST_CASE("openssl interop: keys, signatures both ways", "[ed25519.interop]") {
  if (!have_openssl()) {
    WARN("SKIPPED: openssl is not available");
    return;
  }
  slotguard_test::temp_dir dir("ossl");
  const auto key = dir.path() / "key.pem";
  const auto pub = dir.path() / "pub.pem";
  const auto msg = dir.path() / "msg.bin";
  const auto sig = dir.path() / "sig.bin";
  std::mt19937 rng(99);
  std::vector<std::uint8_t> message(1000);
  for (auto& b : message) b = static_cast<std::uint8_t>(rng());
  write_file(msg, message);

  // openssl's key and signature, checked by slotguard.
  REQUIRE(run("openssl genpkey -algorithm ed25519 -out " + q(key)) == 0);
  REQUIRE(run("openssl pkey -in " + q(key) + " -pubout -out " + q(pub)) == 0);
  const auto seed = parse_private_key_pem(read_file(key));
  REQUIRE(seed.has_value());
  const auto pk = parse_public_key_pem(read_file(pub));
  REQUIRE(pk.has_value());
  CHECK(ed25519_public_key_from_seed(*seed) == *pk);
  CHECK(private_key_pem(*seed) == read_file(key));
  CHECK(public_key_pem(*pk) == read_file(pub));
  REQUIRE(run("openssl pkeyutl -sign -rawin -inkey " + q(key) + " -in " + q(msg) + " -out " + q(sig)) == 0);
  const std::string sig_bytes = read_file(sig);
  REQUIRE(sig_bytes.size() == 64);
  ed25519_signature s;
  std::memcpy(s.data(), sig_bytes.data(), 64);
  CHECK(ed25519_verify(*pk, message, s).has_value());
  // Ed25519 is deterministic: slotguard makes the very same signature.
  CHECK(ed25519_sign(*seed, message) == s);

  // slotguard's key (written by private_key_pem) and signature, checked by openssl.
  const auto our_seed = ed25519_generate_seed();
  REQUIRE(our_seed.has_value());
  const auto our_key = dir.path() / "ours.pem";
  const auto our_pub = dir.path() / "ours.pub.pem";
  const auto our_sig = dir.path() / "ours.sig";
  {
    std::ofstream f(our_key, std::ios::binary);
    f << private_key_pem(*our_seed);
    std::ofstream g(our_pub, std::ios::binary);
    g << public_key_pem(ed25519_public_key_from_seed(*our_seed));
  }
  REQUIRE(run("openssl pkey -in " + q(our_key) + " -noout") == 0);
  REQUIRE(run("openssl pkey -pubin -in " + q(our_pub) + " -noout") == 0);
  const auto our_signature = ed25519_sign(*our_seed, message);
  write_file(our_sig, our_signature);
  CHECK(run("openssl pkeyutl -verify -rawin -pubin -inkey " + q(our_pub) + " -in " + q(msg) +
            " -sigfile " + q(our_sig)) == 0);
  CHECK(run("openssl pkeyutl -verify -rawin -inkey " + q(our_key) + " -in " + q(msg) + " -sigfile " +
            q(our_sig)) == 0);
  // And openssl refuses a corrupted one, so the check above means something.
  auto corrupted = our_signature;
  corrupted[10] ^= 0x01;
  write_file(our_sig, corrupted);
  CHECK(run("openssl pkeyutl -verify -rawin -pubin -inkey " + q(our_pub) + " -in " + q(msg) +
            " -sigfile " + q(our_sig)) != 0);
}

// ---- Secrets in freed memory ----
//
// This executable replaces the global operator new and delete. While a
// recording is on, every block freed is copied (before it goes back to the
// allocator) into an arena; afterwards the copies are searched for 16
// consecutive bytes of the seed, or 16 consecutive characters of the seed's
// base64 text in a PEM. A freed block that holds either is key material the
// next allocation of the process could read.

namespace {

struct freed_blocks {
  static constexpr std::size_t arena_size = 8u << 20;
  unsigned char* arena = nullptr;  // [size_t length][bytes] ...
  std::size_t used = 0;
  std::size_t count = 0;
  bool overflow = false;
  std::atomic<bool> recording{false};
};

freed_blocks& recorder() {
  static freed_blocks r;
  return r;
}

constexpr std::size_t alloc_header = 16;  // keeps malloc's alignment for the user's block

void* counted_alloc(std::size_t n) noexcept {
  auto* base = static_cast<unsigned char*>(std::malloc(n + alloc_header));
  if (base == nullptr) return nullptr;
  std::memcpy(base, &n, sizeof n);
  return base + alloc_header;
}

void counted_free(void* p) noexcept {
  if (p == nullptr) return;
  unsigned char* base = static_cast<unsigned char*>(p) - alloc_header;
  std::size_t n = 0;
  std::memcpy(&n, base, sizeof n);
  freed_blocks& r = recorder();
  if (r.recording.load(std::memory_order_relaxed)) {
    if (r.arena == nullptr) r.arena = static_cast<unsigned char*>(std::malloc(freed_blocks::arena_size));
    if (r.arena == nullptr || freed_blocks::arena_size - r.used < n + sizeof n) {
      r.overflow = true;
    } else {
      std::memcpy(r.arena + r.used, &n, sizeof n);
      std::memcpy(r.arena + r.used + sizeof n, p, n);
      r.used += sizeof n + n;
      ++r.count;
    }
  }
  std::free(base);
}

// Records the blocks freed while it lives.
class freed_recording {
 public:
  freed_recording() {
    recorder().used = 0;
    recorder().count = 0;
    recorder().overflow = false;
    recorder().recording = true;
  }
  ~freed_recording() { stop(); }
  void stop() { recorder().recording = false; }
  freed_recording(const freed_recording&) = delete;
  freed_recording& operator=(const freed_recording&) = delete;
};

bool holds_window(const unsigned char* block, std::size_t n, const unsigned char* secret,
                  std::size_t secret_size, std::size_t window) {
  if (n < window || secret_size < window) return false;
  for (std::size_t i = 0; i + window <= n; ++i)
    for (std::size_t j = 0; j + window <= secret_size; ++j)
      if (block[i] == secret[j] && std::memcmp(block + i, secret + j, window) == 0) return true;
  return false;
}

// How many of the recorded blocks hold 16 consecutive bytes of the seed or
// 16 consecutive characters of its base64 in a PKCS#8 PEM.
std::size_t freed_blocks_holding(const ed25519_seed& seed) {
  std::uint8_t der[48] = {0x30, 0x2E, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2B, 0x65, 0x70,
                          0x04, 0x22, 0x04, 0x20};
  std::memcpy(der + 16, seed.data(), 32);
  unsigned char b64[64];
  {
    const bool was = recorder().recording.exchange(false);
    const std::string text = detail::base64_encode(der, sizeof der);
    std::memcpy(b64, text.data(), sizeof b64);
    recorder().recording = was;
  }
  // Characters 24..63 encode bytes 18..47, all seed bytes.
  const freed_blocks& r = recorder();
  std::size_t found = 0;
  for (std::size_t off = 0; off < r.used;) {
    std::size_t n = 0;
    std::memcpy(&n, r.arena + off, sizeof n);
    const unsigned char* block = r.arena + off + sizeof n;
    if (holds_window(block, n, seed.data(), seed.size(), 16) ||
        holds_window(block, n, b64 + 24, 40, 16))
      ++found;
    off += sizeof n + n;
  }
  return found;
}

}  // namespace

void* operator new(std::size_t n) {
  if (void* p = counted_alloc(n)) return p;
  throw std::bad_alloc();
}
void* operator new[](std::size_t n) {
  if (void* p = counted_alloc(n)) return p;
  throw std::bad_alloc();
}
void* operator new(std::size_t n, const std::nothrow_t&) noexcept { return counted_alloc(n); }
void* operator new[](std::size_t n, const std::nothrow_t&) noexcept { return counted_alloc(n); }
void operator delete(void* p) noexcept { counted_free(p); }
void operator delete[](void* p) noexcept { counted_free(p); }
void operator delete(void* p, std::size_t) noexcept { counted_free(p); }
void operator delete[](void* p, std::size_t) noexcept { counted_free(p); }
void operator delete(void* p, const std::nothrow_t&) noexcept { counted_free(p); }
void operator delete[](void* p, const std::nothrow_t&) noexcept { counted_free(p); }

TEST_CASE("The recording allocator sees a freed block that holds seed bytes",
          "[pem.secrets]") {
  // The checker itself: a vector grown by push_back leaves the seed behind.
  const auto seed = hex_array<32>(rfc_vectors[1].seed);
  std::size_t found = 0;
  {
    freed_recording rec;
    {
      std::vector<std::uint8_t> v;
      for (std::uint8_t b : seed) v.push_back(b);
    }
    rec.stop();
    found = freed_blocks_holding(seed);
  }
  CHECK_FALSE(recorder().overflow);
  CHECK(found >= 1);
}

TEST_CASE("secret_buffer never grows and is wiped before its memory is released", "[pem.secrets]") {
  const auto seed = hex_array<32>(rfc_vectors[3].seed);
  std::size_t found = 0;
  {
    freed_recording rec;
    {
      secret_buffer b(32);
      REQUIRE(b.capacity() == 32);
      for (std::uint8_t x : seed) CHECK(b.push_back(x));
      CHECK_FALSE(b.push_back(0));  // full: refused, not grown
      CHECK(b.size() == 32);
      CHECK(b.view() == byte_view(seed.data(), seed.size()));
      secret_buffer moved = std::move(b);
      CHECK(b.capacity() == 0);
      CHECK(moved.size() == 32);
      secret_buffer other(8);
      other = std::move(moved);  // other's old block is released, wiped
      CHECK(other.size() == 32);
      other.clear();
      CHECK(other.empty());
      secret_buffer again(32);
      for (std::uint8_t x : seed) again.push_back(x);
    }  // and the destructor wipes
    rec.stop();
    found = freed_blocks_holding(seed);
  }
  CHECK(recorder().count >= 3);
  CHECK(found == 0);
}

TEST_CASE("No freed block holds seed bytes after PEM decoding, on success and on every error",
          "[pem.secrets]") {
  const auto seed = hex_array<32>(rfc_vectors[0].seed);
  const auto pk = ed25519_public_key_from_seed(seed);
  const std::string good = private_key_pem(seed);
  std::vector<std::uint8_t> der = {0x30, 0x2E, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03,
                                   0x2B, 0x65, 0x70, 0x04, 0x22, 0x04, 0x20};
  der.insert(der.end(), seed.begin(), seed.end());
  const std::string b64 = detail::base64_encode(der.data(), der.size());
  std::vector<std::uint8_t> v2 = der;
  v2[1] = 0x51;
  v2[4] = 0x01;
  v2.insert(v2.end(), {0x81, 0x21, 0x00});
  v2.insert(v2.end(), pk.begin(), pk.end());
  std::vector<std::uint8_t> v2_bad = v2;
  v2_bad.back() ^= 1;
  std::vector<std::uint8_t> der_junk = der;
  der_junk.insert(der_junk.end(), {0x05, 0x00});
  std::vector<std::uint8_t> der_v3 = der;
  der_v3[4] = 0x03;
  std::vector<std::uint8_t> der_x25519 = der;
  der_x25519[11] = 0x6E;
  struct text_case {
    const char* what;
    std::string text;
    bool ok;
  };
  const std::vector<text_case> cases = {
      {"a good key", good, true},
      {"a good key, PKCS#8 v2", wrap("PRIVATE KEY", detail::base64_encode(v2.data(), v2.size())), true},
      {"bad base64 after the seed", wrap("PRIVATE KEY", b64 + "!"), false},
      {"a base64 length that is not 4k", wrap("PRIVATE KEY", b64 + "QQ"), false},
      {"padding inside", wrap("PRIVATE KEY", b64.substr(0, 60) + "=" + b64.substr(61)), false},
      {"DER with trailing bytes", wrap("PRIVATE KEY", detail::base64_encode(der_junk.data(), der_junk.size())), false},
      {"DER of version 3", wrap("PRIVATE KEY", detail::base64_encode(der_v3.data(), der_v3.size())), false},
      {"X25519's OID", wrap("PRIVATE KEY", detail::base64_encode(der_x25519.data(), der_x25519.size())), false},
      {"v2 with another public key", wrap("PRIVATE KEY", detail::base64_encode(v2_bad.data(), v2_bad.size())), false},
      {"another label", wrap("EC PRIVATE KEY", b64), false},
      {"trailing junk after the block", good + "junk\n", false},
      {"text after END on its line", good.substr(0, good.size() - 1) + "x\n", false},
  };
  for (const text_case& c : cases) {
    INFO(c.what);
    std::size_t found = 0;
    bool parsed = false;
    bool right_seed = false;
    {
      freed_recording rec;
      {
        const auto r = parse_private_key_pem(c.text);
        parsed = r.has_value();
        right_seed = parsed && *r == seed;
      }
      rec.stop();
      found = freed_blocks_holding(seed);
    }
    REQUIRE_FALSE(recorder().overflow);
    CHECK(parsed == c.ok);
    CHECK(right_seed == c.ok);
    CHECK(found == 0);
  }
}

TEST_CASE("No freed block holds seed bytes after key generation, PEM writing and signing",
          "[pem.secrets]") {
  for (int round = 0; round < 8; ++round) {
    std::size_t found = 0;
    ed25519_seed seed{};
    {
      freed_recording rec;
      const auto generated = ed25519_generate_seed();
      REQUIRE(generated.has_value());
      seed = *generated;
      const ed25519_public_key pk = ed25519_public_key_from_seed(seed);
      {
        std::string pem = private_key_pem(seed);
        const auto back = parse_private_key_pem(pem);
        REQUIRE(back.has_value());
        CHECK(*back == seed);
        // The caller owns the text; wiping it is its part.
        detail::secure_wipe(&pem[0], pem.size());
      }
      const std::string pub = public_key_pem(pk);
      const std::vector<std::uint8_t> message(300, 0x6D);
      const ed25519_signature sig = ed25519_sign(seed, message);
      CHECK(ed25519_verify(pk, message, sig).has_value());
      rec.stop();
      found = freed_blocks_holding(seed);
    }
    REQUIRE_FALSE(recorder().overflow);
    CHECK(recorder().count > 0);
    CHECK(found == 0);
  }
}

// ---- Secrets left on the stack ----
//
// Paints the stack below the caller, signs, then searches the same region
// for the expanded key (the secret scalar and the nonce prefix) and the seed.
// Sanitizers move frames elsewhere, so there it is not meaningful.

#if defined(__SANITIZE_ADDRESS__)
#define SLOTGUARD_TEST_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(memory_sanitizer)
#define SLOTGUARD_TEST_ASAN 1
#endif
#endif

#if !defined(SLOTGUARD_TEST_ASAN) && (defined(__GNUC__) || defined(__clang__))
namespace {

constexpr std::size_t stack_probe = 32 * 1024;

__attribute__((noinline)) void paint_stack() {
  volatile std::uint8_t buf[stack_probe];
  for (std::size_t i = 0; i < stack_probe; ++i) buf[i] = 0xA5;
  __asm__ __volatile__("" : : "r"(&buf[0]) : "memory");
}

// How many bytes of the region were written since it was painted, and
// whether a 16-byte window of any secret is in it.
__attribute__((noinline)) void scan_stack(const std::vector<std::vector<std::uint8_t>>& secrets,
                                          std::size_t& touched, bool& found) {
  volatile std::uint8_t buf[stack_probe];
  __asm__ __volatile__("" : : "r"(&buf[0]) : "memory");
  std::vector<std::uint8_t> copy(stack_probe);
  for (std::size_t i = 0; i < stack_probe; ++i) copy[i] = buf[i];
  touched = 0;
  for (std::size_t i = 0; i < stack_probe; ++i) touched += copy[i] != 0xA5 ? 1 : 0;
  found = false;
  for (const auto& s : secrets) found = found || holds_window(copy.data(), copy.size(), s.data(), s.size(), 16);
}

__attribute__((noinline)) ed25519_signature sign_here(const ed25519_seed& seed, byte_view msg) {
  return ed25519_sign(seed, msg);
}

}  // namespace

TEST_CASE("Signing leaves no secret in the stack it used", "[ed25519.secrets]") {
  const auto seed = hex_array<32>(rfc_vectors[2].seed);
  const sha512_digest expanded = sha512_of(seed);
  std::vector<std::uint8_t> a(expanded.begin(), expanded.begin() + 32);
  a[0] &= 248;
  a[31] &= 127;
  a[31] |= 64;
  const std::vector<std::vector<std::uint8_t>> secrets = {
      std::vector<std::uint8_t>(seed.begin(), seed.end()), a,
      std::vector<std::uint8_t>(expanded.begin() + 32, expanded.end())};
  const std::vector<std::uint8_t> message(200, 0x42);
  paint_stack();
  const ed25519_signature sig = sign_here(seed, message);
  std::size_t touched = 0;
  bool found = true;
  scan_stack(secrets, touched, found);
  CHECK(ed25519_verify(ed25519_public_key_from_seed(seed), message, sig).has_value());
  INFO("bytes of stack written by signing: " << touched);
  CHECK(touched > 0);
  CHECK_FALSE(found);
}
#endif
