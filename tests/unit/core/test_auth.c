/* test_auth.c: core/auth.c against the known signatures of tests/unit/common/sign_vectors.h. */
#include <criterion/criterion.h>

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../common/sign_vectors.h"
#include "auth.h"
#include "crypto.h"
#include "customers.h"
#include "sign.h"

#define MSG_DATE_WINDOW "Please update your server time, it is likely out of sync with UTC"

static char tmpdir[64];
static char path[128];
static customers_t *customers;

static void setup(void)
{
    char errstr[512] = "";
    static const char content[] = "# test customers\n"
                                  "c1:" SECRET_C1 "\n"
                                  "c2:" SECRET_C2 "\n";
    snprintf(tmpdir, sizeof(tmpdir), "/tmp/test_auth.XXXXXX");
    cr_assert_not_null(mkdtemp(tmpdir));
    snprintf(path, sizeof(path), "%s/customers", tmpdir);
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    cr_assert_geq(fd, 0);
    cr_assert_eq(fchmod(fd, 0600), 0);
    cr_assert_eq(write(fd, content, sizeof(content) - 1), (ssize_t)(sizeof(content) - 1));
    close(fd);
    customers = customers_load(path, errstr, sizeof(errstr));
    cr_assert_not_null(customers, "customers_load: %s", errstr);
}

static void teardown(void)
{
    customers_free(customers);
    unlink(path);
    rmdir(tmpdir);
}

TestSuite(auth, .init = setup, .fini = teardown);

static auth_str_t S(const char *s)
{
    auth_str_t str = {s, s != NULL ? strlen(s) : 0};
    return str;
}

static auth_request_t get_request(void)
{
    auth_request_t req = {
        .method = S("GET"),
        .path = S("/symetry/rest/c1/tasks"),
        .path_cid = S("c1"),
        .authorization = S(SIG_GET),
        .sym_date = S(DATE),
        .customer_id = S("c1"),
    };
    return req;
}

static auth_request_t post_request(void)
{
    auth_request_t req = {
        .method = S("POST"),
        .path = S("/symetry/rest/c1/tasks/create"),
        .query = S("force=true"),
        .body = S(BODY),
        .path_cid = S("c1"),
        .authorization = S(SIG_POST_QUERY),
        .sym_date = S(DATE),
        .customer_id = S("c1"),
        .content_md5 = S(BODY_MD5),
    };
    return req;
}

static void expect_ok(const auth_request_t *req, time_t now)
{
    auth_result_t res;
    int rc = auth_verify(customers, req, now, &res);
    cr_assert_eq(rc, 0, "expected success, got %d %s", rc, res.message);
    cr_assert_eq(res.status, 0);
    cr_assert_null(res.string_to_sign);
    cr_assert_not_null(res.customer);
    cr_assert_str_eq(res.customer->cid, "c1");
    auth_result_clear(&res);
}

static void expect_fail(const auth_request_t *req, time_t now, int status, const char *message)
{
    auth_result_t res;
    int rc = auth_verify(customers, req, now, &res);
    cr_assert_eq(rc, status, "expected %d %s, got %d %s", status, message, rc, res.message);
    cr_assert_eq(res.status, status);
    cr_assert_str_eq(res.message, message);
    cr_assert_null(strstr(res.message, SECRET_C1));
    if (strcmp(message, "Invalid Signature") != 0)
        cr_assert_null(res.string_to_sign);
    auth_result_clear(&res);
    cr_assert_null(res.string_to_sign);
}

Test(auth, get_known_signature)
{
    auth_request_t req = get_request();
    expect_ok(&req, NOW);
}

Test(auth, post_with_body_and_query)
{
    auth_request_t req = post_request();
    expect_ok(&req, NOW);
}

Test(auth, post_with_body_no_query)
{
    auth_request_t req = post_request();
    req.query = (auth_str_t){NULL, 0};
    req.authorization = S(SIG_POST);
    expect_ok(&req, NOW);
    /* The same signature does not cover a query added afterwards. */
    req.query = S("force=true");
    expect_fail(&req, NOW, 401, "Invalid Signature");
}

Test(auth, another_path_verifies)
{
    auth_request_t req = get_request();
    req.path = S("/symetry/rest/c1/tasks/t1/start");
    req.authorization = S(SIG_GET_START);
    expect_ok(&req, NOW);
}

Test(auth, empty_query_is_no_query)
{
    /* A URL ending in '?' signs like one without it. */
    auth_request_t req = get_request();
    req.query = (auth_str_t){"", 0};
    expect_ok(&req, NOW);
}

