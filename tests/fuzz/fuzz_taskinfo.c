/* fuzz_taskinfo.c: libFuzzer target for the TaskInfo decoder: the legacy (AES-CBC) and
 * sealed (XChaCha20-Poly1305) bodies of common/crypto.c, then the parser and validator of
 * common/taskinfo.c, as the create handler of core/api.c chains them.
 *
 * Input: a request body. It goes through both decryptions with customer c1's key (what
 * decrypts is parsed), through taskinfo_decrypt (an object exactly when the body's form
 * decrypts to one), through taskinfo_parse as plain JSON, and, as plaintext, through both
 * encryptions and back. */
#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crypto.h"
#include "fuzz_util.h"
#include "taskinfo.h"

/* A value distinctive enough that finding it in a message means it was quoted: 12 or more
 * characters, a letter and a digit, no space (no fixed text of a message looks like that). */
static int distinctive(const char *v)
{
    int letter = 0, digit = 0;
    if (strlen(v) < 12 || strchr(v, ' ') != NULL)
        return 0;
    for (; *v != '\0'; v++) {
        letter |= (*v >= 'a' && *v <= 'z') || (*v >= 'A' && *v <= 'Z');
        digit |= *v >= '0' && *v <= '9';
    }
    return letter && digit;
}

/* Whether @needle occurs in a key of @params, in a value of a key that is not secret, or in
 * the type or name, any of which a message may quote. */
static int quotable(json_t *doc, json_t *params, const char *needle)
{
    const char *key;
    json_t *value;
    if (strstr(json_string_value(json_object_get(doc, "type")) ?: "", needle) != NULL ||
        strstr(json_string_value(json_object_get(doc, "name")) ?: "", needle) != NULL)
        return 1;
    json_object_foreach (params, key, value) {
        if (strstr(key, needle) != NULL || (!taskinfo_key_is_secret(key) &&
                                            strstr(json_string_value(value) ?: "", needle) != NULL))
            return 1;
    }
    return 0;
}

/* A refused TaskInfo's message never quotes the value of a secret-looking key. */
static void check_no_secret(const char *text, size_t len, const char *errstr)
{
    /* As taskinfo_parse reads it: a duplicate key, which its message names, is refused. */
    json_t *doc = json_loadb(text, len, JSON_REJECT_DUPLICATES, NULL);
    json_t *params = json_object_get(doc, "params");
    const char *key;
    json_t *value;
    json_object_foreach (params, key, value) {
        const char *v = json_string_value(value);
        if (!taskinfo_key_is_secret(key) || v == NULL || !distinctive(v) ||
            quotable(doc, params, v))
            continue;
        if (strstr(errstr, v) != NULL) {
            fprintf(stderr, "the message quotes the value of %s: %s\n", key, errstr);
            abort();
        }
    }
    json_decref(doc);
}

static void parse(const char *text, size_t len)
{
    char errstr[512];
    json_t *taskinfo;

    errstr[0] = '\0';
    taskinfo = taskinfo_parse(text, len, errstr, sizeof(errstr));
    if (taskinfo == NULL) {
        /* Every refusal says why, in one line. */
        if (errstr[0] == '\0' || strchr(errstr, '\n') != NULL)
            abort();
        check_no_secret(text, len, errstr);
        return;
    }
    /* A normalised TaskInfo validates again to the same document. */
    json_t *again = taskinfo_validate(taskinfo, errstr, sizeof(errstr));
    if (again == NULL || !json_equal(again, taskinfo))
        abort();
    json_decref(again);
    json_decref(taskinfo);
}

/* Encrypting @data and decrypting the result gives @data back, in both forms. */
static void round_trip(const uint8_t *data, size_t size)
{
    size_t len = 0;
    char *wire = crypto_legacy_encrypt(fuzz_key_c1, data, size);
    char *plain =
        wire != NULL ? crypto_legacy_decrypt(fuzz_key_c1, wire, strlen(wire), &len) : NULL;
    if (plain == NULL || len != size || memcmp(plain, data, size) != 0)
        abort();
    free(plain);
    free(wire);

    wire = crypto_sealed_encrypt(fuzz_key_c1, FUZZ_CID, data, size);
    plain = wire != NULL ? crypto_sealed_decrypt(fuzz_key_c1, FUZZ_CID, wire, strlen(wire), &len)
                         : NULL;
    if (plain == NULL || len != size || memcmp(plain, data, size) != 0)
        abort();
    free(plain);
    /* Sealed for c1, it must not open for c2 (the cid is authenticated). */
    if (crypto_sealed_decrypt(fuzz_key_c1, "c2", wire, strlen(wire), &len) != NULL)
        abort();
    free(wire);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* Exactly @size bytes: a read past the body is a heap overflow ASan reports. */
    char *body = fuzz_dup(data, size, 0);
    size_t len = 0;
    char *plain;

    int sealed = crypto_is_sealed(body, size);
    json_t *opened = taskinfo_decrypt(fuzz_key_c1, FUZZ_CID, body, size), *expected = NULL;
    plain = crypto_legacy_decrypt(fuzz_key_c1, body, size, &len);
    if (plain != NULL) {
        if (plain[len] != '\0')
            abort();
        parse(plain, len);
        if (!sealed)
            expected = json_loadb(plain, len, JSON_REJECT_DUPLICATES, NULL);
        free(plain);
    }
    plain = crypto_sealed_decrypt(fuzz_key_c1, FUZZ_CID, body, size, &len);
    if (plain != NULL) {
        if (plain[len] != '\0')
            abort();
        parse(plain, len);
        if (sealed)
            expected = json_loadb(plain, len, JSON_REJECT_DUPLICATES, NULL);
        free(plain);
    }
    /* The create handler's reading: the object the body's own form decrypts to, else
     * nothing, whatever failed. */
    if (json_is_object(expected) ? !json_equal(opened, expected) : opened != NULL)
        abort();
    json_decref(opened);
    json_decref(expected);
    parse(body, size);
    round_trip(data, size);
    free(body);
    return 0;
}
