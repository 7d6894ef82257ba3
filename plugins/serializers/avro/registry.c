/* registry.c: a Confluent Schema Registry client on libcurl (registry.h). One easy handle
 * per client, so that requests reuse the connection; a call tries each URL once, within the
 * request timeout each, and never waits longer: a registry that does not answer is the
 * caller's passing failure, retried by the worker with backoff. */
#include "registry.h"

#include <curl/curl.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define REG_ANSWER_MAX (16 << 20) /* the longest answer read: a schema of 16 MiB */
#define REG_URLS_MAX 16

struct registry {
    char *urls[REG_URLS_MAX]; /* without a trailing '/' */
    size_t n_urls, current;   /* current: the one that answered last */
    int has_auth;
    CURL *curl;
    struct curl_slist *headers;
    char *answer;
    size_t answer_len, answer_cap;
    int answer_too_long;
    char curl_error[CURL_ERROR_SIZE];
};

static void reg_msg(char *msg, size_t size, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void reg_msg(char *msg, size_t size, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, size, fmt, ap);
    va_end(ap);
}

static size_t reg_write(char *data, size_t size, size_t n, void *arg)
{
    registry_t *r = arg;
    size_t len = size * n;
    if (r->answer_len + len > REG_ANSWER_MAX) {
        r->answer_too_long = 1;
        return 0;
    }
    if (r->answer_len + len + 1 > r->answer_cap) {
        size_t cap = r->answer_cap ? r->answer_cap : 4096;
        while (cap < r->answer_len + len + 1)
            cap *= 2;
        char *grown = realloc(r->answer, cap);
        if (grown == NULL)
            return 0;
        r->answer = grown;
        r->answer_cap = cap;
    }
    memcpy(r->answer + r->answer_len, data, len);
    r->answer_len += len;
    r->answer[r->answer_len] = '\0';
    return len;
}

/* Checks one URL of the list (@len bytes at @url) and keeps a copy without its last '/'. */
static int reg_add_url(registry_t *r, const char *url, size_t len, char *errstr, size_t errstr_size)
{
    while (len > 0 && (url[0] == ' ' || url[0] == '\t'))
        url++, len--;
    while (len > 0 && (url[len - 1] == ' ' || url[len - 1] == '\t' || url[len - 1] == '/'))
        len--;
    size_t scheme = strncasecmp(url, "http://", 7) == 0    ? 7
                    : strncasecmp(url, "https://", 8) == 0 ? 8
                                                           : 0;
    if (scheme == 0 || len <= scheme) {
        reg_msg(errstr, errstr_size,
                "params.schema.registry.url: '%.*s' is not an http:// or https:// URL", (int)len,
                url);
        return -1;
    }
    const char *host = url + scheme;
    size_t host_len = strcspn(host, "/?#");
    if (host_len > len - scheme)
        host_len = len - scheme;
    if (memchr(host, '@', host_len) != NULL) {
        /* never shown: the part before '@' is a password */
        reg_msg(errstr, errstr_size,
                "params.schema.registry.url: a URL holds credentials (user:password@): give them "
                "in schema.registry.basic.auth.user.info instead");
        return -1;
    }
    if (memchr(url, '?', len) != NULL || memchr(url, '#', len) != NULL) {
        reg_msg(errstr, errstr_size,
                "params.schema.registry.url: '%.*s' has a query or fragment: give the registry's "
                "base URL",
                (int)len, url);
        return -1;
    }
    if (r->n_urls == REG_URLS_MAX) {
        reg_msg(errstr, errstr_size, "params.schema.registry.url: more than %d URLs", REG_URLS_MAX);
        return -1;
    }
    if ((r->urls[r->n_urls] = strndup(url, len)) == NULL) {
        reg_msg(errstr, errstr_size, "out of memory");
        return -1;
    }
    r->n_urls++;
    return 0;
}