Test(auth, empty_content_md5_without_body)
{
    auth_request_t req = get_request();
    req.content_md5 = (auth_str_t){"", 0};
    expect_ok(&req, NOW);
    /* A zero-length body is no body. */
    req.body = (auth_str_t){"", 0};
    expect_ok(&req, NOW);
}

Test(auth, fields_not_nul_terminated)
{
    /* Every field is a slice followed by bytes that would break the request if read. */
    char buf[1024];
    size_t off = 0;
    auth_request_t ref = post_request(), req;
    auth_str_t *in[] = {&ref.method,      &ref.path,        &ref.query,
                        &ref.body,        &ref.path_cid,    &ref.sym_date,
                        &ref.customer_id, &ref.content_md5, &ref.authorization};
    auth_str_t *out[] = {&req.method,      &req.path,        &req.query,
                         &req.body,        &req.path_cid,    &req.sym_date,
                         &req.customer_id, &req.content_md5, &req.authorization};
    for (size_t i = 0; i < sizeof(in) / sizeof(in[0]); i++) {
        memcpy(buf + off, in[i]->ptr, in[i]->len);
        out[i]->ptr = buf + off;
        out[i]->len = in[i]->len;
        off += in[i]->len;
        memcpy(buf + off, "9Xz;", 4);
        off += 4;
    }
    expect_ok(&req, NOW);
}

Test(auth, result_customer)
{
    auth_request_t req = get_request();
    auth_result_t res;
    cr_assert_eq(auth_verify(customers, &req, NOW, &res), 0);
    cr_assert_eq(res.customer, customers_find(customers, "c1", 2));
    cr_assert_str_eq(res.customer->secret_b64, SECRET_C1);
    auth_result_clear(&res);
}

Test(auth, missing_authorization)
{
    auth_request_t req = get_request();
    req.authorization = (auth_str_t){NULL, 0};
    expect_fail(&req, NOW, 400, "Authentication header is null");
    /* It is checked before anything else. */
    auth_request_t none = {0};
    expect_fail(&none, NOW, 400, "Authentication header is null");
}

Test(auth, missing_sym_date)
{
    auth_request_t req = get_request();
    req.sym_date = (auth_str_t){NULL, 0};
    expect_fail(&req, NOW, 400, "sym-date header is null");
    /* Before the customer is looked at. */
    req.customer_id = (auth_str_t){NULL, 0};
    expect_fail(&req, NOW, 400, "sym-date header is null");
}

Test(auth, invalid_date_format)
{
    static const char *const bad[] = {
        "",
        "2026-11-28 13:55:08",
        "2026-11-28T13:55:08;0",
        "Sat, 28 Nov 2026 13:55:08 GMT",
        "2026-11-28 13:55:08;1234567890",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        auth_request_t req = get_request();
        req.sym_date = S(bad[i]);
        req.customer_id = S("nobody");
        expect_fail(&req, NOW, 400, "Invalid Date Format");
    }
}

Test(auth, date_window)
{
    auth_request_t req = get_request();
    /* The date may be up to 300 s behind the server and 60 s ahead of it. */
    expect_ok(&req, NOW + AUTH_DATE_MAX_PAST_S);
    expect_ok(&req, NOW - AUTH_DATE_MAX_FUTURE_S);
    expect_fail(&req, NOW + AUTH_DATE_MAX_PAST_S + 1, 400, MSG_DATE_WINDOW);
    expect_fail(&req, NOW - AUTH_DATE_MAX_FUTURE_S - 1, 400, MSG_DATE_WINDOW);
    expect_fail(&req, NOW + 86400 * 365, 400, MSG_DATE_WINDOW);
    expect_fail(&req, 0, 400, MSG_DATE_WINDOW);
    /* Clocks at the ends of time_t must not overflow into the window. */
    expect_fail(&req, (time_t)INT64_MAX, 400, MSG_DATE_WINDOW);
    expect_fail(&req, (time_t)INT64_MIN, 400, MSG_DATE_WINDOW);
    /* Before the customer is looked at. */
    req.customer_id = S("nobody");
    expect_fail(&req, NOW + 1000, 400, MSG_DATE_WINDOW);
}

Test(auth, customer_id_missing_or_empty)
{
    auth_request_t req = get_request();
    req.customer_id = (auth_str_t){NULL, 0};
    expect_fail(&req, NOW, 401, "Invalid User");
    req.customer_id = (auth_str_t){"", 0};
    expect_fail(&req, NOW, 401, "Invalid User");
}

