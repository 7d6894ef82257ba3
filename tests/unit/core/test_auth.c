/* test_auth.c: core/auth.c against signatures computed with python3 and the openssl CLI. */
#include <criterion/criterion.h>

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "auth.h"
#include "crypto.h"
#include "customers.h"

/* Customer secrets, each from
 * python3 -c "import os,base64;k=os.urandom(16);print(k.hex(), base64.b64encode(k).decode())"
 * c1: 3311618e17ea3b1e9736165669b71608 MxFhjhfqOx6XNhZWabcWCA==
 * c2: 650dfa30efa6e98763df98ef632207d6 ZQ36MO+m6Ydj35jvYyIH1g== */
#define SECRET_C1 "MxFhjhfqOx6XNhZWabcWCA=="
#define SECRET_C2 "ZQ36MO+m6Ydj35jvYyIH1g=="

/* The date every vector is signed at, and the clock it is checked against:
 * python3 -c "import calendar;print(calendar.timegm((2026,11,28,13,55,8)))" */
#define DATE "2026-11-28 13:55:08;123456789"
#define NOW ((time_t)1795874108)

#define BODY "{\"taskName\":\"t1\",\"type\":\"predict\"}"
/* printf '%s' '{"taskName":"t1","type":"predict"}' | openssl dgst -md5 -binary
 *   | openssl base64 */
#define BODY_MD5 "FYXiypiYi9tE8Jn5WjYZ+Q=="

/* Each signature: printf '<StringToSign>' | openssl dgst -sha256 -mac HMAC
 *   -macopt hexkey:3311618e17ea3b1e9736165669b71608 -binary | openssl base64
 * and again with python3 base64.b64encode(hmac.new(key, sts, hashlib.sha256).digest()),
 * which gave the same. */
#define STS_GET                                                                                    \
    "GET\n\n" SECRET_C1 "\n" DATE "\nc1\n"                                                         \
    "/symetry/rest/c1/tasks\n"
#define SIG_GET "cp7S+zEIoMTTcvGCntCCyQ0aY3iw6OircKFF9IFuKqI="
#define STS_POST_QUERY                                                                             \
    "POST\n" BODY_MD5 "\n" SECRET_C1 "\n" DATE "\nc1\n" BODY "\n"                                  \
    "/symetry/rest/c1/tasks/create\nforce=true\n"
#define SIG_POST_QUERY "IlbrmFHWCEwF525gTrJS3s44nOCZikg8JZ3YhShLIcw="
#define STS_POST                                                                                   \
    "POST\n" BODY_MD5 "\n" SECRET_C1 "\n" DATE "\nc1\n" BODY "\n"                                  \
    "/symetry/rest/c1/tasks/create\n"
#define SIG_POST "h85PQq8xdES6vHKaGMXL/ZCDHAsPfhwsRHGNe6UBEKs="
/* GET /symetry/rest/c1/tasks/t1/start, no body, no query. */
#define SIG_GET_START "h14JaxCXFhYII/fxQyGz237SrsKifPOpxrL/PN0ghcI="
/* c2 signing GET /symetry/rest/c1/tasks with its own key and Customer-ID c2 (python3,
 * key 650dfa30efa6e98763df98ef632207d6). */
#define SIG_C2_ON_C1 "1p3q4ZH3InSa/NEv8yBn2wAE+J9PSrTJLofy1vY1LXg="

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

Test(auth, string_to_sign_vectors)
{
    char *sts = auth_string_to_sign("GET", "", SECRET_C1, DATE, "c1", NULL, 0,
                                    "/symetry/rest/c1/tasks", NULL);
    cr_assert_str_eq(sts, STS_GET);
    free(sts);
    sts = auth_string_to_sign("GET", NULL, SECRET_C1, DATE, "c1", "", 0, "/symetry/rest/c1/tasks",
                              "");
    cr_assert_str_eq(sts, STS_GET);
    free(sts);
    sts = auth_string_to_sign("POST", BODY_MD5, SECRET_C1, DATE, "c1", BODY, strlen(BODY),
                              "/symetry/rest/c1/tasks/create", "force=true");
    cr_assert_str_eq(sts, STS_POST_QUERY);
    free(sts);
    sts = auth_string_to_sign("POST", BODY_MD5, SECRET_C1, DATE, "c1", BODY, strlen(BODY),
                              "/symetry/rest/c1/tasks/create", NULL);
    cr_assert_str_eq(sts, STS_POST);
    free(sts);
    /* body_len bounds the body: the buffer need not end after it. */
    sts = auth_string_to_sign("POST", BODY_MD5, SECRET_C1, DATE, "c1", BODY "trailing",
                              strlen(BODY), "/symetry/rest/c1/tasks/create", NULL);
    cr_assert_str_eq(sts, STS_POST);
    free(sts);
}

