/* test_sign.c: common/sign.c (SymetryML's signature) against the known vectors of
 * sign_vectors.h, which were computed with python3 and openssl. */
#include <criterion/criterion.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crypto.h"
#include "sign.h"
#include "sign_vectors.h"

static const uint8_t key_c1[16] = {0x33, 0x11, 0x61, 0x8e, 0x17, 0xea, 0x3b, 0x1e,
                                   0x97, 0x36, 0x16, 0x56, 0x69, 0xb7, 0x16, 0x08};

static sign_str_t S(const char *s)
{
    sign_str_t str = {s, s != NULL ? strlen(s) : 0};
    return str;
}

static sign_parts_t parts_of(const char *method, const char *md5, const char *cid, const char *body,
                             const char *path, const char *query)
{
    sign_parts_t p = {
        .method = S(method),
        .content_md5 = S(md5),
        .sym_date = S(DATE),
        .cid = S(cid),
        .body = S(body),
        .path = S(path),
        .query = S(query),
    };
    return p;
}

static void check_sts(const sign_parts_t *p, const char *expected)
{
    size_t len = 0;
    char *sts = sign_string_to_sign(p, S(SECRET_C1), &len);
    cr_assert_not_null(sts);
    cr_assert_str_eq(sts, expected);
    cr_assert_eq(len, strlen(expected));
    free(sts);
}

static void check_authorization(const sign_parts_t *p, const char *expected)
{
    char out[SIGN_AUTHORIZATION_SIZE];
    cr_assert_eq(sign_authorization(p, S(SECRET_C1), key_c1, sizeof(key_c1), out), 0);
    cr_assert_str_eq(out, expected);
}

Test(sign, string_to_sign_vectors)
{
    sign_parts_t p = parts_of("GET", "", "c1", NULL, "/symetry/rest/c1/tasks", NULL);
    check_sts(&p, STS_GET);
    /* Absent and empty are the same: no body line, no query line. */
    p = parts_of("GET", NULL, "c1", "", "/symetry/rest/c1/tasks", "");
    check_sts(&p, STS_GET);
    p = parts_of("POST", BODY_MD5, "c1", BODY, "/symetry/rest/c1/tasks/create", "force=true");
    check_sts(&p, STS_POST_QUERY);
    p = parts_of("POST", BODY_MD5, "c1", BODY, "/symetry/rest/c1/tasks/create", NULL);
    check_sts(&p, STS_POST);
    /* The body's length bounds it: the buffer need not end after it. */
    p.body = (sign_str_t){BODY "trailing", strlen(BODY)};
    check_sts(&p, STS_POST);
    p = parts_of("POST", BODY_PREDICT_MD5, "c1", BODY_PREDICT, PATH_PREDICT, "impute=true");
    check_sts(&p, STS_PREDICT);
}

Test(sign, string_to_sign_keeps_nul_bytes)
{
    sign_parts_t p = parts_of("GET", "", "c1", NULL, NULL, NULL);
    char path[4] = {'/', 'a', '\0', 'b'};
    p.path = (sign_str_t){path, sizeof(path)};
    size_t len = 0;
    char *sts = sign_string_to_sign(&p, S("SECRETKEY"), &len);
    cr_assert_not_null(sts);
    const char expected[] = "GET\n\nSECRETKEY\n" DATE "\nc1\n/a\0b\n";
    cr_assert_eq(len, sizeof(expected) - 1);
    cr_assert(memcmp(sts, expected, len) == 0);
    free(sts);
}

Test(sign, authorization_vectors)
{
    sign_parts_t p = parts_of("GET", "", "c1", NULL, "/symetry/rest/c1/tasks", NULL);
    check_authorization(&p, SIG_GET);
    p = parts_of("GET", "", "c1", NULL, "/symetry/rest/c1/tasks/t1/start", NULL);
    check_authorization(&p, SIG_GET_START);
    p = parts_of("POST", BODY_MD5, "c1", BODY, "/symetry/rest/c1/tasks/create", "force=true");
    check_authorization(&p, SIG_POST_QUERY);
    p = parts_of("POST", BODY_MD5, "c1", BODY, "/symetry/rest/c1/tasks/create", NULL);
    check_authorization(&p, SIG_POST);
    p = parts_of("POST", BODY_PREDICT_MD5, "c1", BODY_PREDICT, PATH_PREDICT, "impute=true");
    check_authorization(&p, SIG_PREDICT);
}