Test(auth, customer_id_not_path_cid)
{
    /* c2 signs correctly with its own key, but for c1's path. */
    auth_request_t req = get_request();
    req.customer_id = S("c2");
    req.authorization = S(SIG_C2_ON_C1);
    expect_fail(&req, NOW, 401, "Invalid User");
    /* A prefix of the path cid is another id. */
    req = get_request();
    req.customer_id = S("c");
    expect_fail(&req, NOW, 401, "Invalid User");
    req.customer_id = S("c1 ");
    expect_fail(&req, NOW, 401, "Invalid User");
    req = get_request();
    req.path_cid = (auth_str_t){NULL, 0};
    expect_fail(&req, NOW, 401, "Invalid User");
}

Test(auth, unknown_customer)
{
    auth_request_t req = get_request();
    req.customer_id = S("c3");
    req.path_cid = S("c3");
    req.path = S("/symetry/rest/c3/tasks");
    expect_fail(&req, NOW, 401, "Invalid User");
    /* Checked before Content-MD5. */
    req.content_md5 = S("bogus");
    expect_fail(&req, NOW, 401, "Invalid User");
}

Test(auth, customer_id_huge)
{
    size_t n = 1 << 20;
    char *big = malloc(n);
    cr_assert_not_null(big);
    memset(big, 'c', n);
    auth_request_t req = get_request();
    req.customer_id = (auth_str_t){big, n};
    req.path_cid = (auth_str_t){big, n};
    expect_fail(&req, NOW, 401, "Invalid User");
    free(big);
}

Test(auth, wrong_content_md5)
{
    auth_request_t req = post_request();
    /* MD5 of another body: printf '' | openssl dgst -md5 -binary | openssl base64 */
    req.content_md5 = S("1B2M2Y8AsgTpgAmY7PhCfg==");
    expect_fail(&req, NOW, 400, "Md5 do not match");
    /* Absent with a body. */
    req.content_md5 = (auth_str_t){NULL, 0};
    expect_fail(&req, NOW, 400, "Md5 do not match");
    req.content_md5 = (auth_str_t){"", 0};
    expect_fail(&req, NOW, 400, "Md5 do not match");
    /* Right prefix, wrong length. */
    req.content_md5 = (auth_str_t){BODY_MD5, 23};
    expect_fail(&req, NOW, 400, "Md5 do not match");
    /* Body changed after signing. */
    req = post_request();
    req.body = S("{\"taskName\":\"t2\",\"type\":\"predict\"}");
    expect_fail(&req, NOW, 400, "Md5 do not match");
    /* Checked before the signature. */
    req.authorization = S("x");
    expect_fail(&req, NOW, 400, "Md5 do not match");
}

Test(auth, content_md5_without_body)
{
    auth_request_t req = get_request();
    req.content_md5 = S(BODY_MD5);
    expect_fail(&req, NOW, 400, "Md5 do not match");
    req.content_md5 = S("1B2M2Y8AsgTpgAmY7PhCfg==");
    expect_fail(&req, NOW, 400, "Md5 do not match");
}

Test(auth, signature_for_another_path)
{
    auth_request_t req = get_request();
    req.authorization = S(SIG_GET_START);
    expect_fail(&req, NOW, 401, "Invalid Signature");
    req = get_request();
    req.path = S("/symetry/rest/c1/tasks/t1/start");
    expect_fail(&req, NOW, 401, "Invalid Signature");
}

Test(auth, signature_for_another_method)
{
    auth_request_t req = get_request();
    req.method = S("DELETE");
    expect_fail(&req, NOW, 401, "Invalid Signature");
    req.method = S("POST");
    expect_fail(&req, NOW, 401, "Invalid Signature");
}

Test(auth, signature_for_another_date_or_body)
{
    auth_request_t req = get_request();
    req.sym_date = S("2026-11-28 13:55:08;12345678");
    expect_fail(&req, NOW, 401, "Invalid Signature");
    /* Same body bytes, but the signature covered no query. */
    req = post_request();
    req.authorization = S(SIG_POST);
    expect_fail(&req, NOW, 401, "Invalid Signature");
}

