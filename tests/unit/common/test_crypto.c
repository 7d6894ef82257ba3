/* test_crypto.c: common/crypto.c against vectors computed with the openssl CLI and python3. */
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
    /* Nor is any byte >= 0x80, which libsodium 1.0.18 alone would decode as some character. */
    for (int c = 0x80; c <= 0xff; c++) {
        char in[5] = {'Z', 'm', (char)c, 'v', '\0'};
        check_decode_fails(in, 4);
    }
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

/* The sealed form. Known answers made with hashlib's BLAKE2b and PyNaCl (python3-nacl) with
 * the fixed nonce 000102...17:
 * /usr/bin/python3 -c "
 * import base64, hashlib, nacl.bindings as b
 * k = hashlib.blake2b(b'symtask sealed taskinfo v1',
 *                     key=bytes.fromhex('3311618e17ea3b1e9736165669b71608'),
 *                     digest_size=32).digest()
 * n = bytes(range(24))
 * for p in [b'{\"taskName\":\"t1\",\"type\":\"predict\"}', b'']:
 *     c = b.crypto_aead_xchacha20poly1305_ietf_encrypt(p, b'symtask-taskinfo:c1', n, k)
 *     print('sym1.' + base64.b64encode(n + c).decode())" */
#define TASK_JSON_SEALED                                                                           \
    "sym1.AAECAwQFBgcICQoLDA0ODxAREhMUFRYXwZD+LZ49sR/1jiKEIRGGVjPd7k3QRZKK4CLCqfUHBPLUBoIzdVh9Hp3" \
    "TSKUh+j/DSm4="
#define EMPTY_SEALED "sym1.AAECAwQFBgcICQoLDA0ODxAREhMUFRYXYcmFIv6bxBaXqzoXRDUtnA=="
#define SEALED_OVERHEAD (24 + 16)

static void check_sealed_fails(const uint8_t key[16], const char *cid, const char *wire,
                               size_t wire_len)
{
    size_t len = 777;
    char *p = crypto_sealed_decrypt(key, cid, wire, wire_len, &len);
    cr_assert_null(p, "decrypt of [%.*s] must fail", (int)wire_len, wire);
    cr_assert_eq(len, 777, "a failure leaves out_len alone");
}

/* The nonce, ciphertext and tag of a wire string (malloc'd) and their length. */
static uint8_t *sealed_bytes(const char *wire, size_t *len)
{
    cr_assert(strncmp(wire, "sym1.", 5) == 0, "%s", wire);
    uint8_t *bytes = crypto_b64_decode(wire + 5, strlen(wire) - 5, len);
    cr_assert_not_null(bytes, "not base64 after the prefix: %s", wire);
    return bytes;
}

/* "sym1." + base64(@bytes), malloc'd. */
static char *sealed_wire(const uint8_t *bytes, size_t len)
{
    char *b64 = crypto_b64_encode(bytes, len);
    cr_assert_not_null(b64);
    char *wire = malloc(strlen(b64) + 6);
    cr_assert_not_null(wire);
    strcpy(wire, "sym1.");
    strcat(wire, b64);
    free(b64);
    return wire;
}

Test(crypto, sealed_decrypt_python_vectors)
{
    size_t len = 0;
    char *p = crypto_sealed_decrypt(key_c1, "c1", TASK_JSON_SEALED, strlen(TASK_JSON_SEALED), &len);
    cr_assert_not_null(p);
    cr_assert_eq(len, strlen(TASK_JSON));
    cr_assert_str_eq(p, TASK_JSON);
    free(p);

    p = crypto_sealed_decrypt(key_c1, "c1", EMPTY_SEALED, strlen(EMPTY_SEALED), &len);
    cr_assert_not_null(p);
    cr_assert_eq(len, 0);
    cr_assert_str_eq(p, "");
    free(p);

    /* out_len is optional, leading whitespace is allowed (as crypto_is_sealed allows it). */
    p = crypto_sealed_decrypt(key_c1, "c1", " \r\n\t" TASK_JSON_SEALED,
                              strlen(TASK_JSON_SEALED) + 4, NULL);
    cr_assert_not_null(p);
    cr_assert_str_eq(p, TASK_JSON);
    free(p);
}

