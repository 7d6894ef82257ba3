/* http_client.c: requests to a model server over kept-alive connections, with libcurl's
 * multi interface: up to `concurrency` transfers at once, each with its own timeout. */
#include "http_client.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <curl/curl.h>

struct hc {
    CURLM *multi;
    CURL **easy; /* concurrency handles, reused: their connections stay in the multi's cache */
    int concurrency;
    long timeout_ms;
    char *url; /* without a trailing '/' */
    char *ca_file, *bearer, *user, *password;
};

static char *dup_or_null(const char *s)
{
    return s != NULL ? strdup(s) : NULL;
}

/* http:// or https://, a host, an optional port and path; no user info, query or fragment. */
static int url_check(const char *url, const char *param, char *errstr, size_t errstr_size)
{
    const char *p;

    if (strncasecmp(url, "http://", 7) == 0)
        p = url + 7;
    else if (strncasecmp(url, "https://", 8) == 0)
        p = url + 8;
    else {
        snprintf(errstr, errstr_size,
                 "params.%s: must start with http:// or https:// (e.g. http://server:8080)", param);
        return -1;
    }
    for (const char *c = url; *c != '\0'; c++) {
        if ((unsigned char)*c <= ' ' || *c == 0x7f) {
            snprintf(errstr, errstr_size, "params.%s: a URL holds no spaces or control characters",
                     param);
            return -1;
        }
    }
    size_t authority = strcspn(p, "/?#");
    if (authority == 0) {
        snprintf(errstr, errstr_size, "params.%s: names no host", param);
        return -1;
    }
    if (memchr(p, '@', authority) != NULL) {
        /* Credentials in a URL end up in messages and logs. */
        snprintf(errstr, errstr_size,
                 "params.%s: user info (user:password@) is not allowed in the URL: give the "
                 "credentials in their own params",
                 param);
        return -1;
    }
    if (strpbrk(p + authority, "?#") != NULL) {
        snprintf(errstr, errstr_size,
                 "params.%s: the URL may hold a path prefix but no query or fragment", param);
        return -1;
    }
    return 0;
}

hc_t *hc_new(const hc_config_t *cfg, char *errstr, size_t errstr_size)
{
    hc_t *hc;

    if (url_check(cfg->url, cfg->param, errstr, errstr_size) != 0)
        return NULL;
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        snprintf(errstr, errstr_size, "libcurl cannot be initialised");
        return NULL;
    }
    hc = calloc(1, sizeof(*hc));
    if (hc == NULL)
        goto oom;
    hc->concurrency = cfg->concurrency < 1 ? 1 : cfg->concurrency;
    hc->timeout_ms = cfg->timeout_ms;
    hc->url = strdup(cfg->url);
    hc->ca_file = dup_or_null(cfg->ca_file);
    hc->bearer = dup_or_null(cfg->bearer_token);
    hc->user = dup_or_null(cfg->user);
    hc->password = dup_or_null(cfg->password);
    hc->easy = calloc((size_t)hc->concurrency, sizeof(*hc->easy));
    hc->multi = curl_multi_init();
    if (hc->url == NULL || hc->easy == NULL || hc->multi == NULL ||
        (cfg->ca_file != NULL && hc->ca_file == NULL) ||
        (cfg->bearer_token != NULL && hc->bearer == NULL) ||
        (cfg->user != NULL && hc->user == NULL) || (cfg->password != NULL && hc->password == NULL))
        goto oom;
    size_t len = strlen(hc->url);
    while (len > 0 && hc->url[len - 1] == '/')
        hc->url[--len] = '\0';
    for (int i = 0; i < hc->concurrency; i++)
        if ((hc->easy[i] = curl_easy_init()) == NULL)
            goto oom;
    /* One connection per transfer at once, all kept for the next batch. */
    curl_multi_setopt(hc->multi, CURLMOPT_MAX_HOST_CONNECTIONS, (long)hc->concurrency);
    curl_multi_setopt(hc->multi, CURLMOPT_MAXCONNECTS, (long)hc->concurrency);
    return hc;