Test(auth, sign_and_verify_round_trip)
{
    /* What a client does: date, StringToSign, HMAC with the decoded secret. */
    char date[40], md5[25], sig[45];
    time_t now = 1700000000;
    size_t key_len = 0;
    uint8_t *key = crypto_b64_decode(SECRET_C2, strlen(SECRET_C2), &key_len);
    cr_assert_not_null(key);
    auth_format_date(now - 5, 42, date);
    crypto_md5_b64(BODY, strlen(BODY), md5);
    char *sts = auth_string_to_sign("POST", md5, SECRET_C2, date, "c2", BODY, strlen(BODY),
                                    "/symetry/rest/c2/tasks/create", "force=true");
    cr_assert_not_null(sts);
    crypto_hmac_sha256_b64(key, key_len, sts, strlen(sts), sig);
    auth_request_t req = {
        .method = S("POST"),
        .path = S("/symetry/rest/c2/tasks/create"),
        .query = S("force=true"),
        .body = S(BODY),
        .path_cid = S("c2"),
        .authorization = S(sig),
        .sym_date = S(date),
        .customer_id = S("c2"),
        .content_md5 = S(md5),
    };
    auth_result_t res;
    cr_assert_eq(auth_verify(customers, &req, now, &res), 0, "%s", res.message);
    cr_assert_str_eq(res.customer->cid, "c2");
    auth_result_clear(&res);
    /* c2's request does not pass as c1's. */
    req.path_cid = S("c1");
    req.customer_id = S("c1");
    expect_fail(&req, now, 401, "Invalid Signature");
    free(sts);
    free(key);
}

Test(auth, parse_date_nanos_digits)
{
    const char *digits = "123456789";
    for (size_t n = 1; n <= 9; n++) {
        char s[40];
        time_t t = 0;
        snprintf(s, sizeof(s), "2026-11-28 13:55:08;%.*s", (int)n, digits);
        cr_assert_eq(auth_parse_date(s, strlen(s), &t), 0, "%s", s);
        cr_assert_eq(t, NOW, "%s", s);
    }
}

Test(auth, parse_date_vectors)
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
        cr_assert_eq(auth_parse_date(ok[i].s, strlen(ok[i].s), &t), 0, "%s", ok[i].s);
        cr_assert_eq((long long)t, ok[i].t, "%s", ok[i].s);
    }
}

Test(auth, parse_date_malformed)
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
        cr_assert_eq(auth_parse_date(bad[i], strlen(bad[i]), &t), -1, "[%s]", bad[i]);
    }
    time_t t = 0;
    cr_assert_eq(auth_parse_date(NULL, 0, &t), -1);
    cr_assert_eq(auth_parse_date("2026-11-28 13:55:08;0\0", 22, &t), -1);
    cr_assert_eq(auth_parse_date("2000-02-29 00:00:00;0", 21, &t), 0);
}

Test(auth, parse_date_not_nul_terminated)
{
    time_t t = 0;
    const char *s = "2026-11-28 13:55:08;5XYZ";
    cr_assert_eq(auth_parse_date(s, 21, &t), 0);
    cr_assert_eq(t, NOW);
    cr_assert_eq(auth_parse_date(s, 22, &t), -1);
    cr_assert_eq(auth_parse_date(s, 10, &t), -1);
}

Test(auth, format_date)
{
    char out[40];
    auth_format_date(NOW, 0, out);
    cr_assert_str_eq(out, "2026-11-28 13:55:08;0");
    auth_format_date(NOW, 123456789, out);
    cr_assert_str_eq(out, DATE);
    auth_format_date(0, 7, out);
    cr_assert_str_eq(out, "1970-01-01 00:00:00;7");
}

Test(auth, format_parse_round_trip)
{
    for (time_t t = -86400LL * 800; t < 86400LL * 365 * 60; t += 86400 * 7 + 3661) {
        char out[40];
        time_t back = 0;
        auth_format_date(t, 1, out);
        cr_assert_eq(auth_parse_date(out, strlen(out), &back), 0, "%s", out);
        cr_assert_eq(back, t, "%s", out);
    }
}