Test(crypto, sealed_round_trip)
{
    uint8_t buf[100];
    for (size_t i = 0; i < sizeof(buf); i++)
        buf[i] = (uint8_t)(i * 13);
    for (size_t n = 0; n <= sizeof(buf); n++) {
        char *c = crypto_sealed_encrypt(key_c2, "customer-2", buf, n);
        cr_assert_not_null(c);
        cr_assert(crypto_is_sealed(c, strlen(c)));
        size_t raw_len = 0;
        free(sealed_bytes(c, &raw_len));
        cr_assert_eq(raw_len, n + SEALED_OVERHEAD);
        size_t len = 0;
        char *p = crypto_sealed_decrypt(key_c2, "customer-2", c, strlen(c), &len);
        cr_assert_not_null(p, "round trip of %zu bytes", n);
        cr_assert_eq(len, n);
        cr_assert(memcmp(p, buf, n) == 0);
        cr_assert_eq(p[n], 0);
        free(c);
        free(p);
    }
}

Test(crypto, sealed_empty_plaintext)
{
    char *c = crypto_sealed_encrypt(key_c1, "c1", NULL, 0);
    cr_assert_not_null(c);
    /* 5 + base64 of 40 bytes. */
    cr_assert_eq(strlen(c), 5 + 56, "%s", c);
    size_t len = 777;
    char *p = crypto_sealed_decrypt(key_c1, "c1", c, strlen(c), &len);
    cr_assert_not_null(p);
    cr_assert_eq(len, 0);
    cr_assert_str_eq(p, "");
    free(c);
    free(p);
}

Test(crypto, sealed_round_trip_1_mib)
{
    size_t n = 1 << 20;
    char *big = malloc(n);
    cr_assert_not_null(big);
    for (size_t i = 0; i < n; i++)
        big[i] = (char)(i * 7 + 3);
    char *c = crypto_sealed_encrypt(key_c1, "c1", big, n);
    cr_assert_not_null(c);
    size_t len = 0;
    char *p = crypto_sealed_decrypt(key_c1, "c1", c, strlen(c), &len);
    cr_assert_not_null(p);
    cr_assert_eq(len, n);
    cr_assert(memcmp(p, big, n) == 0);
    free(big);
    free(c);
    free(p);
}

Test(crypto, sealed_nonce_is_fresh_each_time)
{
    char *a = crypto_sealed_encrypt(key_c1, "c1", TASK_JSON, strlen(TASK_JSON));
    char *b = crypto_sealed_encrypt(key_c1, "c1", TASK_JSON, strlen(TASK_JSON));
    cr_assert_not_null(a);
    cr_assert_not_null(b);
    size_t a_len, b_len;
    uint8_t *ra = sealed_bytes(a, &a_len), *rb = sealed_bytes(b, &b_len);
    cr_assert_eq(a_len, b_len);
    cr_assert(memcmp(ra, rb, 24) != 0, "the same nonce twice");
    cr_assert(memcmp(ra + 24, rb + 24, a_len - 24) != 0, "the same ciphertext twice");
    free(ra);
    free(rb);
    free(a);
    free(b);
}

Test(crypto, sealed_wrong_key_or_cid)
{
    check_sealed_fails(key_c2, "c1", TASK_JSON_SEALED, strlen(TASK_JSON_SEALED));
    /* Sealed for c1: neither another customer nor a near-miss of the id opens it. */
    check_sealed_fails(key_c1, "c2", TASK_JSON_SEALED, strlen(TASK_JSON_SEALED));
    check_sealed_fails(key_c1, "c1 ", TASK_JSON_SEALED, strlen(TASK_JSON_SEALED));
    check_sealed_fails(key_c1, "", TASK_JSON_SEALED, strlen(TASK_JSON_SEALED));
    char *c = crypto_sealed_encrypt(key_c1, "", TASK_JSON, strlen(TASK_JSON));
    cr_assert_not_null(c);
    check_sealed_fails(key_c1, "c1", c, strlen(c));
    free(c);
}

Test(crypto, sealed_every_bit_flip_fails)
{
    size_t len = 0;
    uint8_t *bytes = sealed_bytes(TASK_JSON_SEALED, &len);
    for (size_t i = 0; i < len; i++) {
        for (int bit = 0; bit < 8; bit++) {
            bytes[i] ^= (uint8_t)(1u << bit);
            char *wire = sealed_wire(bytes, len);
            check_sealed_fails(key_c1, "c1", wire, strlen(wire));
            free(wire);
            bytes[i] ^= (uint8_t)(1u << bit);
        }
    }
    free(bytes);
    /* On the wire too: every bit of every character, prefix included. */
    char wire[sizeof(TASK_JSON_SEALED)];
    memcpy(wire, TASK_JSON_SEALED, sizeof(wire));
    for (size_t i = 0; i + 1 < sizeof(wire); i++) {
        for (int bit = 0; bit < 8; bit++) {
            wire[i] ^= (char)(1u << bit);
            check_sealed_fails(key_c1, "c1", wire, sizeof(wire) - 1);
            wire[i] ^= (char)(1u << bit);
        }
    }
}

