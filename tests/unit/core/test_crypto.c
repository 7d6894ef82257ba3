/* test_crypto.c: core/crypto.c against vectors computed with the openssl CLI and python3. */
#include <criterion/criterion.h>

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "crypto.h"

/* Key of the test customer c1.
 * python3 -c "import os,base64;k=os.urandom(16);print(k.hex(), base64.b64encode(k).decode())"
 * -> 3311618e17ea3b1e9736165669b71608 MxFhjhfqOx6XNhZWabcWCA== */
static const uint8_t key_c1[16] = {0x33, 0x11, 0x61, 0x8e, 0x17, 0xea, 0x3b, 0x1e,
                                   0x97, 0x36, 0x16, 0x56, 0x69, 0xb7, 0x16, 0x08};
/* Another key: 650dfa30efa6e98763df98ef632207d6 (same command). */
static const uint8_t key_c2[16] = {0x65, 0x0d, 0xfa, 0x30, 0xef, 0xa6, 0xe9, 0x87,
                                   0x63, 0xdf, 0x98, 0xef, 0x63, 0x22, 0x07, 0xd6};

#define TASK_JSON "{\"taskName\":\"t1\",\"type\":\"predict\"}"

/* K=3311618e17ea3b1e9736165669b71608; IV=2f3339414b576575879bb1c9e3001e3e
 * printf '%s' '{"taskName":"t1","type":"predict"}' \
 *   | openssl enc -aes-128-cbc -K $K -iv $IV -base64 -A */
#define TASK_JSON_CIPHER "JvxEFWtLSru02lyJxXMP1oVZA4aZT5pQjtWwNV9yiI8Ds7dpl0iOK+Dxvb8dOmyq"
/* printf '' | openssl enc -aes-128-cbc -K $K -iv $IV -base64 -A */
#define EMPTY_CIPHER "ItD4FC34phuLmgPHxAum3w=="
/* printf '0123456789abcdef' | openssl enc -aes-128-cbc -K $K -iv $IV -base64 -A */
#define BLOCK_CIPHER "pFwDrBmn1D8M5zMm/W3ZbT+jW3GAS8FwvLXbLvGr0yY="

static void check_decode(const char *in, const void *expected, size_t expected_len)
{
    size_t len = 12345;
    uint8_t *out = crypto_b64_decode(in, strlen(in), &len);
    cr_assert_not_null(out, "decode(%s)", in);
    cr_assert_eq(len, expected_len, "decode(%s) length", in);
    cr_assert(memcmp(out, expected, len) == 0, "decode(%s) bytes", in);
    cr_assert_eq(out[len], 0, "decode(%s) is NUL-terminated", in);
    free(out);
}

static void check_decode_fails(const char *in, size_t in_len)
{
    size_t len = 0;
    uint8_t *out = crypto_b64_decode(in, in_len, &len);
    cr_assert_null(out, "decode of invalid base64 [%.*s] must fail", (int)in_len, in);
}

Test(crypto, b64_encode_rfc4648_vectors)
{
    /* RFC 4648 section 10. */
    static const char *const plain[] = {"", "f", "fo", "foo", "foob", "fooba", "foobar"};
    static const char *const encoded[] = {"",         "Zg==",     "Zm8=",    "Zm9v",
                                          "Zm9vYg==", "Zm9vYmE=", "Zm9vYmFy"};
    for (size_t i = 0; i < sizeof(plain) / sizeof(plain[0]); i++) {
        char *out = crypto_b64_encode(plain[i], strlen(plain[i]));
        cr_assert_not_null(out);
        cr_assert_str_eq(out, encoded[i]);
        free(out);
        check_decode(encoded[i], plain[i], strlen(plain[i]));
    }
}

Test(crypto, b64_encode_null_empty)
{
    char *out = crypto_b64_encode(NULL, 0);
    cr_assert_not_null(out);
    cr_assert_str_eq(out, "");
    free(out);
}

Test(crypto, b64_decode_legacy_iv)
{
    /* python3 -c "import base64;print(base64.b64decode('LzM5QUtXZXWHm7HJ4wAePg==').hex())" */
    static const uint8_t iv[16] = {0x2f, 0x33, 0x39, 0x41, 0x4b, 0x57, 0x65, 0x75,
                                   0x87, 0x9b, 0xb1, 0xc9, 0xe3, 0x00, 0x1e, 0x3e};
    check_decode("LzM5QUtXZXWHm7HJ4wAePg==", iv, sizeof(iv));
    check_decode("MxFhjhfqOx6XNhZWabcWCA==", key_c1, sizeof(key_c1));
}

