/* test_security.c: replayed requests, the customers file reloaded on SIGHUP, bodies that
 * do not match their Content-MD5 or cannot be opened. */
#include <criterion/criterion.h>
#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "auth.h"
#include "crypto.h"
#include "sign.h"
#include "harness.h"

#define BASE "/symetry/rest/" H_CID1

static harness_t h;

static void setup(void)
{
    h_setup(&h, NULL);
}

static void teardown(void)
{
    h_teardown(&h);
}

TestSuite(security, .init = setup, .fini = teardown, .timeout = 60);

/* A signed GET of @path as c1, as raw bytes, so that it can be sent twice. */
static char *signed_get(const char *path, const char *content_md5_header)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    size_t key_len;
    uint8_t *key = crypto_b64_decode(H_SECRET1, strlen(H_SECRET1), &key_len);
    sign_headers_t sh;
    cr_assert_eq(
        sign_request("GET", path, NULL, NULL, 0, H_CID1, H_SECRET1, key, key_len, &ts, &sh), 0);
    free(key);
    const char *date = sh.sym_date, *sig = sh.authorization;
    char *req;
    cr_assert(asprintf(&req,
                       "GET %s HTTP/1.1\r\nHost: t\r\nConnection: close\r\nAuthorization: %s\r\n"
                       "Sym-date: %s\r\nCustomer-ID: " H_CID1 "\r\nContent-MD5: %s\r\n\r\n",
                       path, sig, date, content_md5_header) > 0);
    return req;
}

Test(security, a_signed_request_is_accepted_once)
{
    char *req = signed_get(BASE "/tasks", "");
    h_response_t r = h_raw(&h, req, 0);
    cr_assert_eq(r.status, 200, "%s", r.body);
    h_response_free(&r);
    r = h_raw(&h, req, 0);
    cr_assert_eq(r.status, 401, "a replay was accepted: %s", r.body);
    cr_assert(strstr(h_status_string(&r), "Replayed request") != NULL, "%s", r.body);
    h_response_free(&r);
    free(req);
    /* a new signature for the same request is fine */
    r = h_req(&h, "GET", BASE "/tasks", NULL);
    cr_assert_eq(r.status, 200);
    h_response_free(&r);
    cr_assert(h_log_contains(&h, "Replayed request"));
}

/* A test's .init = NULL does not remove its suite's .init: a suite of its own. */
TestSuite(security_own_config, .fini = teardown, .timeout = 60);

Test(security_own_config, replay_protection_can_be_turned_off)
{
    h_setup(&h, "auth.replay_protection = false");
    char *req = signed_get(BASE "/tasks", "");
    for (int i = 0; i < 2; i++) {
        h_response_t r = h_raw(&h, req, 0);
        cr_assert_eq(r.status, 200, "%s", r.body);
        h_response_free(&r);
    }
    free(req);
    cr_assert(h_log_contains(&h, "auth.replay_protection = false"));
}

Test(security, a_body_that_does_not_match_its_content_md5_is_refused)
{
    char *body = h_taskinfo("t1", NULL, H_SECRET1);
    /* sign a different body than the one sent */
    char md5[25], date[40];
    crypto_md5_b64("something else", 14, md5);
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    sign_format_date(ts.tv_sec, ts.tv_nsec, date);
    char *req;
    cr_assert(asprintf(&req,
                       "POST " BASE "/tasks/create HTTP/1.1\r\nHost: t\r\nConnection: close\r\n"
                       "Authorization: x\r\nSym-date: %s\r\nCustomer-ID: " H_CID1 "\r\n"
                       "Content-MD5: %s\r\nContent-Length: %zu\r\n\r\n%s",
                       date, md5, strlen(body), body) > 0);
    h_response_t r = h_raw(&h, req, 0);
    cr_assert_eq(r.status, 400, "%s", r.body);
    cr_assert_str_eq(h_status_string(&r), "Md5 do not match");
    h_response_free(&r);
    free(req);
    free(body);
}

Test(security, a_truncated_legacy_body_gets_the_one_message)
{
    char *body = h_taskinfo("t1", NULL, H_SECRET1);
    h_response_t r = h_req(&h, "POST", BASE "/tasks/create", "AAAA");
    cr_assert_eq(r.status, 400);
    char expected[512];
    snprintf(expected, sizeof(expected), "%s", h_status_string(&r));
    h_response_free(&r);
    for (size_t cut = 4; cut < strlen(body); cut += 8) {
        char *part = strndup(body, cut);
        r = h_req(&h, "POST", BASE "/tasks/create", part);
        cr_assert_eq(r.status, 400, "cut at %zu: %s", cut, r.body);
        cr_assert_str_eq(h_status_string(&r), expected, "cut at %zu", cut);
        h_response_free(&r);
        free(part);
    }
    free(body);
}

