// Known-answer tests for the hashing the PostgreSQL check authenticates with:
// SHA-256 (FIPS 180-2 appendix examples, as repeated in RFC 6234), HMAC-SHA-256
// (RFC 4231), PBKDF2-HMAC-SHA-256 (RFC 7914 section 11), MD5 (RFC 1321 test
// suite), base64 (RFC 4648 section 10) and the SCRAM-SHA-256 exchange of
// RFC 7677 section 3.
#include <gtest/gtest.h>

#include <chrono>
#include <string>
#include <string_view>

#include "vitals/detail/base64.hpp"
#include "vitals/health/detail/md5.hpp"
#include "vitals/health/detail/sha256.hpp"
#include "vitals/health/checks.hpp"

namespace d = vitals::health::detail;

namespace {

template <class Digest>
std::string hex(const Digest& digest) {
    static constexpr char digits[] = "0123456789abcdef";
    std::string out;
    for (auto b : digest) {
        out.push_back(digits[static_cast<unsigned char>(b) >> 4]);
        out.push_back(digits[static_cast<unsigned char>(b) & 0xF]);
    }
    return out;
}

std::string sha256_hex(std::string_view data) { return hex(d::sha256_of(data)); }

std::string bytes(std::initializer_list<int> values) {
    std::string out;
    for (int v : values) out.push_back(static_cast<char>(v));
    return out;
}

}  // namespace

// --- SHA-256 -----------------------------------------------------------------