Test(crypto, b64_round_trip_binary)
{
    uint8_t bin[300];
    for (size_t i = 0; i < sizeof(bin); i++)
        bin[i] = (uint8_t)(i * 7 + 3);
    for (size_t n = 0; n <= sizeof(bin); n++) {
        char *enc = crypto_b64_encode(bin, n);
        size_t len = 0;
        cr_assert_not_null(enc);
        uint8_t *dec = crypto_b64_decode(enc, strlen(enc), &len);
        cr_assert_not_null(dec);
        cr_assert_eq(len, n);
        cr_assert(memcmp(dec, bin, n) == 0);
        free(enc);
        free(dec);
    }
}

Test(crypto, b64_decode_not_nul_terminated)
{
    /* Only the first 4 bytes are the input; what follows must not be read as part of it. */
    const char buf[] = {'Z', 'm', '9', 'v', 'Z', 'g', '=', '='};
    size_t len = 0;
    uint8_t *out = crypto_b64_decode(buf, 4, &len);
    cr_assert_not_null(out);
    cr_assert_eq(len, 3);
    cr_assert_str_eq((char *)out, "foo");
    free(out);
}

Test(crypto, b64_decode_empty)
{
    size_t len = 99;
    uint8_t *out = crypto_b64_decode("", 0, &len);
    cr_assert_not_null(out);
    cr_assert_eq(len, 0);
    cr_assert_eq(out[0], 0);
    free(out);
    out = crypto_b64_decode(NULL, 0, &len);
    cr_assert_not_null(out);
    free(out);
}