registry_t *registry_new(const char *urls, const char *user_info, const char *ca_file,
                         long timeout_ms, char *errstr, size_t errstr_size)
{
    registry_t *r = calloc(1, sizeof(*r));
    if (r == NULL) {
        reg_msg(errstr, errstr_size, "out of memory");
        return NULL;
    }
    for (const char *p = urls;;) {
        size_t n = strcspn(p, ",");
        if (reg_add_url(r, p, n, errstr, errstr_size) != 0)
            goto error;
        if (p[n] == '\0')
            break;
        p += n + 1;
    }
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK || (r->curl = curl_easy_init()) == NULL) {
        reg_msg(errstr, errstr_size, "libcurl cannot be initialised");
        goto error;
    }
    r->headers = curl_slist_append(NULL, "Content-Type: application/vnd.schemaregistry.v1+json");
    r->headers = curl_slist_append(r->headers, "Accept: application/vnd.schemaregistry.v1+json, "
                                               "application/vnd.schemaregistry+json, "
                                               "application/json");
    if (r->headers == NULL) {
        reg_msg(errstr, errstr_size, "out of memory");
        goto error;
    }
    CURL *c = r->curl;
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, timeout_ms);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, timeout_ms);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, r->headers);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, reg_write);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, r);
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, r->curl_error);
    curl_easy_setopt(c, CURLOPT_USERAGENT, "symtask-avro/1");
    if (user_info != NULL && user_info[0] != '\0') {
        if (strchr(user_info, ':') == NULL) {
            reg_msg(errstr, errstr_size,
                    "params.schema.registry.basic.auth.user.info: not of the form user:password "
                    "(the value is not shown: secret)");
            goto error;
        }
        curl_easy_setopt(c, CURLOPT_HTTPAUTH, (long)CURLAUTH_BASIC);
        curl_easy_setopt(c, CURLOPT_USERPWD, user_info);
        r->has_auth = 1;
    }
    if (ca_file != NULL && ca_file[0] != '\0')
        curl_easy_setopt(c, CURLOPT_CAINFO, ca_file);
    return r;
error:
    registry_free(r);
    return NULL;
}

void registry_free(registry_t *r)
{
    if (r == NULL)
        return;
    if (r->curl != NULL) {
        curl_easy_cleanup(r->curl);
        curl_global_cleanup();
    }
    curl_slist_free_all(r->headers);
    for (size_t i = 0; i < r->n_urls; i++)
        free(r->urls[i]);
    free(r->answer);
    free(r);
}

size_t registry_url_count(const registry_t *r)
{
    return r->n_urls;
}

/* The registry's error code and message in the answer, when it gives them. */
static int reg_error_of(json_t *answer, long *code, const char **message)
{
    json_t *c = json_object_get(answer, "error_code");
    if (!json_is_integer(c))
        return 0;
    *code = (long)json_integer_value(c);
    *message = json_string_value(json_object_get(answer, "message"));
    if (*message == NULL)
        *message = "";
    return 1;
}

/* One request to each URL in turn until one answers other than 5xx or 429. On REG_OK,
 * *@status is the HTTP status and *@answer the JSON body (NULL when it is none); otherwise
 * @msg says why no registry answered. */