oom:
    snprintf(errstr, errstr_size, "out of memory");
    hc_free(hc);
    if (hc == NULL)
        curl_global_cleanup();
    return NULL;
}

static void free_secret(char *s)
{
    if (s == NULL)
        return;
    /* A volatile pointer keeps the compiler from dropping the wipe of memory about to go. */
    volatile char *v = s;
    while (*v != '\0')
        *v++ = '\0';
    free(s);
}

void hc_free(hc_t *hc)
{
    if (hc == NULL)
        return;
    for (int i = 0; hc->easy != NULL && i < hc->concurrency; i++)
        if (hc->easy[i] != NULL)
            curl_easy_cleanup(hc->easy[i]);
    if (hc->multi != NULL)
        curl_multi_cleanup(hc->multi);
    free(hc->easy);
    free(hc->url);
    free(hc->ca_file);
    free_secret(hc->bearer);
    free(hc->user);
    free_secret(hc->password);
    free(hc);
    curl_global_cleanup();
}

const char *hc_url(const hc_t *hc)
{
    return hc->url;
}

void hc_request_reset(hc_request_t *req)
{
    req->status = 0;
    req->answer_len = 0;
    if (req->answer != NULL)
        req->answer[0] = '\0';
    req->error[0] = '\0';
    req->timed_out = 0;
    req->not_sent = 0;
}

void hc_request_free(hc_request_t *req)
{
    free(req->answer);
    req->answer = NULL;
    req->answer_len = req->answer_cap = 0;
}

static size_t on_data(char *data, size_t size, size_t nmemb, void *arg)
{
    hc_request_t *req = arg;
    size_t n = size * nmemb;

    if (n > HC_ANSWER_MAX - req->answer_len) {
        snprintf(req->error, sizeof(req->error), "the answer is larger than %u MiB",
                 HC_ANSWER_MAX >> 20);
        return 0; /* curl ends the transfer with CURLE_WRITE_ERROR */
    }
    if (req->answer_len + n + 1 > req->answer_cap) {
        size_t cap = req->answer_cap ? req->answer_cap : 4096;
        while (cap < req->answer_len + n + 1)
            cap *= 2;
        char *grown = realloc(req->answer, cap);
        if (grown == NULL) {
            snprintf(req->error, sizeof(req->error), "out of memory for the answer");
            return 0;
        }
        req->answer = grown;
        req->answer_cap = cap;
    }
    memcpy(req->answer + req->answer_len, data, n);
    req->answer_len += n;
    req->answer[req->answer_len] = '\0';
    return n;
}

