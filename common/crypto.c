/* crypto.c: base64, MD5, HMAC-SHA256 and legacy AES-128-CBC as SymetryML clients use them,
 * and the sealed (XChaCha20-Poly1305) TaskInfo form of our own client. */
#include "crypto.h"

#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <sodium.h>

#define MD5_SIZE 16
#define SHA256_SIZE 32
#define AES_BLOCK 16

#define SEALED_PREFIX_LEN (sizeof(CRYPTO_SEALED_PREFIX) - 1)
#define SEALED_NONCE crypto_aead_xchacha20poly1305_ietf_NPUBBYTES
#define SEALED_TAG crypto_aead_xchacha20poly1305_ietf_ABYTES
#define SEALED_KEY crypto_aead_xchacha20poly1305_ietf_KEYBYTES
/* Changing either string changes every key or every body: bump the prefix with them. */
#define SEALED_KDF_CONTEXT "symtask sealed taskinfo v1"
#define SEALED_AD_PREFIX "symtask-taskinfo:"

/* base64-decode("LzM5QUtXZXWHm7HJ4wAePg=="): the fixed IV every SymetryML client uses. */
static const uint8_t legacy_iv[AES_BLOCK] = {0x2f, 0x33, 0x39, 0x41, 0x4b, 0x57, 0x65, 0x75,
                                             0x87, 0x9b, 0xb1, 0xc9, 0xe3, 0x00, 0x1e, 0x3e};

char *crypto_b64_encode(const void *in, size_t in_len)
{
    /* sodium_base64_ENCODED_LEN overflows for lengths this large. */
    if (in_len > (SIZE_MAX / 4) * 3 - 3)
        return NULL;
    size_t out_size = sodium_base64_ENCODED_LEN(in_len, sodium_base64_VARIANT_ORIGINAL);
    char *out = malloc(out_size);
    if (out == NULL)
        return NULL;
    sodium_bin2base64(out, out_size, in_len ? in : (const void *)"", in_len,
                      sodium_base64_VARIANT_ORIGINAL);
    return out;
}

uint8_t *crypto_b64_decode(const char *in, size_t in_len, size_t *out_len)
{
    /* Room for every byte the input could decode to, plus the convenience NUL. */
    size_t max_len = in_len / 4 * 3 + 3;
    uint8_t *out = malloc(max_len + 1);
    size_t len = 0;
    if (out == NULL)
        return NULL;
    /* libsodium (1.0.18) reads the input as plain char and so decodes every byte >= 0x80 as
     * if it were a base64 character. */
    for (size_t i = 0; i < in_len; i++)
        if ((unsigned char)in[i] >= 0x80)
            goto error;
    /* Without an end pointer libsodium fails unless the whole input is consumed, and with
     * the padded variant it requires canonical padding. */
    if (in_len > 0 && sodium_base642bin(out, max_len, in, in_len, NULL, &len, NULL,
                                        sodium_base64_VARIANT_ORIGINAL) != 0)
        goto error;
    out[len] = '\0';
    if (out_len != NULL)
        *out_len = len;
    return out;

error:
    free(out);
    return NULL;
}

void crypto_md5_b64(const void *data, size_t len, char out[25])
{
    uint8_t md[EVP_MAX_MD_SIZE];
    unsigned int md_len = 0;
    /* An empty result never equals a well-formed digest, so a failure cannot verify. */
    out[0] = '\0';
    if (!EVP_Digest(len ? data : (const void *)"", len, md, &md_len, EVP_md5(), NULL) ||
        md_len != MD5_SIZE)
        return;
    sodium_bin2base64(out, 25, md, MD5_SIZE, sodium_base64_VARIANT_ORIGINAL);
}

void crypto_hmac_sha256_b64(const uint8_t *key, size_t key_len, const void *msg, size_t msg_len,
                            char out[45])
{
    /* libsodium rather than OpenSSL 3's EVP_Q_mac, which looks up its algorithms on every
     * call: this runs for every signed request (measured: 1.5 -> 1.2 us a signature). */
    crypto_auth_hmacsha256_state st;
    uint8_t mac[crypto_auth_hmacsha256_BYTES];
    /* libsodium declares both pointers non-null, even for a length of 0. */
    crypto_auth_hmacsha256_init(&st, key_len ? key : (const uint8_t *)"", key_len);
    crypto_auth_hmacsha256_update(&st, msg_len ? msg : (const void *)"", msg_len);
    crypto_auth_hmacsha256_final(&st, mac);
    sodium_bin2base64(out, 45, mac, sizeof(mac), sodium_base64_VARIANT_ORIGINAL);
    sodium_memzero(&st, sizeof(st));
    sodium_memzero(mac, sizeof(mac));
}