Test(crypto, b64_decode_rejects_invalid)
{
    static const char *const bad[] = {
        "Zg=",                                                /* short padding */
        "Zg",                                                 /* padding missing */
        "Zm9v\n",                                             /* whitespace is not accepted */
        " Zm9v",                                              /* leading space */
        "Zm9v Zm9v", "Zm9v====", "Z", "Z===", "@@@@", "-_-_", /* URL-safe alphabet */
        "Zm9=v",     "Zh==", /* non-zero trailing bits: not canonical */
        "Zm9vYmFy=",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        check_decode_fails(bad[i], strlen(bad[i]));
    /* An embedded NUL is not base64 either. */
    check_decode_fails("Zm\0v", 4);
}

Test(crypto, md5_vectors)
{
    char out[25];
    /* printf '' | openssl dgst -md5 -binary | openssl base64 */
    crypto_md5_b64("", 0, out);
    cr_assert_str_eq(out, "1B2M2Y8AsgTpgAmY7PhCfg==");
    crypto_md5_b64(NULL, 0, out);
    cr_assert_str_eq(out, "1B2M2Y8AsgTpgAmY7PhCfg==");
    /* printf '%s' 'The quick brown fox jumps over the lazy dog' \
     *   | openssl dgst -md5 -binary | openssl base64 */
    const char *fox = "The quick brown fox jumps over the lazy dog";
    crypto_md5_b64(fox, strlen(fox), out);
    cr_assert_str_eq(out, "nhB9nTcrtoJr2B01QqQZ1g==");
    /* printf '%s' '{"taskName":"t1","type":"predict"}' | openssl dgst -md5 -binary
     *   | openssl base64 */
    crypto_md5_b64(TASK_JSON, strlen(TASK_JSON), out);
    cr_assert_str_eq(out, "FYXiypiYi9tE8Jn5WjYZ+Q==");
}

Test(crypto, hmac_sha256_vectors)
{
    char out[45];
    /* RFC 4231 test case 2; printf '%s' 'what do ya want for nothing?'
     *   | openssl dgst -sha256 -mac HMAC -macopt key:Jefe -binary | openssl base64 */
    const char *msg = "what do ya want for nothing?";
    crypto_hmac_sha256_b64((const uint8_t *)"Jefe", 4, msg, strlen(msg), out);
    cr_assert_str_eq(out, "W9zBRr9gdU5qBCQmCJV1x1oAPwidJzmDnexYuWTsOEM=");
    /* python3: base64.b64encode(hmac.new(b'key', b'The quick brown fox jumps over the lazy
     * dog', hashlib.sha256).digest()) */
    const char *fox = "The quick brown fox jumps over the lazy dog";
    crypto_hmac_sha256_b64((const uint8_t *)"key", 3, fox, strlen(fox), out);
    cr_assert_str_eq(out, "97yD9DBThCSxMpjmqm+xQ+9NWaFJRhdZl0edvC0aPNg=");
    /* python3: base64.b64encode(hmac.new(b'', b'', hashlib.sha256).digest()) */
    crypto_hmac_sha256_b64(NULL, 0, NULL, 0, out);
    cr_assert_str_eq(out, "thNnmggU2ex3L5XXeMNfxf8Wl8STcVZTxscSFEKSxa0=");
}

Test(crypto, hmac_sha256_string_to_sign)
{
    char out[45];
    /* printf 'GET\n\nMxFhjhfqOx6XNhZWabcWCA==\n2026-11-28 13:55:08;123456789\nc1\n
     * /symetry/rest/c1/tasks\n' (one line) | openssl dgst -sha256 -mac HMAC
     *   -macopt hexkey:3311618e17ea3b1e9736165669b71608 -binary | openssl base64 */
    const char *sts = "GET\n\nMxFhjhfqOx6XNhZWabcWCA==\n2026-11-28 13:55:08;123456789\nc1\n"
                      "/symetry/rest/c1/tasks\n";
    crypto_hmac_sha256_b64(key_c1, sizeof(key_c1), sts, strlen(sts), out);
    cr_assert_str_eq(out, "cp7S+zEIoMTTcvGCntCCyQ0aY3iw6OircKFF9IFuKqI=");
    crypto_hmac_sha256_b64(key_c2, sizeof(key_c2), sts, strlen(sts), out);
    cr_assert_str_neq(out, "cp7S+zEIoMTTcvGCntCCyQ0aY3iw6OircKFF9IFuKqI=");
}

Test(crypto, equal)
{
    cr_assert(crypto_equal("abc", 3, "abc", 3));
    cr_assert_not(crypto_equal("abc", 3, "abd", 3));
    cr_assert_not(crypto_equal("abc", 3, "ab", 2));
    cr_assert_not(crypto_equal("ab", 2, "abc", 3));
    cr_assert_not(crypto_equal("", 0, "a", 1));
    cr_assert(crypto_equal("", 0, "", 0));
    cr_assert(crypto_equal(NULL, 0, NULL, 0));
    cr_assert_not(crypto_equal(NULL, 0, "a", 1));
    /* Lengths bound the comparison, not NULs. */
    cr_assert(crypto_equal("a\0b", 3, "a\0b", 3));
    cr_assert_not(crypto_equal("a\0b", 3, "a\0c", 3));
    cr_assert(crypto_equal("abcX", 3, "abcY", 3));
}

Test(crypto, legacy_decrypt_openssl_vectors)
{
    size_t len = 0;
    char *plain = crypto_legacy_decrypt(key_c1, TASK_JSON_CIPHER, strlen(TASK_JSON_CIPHER), &len);
    cr_assert_not_null(plain);
    cr_assert_eq(len, strlen(TASK_JSON));
    cr_assert_str_eq(plain, TASK_JSON);
    free(plain);

    plain = crypto_legacy_decrypt(key_c1, EMPTY_CIPHER, strlen(EMPTY_CIPHER), &len);
    cr_assert_not_null(plain);
    cr_assert_eq(len, 0);
    cr_assert_str_eq(plain, "");
    free(plain);

    /* A plaintext of exactly one block takes a whole block of padding. */
    plain = crypto_legacy_decrypt(key_c1, BLOCK_CIPHER, strlen(BLOCK_CIPHER), NULL);
    cr_assert_not_null(plain);
    cr_assert_str_eq(plain, "0123456789abcdef");
    free(plain);
}

Test(crypto, legacy_encrypt_matches_openssl)
{
    /* The IV is fixed, so encryption is deterministic and must equal openssl's output. */
    char *c = crypto_legacy_encrypt(key_c1, TASK_JSON, strlen(TASK_JSON));
    cr_assert_not_null(c);
    cr_assert_str_eq(c, TASK_JSON_CIPHER);
    free(c);
    c = crypto_legacy_encrypt(key_c1, "", 0);
    cr_assert_not_null(c);
    cr_assert_str_eq(c, EMPTY_CIPHER);
    free(c);
    c = crypto_legacy_encrypt(key_c1, "0123456789abcdef", 16);
    cr_assert_not_null(c);
    cr_assert_str_eq(c, BLOCK_CIPHER);
    free(c);
}

Test(crypto, legacy_round_trip)
{
    uint8_t buf[100];
    for (size_t i = 0; i < sizeof(buf); i++)
        buf[i] = (uint8_t)(i * 13);
    for (size_t n = 0; n <= sizeof(buf); n++) {
        char *c = crypto_legacy_encrypt(key_c2, buf, n);
        size_t len = 0;
        cr_assert_not_null(c);
        char *p = crypto_legacy_decrypt(key_c2, c, strlen(c), &len);
        cr_assert_not_null(p, "round trip of %zu bytes", n);
        cr_assert_eq(len, n);
        cr_assert(memcmp(p, buf, n) == 0);
        cr_assert_eq(p[n], 0);
        free(c);
        free(p);
    }
}

Test(crypto, legacy_round_trip_large)
{
    size_t n = 1 << 20;
    char *big = malloc(n);
    cr_assert_not_null(big);
    memset(big, 'x', n);
    char *c = crypto_legacy_encrypt(key_c1, big, n);
    cr_assert_not_null(c);
    size_t len = 0;
    char *p = crypto_legacy_decrypt(key_c1, c, strlen(c), &len);
    cr_assert_not_null(p);
    cr_assert_eq(len, n);
    cr_assert(memcmp(p, big, n) == 0);
    free(big);
    free(c);
    free(p);
}

static void check_decrypt_fails(const uint8_t key[16], const char *b64, size_t b64_len)
{
    size_t len = 777;
    char *p = crypto_legacy_decrypt(key, b64, b64_len, &len);
    cr_assert_null(p, "decrypt of [%.*s] must fail", (int)b64_len, b64);
    free(p);
}

Test(crypto, legacy_decrypt_bad_padding)
{
    /* One block encrypted without padding, so that the decrypted last block is not valid
     * PKCS#5: printf 'AAAAAAAAAAAAAAA\000' | openssl enc -aes-128-cbc -K $K -iv $IV -nopad
     * -base64 -A (last byte 0) */
    check_decrypt_fails(key_c1, "10gkRIHBRCDA9L1LNdvmpw==", 24);
    /* same with 'AAAAAAAAAAAAAA\003\002' (pad bytes disagree) */
    check_decrypt_fails(key_c1, "gJLf4vUVkxhIbqZHa7MS8Q==", 24);
    /* same with 'AAAAAAAAAAAAAAA\021' (pad length 17 > block) */
    check_decrypt_fails(key_c1, "O3AmAVjTnnp6zjAsLx9o1w==", 24);
}

Test(crypto, legacy_decrypt_truncated)
{
    /* The first 2 of 3 blocks of TASK_JSON_CIPHER: openssl base64 -d -A | head -c 32 |
     * openssl base64 -A. Decrypts to '..."type":"predict' whose last byte is no padding. */
    check_decrypt_fails(key_c1, "JvxEFWtLSru02lyJxXMP1oVZA4aZT5pQjtWwNV9yiI8=", 44);
    /* The first 20 bytes (head -c 20): not a whole number of blocks. */
    check_decrypt_fails(key_c1, "JvxEFWtLSru02lyJxXMP1oVZA4Y=", 28);
    /* Cut inside the base64 text. */
    check_decrypt_fails(key_c1, TASK_JSON_CIPHER, strlen(TASK_JSON_CIPHER) - 1);
    check_decrypt_fails(key_c1, TASK_JSON_CIPHER, 10);
    check_decrypt_fails(key_c1, "", 0);
    check_decrypt_fails(key_c1, NULL, 0);
}

Test(crypto, legacy_decrypt_bad_base64)
{
    check_decrypt_fails(key_c1, "not base64 at all!", 18);
    check_decrypt_fails(key_c1, "JvxEFWtLSru02lyJxXMP1oVZA4aZT5pQjtWwNV9yiI8Ds7dpl0iOK+Dxvb8dOmy!",
                        64);
    check_decrypt_fails(key_c1, " JvxEFWtLSru02lyJxXMP1oVZA4aZT5pQjtWwNV9yiI8Ds7dpl0iOK+Dxvb8dOmyq",
                        65);
    check_decrypt_fails(key_c1,
                        "JvxEFWtLSru02lyJxXMP1oVZA4aZT5pQjtWwNV9yiI8Ds7dpl0iOK+Dxvb8dOmyq\n", 65);
    /* Plain JSON is not a ciphertext. */
    check_decrypt_fails(key_c1, TASK_JSON, strlen(TASK_JSON));
}

Test(crypto, legacy_decrypt_wrong_key)
{
    /* echo $C | openssl enc -d -aes-128-cbc -K 650dfa30efa6e98763df98ef632207d6 -iv $IV
     * -base64 -A: "bad decrypt" */
    check_decrypt_fails(key_c2, TASK_JSON_CIPHER, strlen(TASK_JSON_CIPHER));
}

Test(crypto, legacy_decrypt_not_nul_terminated)
{
    char buf[128];
    size_t n = strlen(TASK_JSON_CIPHER);
    memcpy(buf, TASK_JSON_CIPHER, n);
    memcpy(buf + n, "QUFBQQ==", 8);
    char *p = crypto_legacy_decrypt(key_c1, buf, n, NULL);
    cr_assert_not_null(p);
    cr_assert_str_eq(p, TASK_JSON);
    free(p);
}