/* Sets up @easy for @req; its header list goes to *@list (freed after the transfer). */
static int hc_setup(hc_t *hc, CURL *easy, hc_request_t *req, struct curl_slist **list, char *url,
                    size_t url_size)
{
    struct curl_slist *h = NULL;

    hc_request_reset(req);
    snprintf(url, url_size, "%s%s", hc->url, req->target);
    /* curl sends "Expect: 100-continue" before a larger body and waits for an answer that
     * many servers never give. */
    h = curl_slist_append(h, "Expect:");
    h = curl_slist_append(h, "Accept: application/json");
    if (req->body != NULL)
        h = curl_slist_append(h, "Content-Type: application/json");
    for (size_t i = 0; i < sizeof(req->headers) / sizeof(req->headers[0]) && req->headers[i]; i++)
        h = curl_slist_append(h, req->headers[i]);
    if (h == NULL)
        return -1;
    *list = h;

    curl_easy_setopt(easy, CURLOPT_URL, url);
    curl_easy_setopt(easy, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(easy, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(easy, CURLOPT_TIMEOUT_MS, hc->timeout_ms);
    curl_easy_setopt(easy, CURLOPT_TCP_NODELAY, 1L);
    curl_easy_setopt(easy, CURLOPT_TCP_KEEPALIVE, 1L);
    curl_easy_setopt(easy, CURLOPT_USERAGENT, "symtask");
    curl_easy_setopt(easy, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(easy, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(easy, CURLOPT_WRITEDATA, req);
    curl_easy_setopt(easy, CURLOPT_ERRORBUFFER, req->error);
    curl_easy_setopt(easy, CURLOPT_PRIVATE, req);
    if (hc->ca_file != NULL)
        curl_easy_setopt(easy, CURLOPT_CAINFO, hc->ca_file);
    if (hc->bearer != NULL) {
        curl_easy_setopt(easy, CURLOPT_HTTPAUTH, CURLAUTH_BEARER);
        curl_easy_setopt(easy, CURLOPT_XOAUTH2_BEARER, hc->bearer);
    } else if (hc->user != NULL) {
        curl_easy_setopt(easy, CURLOPT_HTTPAUTH, CURLAUTH_BASIC);
        curl_easy_setopt(easy, CURLOPT_USERNAME, hc->user);
        curl_easy_setopt(easy, CURLOPT_PASSWORD, hc->password != NULL ? hc->password : "");
    }
    if (strcmp(req->method, "POST") == 0) {
        curl_easy_setopt(easy, CURLOPT_POST, 1L);
        curl_easy_setopt(easy, CURLOPT_POSTFIELDS, req->body != NULL ? req->body : "");
        curl_easy_setopt(easy, CURLOPT_POSTFIELDSIZE_LARGE,
                         (curl_off_t)(req->body != NULL ? req->body_len : 0));
    } else {
        curl_easy_setopt(easy, CURLOPT_HTTPGET, 1L);
    }
    return 0;
}

static long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void hc_run(hc_t *hc, hc_request_t *reqs, size_t n, long budget_ms)
{
    long until = now_ms() + budget_ms;
    struct curl_slist **lists = calloc((size_t)hc->concurrency, sizeof(*lists));
    char(*urls)[2048] = calloc((size_t)hc->concurrency, sizeof(*urls));
    size_t next = 0;
    int active = 0;

    if (lists == NULL || urls == NULL) {
        for (size_t i = 0; i < n; i++) {
            hc_request_reset(&reqs[i]);
            snprintf(reqs[i].error, sizeof(reqs[i].error), "out of memory");
        }
        goto done;
    }
    /* Starts the next request on free handle @slot. */
#define HC_START(slot)                                                                             \
    do {                                                                                           \
        hc_request_t *r_ = &reqs[next++];                                                          \
        if (now_ms() > until) {                                                                    \
            hc_request_reset(r_);                                                                  \
            r_->not_sent = 1;                                                                      \
            snprintf(r_->error, sizeof(r_->error), "not sent: the call's time ran out");           \
        } else if (hc_setup(hc, hc->easy[slot], r_, &lists[slot], urls[slot],                      \
                            sizeof(urls[slot])) == 0 &&                                            \
                   curl_multi_add_handle(hc->multi, hc->easy[slot]) == CURLM_OK) {                 \
            active++;                                                                              \
        } else {                                                                                   \
            curl_slist_free_all(lists[slot]);                                                      \
            lists[slot] = NULL;                                                                    \
            snprintf(r_->error, sizeof(r_->error), "out of memory");                               \
        }                                                                                          \
    } while (0)

    for (int slot = 0; slot < hc->concurrency && next < n; slot++)
        HC_START(slot);
    /* Past the budget no request starts: the rest are marked at once. */
    while (active == 0 && next < n)
        HC_START(0);
    while (active > 0) {
        int running = 0, queued = 0;
        curl_multi_perform(hc->multi, &running);
        CURLMsg *msg;
        while ((msg = curl_multi_info_read(hc->multi, &queued)) != NULL) {
            if (msg->msg != CURLMSG_DONE)
                continue;
            CURL *easy = msg->easy_handle;
            CURLcode code = msg->data.result;
            hc_request_t *req = NULL;
            int slot = 0;
            curl_easy_getinfo(easy, CURLINFO_PRIVATE, (char **)&req);
            while (hc->easy[slot] != easy)
                slot++;
            if (code == CURLE_OK) {
                curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &req->status);
                req->error[0] = '\0';
            } else {
                req->status = 0;
                req->timed_out = code == CURLE_OPERATION_TIMEDOUT;
                if (req->error[0] == '\0')
                    snprintf(req->error, sizeof(req->error), "%s", curl_easy_strerror(code));
            }
            curl_multi_remove_handle(hc->multi, easy);
            /* The request's memory may go before the handle's next transfer. */
            curl_easy_setopt(easy, CURLOPT_ERRORBUFFER, NULL);
            curl_slist_free_all(lists[slot]);
            lists[slot] = NULL;
            active--;
            while (next < n && active < hc->concurrency && hc->easy[slot] != NULL) {
                int before = active;
                HC_START(slot);
                if (active > before)
                    break;
            }
        }
        if (active > 0)
            curl_multi_poll(hc->multi, NULL, 0, 100, NULL);
    }
#undef HC_START

done:
    free(lists);
    free(urls);
}

hc_class_t hc_classify(const hc_request_t *req)
{
    long s = req->status;

    if (s == 0)
        return HC_UNREACHABLE;
    if (s >= 200 && s < 300)
        return HC_OK;
    if (s >= 500 || s == 408 || s == 429)
        return HC_BUSY;
    if (s == 401 || s == 403)
        return HC_DENIED;
    if (s == 404)
        return HC_NOT_FOUND;
    if (s >= 400)
        return HC_REFUSED;
    return HC_OTHER;
}

/* Copies at most @max bytes of @s, control characters as '?', so that a server's message
 * stays one line of a bounded length. */
static void shown(char *out, size_t out_size, const char *s, size_t max)
{
    size_t n = 0;
    for (; s[n] != '\0' && n < max && n + 4 < out_size; n++)
        out[n] = ((unsigned char)s[n] < 0x20 || s[n] == 0x7f) ? '?' : s[n];
    if (s[n] != '\0' && n + 4 < out_size) {
        memcpy(out + n, "...", 3);
        n += 3;
    }
    out[n] = '\0';
}

void hc_describe(const hc_t *hc, const hc_request_t *req, const char *said, char *out,
                 size_t out_size)
{
    char what[320] = "";

    if (said != NULL && said[0] != '\0')
        shown(what, sizeof(what), said, 300);
    switch (hc_classify(req)) {
    case HC_UNREACHABLE:
        if (req->not_sent)
            snprintf(out, out_size,
                     "model server %s answers too slowly: the batch's requests did not all fit "
                     "in one call (lower sml.kstream.record.poll.max, or raise "
                     "sml.predictor.concurrency)",
                     hc->url);
        else
            snprintf(out, out_size, "model server %s unreachable: %s", hc->url,
                     req->timed_out ? "no answer within sml.predictor.timeout.ms" : req->error);
        break;
    case HC_DENIED:
        snprintf(out, out_size,
                 "model server %s refuses the credentials (HTTP %ld%s%s): check the task's "
                 "user and secret or token",
                 hc->url, req->status, what[0] ? ": " : "", what);
        break;
    case HC_BUSY:
        snprintf(out, out_size, "model server %s cannot answer now (HTTP %ld%s%s)", hc->url,
                 req->status, what[0] ? ": " : "", what);
        break;
    default:
        snprintf(out, out_size, "model server %s answered HTTP %ld%s%s", hc->url, req->status,
                 what[0] ? ": " : "", what);
        break;
    }
}

symtask_status_t hc_status(hc_class_t c)
{
    switch (c) {
    case HC_OK:
        return SYMTASK_OK;
    case HC_UNREACHABLE:
    case HC_BUSY:
    case HC_NOT_FOUND: /* a model being loaded again, or a server starting up */
        return SYMTASK_ERR_RETRIABLE;
    default:
        return SYMTASK_ERR_FATAL;
    }
}