int crypto_equal(const char *a, size_t a_len, const char *b, size_t b_len)
{
    /* Only the length may leak; the bytes are always compared over the shorter length. */
    size_t n = a_len < b_len ? a_len : b_len;
    int same = n == 0 ? 1 : sodium_memcmp(a, b, n) == 0;
    return same & (a_len == b_len);
}

char *crypto_legacy_decrypt(const uint8_t key[16], const char *b64, size_t b64_len, size_t *out_len)
{
    EVP_CIPHER_CTX *ctx = NULL;
    uint8_t *cipher = NULL;
    char *plain = NULL;
    size_t cipher_len = 0, plain_size = 0;
    int n = 0, total = 0;

    cipher = crypto_b64_decode(b64, b64_len, &cipher_len);
    /* EVP works on int lengths; the extra block leaves room for DecryptUpdate's output. */
    if (cipher == NULL || cipher_len == 0 || cipher_len % AES_BLOCK != 0 ||
        cipher_len > INT_MAX - 2 * AES_BLOCK)
        goto error;
    plain_size = cipher_len + AES_BLOCK + 1;
    plain = malloc(plain_size);
    ctx = EVP_CIPHER_CTX_new();
    if (plain == NULL || ctx == NULL)
        goto error;
    if (!EVP_DecryptInit_ex(ctx, EVP_aes_128_cbc(), NULL, key, legacy_iv) ||
        !EVP_DecryptUpdate(ctx, (uint8_t *)plain, &n, cipher, (int)cipher_len))
        goto error;
    total = n;
    if (!EVP_DecryptFinal_ex(ctx, (uint8_t *)plain + total, &n))
        goto error;
    total += n;
    plain[total] = '\0';
    EVP_CIPHER_CTX_free(ctx);
    free(cipher);
    if (out_len != NULL)
        *out_len = (size_t)total;
    return plain;

error:
    EVP_CIPHER_CTX_free(ctx);
    free(cipher);
    /* A partly decrypted TaskInfo may hold credentials. */
    if (plain != NULL)
        sodium_memzero(plain, plain_size);
    free(plain);
    return NULL;
}

char *crypto_legacy_encrypt(const uint8_t key[16], const void *plain, size_t plain_len)
{
    EVP_CIPHER_CTX *ctx = NULL;
    uint8_t *cipher = NULL;
    char *out = NULL;
    size_t cipher_size = 0;
    int n = 0, total = 0;

    if (plain_len > INT_MAX - 2 * AES_BLOCK)
        return NULL;
    cipher_size = plain_len + AES_BLOCK;
    cipher = malloc(cipher_size);
    ctx = EVP_CIPHER_CTX_new();
    if (cipher == NULL || ctx == NULL)
        goto done;
    if (!EVP_EncryptInit_ex(ctx, EVP_aes_128_cbc(), NULL, key, legacy_iv) ||
        !EVP_EncryptUpdate(ctx, cipher, &n, plain_len ? plain : (const void *)"", (int)plain_len))
        goto done;
    total = n;
    if (!EVP_EncryptFinal_ex(ctx, cipher + total, &n))
        goto done;
    total += n;
    out = crypto_b64_encode(cipher, (size_t)total);

done:
    EVP_CIPHER_CTX_free(ctx);
    free(cipher);
    return out;
}

/* The AEAD key of the sealed form: BLAKE2b-256 keyed with the customer's secret. */
static int sealed_key(const uint8_t secret[16], uint8_t out[SEALED_KEY])
{
    return crypto_generichash(out, SEALED_KEY, (const uint8_t *)SEALED_KDF_CONTEXT,
                              sizeof(SEALED_KDF_CONTEXT) - 1, secret, 16);
}

/* "symtask-taskinfo:" + cid, malloc'd; its length via @ad_len. */
static uint8_t *sealed_ad(const char *cid, size_t *ad_len)
{
    size_t cid_len = strlen(cid), prefix_len = sizeof(SEALED_AD_PREFIX) - 1;
    uint8_t *ad = malloc(prefix_len + cid_len + 1);
    if (ad == NULL)
        return NULL;
    memcpy(ad, SEALED_AD_PREFIX, prefix_len);
    memcpy(ad + prefix_len, cid, cid_len + 1);
    *ad_len = prefix_len + cid_len;
    return ad;
}

