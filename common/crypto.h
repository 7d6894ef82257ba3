/* crypto.h: SymetryML-compatible primitives: base64, MD5, HMAC-SHA256, the legacy
 * AES-128-CBC TaskInfo encryption and our sealed (XChaCha20-Poly1305) TaskInfo form.
 * Shared by symtaskd and the client (the symtask-sign library, with sign.h). */
#ifndef SYMTASK_COMMON_CRYPTO_H
#define SYMTASK_COMMON_CRYPTO_H

#include <stddef.h>
#include <stdint.h>

/* Standard base64 with padding. encode: returns a malloc'd NUL-terminated string.
 * decode: returns a malloc'd buffer (NUL-terminated for convenience) and its length via
 * @out_len, or NULL if @in is not valid base64 (whitespace is not accepted). */
char *crypto_b64_encode(const void *in, size_t in_len);
uint8_t *crypto_b64_decode(const char *in, size_t in_len, size_t *out_len);

/* base64(MD5(data)) into @out (25 bytes incl. NUL). */
void crypto_md5_b64(const void *data, size_t len, char out[25]);

/* base64(HMAC-SHA256(key, msg)) into @out (45 bytes incl. NUL). */
void crypto_hmac_sha256_b64(const uint8_t *key, size_t key_len, const void *msg, size_t msg_len,
                            char out[45]);

/* Constant-time comparison of two strings of possibly different lengths. 1 if equal. */
int crypto_equal(const char *a, size_t a_len, const char *b, size_t b_len);

/* The legacy SymetryML form: base64(AES-128-CBC with PKCS#5 padding, key = the 16-byte
 * secret, IV = base64-decode("LzM5QUtXZXWHm7HJ4wAePg==")). decrypt returns a malloc'd
 * NUL-terminated plaintext and its length, or NULL on any failure (bad base64, bad length,
 * bad padding) without saying which: callers give one error message for all. */
char *crypto_legacy_decrypt(const uint8_t key[16], const char *b64, size_t b64_len,
                            size_t *out_len);
char *crypto_legacy_encrypt(const uint8_t key[16], const void *plain, size_t plain_len);

/* The sealed form (docs/security.md, "Sealed TaskInfo"): "sym1." followed by base64 (with
 * padding) of nonce (24 random bytes) || XChaCha20-Poly1305-IETF ciphertext and tag, with
 * key = BLAKE2b-256(key = the 16-byte secret, "symtask sealed taskinfo v1") and additional
 * data "symtask-taskinfo:" + @cid, so that a body sealed for one customer does not open for
 * another. */
#define CRYPTO_SEALED_PREFIX "sym1."

/* Returns the malloc'd NUL-terminated wire string, or NULL (out of memory, libsodium
 * unusable, @plain_len too large). @plain may be NULL when @plain_len is 0. */
char *crypto_sealed_encrypt(const uint8_t key[16], const char *cid, const void *plain,
                            size_t plain_len);

/* Opens a wire string (optional leading ASCII whitespace, as crypto_is_sealed accepts).
 * Returns the malloc'd NUL-terminated plaintext and its length via @out_len (may be NULL),
 * or NULL on any failure (no prefix, bad base64, too short, too long, wrong key or cid,
 * altered bytes) without saying which: callers give one error message for all. */
char *crypto_sealed_decrypt(const uint8_t key[16], const char *cid, const char *wire,
                            size_t wire_len, size_t *out_len);

/* 1 if @body starts with CRYPTO_SEALED_PREFIX after optional leading ASCII whitespace
 * (space, tab, CR, LF), else 0. A legacy body is base64 only and '.' is not a base64
 * character, so the prefix tells the two forms apart. */
int crypto_is_sealed(const char *body, size_t len);

#endif
