/* fuzz_auth.c: libFuzzer target for request signature checking (core/auth.c).
 *
 * Input: two bytes, a little-endian mask of the fields that are absent (bit i: field i has
 * ptr NULL), then the fields in the order of fuzz_util.h's F_ enum separated by '\n'; the
 * last field, the body, takes the rest of the input and may hold '\n'. Fields past the end
 * of the input are absent. The whole input is also parsed as a Sym-date. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "auth.h"
#include "customers.h"
#include "sign.h"
#include "fuzz_util.h"

static customers_t *customers;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    char path[32], errstr[512];
    int fd = fuzz_memfd_open("customers", path);
    fuzz_memfd_fill(fd, FUZZ_CUSTOMERS, strlen(FUZZ_CUSTOMERS));
    customers = customers_load(path, errstr, sizeof(errstr));
    if (customers == NULL) {
        fprintf(stderr, "fuzz_auth: %s\n", errstr);
        abort();
    }
    close(fd);
    return 0;
}

/* A date that parses must come back unchanged through sign_format_date. */
static void check_date(const uint8_t *data, size_t size)
{
    char *s = fuzz_dup(data, size, 0);
    char formatted[40];
    time_t t, again;
    if (sign_parse_date(s, size, &t) == 0) {
        sign_format_date(t, 0, formatted);
        if (sign_parse_date(formatted, strlen(formatted), &again) != 0 || again != t) {
            fprintf(stderr, "date %lld formats as '%s', which does not parse back\n", (long long)t,
                    formatted);
            abort();
        }
    }
    free(s);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    auth_str_t fields[F_COUNT];
    auth_request_t req;
    auth_result_t res;
    unsigned absent;
    size_t off = 2;

    check_date(data, size);
    if (size < 2)
        return 0;
    absent = data[0] | (unsigned)data[1] << 8;
    for (int i = 0; i < F_COUNT; i++) {
        const uint8_t *end;
        size_t len;
        fields[i].ptr = NULL;
        fields[i].len = 0;
        if (off > size)
            continue;
        end = i < F_BODY ? memchr(data + off, '\n', size - off) : NULL;
        len = end != NULL ? (size_t)(end - (data + off)) : size - off;
        if (!(absent & (1u << i))) {
            fields[i].ptr = fuzz_dup(data + off, len, 0);
            fields[i].len = len;
        }
        off += len + 1;
    }

    req = (auth_request_t){
        .method = fields[F_METHOD],
        .path = fields[F_PATH],
        .query = fields[F_QUERY],
        .body = fields[F_BODY],
        .path_cid = fields[F_PATH_CID],
        .authorization = fields[F_AUTHORIZATION],
        .sym_date = fields[F_SYM_DATE],
        .customer_id = fields[F_CUSTOMER_ID],
        .content_md5 = fields[F_CONTENT_MD5],
    };
    int status = auth_verify(customers, &req, FUZZ_NOW, &res);
    if (status != res.status || (status != 0 && status != 400 && status != 401) ||
        (status == 0) != (res.customer != NULL) || res.message[sizeof(res.message) - 1] != '\0')
        abort();
    /* What the client is shown never holds a secret (fields are joined by '\n', which no
     * secret has, so a secret in it must have come whole from one field). */
    if (res.string_to_sign != NULL) {
        static const char *const secrets[] = {FUZZ_SECRET_C1, FUZZ_SECRET_C2};
        for (size_t s = 0; s < 2; s++) {
            if (strstr(res.string_to_sign, secrets[s]) == NULL)
                continue;
            int echoed = 0;
            for (int i = 0; i < F_COUNT; i++)
                echoed |= fields[i].ptr != NULL &&
                          memmem(fields[i].ptr, fields[i].len, secrets[s], strlen(secrets[s]));
            if (!echoed)
                abort();
        }
    }
    auth_result_clear(&res);
    for (int i = 0; i < F_COUNT; i++)
        free((void *)fields[i].ptr);
    return 0;
}