/* The statusString of a create as c1 with @body. */
static void create_answer(const char *body, char *out, size_t size)
{
    h_response_t r = h_req(&h, "POST", BASE "/tasks/create", body);
    cr_assert_eq(r.status, 400, "%s: %s", body, r.body);
    snprintf(out, size, "%s", h_status_string(&r));
    h_response_free(&r);
}

Test(security, a_legacy_body_that_does_not_parse_gets_the_one_message, .timeout = 240)
{
    uint8_t key[16] = "0123456789abcdef"; /* H_SECRET1 decoded */
    char first[512], answer[512];

    /* One block whose padding is not valid. */
    create_answer("bm90IGEgY2lwaGVydGV4dA==", first, sizeof(first));
    cr_assert(strstr(first, "could not be decrypted") != NULL, "%s", first);

    /* Encrypted with the right key, so the padding is valid, but no JSON object inside. */
    static const char *const plains[] = {"this is not JSON", "[\"kstream\"]",
                                         "{\"type\":\"k\xdf\"}", "{\"name\":\"a\",\"name\":\"b\"}",
                                         ""};
    for (size_t i = 0; i < sizeof(plains) / sizeof(plains[0]); i++) {
        char *body = crypto_legacy_encrypt(key, plains[i], strlen(plains[i]));
        create_answer(body, answer, sizeof(answer));
        cr_assert_str_eq(answer, first, "legacy [%s]", plains[i]);
        free(body);
        body = crypto_sealed_encrypt(key, H_CID1, plains[i], strlen(plains[i]));
        create_answer(body, answer, sizeof(answer));
        cr_assert_str_eq(answer, first, "sealed [%s]", plains[i]);
        free(body);
    }

    /* Random ciphertexts of 1 to 8 blocks: about 1 in 256 has valid padding. */
    size_t padded = 0;
    for (int i = 0; i < 3000; i++) {
        uint8_t cipher[16 * 8];
        size_t cipher_len = 16 * (1 + (size_t)randombytes_uniform(8)), len;
        randombytes_buf(cipher, cipher_len);
        char *body = crypto_b64_encode(cipher, cipher_len);
        char *plain = crypto_legacy_decrypt(key, body, strlen(body), &len);
        bool valid = plain != NULL;
        padded += valid;
        free(plain);
        create_answer(body, answer, sizeof(answer));
        cr_assert_str_eq(answer, first, "%s (%s padding)", body, valid ? "valid" : "invalid");
        free(body);
    }
    cr_assert_gt(padded, 0, "no random body had valid padding: the test proves nothing");

    /* A body that does parse to an object still says which field is wrong. */
    char *body = crypto_legacy_encrypt(key, "{\"name\":\"t1\"}", 13);
    create_answer(body, answer, sizeof(answer));
    cr_assert_str_eq(answer, "invalid TaskInfo: type: is missing (must be \"kstream\")");
    free(body);
}

static void write_customers(const char *text)
{
    char path[400];
    snprintf(path, sizeof(path), "%s/customers", h.dir);
    int fd = open(path, O_WRONLY | O_TRUNC);
    cr_assert(fd >= 0);
    cr_assert(write(fd, text, strlen(text)) == (ssize_t)strlen(text));
    close(fd);
}

Test(security, sighup_reloads_the_customers_file)
{
    h_response_t r = h_request(&h, "GET", "/symetry/rest/c2/tasks", NULL, H_CID2, H_SECRET2);
    cr_assert_eq(r.status, 200);
    h_response_free(&r);

    write_customers(H_CID1 ":" H_SECRET1 "\nc3:" H_SECRET2 "\n");
    kill(h.pid, SIGHUP);
    bool reloaded = false;
    for (int i = 0; i < 100 && !reloaded; i++) {
        usleep(50000);
        reloaded = h_log_contains(&h, "customers file reloaded");
    }
    cr_assert(reloaded);
    r = h_request(&h, "GET", "/symetry/rest/c2/tasks", NULL, H_CID2, H_SECRET2);
    cr_assert_eq(r.status, 401, "a removed customer is still accepted");
    cr_assert_str_eq(h_status_string(&r), "Invalid User");
    h_response_free(&r);
    r = h_request(&h, "GET", "/symetry/rest/c3/tasks", NULL, "c3", H_SECRET2);
    cr_assert_eq(r.status, 200, "%s", r.body);
    h_response_free(&r);

    /* a broken file keeps the old customers */
    write_customers("this is not a customers file\n");
    kill(h.pid, SIGHUP);
    bool refused = false;
    for (int i = 0; i < 100 && !refused; i++) {
        usleep(50000);
        refused = h_log_contains(&h, "customers file not reloaded");
    }
    cr_assert(refused);
    r = h_request(&h, "GET", "/symetry/rest/c3/tasks", NULL, "c3", H_SECRET2);
    cr_assert_eq(r.status, 200);
    h_response_free(&r);
}