static reg_result_t reg_request(registry_t *r, const char *method, const char *path,
                                const char *body, long *status, json_t **answer, const char **url,
                                char *msg, size_t msg_size)
{
    char full[2048];
    size_t o = 0;

    *answer = NULL;
    msg[0] = '\0';
    for (size_t k = 0; k < r->n_urls; k++) {
        size_t i = (r->current + k) % r->n_urls;
        CURL *c = r->curl;
        snprintf(full, sizeof(full), "%s%s", r->urls[i], path);
        r->answer_len = 0;
        r->answer_too_long = 0;
        r->curl_error[0] = '\0';
        curl_easy_setopt(c, CURLOPT_URL, full);
        if (body != NULL) {
            curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
            curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)strlen(body));
        } else {
            curl_easy_setopt(c, CURLOPT_HTTPGET, 1L);
        }
        CURLcode rc = curl_easy_perform(c);
        const char *sep = o > 0 ? "; " : "";
        if (rc != CURLE_OK) {
            const char *why = r->answer_too_long ? "its answer is longer than 16 MiB"
                              : r->curl_error[0] ? r->curl_error
                                                 : curl_easy_strerror(rc);
            if (o < msg_size)
                o += (size_t)snprintf(msg + o, msg_size - o, "%s%s cannot be reached (%s)", sep,
                                      r->urls[i], why);
            continue;
        }
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, status);
        json_error_t jerr;
        *answer = r->answer_len > 0 ? json_loadb(r->answer, r->answer_len, 0, &jerr) : NULL;
        if (*status >= 500 || *status == 429) {
            long code;
            const char *text;
            if (o < msg_size) {
                if (reg_error_of(*answer, &code, &text))
                    o += (size_t)snprintf(msg + o, msg_size - o,
                                          "%s%s answers %ld to %s %s (error code %ld: %.200s)", sep,
                                          r->urls[i], *status, method, path, code, text);
                else
                    o += (size_t)snprintf(msg + o, msg_size - o, "%s%s answers %ld to %s %s", sep,
                                          r->urls[i], *status, method, path);
            }
            json_decref(*answer);
            *answer = NULL;
            continue;
        }
        r->current = i;
        *url = r->urls[i];
        return REG_OK;
    }
    if (r->n_urls > 1) {
        char all[1024];
        snprintf(all, sizeof(all), "%s", msg);
        reg_msg(msg, msg_size, "no schema registry of schema.registry.url answers: %s", all);
    } else {
        char one[1024];
        snprintf(one, sizeof(one), "%s", msg);
        reg_msg(msg, msg_size, "schema registry %s", one);
    }
    return REG_DOWN;
}

/* What an answer other than 200 means, for the calls that have no meaning of their own for
 * it: 401/403, a 404 or 409/422 with a registry error code, or something else. */
static reg_result_t reg_failure(const registry_t *r, const char *url, const char *method,
                                const char *path, long status, json_t *answer, char *msg,
                                size_t msg_size)
{
    long code = 0;
    const char *text = "";
    int coded = reg_error_of(answer, &code, &text);

    if (status == 401) {
        if (r->has_auth)
            reg_msg(msg, msg_size,
                    "schema registry %s refuses the credentials of "
                    "schema.registry.basic.auth.user.info (401 to %s %s): correct them",
                    url, method, path);
        else
            reg_msg(msg, msg_size,
                    "schema registry %s asks for credentials (401 to %s %s): set "
                    "schema.registry.basic.auth.user.info",
                    url, method, path);
        return REG_DENIED;
    }
    if (status == 403) {
        reg_msg(msg, msg_size,
                "schema registry %s denies access (403 to %s %s): give the user of "
                "schema.registry.basic.auth.user.info the right to it",
                url, method, path);
        return REG_DENIED;
    }
    /* 40401 subject, 40402 version, 40403 schema not found; a bare 404 is an endpoint the
     * server does not have, as when the URL's path is wrong */
    if (coded &&
        ((status == 404 && code >= 40400 && code <= 40499) || status == 409 || status == 422)) {
        reg_msg(msg, msg_size, "schema registry %s: %.300s (%ld, error code %ld)", url, text,
                status, code);
        return status == 404 ? REG_NOT_FOUND : REG_REFUSED;
    }
    if (coded)
        reg_msg(msg, msg_size,
                "%s answers %ld to %s %s (error code %ld: %.200s), as no schema registry does "
                "for it: check schema.registry.url",
                url, status, method, path, code, text);
    else
        reg_msg(msg, msg_size,
                "%s answers %ld to %s %s without a registry error code, as no schema registry "
                "does: check schema.registry.url",
                url, status, method, path);
    return REG_BROKEN;
}

reg_result_t registry_ping(registry_t *r, char *msg, size_t msg_size)
{
    long status = 0;
    json_t *answer;
    const char *url;
    /* every version of the registry has it, and lists only what the credentials may read */
    reg_result_t res =
        reg_request(r, "GET", "/subjects", NULL, &status, &answer, &url, msg, msg_size);
    if (res != REG_OK)
        return res;
    if (status != 200) {
        res = reg_failure(r, url, "GET", "/subjects", status, answer, msg, msg_size);
    } else if (!json_is_array(answer)) {
        reg_msg(msg, msg_size,
                "%s answers GET /subjects with something else than a list of subjects, as no "
                "schema registry does: check schema.registry.url",
                url);
        res = REG_BROKEN;
    }
    json_decref(answer);
    return res;
}