TEST(Sha256, KnownAnswers) {
    EXPECT_EQ(sha256_hex(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    EXPECT_EQ(sha256_hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    // 448 bits: padding needs a second block.
    EXPECT_EQ(sha256_hex("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"),
              "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
    // 896 bits.
    EXPECT_EQ(sha256_hex("abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmn"
                         "hijklmnoijklmnopjklmnopqklmnopqrlmnopqrsmnopqrstnopqrstu"),
              "cf5b16a778af8380036ce59e7b0492370b249b11e8f07a51afac45037afee9d1");
    EXPECT_EQ(sha256_hex(std::string(1000000, 'a')),
              "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}

TEST(Sha256, MillionAsInUnevenPieces) {
    d::sha256 h;
    const std::string chunk(997, 'a');
    std::size_t left = 1000000;
    for (std::size_t step = 1; left > 0; step = step % 997 + 1) {
        const std::size_t n = step < left ? step : left;
        h.update(std::string_view(chunk).substr(0, n));
        left -= n;
    }
    EXPECT_EQ(hex(h.finish()), "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}

TEST(Sha256, SplitAnywhereGivesTheSameDigest) {
    std::string message;
    for (int i = 0; i < 200; ++i) message.push_back(static_cast<char>(i * 7 + 3));
    for (std::size_t len : {55u, 56u, 63u, 64u, 65u, 119u, 120u, 128u, 200u}) {
        const std::string_view m = std::string_view(message).substr(0, len);
        const auto whole = d::sha256_of(m);
        for (std::size_t cut = 0; cut <= len; ++cut) {
            d::sha256 h;
            h.update(m.substr(0, cut));
            h.update(m.substr(cut));
            ASSERT_EQ(h.finish(), whole) << "length " << len << ", cut at " << cut;
        }
    }
}

// --- HMAC-SHA-256 (RFC 4231) -----------------------------------------------------

TEST(HmacSha256, Rfc4231) {
    // Test case 1.
    EXPECT_EQ(hex(d::hmac_sha256_of(std::string(20, '\x0b'), "Hi There")),
              "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7");
    // Test case 2: a key shorter than the output.
    EXPECT_EQ(hex(d::hmac_sha256_of("Jefe", "what do ya want for nothing?")),
              "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
    // Test case 3.
    EXPECT_EQ(hex(d::hmac_sha256_of(std::string(20, '\xaa'), std::string(50, '\xdd'))),
              "773ea91e36800e46854db8ebd09181a72959098b3ef8c122d9635514ced565fe");
    // Test case 4.
    std::string key4;
    for (int i = 1; i <= 25; ++i) key4.push_back(static_cast<char>(i));
    EXPECT_EQ(hex(d::hmac_sha256_of(key4, std::string(50, '\xcd'))),
              "82558a389a443c0ea4cc819899f2083a85f0faa3e578f8077a2e3ff46729665b");
    // Test case 6: a key longer than the block size is hashed first.
    EXPECT_EQ(
        hex(d::hmac_sha256_of(std::string(131, '\xaa'), "Test Using Larger Than Block-Size Key - Hash Key First")),
        "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54");
    // Test case 7: long key and long data.
    EXPECT_EQ(hex(d::hmac_sha256_of(std::string(131, '\xaa'),
                                    "This is a test using a larger than block-size key and a larger than block-size "
                                    "data. The key needs to be hashed before being used by the HMAC algorithm.")),
              "9b09ffa71b942fcb27635fbcd5b0e944bfdc63644f0713938a7f51535c3a35e2");
}

TEST(HmacSha256, KeyObjectIsReusable) {
    const d::hmac_sha256 mac("Jefe");
    const auto first = mac.mac("what do ya want for nothing?");
    EXPECT_EQ(mac.mac("what do ya want for nothing?"), first);
    EXPECT_NE(mac.mac("something else"), first);
}

// --- PBKDF2-HMAC-SHA-256 (RFC 7914, section 11) ------------------------------------

TEST(Pbkdf2HmacSha256, Rfc7914OneIteration) {
    EXPECT_EQ(hex(d::pbkdf2_hmac_sha256("passwd", "salt", 1, 64)),
              "55ac046e56e3089fec1691c22544b605f94185216dde0465e68b9d57c20dacbc"
              "49ca9cccf179b645991664b39d77ef317c71b845b1e30bd509112041d3a19783");
}

TEST(Pbkdf2HmacSha256, Rfc7914EightyThousandIterations) {
    const auto t0 = std::chrono::steady_clock::now();
    EXPECT_EQ(hex(d::pbkdf2_hmac_sha256("Password", "NaCl", 80000, 64)),
              "4ddcd8f60b98be21830cee5ef22701f9641a4418d04c0414aeff08876b34ab56"
              "a1d425a1225833549adb841b51c9b3176a272bdebba1d078478f62b397f33c8d");
    // 320000 compressions; a second would mean something is badly off.
    EXPECT_LT(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count(), 5.0);
}

TEST(Pbkdf2HmacSha256, LengthsAndEdgeCases) {
    const auto full = d::pbkdf2_hmac_sha256("passwd", "salt", 1, 64);
    EXPECT_EQ(d::pbkdf2_hmac_sha256("passwd", "salt", 1, 20), full.substr(0, 20));
    EXPECT_EQ(d::pbkdf2_hmac_sha256("passwd", "salt", 1, 33), full.substr(0, 33));
    EXPECT_TRUE(d::pbkdf2_hmac_sha256("passwd", "salt", 0, 32).empty());
    EXPECT_TRUE(d::pbkdf2_hmac_sha256("passwd", "salt", 1, 0).empty());
}

TEST(Pbkdf2HmacSha256, StopsWhenAsked) {
    int asked = 0;
    const auto r = d::pbkdf2_hmac_sha256("p", "s", 1u << 30, 32, [&] { return ++asked < 3; });
    EXPECT_TRUE(r.empty());
    EXPECT_EQ(asked, 3);
}

// --- MD5 (RFC 1321, appendix A.5) ---------------------------------------------------

TEST(Md5, Rfc1321TestSuite) {
    EXPECT_EQ(d::md5_hex(""), "d41d8cd98f00b204e9800998ecf8427e");
    EXPECT_EQ(d::md5_hex("a"), "0cc175b9c0f1b6a831c399e269772661");
    EXPECT_EQ(d::md5_hex("abc"), "900150983cd24fb0d6963f7d28e17f72");
    EXPECT_EQ(d::md5_hex("message digest"), "f96b697d7cb7938d525a2f31aaf161d0");
    EXPECT_EQ(d::md5_hex("abcdefghijklmnopqrstuvwxyz"), "c3fcd3d76192e4007dfb496cca67e13b");
    EXPECT_EQ(d::md5_hex("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"),
              "d174ab98d277d9f5a5611c2c9f419d9f");
    EXPECT_EQ(d::md5_hex("12345678901234567890123456789012345678901234567890123456789012345678901234567890"),
              "57edf4a22be3c955ac49da2e2107b67a");
}

TEST(Md5, PostgresPasswordHash) {
    // PostgreSQL's md5 answer: "md5" + md5(md5(password + user) + 4-byte salt).
    const std::string inner = d::md5_hex(std::string("pencil") + "user");
    EXPECT_EQ("md5" + d::md5_hex(inner + bytes({1, 2, 3, 4})), "md54376eb6913b38f9aaff38dc7cf19ca76");
}

// --- base64 (RFC 4648, section 10) ------------------------------------------------

TEST(Base64, Rfc4648Vectors) {
    const std::pair<std::string_view, std::string_view> vectors[] = {
        {"", ""},
        {"f", "Zg=="},
        {"fo", "Zm8="},
        {"foo", "Zm9v"},
        {"foob", "Zm9vYg=="},
        {"fooba", "Zm9vYmE="},
        {"foobar", "Zm9vYmFy"},
    };
    for (const auto& [plain, encoded] : vectors) {
        EXPECT_EQ(vitals::detail::base64_encode(plain), encoded);
        const auto decoded = vitals::detail::base64_decode(encoded);
        ASSERT_TRUE(decoded) << encoded;
        EXPECT_EQ(*decoded, plain);
    }
}

TEST(Base64, BinaryRoundTrip) {
    std::string all;
    for (int i = 0; i < 256; ++i) all.push_back(static_cast<char>(i));
    for (std::size_t n = 0; n <= all.size(); n += 37) {
        const auto decoded = vitals::detail::base64_decode(vitals::detail::base64_encode(all.substr(0, n)));
        ASSERT_TRUE(decoded);
        EXPECT_EQ(*decoded, all.substr(0, n));
    }
}

TEST(Base64, RejectsNonCanonicalInput) {
    for (std::string_view bad :
         {"Zg=", "Zg", "Z===", "====", "Zm9v=", "Zg==Zg==", "Zh==", "Zm9=", "Zm 9v", "Zm9\n", "Zm-v", "Zm_v"}) {
        EXPECT_FALSE(vitals::detail::base64_decode(bad)) << bad;
    }
}

// --- SCRAM-SHA-256 (RFC 7677, section 3) ---------------------------------------------

namespace {
constexpr std::string_view rfc_nonce = "rOprNGfwEbeRWgbNEkqO";
constexpr std::string_view rfc_server_first =
    "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096";
constexpr std::string_view rfc_client_final =
    "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=";
constexpr std::string_view rfc_server_final = "v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=";

vitals::health::detail::scram_sha256_client rfc_client(std::string password = "pencil") {
    return {"user", std::move(password), std::string(rfc_nonce)};
}
}  // namespace

TEST(ScramSha256, Rfc7677Example) {
    auto c = rfc_client();
    EXPECT_EQ(c.client_first(), "n,,n=user,r=rOprNGfwEbeRWgbNEkqO");
    const auto final_message = c.client_final(rfc_server_first);
    ASSERT_TRUE(final_message) << c.error();
    EXPECT_EQ(*final_message, rfc_client_final);
    EXPECT_TRUE(c.verify_server_final(rfc_server_final)) << c.error();
}

TEST(ScramSha256, WrongPasswordGivesAnotherProofAndRejectsTheServer) {
    auto c = rfc_client("pencil2");
    const auto final_message = c.client_final(rfc_server_first);
    ASSERT_TRUE(final_message) << c.error();
    EXPECT_NE(*final_message, rfc_client_final);
    // A server that knows "pencil" cannot sign for "pencil2", and vice versa.
    EXPECT_FALSE(c.verify_server_final(rfc_server_final));
    EXPECT_NE(c.error().find("does not match"), std::string::npos) << c.error();
}

TEST(ScramSha256, ServerFinalMustCarryTheRightSignature) {
    for (std::string_view bad : {"v=7rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=", "v=", "v=6rriTRBi23WpRR",
                                 "6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=", "e=invalid-proof", ""}) {
        auto c = rfc_client();
        ASSERT_TRUE(c.client_final(rfc_server_first)) << c.error();
        EXPECT_FALSE(c.verify_server_final(bad)) << bad;
        EXPECT_FALSE(c.error().empty());
    }
    // Extensions after the signature are allowed.
    auto c = rfc_client();
    ASSERT_TRUE(c.client_final(rfc_server_first));
    EXPECT_TRUE(c.verify_server_final(std::string(rfc_server_final) + ",x=1")) << c.error();
    // Never before the server's first message.
    auto early = rfc_client();
    EXPECT_FALSE(early.verify_server_final(rfc_server_final));
}

TEST(ScramSha256, RejectsMalformedServerFirst) {
    for (std::string_view bad : {
             "",
             "r=rOprNGfwEbeRWgbNEkqO,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096",        // nonce not extended
             "r=someoneelse%hvYDpWUa2Ra,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096",     // not our nonce
             "m=ext,r=rOprNGfwEbeRWgbNEkqOabc,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=1",  // mandatory extension
             "r=rOprNGfwEbeRWgbNEkqOabc,s=***,i=4096",                          // bad base64
             "r=rOprNGfwEbeRWgbNEkqOabc,s=,i=4096",                             // empty salt
             "r=rOprNGfwEbeRWgbNEkqOabc,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=0",
             "r=rOprNGfwEbeRWgbNEkqOabc,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=-1",
             "r=rOprNGfwEbeRWgbNEkqOabc,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4294967296",
             "r=rOprNGfwEbeRWgbNEkqOabc,s=W22ZaJ0SNY7soEsUEjb6gQ==",
             "s=W22ZaJ0SNY7soEsUEjb6gQ==,r=rOprNGfwEbeRWgbNEkqOabc,i=4096",  // wrong order
         }) {
        auto c = rfc_client();
        EXPECT_FALSE(c.client_final(bad)) << bad;
        EXPECT_FALSE(c.error().empty()) << bad;
    }
}

TEST(ScramSha256, HugeIterationCountStopsAtTheDeadline) {
    auto c = rfc_client();
    const auto t0 = std::chrono::steady_clock::now();
    const auto r = c.client_final("r=rOprNGfwEbeRWgbNEkqOabc,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4000000000",
                                  t0 + std::chrono::milliseconds(100));
    EXPECT_FALSE(r);
    EXPECT_NE(c.error().find("timed out"), std::string::npos) << c.error();
    EXPECT_LT(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count(), 1.0);
}

TEST(ScramSha256, EscapesUserName) {
    const vitals::health::detail::scram_sha256_client c("a,b=c", "x", "nonce");
    EXPECT_EQ(c.client_first(), "n,,n=a=2Cb=3Dc,r=nonce");
}
