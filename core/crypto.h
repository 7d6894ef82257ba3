/* crypto.h: SymetryML-compatible primitives: base64, MD5, HMAC-SHA256 and the legacy
 * AES-128-CBC TaskInfo encryption. Private to core/ (the client links it too). */
#ifndef SYMTASK_CORE_CRYPTO_H
#define SYMTASK_CORE_CRYPTO_H

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

#endif