static int is_blank(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

int crypto_is_sealed(const char *body, size_t len)
{
    size_t i = 0;
    while (i < len && is_blank(body[i]))
        i++;
    return len - i >= SEALED_PREFIX_LEN &&
           memcmp(body + i, CRYPTO_SEALED_PREFIX, SEALED_PREFIX_LEN) == 0;
}

char *crypto_sealed_encrypt(const uint8_t key[16], const char *cid, const void *plain,
                            size_t plain_len)
{
    uint8_t aead_key[SEALED_KEY];
    uint8_t *ad = NULL, *sealed = NULL;
    char *out = NULL;
    size_t ad_len = 0, sealed_len = 0, out_size = 0;
    unsigned long long cipher_len = 0;

    /* Bounds the AEAD's limit and keeps every size below from overflowing. */
    if (plain_len > crypto_aead_xchacha20poly1305_ietf_MESSAGEBYTES_MAX ||
        plain_len > (SIZE_MAX / 4) * 3 - SEALED_NONCE - SEALED_TAG - SEALED_PREFIX_LEN - 3)
        return NULL;
    if (sodium_init() < 0 || sealed_key(key, aead_key) != 0)
        goto done;
    sealed_len = SEALED_NONCE + plain_len + SEALED_TAG;
    ad = sealed_ad(cid, &ad_len);
    sealed = malloc(sealed_len);
    if (ad == NULL || sealed == NULL)
        goto done;
    /* 192-bit random nonces: collisions are negligible, no counter to keep. */
    randombytes_buf(sealed, SEALED_NONCE);
    if (crypto_aead_xchacha20poly1305_ietf_encrypt(sealed + SEALED_NONCE, &cipher_len,
                                                   plain_len ? plain : (const void *)"", plain_len,
                                                   ad, ad_len, NULL, sealed, aead_key) != 0 ||
        cipher_len != plain_len + SEALED_TAG)
        goto done;
    out_size =
        SEALED_PREFIX_LEN + sodium_base64_ENCODED_LEN(sealed_len, sodium_base64_VARIANT_ORIGINAL);
    out = malloc(out_size);
    if (out == NULL)
        goto done;
    memcpy(out, CRYPTO_SEALED_PREFIX, SEALED_PREFIX_LEN);
    sodium_bin2base64(out + SEALED_PREFIX_LEN, out_size - SEALED_PREFIX_LEN, sealed, sealed_len,
                      sodium_base64_VARIANT_ORIGINAL);

done:
    sodium_memzero(aead_key, sizeof(aead_key));
    free(ad);
    free(sealed);
    return out;
}

char *crypto_sealed_decrypt(const uint8_t key[16], const char *cid, const char *wire,
                            size_t wire_len, size_t *out_len)
{
    uint8_t aead_key[SEALED_KEY];
    uint8_t *ad = NULL, *sealed = NULL;
    char *plain = NULL;
    size_t ad_len = 0, sealed_len = 0, plain_size = 0, i = 0;
    unsigned long long got = 0;

    if (sodium_init() < 0 || sealed_key(key, aead_key) != 0)
        goto error;
    while (i < wire_len && is_blank(wire[i]))
        i++;
    if (wire_len - i < SEALED_PREFIX_LEN ||
        memcmp(wire + i, CRYPTO_SEALED_PREFIX, SEALED_PREFIX_LEN) != 0)
        goto error;
    i += SEALED_PREFIX_LEN;
    sealed = crypto_b64_decode(wire + i, wire_len - i, &sealed_len);
    if (sealed == NULL || sealed_len < SEALED_NONCE + SEALED_TAG ||
        sealed_len - SEALED_NONCE - SEALED_TAG >
            crypto_aead_xchacha20poly1305_ietf_MESSAGEBYTES_MAX)
        goto error;
    ad = sealed_ad(cid, &ad_len);
    plain_size = sealed_len - SEALED_NONCE - SEALED_TAG + 1;
    plain = malloc(plain_size);
    if (ad == NULL || plain == NULL)
        goto error;
    /* Verifies the tag before writing any plaintext; @plain stays untouched on failure. */
    if (crypto_aead_xchacha20poly1305_ietf_decrypt((uint8_t *)plain, &got, NULL,
                                                   sealed + SEALED_NONCE, sealed_len - SEALED_NONCE,
                                                   ad, ad_len, sealed, aead_key) != 0 ||
        got != plain_size - 1)
        goto error;
    plain[got] = '\0';
    sodium_memzero(aead_key, sizeof(aead_key));
    free(ad);
    free(sealed);
    if (out_len != NULL)
        *out_len = (size_t)got;
    return plain;

error:
    sodium_memzero(aead_key, sizeof(aead_key));
    free(ad);
    free(sealed);
    if (plain != NULL)
        sodium_memzero(plain, plain_size);
    free(plain);
    return NULL;
}