Test(sign, request_headers_vectors)
{
    /* What a client sends: Content-MD5, Sym-date and Authorization of a request at DATE. */
    struct timespec at = {NOW, 123456789};
    sign_headers_t h;
    cr_assert_eq(sign_request("POST", PATH_PREDICT, "impute=true", BODY_PREDICT,
                              strlen(BODY_PREDICT), "c1", SECRET_C1, key_c1, sizeof(key_c1), &at,
                              &h),
                 0);
    cr_assert_str_eq(h.content_md5, BODY_PREDICT_MD5);
    cr_assert_str_eq(h.sym_date, DATE);
    cr_assert_str_eq(h.authorization, SIG_PREDICT);
    cr_assert_eq(sign_request("POST", "/symetry/rest/c1/tasks/create", NULL, BODY, strlen(BODY),
                              "c1", SECRET_C1, key_c1, sizeof(key_c1), &at, &h),
                 0);
    cr_assert_str_eq(h.content_md5, BODY_MD5);
    cr_assert_str_eq(h.authorization, SIG_POST);
    /* Without a body: no Content-MD5. */
    cr_assert_eq(sign_request("GET", "/symetry/rest/c1/tasks", NULL, NULL, 0, "c1", SECRET_C1,
                              key_c1, sizeof(key_c1), &at, &h),
                 0);
    cr_assert_str_eq(h.content_md5, "");
    cr_assert_str_eq(h.authorization, SIG_GET);
}

Test(sign, parse_date_nanos_digits)
{
    const char *digits = "123456789";
    for (size_t n = 1; n <= 9; n++) {
        char s[40];
        time_t t = 0;
        snprintf(s, sizeof(s), "2026-11-28 13:55:08;%.*s", (int)n, digits);
        cr_assert_eq(sign_parse_date(s, strlen(s), &t), 0, "%s", s);
        cr_assert_eq(t, NOW, "%s", s);
    }
}

Test(sign, parse_date_vectors)
{
    /* Each expected value: python3 -c "import calendar;print(calendar.timegm((Y,M,D,h,m,s)))" */
    static const struct {
        const char *s;
        long long t;
    } ok[] = {
        {"1970-01-01 00:00:00;0", 0},
        {"1969-12-31 23:59:59;0", -1},
        {"2000-03-01 00:00:00;0", 951868800},
        {"2024-02-29 23:59:59;000000000", 1709251199},
        {"9999-12-31 23:59:59;999999999", 253402300799LL},
        {"2026-11-28 13:55:08;0", 1795874108},
    };
    for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
        time_t t = 12345;
        cr_assert_eq(sign_parse_date(ok[i].s, strlen(ok[i].s), &t), 0, "%s", ok[i].s);
        cr_assert_eq((long long)t, ok[i].t, "%s", ok[i].s);
    }
}

Test(sign, parse_date_malformed)
{
    static const char *const bad[] = {
        "",
        "2026-11-28 13:55:08",
        "2026-11-28 13:55:08;",
        "2026-11-28 13:55:08;1234567890",
        "2026-11-28 13:55:08;12a",
        "2026-11-28 13:55:08;-1",
        "2026-11-28 13:55:08;0 ",
        " 2026-11-28 13:55:08;0",
        "2026-11-28T13:55:08;0",
        "2026/11/28 13:55:08;0",
        "2026-11-28 13:55:08.0",
        "2026-11-28 13:55:08,0",
        "+026-11-28 13:55:08;0",
        "2026-1-28 13:55:08;00",
        "26-11-28 13:55:08;0000",
        "2026-00-28 13:55:08;0",
        "2026-13-28 13:55:08;0",
        "2026-11-00 13:55:08;0",
        "2026-11-31 13:55:08;0",
        "2026-02-29 13:55:08;0",
        "1900-02-29 13:55:08;0",
        "2026-11-28 24:00:00;0",
        "2026-11-28 13:60:08;0",
        "2026-11-28 13:55:60;0",
        "2026-11-28 13:55:0x;0",
        "yyyy-MM-dd HH:mm:ss;n",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        time_t t = 0;
        cr_assert_eq(sign_parse_date(bad[i], strlen(bad[i]), &t), -1, "[%s]", bad[i]);
    }
    time_t t = 0;
    cr_assert_eq(sign_parse_date(NULL, 0, &t), -1);
    cr_assert_eq(sign_parse_date("2026-11-28 13:55:08;0\0", 22, &t), -1);
    cr_assert_eq(sign_parse_date("2000-02-29 00:00:00;0", 21, &t), 0);
}

Test(sign, parse_date_not_nul_terminated)
{
    time_t t = 0;
    const char *s = "2026-11-28 13:55:08;5XYZ";
    cr_assert_eq(sign_parse_date(s, 21, &t), 0);
    cr_assert_eq(t, NOW);
    cr_assert_eq(sign_parse_date(s, 22, &t), -1);
    cr_assert_eq(sign_parse_date(s, 10, &t), -1);
}

Test(sign, format_date)
{
    char out[40];
    sign_format_date(NOW, 0, out);
    cr_assert_str_eq(out, "2026-11-28 13:55:08;0");
    sign_format_date(NOW, 123456789, out);
    cr_assert_str_eq(out, DATE);
    sign_format_date(0, 7, out);
    cr_assert_str_eq(out, "1970-01-01 00:00:00;7");
}

Test(sign, format_parse_round_trip)
{
    for (time_t t = -86400LL * 800; t < 86400LL * 365 * 60; t += 86400 * 7 + 3661) {
        char out[40];
        time_t back = 0;
        sign_format_date(t, 1, out);
        cr_assert_eq(sign_parse_date(out, strlen(out), &back), 0, "%s", out);
        cr_assert_eq(back, t, "%s", out);
    }
}