Test(auth, malformed_signatures)
{
    static const char *const bad[] = {
        "",
        "cp7S+zEIoMTTcvGCntCCyQ0aY3iw6OircKFF9IFuKqI",   /* one character short */
        "cp7S+zEIoMTTcvGCntCCyQ0aY3iw6OircKFF9IFuKqI==", /* one too many */
        "cp7S+zEIoMTTcvGCntCCyQ0aY3iw6OircKFF9IFuKqJ=",  /* last bit changed */
        "dp7S+zEIoMTTcvGCntCCyQ0aY3iw6OircKFF9IFuKqI=",
        "not a signature",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        auth_request_t req = get_request();
        req.authorization = S(bad[i]);
        expect_fail(&req, NOW, 401, "Invalid Signature");
    }
    /* The right signature with a NUL after it is not the right signature. */
    auth_request_t req = get_request();
    req.authorization = (auth_str_t){SIG_GET "\0", sizeof(SIG_GET)};
    expect_fail(&req, NOW, 401, "Invalid Signature");
}

Test(auth, huge_fields)
{
    size_t n = 8 << 20;
    char *big = malloc(n);
    cr_assert_not_null(big);
    memset(big, 'A', n);
    auth_request_t req = get_request();
    req.authorization = (auth_str_t){big, n};
    expect_fail(&req, NOW, 401, "Invalid Signature");
    req = get_request();
    req.sym_date = (auth_str_t){big, n};
    expect_fail(&req, NOW, 400, "Invalid Date Format");
    req = get_request();
    req.path = (auth_str_t){big, n};
    req.query = (auth_str_t){big, n};
    expect_fail(&req, NOW, 401, "Invalid Signature");
    req = get_request();
    req.content_md5 = (auth_str_t){big, n};
    expect_fail(&req, NOW, 400, "Md5 do not match");
    free(big);
}

Test(auth, nul_inside_path_is_signed)
{
    /* Signing stops neither at a NUL nor anywhere else short of the given length. */
    auth_request_t req = get_request();
    req.path = (auth_str_t){"/symetry/rest/c1/tasks\0/../c2", 29};
    expect_fail(&req, NOW, 401, "Invalid Signature");
}

Test(auth, invalid_signature_shows_string_to_sign)
{
    auth_request_t req = get_request();
    req.authorization = S(SIG_GET_START);
    auth_result_t res;
    cr_assert_eq(auth_verify(customers, &req, NOW, &res), 401);
    cr_assert_str_eq(res.message, "Invalid Signature");
    cr_assert_not_null(res.string_to_sign);
    cr_assert_str_eq(res.string_to_sign,
                     "GET\n\nSECRETKEY\n" DATE "\nc1\n/symetry/rest/c1/tasks\n");
    cr_assert_null(strstr(res.string_to_sign, SECRET_C1));
    cr_assert_null(res.customer);
    auth_result_clear(&res);
    cr_assert_null(res.string_to_sign);
    auth_result_clear(&res);

    req = post_request();
    req.authorization = S(SIG_POST);
    cr_assert_eq(auth_verify(customers, &req, NOW, &res), 401);
    cr_assert_str_eq(res.string_to_sign, "POST\n" BODY_MD5 "\nSECRETKEY\n" DATE "\nc1\n" BODY "\n"
                                         "/symetry/rest/c1/tasks/create\nforce=true\n");
    cr_assert_null(strstr(res.string_to_sign, SECRET_C1));
    auth_result_clear(&res);
}

Test(auth, sign_and_verify_round_trip)
{
    /* What a client does (common/sign.c): Content-MD5, Sym-date, Authorization. */
    struct timespec at = {1700000000 - 5, 42};
    time_t now = 1700000000;
    size_t key_len = 0;
    uint8_t *key = crypto_b64_decode(SECRET_C2, strlen(SECRET_C2), &key_len);
    cr_assert_not_null(key);
    sign_headers_t h;
    cr_assert_eq(sign_request("POST", "/symetry/rest/c2/tasks/create", "force=true", BODY,
                              strlen(BODY), "c2", SECRET_C2, key, key_len, &at, &h),
                 0);
    auth_request_t req = {
        .method = S("POST"),
        .path = S("/symetry/rest/c2/tasks/create"),
        .query = S("force=true"),
        .body = S(BODY),
        .path_cid = S("c2"),
        .authorization = S(h.authorization),
        .sym_date = S(h.sym_date),
        .customer_id = S("c2"),
        .content_md5 = S(h.content_md5),
    };
    auth_result_t res;
    cr_assert_eq(auth_verify(customers, &req, now, &res), 0, "%s", res.message);
    cr_assert_str_eq(res.customer->cid, "c2");
    auth_result_clear(&res);
    /* c2's request does not pass as c1's. */
    req.path_cid = S("c1");
    req.customer_id = S("c1");
    expect_fail(&req, now, 401, "Invalid Signature");
    free(key);
}