Test(crypto, sealed_truncation_at_every_length_fails)
{
    size_t wire_len = strlen(TASK_JSON_SEALED);
    for (size_t n = 0; n < wire_len; n++)
        check_sealed_fails(key_c1, "c1", TASK_JSON_SEALED, n);
    /* Cut in the bytes and encoded again, so that the base64 is valid. */
    size_t len = 0;
    uint8_t *bytes = sealed_bytes(TASK_JSON_SEALED, &len);
    for (size_t n = 0; n < len; n++) {
        char *wire = sealed_wire(bytes, n);
        check_sealed_fails(key_c1, "c1", wire, strlen(wire));
        free(wire);
    }
    free(bytes);
}

Test(crypto, sealed_decrypt_rejects_malformed)
{
    check_sealed_fails(key_c1, "c1", NULL, 0);
    check_sealed_fails(key_c1, "c1", "sym1.", 5);
    /* The legacy form, plain JSON, another version, a prefix in another case. */
    check_sealed_fails(key_c1, "c1", TASK_JSON_CIPHER, strlen(TASK_JSON_CIPHER));
    check_sealed_fails(key_c1, "c1", TASK_JSON, strlen(TASK_JSON));
    char other[sizeof(EMPTY_SEALED)];
    memcpy(other, EMPTY_SEALED, sizeof(other));
    other[3] = '2';
    check_sealed_fails(key_c1, "c1", other, strlen(other));
    memcpy(other, "SYM1.", 5);
    check_sealed_fails(key_c1, "c1", other, strlen(other));
    /* Whitespace inside or after the base64, padding missing. */
    check_sealed_fails(key_c1, "c1", EMPTY_SEALED "\n", strlen(EMPTY_SEALED) + 1);
    check_sealed_fails(
        key_c1, "c1",
        "sym1. AAECAwQFBgcICQoLDA0ODxAREhMUFRYXYcmFIv6bxBaXqzoXRDUtnA==", strlen(EMPTY_SEALED) + 1);
    check_sealed_fails(key_c1, "c1", EMPTY_SEALED, strlen(EMPTY_SEALED) - 2);
    /* Too short to hold a nonce and a tag, even when it is valid base64. */
    char *wire = sealed_wire((const uint8_t *)"0123456789012345678901234567890123456789", 39);
    check_sealed_fails(key_c1, "c1", wire, strlen(wire));
    free(wire);
}

Test(crypto, sealed_decrypt_not_nul_terminated)
{
    char buf[256];
    size_t n = strlen(TASK_JSON_SEALED);
    memcpy(buf, TASK_JSON_SEALED, n);
    memcpy(buf + n, "QUFBQQ==", 8);
    char *p = crypto_sealed_decrypt(key_c1, "c1", buf, n, NULL);
    cr_assert_not_null(p);
    cr_assert_str_eq(p, TASK_JSON);
    free(p);
}

Test(crypto, is_sealed)
{
    cr_assert(crypto_is_sealed("sym1.", 5));
    cr_assert(crypto_is_sealed(TASK_JSON_SEALED, strlen(TASK_JSON_SEALED)));
    cr_assert(crypto_is_sealed(" \t\r\nsym1.x", 10));
    cr_assert_not(crypto_is_sealed("sym1", 4));
    cr_assert_not(crypto_is_sealed("sym1.", 4), "the length bounds the look");
    cr_assert_not(crypto_is_sealed(NULL, 0));
    cr_assert_not(crypto_is_sealed("   ", 3));
    cr_assert_not(crypto_is_sealed("xsym1.", 6));
    cr_assert_not(crypto_is_sealed("\vsym1.", 6), "only space, tab, CR and LF are skipped");
    cr_assert_not(crypto_is_sealed(TASK_JSON_CIPHER, strlen(TASK_JSON_CIPHER)));
    cr_assert_not(crypto_is_sealed(TASK_JSON, strlen(TASK_JSON)));
}