reg_result_t registry_schema(registry_t *r, int32_t id, char **schema, char *msg, size_t msg_size)
{
    char path[64];
    long status = 0;
    json_t *answer;
    const char *url;
    snprintf(path, sizeof(path), "/schemas/ids/%ld", (long)id);
    reg_result_t res = reg_request(r, "GET", path, NULL, &status, &answer, &url, msg, msg_size);
    if (res != REG_OK)
        return res;
    if (status != 200) {
        res = reg_failure(r, url, "GET", path, status, answer, msg, msg_size);
        json_decref(answer);
        return res;
    }
    const char *type = json_string_value(json_object_get(answer, "schemaType"));
    json_t *refs = json_object_get(answer, "references");
    const char *text = json_string_value(json_object_get(answer, "schema"));
    if (type != NULL && strcmp(type, "AVRO") != 0) {
        reg_msg(msg, msg_size, "schema id %ld is a %.32s schema, not an Avro one", (long)id, type);
        res = REG_NOT_FOUND;
    } else if (json_array_size(refs) > 0) {
        reg_msg(msg, msg_size,
                "schema id %ld refers to other schemas (references), which this serializer does "
                "not resolve",
                (long)id);
        res = REG_NOT_FOUND;
    } else if (text == NULL) {
        reg_msg(msg, msg_size,
                "%s answers GET %s without a schema, as no schema registry does: check "
                "schema.registry.url",
                url, path);
        res = REG_BROKEN;
    } else if ((*schema = strdup(text)) == NULL) {
        reg_msg(msg, msg_size, "out of memory");
        res = REG_BROKEN;
    }
    json_decref(answer);
    return res;
}

/* POST @schema to @path_fmt (with the subject escaped into its %s), the id it answers. */
static reg_result_t reg_post_schema(registry_t *r, const char *path_fmt, const char *subject,
                                    const char *schema, int32_t *id, char *msg, size_t msg_size)
{
    char path[1024];
    long status = 0;
    json_t *answer;
    const char *url;
    char *escaped = curl_easy_escape(r->curl, subject, 0);
    json_t *req = json_pack("{s:s}", "schema", schema);
    char *body = req != NULL ? json_dumps(req, JSON_COMPACT) : NULL;
    json_decref(req);
    if (escaped == NULL || body == NULL) {
        curl_free(escaped);
        free(body);
        reg_msg(msg, msg_size, "out of memory");
        return REG_BROKEN;
    }
    snprintf(path, sizeof(path), path_fmt, escaped);
    curl_free(escaped);
    reg_result_t res = reg_request(r, "POST", path, body, &status, &answer, &url, msg, msg_size);
    free(body);
    if (res != REG_OK)
        return res;
    json_t *jid = json_object_get(answer, "id");
    if (status != 200) {
        res = reg_failure(r, url, "POST", path, status, answer, msg, msg_size);
    } else if (!json_is_integer(jid) || json_integer_value(jid) < 0 ||
               json_integer_value(jid) > INT32_MAX) {
        reg_msg(msg, msg_size,
                "%s answers POST %s without a schema id, as no schema registry does: check "
                "schema.registry.url",
                url, path);
        res = REG_BROKEN;
    } else {
        *id = (int32_t)json_integer_value(jid);
    }
    json_decref(answer);
    return res;
}

reg_result_t registry_register(registry_t *r, const char *subject, const char *schema, int32_t *id,
                               char *msg, size_t msg_size)
{
    return reg_post_schema(r, "/subjects/%s/versions", subject, schema, id, msg, msg_size);
}

reg_result_t registry_lookup(registry_t *r, const char *subject, const char *schema, int32_t *id,
                             char *msg, size_t msg_size)
{
    return reg_post_schema(r, "/subjects/%s", subject, schema, id, msg, msg_size);
}
