/* model_server.c: the model server of the tests and the bench (model_server.h): HTTP/1.1
 * with keep-alive, one thread per connection, the SymetryML prediction endpoints (every
 * request's signature checked by core/auth.c) and the Open Inference Protocol's.
 *
 * What the models compute, so that every output a test reads can be checked:
 *   SymetryML m1 (project p1), per row: res = the sum of its C values (empty: 0), n = its
 *     attributes, positive = res > 0, label = its S values joined by '+', trues = its B
 *     values that are true, impute = the query's impute. A C value of 666 is refused (400
 *     naming the row), as is a C value that is not a number.
 *   SymetryML x1 (tmodels): res = twice the sum of the C values, kind = "tmodel".
 *   OIP adder: inputs x1 FP64, x2 INT64, plan BYTES, vip BOOL, each [-1]; outputs sum FP64
 *     [-1] = x1 + x2, pair FP32 [-1, 2] = (x1, x2), tag BYTES [-1] = plan, with "*" when vip,
 *     big BOOL [-1] = sum > 10. An x1 of 666 is refused (400).
 *   OIP matrix: input "input" FP64 [-1, 3]; outputs total FP64 [-1] (the row's sum) and max
 *     FP64 [-1]. */
#include "model_server.h"

#include <arpa/inet.h>
#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <openssl/ssl.h>

#include "auth.h"
#include "customers.h"

#define MS_HEAD_MAX 16384
#define MS_BODY_MAX (64u * 1024 * 1024)
#define MS_CONN_MAX 256

typedef struct conn {
    ms_t *ms;
    int fd;
    SSL *ssl; /* https: the connection's TLS session */
    pthread_t thread;
    int used;
} conn_t;

struct ms {
    ms_config_t cfg;
    customers_t *customers;
    SSL_CTX *tls; /* https when set */
    int port;
    char url[64];
    atomic_int listen_fd;
    atomic_int stopping;
    atomic_int latency_ms;
    atomic_int fail_status, fail_count, one_map;
    atomic_int active;
    pthread_t acceptor;
    pthread_mutex_t lock; /* conns and stats */
    conn_t conns[MS_CONN_MAX];
    ms_stats_t stats;
};

/* ---- Sockets ------------------------------------------------------------------------------ */

static int ms_listen(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), one = 1;
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};

    if (fd < 0)
        return -1;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0 || listen(fd, 64) != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

static ssize_t conn_recv(conn_t *c, char *buf, size_t n)
{
    if (c->ssl != NULL) {
        int r = SSL_read(c->ssl, buf, n > INT32_MAX ? INT32_MAX : (int)n);
        return r > 0 ? r : -1;
    }
    ssize_t r;
    do
        r = recv(c->fd, buf, n, 0);
    while (r < 0 && errno == EINTR);
    return r;
}

static int write_all(conn_t *c, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t w;
        if (c->ssl != NULL) {
            int r = SSL_write(c->ssl, p, n > INT32_MAX ? INT32_MAX : (int)n);
            w = r > 0 ? r : -1;
        } else {
            w = send(c->fd, p, n, MSG_NOSIGNAL);
            if (w < 0 && errno == EINTR)
                continue;
        }
        if (w <= 0)
            return -1;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

/* ---- Answers ------------------------------------------------------------------------------ */

typedef struct request {
    char method[16];
    char path[2048]; /* without the query */
    char query[1024];
    int has_query;
    char authorization[256], sym_date[64], customer_id[256], content_md5[64], bearer[512];
    int has_authorization, has_sym_date, has_customer_id, has_content_md5;
    char basic[512];
    int close;
    char *body;
    size_t body_len;
} request_t;

typedef struct answer {
    int status;
    char *body; /* malloc'd JSON */
} answer_t;

static const char *reason(int status)
{
    switch (status) {
    case 200:
        return "OK";
    case 400:
        return "Bad Request";
    case 401:
        return "Unauthorized";
    case 404:
        return "Not Found";
    case 500:
        return "Internal Server Error";
    case 503:
        return "Service Unavailable";
    default:
        return "Status";
    }
}

static void note_error(ms_t *ms, int status, const char *message, int signature)
{
    pthread_mutex_lock(&ms->lock);
    if (status == 401 && signature)
        ms->stats.bad_signatures++;
    else if (status == 401)
        ms->stats.denied++;
    else if (status == 400)
        ms->stats.bad_requests++;
    snprintf(ms->stats.last_error, sizeof(ms->stats.last_error), "%s", message);
    pthread_mutex_unlock(&ms->lock);
}

/* The SymetryML envelope. */
static answer_t envelope(int status, const char *code, const char *message, json_t *values)
{
    json_t *doc = json_pack("{s:s, s:s, s:o}", "statusCode", code, "statusString", message,
                            "values", values != NULL ? values : json_object());
    answer_t a = {status, json_dumps(doc, JSON_COMPACT)};
    json_decref(doc);
    return a;
}

static answer_t sml_error(ms_t *ms, int status, const char *message, json_t *values)
{
    note_error(ms, status, message, 1);
    const char *code = status == 400   ? "BAD_REQUEST"
                       : status == 401 ? "UNAUTHORIZED"
                                       : "INTERNAL_SERVER_ERROR";
    return envelope(status, code, message, values);
}

static answer_t oip_error(ms_t *ms, int status, const char *message)
{
    note_error(ms, status, message, 0);
    json_t *doc = json_pack("{s:s}", "error", message);
    answer_t a = {status, json_dumps(doc, JSON_COMPACT)};
    json_decref(doc);
    return a;
}

/* ---- SymetryML ---------------------------------------------------------------------------- */

static auth_str_t S(const char *s, int present)
{
    auth_str_t str = {present ? s : NULL, present ? strlen(s) : 0};
    return str;
}

/* The signature, by the daemon's own rules. 0, or fills @a with the 400/401 answer. */
static int sml_verify(ms_t *ms, const request_t *r, const char *cid, answer_t *a)
{
    auth_request_t ar = {
        .method = S(r->method, 1),
        .path = S(r->path, 1),
        .query = S(r->query, r->has_query),
        .body = {r->body, r->body_len},
        .path_cid = S(cid, 1),
        .authorization = S(r->authorization, r->has_authorization),
        .sym_date = S(r->sym_date, r->has_sym_date),
        .customer_id = S(r->customer_id, r->has_customer_id),
        .content_md5 = S(r->content_md5, r->has_content_md5),
    };
    auth_result_t res;
    if (auth_verify(ms->customers, &ar, time(NULL), &res) == 0) {
        auth_result_clear(&res);
        return 0;
    }
    json_t *values = NULL;
    if (res.string_to_sign != NULL)
        values = json_pack("{s:s}", "stringToSign", res.string_to_sign);
    *a = sml_error(ms, res.status, res.message, values);
    auth_result_clear(&res);
    return -1;
}

static int valid_type(const char *t)
{
    return strlen(t) == 1 && strchr("CBSLTX", t[0]) != NULL;
}

static answer_t sml_predict(ms_t *ms, const request_t *r, const char *model, int tmodel)
{
    char msg[512];
    json_error_t jerr;
    json_t *doc = json_loadb(r->body != NULL ? r->body : "", r->body_len, 0, &jerr);
    json_t *names = json_object_get(doc, "attributeNames");
    json_t *types = json_object_get(doc, "attributeTypes");
    json_t *data = json_object_get(doc, "data");
    answer_t a;
    int impute = r->has_query && strcmp(r->query, "impute=true") == 0;

    if (!json_is_object(doc) || !json_is_array(names) || !json_is_array(types) ||
        !json_is_array(data) || json_array_size(names) != json_array_size(types)) {
        a = sml_error(ms, 400, "not a DataFrame: attributeNames, attributeTypes, data", NULL);
        goto out;
    }
    size_t cols = json_array_size(names), rows = json_array_size(data);
    for (size_t c = 0; c < cols; c++) {
        if (!json_is_string(json_array_get(names, c)) ||
            !json_is_string(json_array_get(types, c)) ||
            !valid_type(json_string_value(json_array_get(types, c)))) {
            snprintf(msg, sizeof(msg), "attribute %zu: a name and a type of C B S L T X", c);
            a = sml_error(ms, 400, msg, NULL);
            goto out;
        }
    }
    json_t *maps = json_array();
    for (size_t i = 0; i < rows; i++) {
        json_t *row = json_array_get(data, i);
        if (!json_is_array(row) || json_array_size(row) != cols) {
            snprintf(msg, sizeof(msg), "row %zu: %zu values for %zu attributes", i,
                     json_array_size(row), cols);
            json_decref(maps);
            a = sml_error(ms, 400, msg, NULL);
            goto out;
        }
        double sum = 0;
        int trues = 0;
        char label[1024] = "";
        for (size_t c = 0; c < cols; c++) {
            json_t *v = json_array_get(row, c);
            const char *name = json_string_value(json_array_get(names, c));
            const char *type = json_string_value(json_array_get(types, c));
            if (!json_is_string(v)) {
                snprintf(msg, sizeof(msg), "row %zu: attribute '%s' is not a string", i, name);
                json_decref(maps);
                a = sml_error(ms, 400, msg, NULL);
                goto out;
            }
            const char *s = json_string_value(v);
            if (type[0] == 'C' && s[0] != '\0') {
                char *end;
                double d = strtod(s, &end);
                if (*end != '\0' || end == s) {
                    snprintf(msg, sizeof(msg),
                             "row %zu: attribute '%s' (C) is '%.40s', not a "
                             "number",
                             i, name, s);
                    json_decref(maps);
                    a = sml_error(ms, 400, msg, NULL);
                    goto out;
                }
                if (d == 666) {
                    snprintf(msg, sizeof(msg),
                             "row %zu: attribute '%s' = 666 is refused by "
                             "model %s",
                             i, name, model);
                    json_decref(maps);
                    a = sml_error(ms, 400, msg, NULL);
                    goto out;
                }
                sum += d;
            } else if (type[0] == 'B' && s[0] != '\0') {
                if (strcmp(s, "true") != 0 && strcmp(s, "false") != 0) {
                    snprintf(msg, sizeof(msg), "row %zu: attribute '%s' (B) is '%.40s'", i, name,
                             s);
                    json_decref(maps);
                    a = sml_error(ms, 400, msg, NULL);
                    goto out;
                }
                trues += strcmp(s, "true") == 0;
            } else if (type[0] == 'S') {
                size_t len = strlen(label);
                snprintf(label + len, sizeof(label) - len, "%s%s", len ? "+" : "", s);
            }
        }
        char res[64], n[32], t[32];
        snprintf(res, sizeof(res), "%.17g", tmodel ? 2 * sum : sum);
        snprintf(n, sizeof(n), "%zu", cols);
        snprintf(t, sizeof(t), "%d", trues);
        json_t *map = tmodel ? json_pack("{s:s, s:s}", "res", res, "kind", "tmodel")
                             : json_pack("{s:s, s:s, s:s, s:s, s:s, s:s}", "res", res, "n", n,
                                         "positive", sum > 0 ? "true" : "false", "label", label,
                                         "trues", t, "impute", impute ? "true" : "false");
        json_array_append_new(maps, map);
        if (atomic_load(&ms->one_map))
            break;
    }
    pthread_mutex_lock(&ms->lock);
    ms->stats.predictions += rows;
    if (rows > ms->stats.max_rows)
        ms->stats.max_rows = rows;
    pthread_mutex_unlock(&ms->lock);
    a = envelope(200, "OK", "predictions", json_pack("{s:{s:o}}", "KSVSMap", "values", maps));

out:
    json_decref(doc);
    return a;
}

/* Splits @path after @prefix into up to @n segments. */
static size_t segments(const char *path, char seg[][256], size_t n)
{
    size_t count = 0;
    const char *p = path;
    while (*p == '/' && count < n) {
        p++;
        size_t len = strcspn(p, "/");
        if (len >= 256)
            return 0;
        memcpy(seg[count], p, len);
        seg[count][len] = '\0';
        count++;
        p += len;
    }
    return *p == '\0' ? count : 0;
}

static answer_t sml_route(ms_t *ms, const request_t *r, char seg[][256], size_t n)
{
    answer_t a;
    /* symetry rest {cid} projects {pid} predict {model} | symetry rest {cid} tmodels {model}
     * predict */
    if (sml_verify(ms, r, seg[2], &a) != 0)
        return a;
    if (strcmp(r->method, "POST") != 0)
        return sml_error(ms, 400, "POST only", NULL);
    if (n == 7 && strcmp(seg[3], "projects") == 0 && strcmp(seg[5], "predict") == 0) {
        if (strcmp(seg[4], "p1") != 0)
            return sml_error(ms, 400, "Unknown project", NULL);
        if (strcmp(seg[6], "m1") != 0)
            return sml_error(ms, 500, "Error no such model", NULL);
        return sml_predict(ms, r, seg[6], 0);
    }
    if (n == 6 && strcmp(seg[3], "tmodels") == 0 && strcmp(seg[5], "predict") == 0) {
        if (strcmp(seg[4], "x1") != 0)
            return sml_error(ms, 500, "Error no such model", NULL);
        return sml_predict(ms, r, seg[4], 1);
    }
    return sml_error(ms, 400, "no such endpoint", NULL);
}

/* ---- Open Inference Protocol -------------------------------------------------------------- */

typedef struct tensor_spec {
    const char *name, *datatype;
    int cols; /* 0: shape [-1]; else [-1, cols] */
} tensor_spec_t;

static const tensor_spec_t adder_in[] = {
    {"x1", "FP64", 0}, {"x2", "INT64", 0}, {"plan", "BYTES", 0}, {"vip", "BOOL", 0}};
static const tensor_spec_t adder_out[] = {
    {"sum", "FP64", 0}, {"pair", "FP32", 2}, {"tag", "BYTES", 0}, {"big", "BOOL", 0}};
static const tensor_spec_t matrix_in[] = {{"input", "FP64", 3}};
static const tensor_spec_t matrix_out[] = {{"total", "FP64", 0}, {"max", "FP64", 0}};

static json_t *spec_json(const tensor_spec_t *t, size_t n)
{
    json_t *list = json_array();
    for (size_t i = 0; i < n; i++) {
        json_t *shape = t[i].cols ? json_pack("[i,i]", -1, t[i].cols) : json_pack("[i]", -1);
        json_array_append_new(list, json_pack("{s:s, s:s, s:o}", "name", t[i].name, "datatype",
                                              t[i].datatype, "shape", shape));
    }
    return list;
}

static int oip_auth(ms_t *ms, const request_t *r, answer_t *a)
{
    if (ms->cfg.bearer_token != NULL && strcmp(r->bearer, ms->cfg.bearer_token) != 0) {
        *a = oip_error(ms, 401, "a valid bearer token is required");
        return -1;
    }
    if (ms->cfg.basic != NULL && strcmp(r->basic, ms->cfg.basic) != 0) {
        *a = oip_error(ms, 401, "valid basic credentials are required");
        return -1;
    }
    return 0;
}

static double num_at(json_t *data, size_t i)
{
    return json_number_value(json_array_get(data, i));
}

static answer_t oip_infer(ms_t *ms, const request_t *r, const char *model)
{
    int adder = strcmp(model, "adder") == 0;
    const tensor_spec_t *in = adder ? adder_in : matrix_in;
    size_t n_in = adder ? 4 : 1;
    json_t *doc = json_loadb(r->body != NULL ? r->body : "", r->body_len, 0, NULL);
    json_t *inputs = json_object_get(doc, "inputs"), *got[4] = {NULL};
    char msg[512];
    answer_t a;
    long rows = -1;

    if (!json_is_array(inputs)) {
        a = oip_error(ms, 400, "the request has no inputs array");
        goto out;
    }
    for (size_t i = 0; i < json_array_size(inputs); i++) {
        json_t *t = json_array_get(inputs, i), *shape = json_object_get(t, "shape");
        json_t *data = json_object_get(t, "data");
        const char *name = json_string_value(json_object_get(t, "name"));
        const char *dt = json_string_value(json_object_get(t, "datatype"));
        size_t k = 0;
        while (k < n_in && (name == NULL || strcmp(in[k].name, name) != 0))
            k++;
        if (k == n_in || got[k] != NULL) {
            snprintf(msg, sizeof(msg), "input '%s' is unknown or given twice", name ? name : "");
            a = oip_error(ms, 400, msg);
            goto out;
        }
        if (dt == NULL || strcmp(dt, in[k].datatype) != 0) {
            snprintf(msg, sizeof(msg), "input '%s' has datatype %s, not %s", name,
                     dt ? dt : "(none)", in[k].datatype);
            a = oip_error(ms, 400, msg);
            goto out;
        }
        size_t rank = (size_t)(in[k].cols ? 2 : 1);
        if (!json_is_array(shape) || json_array_size(shape) != rank || !json_is_array(data) ||
            (rank == 2 && json_integer_value(json_array_get(shape, 1)) != in[k].cols)) {
            snprintf(msg, sizeof(msg), "input '%s': a shape of rank %zu and a flat data array",
                     name, rank);
            a = oip_error(ms, 400, msg);
            goto out;
        }
        long n = (long)json_integer_value(json_array_get(shape, 0));
        if (n < 0 || (size_t)n * (rank == 2 ? (size_t)in[k].cols : 1) != json_array_size(data) ||
            (rows >= 0 && n != rows)) {
            snprintf(msg, sizeof(msg), "input '%s': shape and data disagree", name);
            a = oip_error(ms, 400, msg);
            goto out;
        }
        rows = n;
        for (size_t j = 0; j < json_array_size(data); j++) {
            json_t *v = json_array_get(data, j);
            int ok = strcmp(dt, "BYTES") == 0   ? json_is_string(v)
                     : strcmp(dt, "BOOL") == 0  ? json_is_boolean(v)
                     : strcmp(dt, "INT64") == 0 ? json_is_integer(v)
                                                : json_is_number(v);
            if (!ok) {
                snprintf(msg, sizeof(msg), "input '%s': element %zu is not of datatype %s", name, j,
                         dt);
                a = oip_error(ms, 400, msg);
                goto out;
            }
            if (strcmp(dt, "FP64") == 0 && json_number_value(v) == 666) {
                snprintf(msg, sizeof(msg), "input '%s': 666 is out of range", name);
                a = oip_error(ms, 400, msg);
                goto out;
            }
        }
        got[k] = data;
    }
    for (size_t k = 0; k < n_in; k++) {
        if (got[k] == NULL) {
            snprintf(msg, sizeof(msg), "input '%s' is missing", in[k].name);
            a = oip_error(ms, 400, msg);
            goto out;
        }
    }
    json_t *outputs = json_array();
    if (adder) {
        json_t *sum = json_array(), *pair = json_array(), *tag = json_array(), *big = json_array();
        for (long i = 0; i < rows; i++) {
            double x1 = num_at(got[0], (size_t)i), x2 = num_at(got[1], (size_t)i);
            json_array_append_new(sum, json_real(x1 + x2));
            json_array_append_new(pair, json_real((float)x1));
            json_array_append_new(pair, json_real((float)x2));
            char t[512];
            snprintf(t, sizeof(t), "%s%s", json_string_value(json_array_get(got[2], (size_t)i)),
                     json_is_true(json_array_get(got[3], (size_t)i)) ? "*" : "");
            json_array_append_new(tag, json_string(t));
            json_array_append_new(big, json_boolean(x1 + x2 > 10));
        }
        json_array_append_new(outputs, json_pack("{s:s,s:s,s:[i],s:o}", "name", "sum", "datatype",
                                                 "FP64", "shape", rows, "data", sum));
        json_array_append_new(outputs,
                              json_pack("{s:s,s:s,s:[i,i],s:o}", "name", "pair", "datatype", "FP32",
                                        "shape", rows, 2, "data", pair));
        json_array_append_new(outputs, json_pack("{s:s,s:s,s:[i],s:o}", "name", "tag", "datatype",
                                                 "BYTES", "shape", rows, "data", tag));
        json_array_append_new(outputs, json_pack("{s:s,s:s,s:[i],s:o}", "name", "big", "datatype",
                                                 "BOOL", "shape", rows, "data", big));
    } else {
        json_t *total = json_array(), *max = json_array();
        for (long i = 0; i < rows; i++) {
            double s = 0, m = -INFINITY;
            for (size_t c = 0; c < 3; c++) {
                double v = num_at(got[0], (size_t)i * 3 + c);
                s += v;
                m = v > m ? v : m;
            }
            json_array_append_new(total, json_real(s));
            json_array_append_new(max, json_real(m));
        }
        json_array_append_new(outputs, json_pack("{s:s,s:s,s:[i],s:o}", "name", "total", "datatype",
                                                 "FP64", "shape", rows, "data", total));
        json_array_append_new(outputs, json_pack("{s:s,s:s,s:[i],s:o}", "name", "max", "datatype",
                                                 "FP64", "shape", rows, "data", max));
    }
    /* Only the outputs asked for, when the request names some. */
    json_t *wanted = json_object_get(doc, "outputs");
    if (json_is_array(wanted) && json_array_size(wanted) > 0) {
        json_t *picked = json_array();
        for (size_t i = 0; i < json_array_size(outputs); i++) {
            json_t *o = json_array_get(outputs, i);
            for (size_t j = 0; j < json_array_size(wanted); j++)
                if (json_equal(json_object_get(json_array_get(wanted, j), "name"),
                               json_object_get(o, "name")))
                    json_array_append(picked, o);
        }
        json_decref(outputs);
        outputs = picked;
    }
    pthread_mutex_lock(&ms->lock);
    ms->stats.predictions += (unsigned long)rows;
    if ((unsigned long)rows > ms->stats.max_rows)
        ms->stats.max_rows = (unsigned long)rows;
    pthread_mutex_unlock(&ms->lock);
    json_t *res =
        json_pack("{s:s, s:s, s:o}", "model_name", model, "model_version", "1", "outputs", outputs);
    a = (answer_t){200, json_dumps(res, JSON_COMPACT)};
    json_decref(res);

out:
    json_decref(doc);
    return a;
}

static answer_t oip_route(ms_t *ms, const request_t *r, char seg[][256], size_t n)
{
    answer_t a;
    /* v2 models {name} [versions {v}] [infer] */
    if (oip_auth(ms, r, &a) != 0)
        return a;
    const char *model = seg[2];
    size_t rest = 3;
    if (n >= 5 && strcmp(seg[3], "versions") == 0) {
        if (strcmp(seg[4], "1") != 0)
            return oip_error(ms, 404, "no such model version");
        rest = 5;
    }
    if (strcmp(model, "adder") != 0 && strcmp(model, "matrix") != 0)
        return oip_error(ms, 404, "Model not found");
    int adder = strcmp(model, "adder") == 0;
    if (n == rest && strcmp(r->method, "GET") == 0) {
        json_t *doc = json_pack("{s:s, s:[s], s:s, s:o, s:o}", "name", model, "versions", "1",
                                "platform", "symtask-test", "inputs",
                                adder ? spec_json(adder_in, 4) : spec_json(matrix_in, 1), "outputs",
                                adder ? spec_json(adder_out, 4) : spec_json(matrix_out, 2));
        a = (answer_t){200, json_dumps(doc, JSON_COMPACT)};
        json_decref(doc);
        return a;
    }
    if (n == rest + 1 && strcmp(seg[rest], "infer") == 0 && strcmp(r->method, "POST") == 0)
        return oip_infer(ms, r, model);
    return oip_error(ms, 404, "no such endpoint");
}

static answer_t ms_route(ms_t *ms, const request_t *r)
{
    char seg[8][256];
    /* A SymetryML server behind the path prefix /pre (its requests sign the whole path). */
    const char *route = strncmp(r->path, "/pre/symetry/", 13) == 0 ? r->path + 4 : r->path;
    size_t n = segments(route, seg, 8);

    int fail = atomic_load(&ms->fail_count);
    if (fail != 0) {
        if (fail > 0)
            atomic_fetch_sub(&ms->fail_count, 1);
        pthread_mutex_lock(&ms->lock);
        ms->stats.failed++;
        pthread_mutex_unlock(&ms->lock);
        int status = atomic_load(&ms->fail_status);
        if (status == 401 && n >= 3 && strcmp(seg[0], "symetry") == 0)
            return envelope(401, "UNAUTHORIZED", "Invalid User", NULL);
        return envelope(status, "INTERNAL_SERVER_ERROR", "made to fail by the test", NULL);
    }
    if (n >= 6 && strcmp(seg[0], "symetry") == 0 && strcmp(seg[1], "rest") == 0)
        return sml_route(ms, r, seg, n);
    if (n >= 3 && strcmp(seg[0], "v2") == 0 && strcmp(seg[1], "models") == 0)
        return oip_route(ms, r, seg, n);
    return oip_error(ms, 404, "no such endpoint");
}

/* ---- HTTP/1.1 ----------------------------------------------------------------------------- */

static void header_copy(char *dst, size_t size, const char *v, size_t len)
{
    if (len >= size)
        len = size - 1;
    memcpy(dst, v, len);
    dst[len] = '\0';
}

/* Parses the head of a request (up to the blank line) into @r. -1 when malformed. */
static int parse_head(char *head, request_t *r, size_t *content_length)
{
    char *line_end = strstr(head, "\r\n");
    if (line_end == NULL)
        return -1;
    *line_end = '\0';
    char target[4096];
    if (sscanf(head, "%15s %4095s HTTP/1.1", r->method, target) != 2)
        return -1;
    char *q = strchr(target, '?');
    if (q != NULL) {
        *q = '\0';
        r->has_query = 1;
        header_copy(r->query, sizeof(r->query), q + 1, strlen(q + 1));
    }
    header_copy(r->path, sizeof(r->path), target, strlen(target));
    *content_length = 0;
    for (char *p = line_end + 2; *p != '\0';) {
        char *end = strstr(p, "\r\n");
        if (end == NULL)
            end = p + strlen(p);
        char *colon = memchr(p, ':', (size_t)(end - p));
        if (colon != NULL) {
            size_t name_len = (size_t)(colon - p);
            char *v = colon + 1;
            while (v < end && (*v == ' ' || *v == '\t'))
                v++;
            size_t v_len = (size_t)(end - v);
#define IS(name) (name_len == strlen(name) && strncasecmp(p, name, name_len) == 0)
            if (IS("Content-Length"))
                *content_length = strtoul(v, NULL, 10);
            else if (IS("Authorization")) {
                r->has_authorization = 1;
                header_copy(r->authorization, sizeof(r->authorization), v, v_len);
                if (v_len > 7 && strncasecmp(v, "Bearer ", 7) == 0)
                    header_copy(r->bearer, sizeof(r->bearer), v + 7, v_len - 7);
                if (v_len > 6 && strncasecmp(v, "Basic ", 6) == 0) {
                    /* decoded as text: the test credentials are ASCII */
                    char b64[512];
                    header_copy(b64, sizeof(b64), v + 6, v_len - 6);
                    static const char tbl[] =
                        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
                    unsigned acc = 0;
                    int bits = 0;
                    size_t o = 0;
                    for (char *c = b64; *c && *c != '=' && o + 1 < sizeof(r->basic); c++) {
                        const char *f = strchr(tbl, *c);
                        if (f == NULL)
                            break;
                        acc = (acc << 6) | (unsigned)(f - tbl);
                        bits += 6;
                        if (bits >= 8) {
                            bits -= 8;
                            r->basic[o++] = (char)((acc >> bits) & 0xff);
                        }
                    }
                    r->basic[o] = '\0';
                }
            } else if (IS("Sym-date")) {
                r->has_sym_date = 1;
                header_copy(r->sym_date, sizeof(r->sym_date), v, v_len);
            } else if (IS("Customer-ID")) {
                r->has_customer_id = 1;
                header_copy(r->customer_id, sizeof(r->customer_id), v, v_len);
            } else if (IS("Content-MD5")) {
                r->has_content_md5 = 1;
                header_copy(r->content_md5, sizeof(r->content_md5), v, v_len);
            } else if (IS("Connection")) {
                r->close = v_len >= 5 && strncasecmp(v, "close", 5) == 0;
            } else if (IS("Transfer-Encoding")) {
                return -1; /* the plugins send a Content-Length */
            }
#undef IS
        }
        p = *end != '\0' ? end + 2 : end;
    }
    return *content_length > MS_BODY_MAX ? -1 : 0;
}

static void *conn_main(void *arg)
{
    conn_t *c = arg;
    ms_t *ms = c->ms;
    size_t cap = 65536, len = 0;
    char *buf = malloc(cap);

    if (ms->tls != NULL) {
        c->ssl = SSL_new(ms->tls);
        if (c->ssl == NULL || SSL_set_fd(c->ssl, c->fd) != 1 || SSL_accept(c->ssl) != 1)
            goto done;
    }
    while (buf != NULL && !atomic_load(&ms->stopping)) {
        char *head_end = NULL;
        /* Reads until the head is whole. */
        while ((head_end = memmem(buf, len, "\r\n\r\n", 4)) == NULL) {
            if (len >= MS_HEAD_MAX)
                goto done;
            ssize_t n = conn_recv(c, buf + len, cap - len - 1);
            if (n <= 0)
                goto done;
            len += (size_t)n;
        }
        size_t head_len = (size_t)(head_end - buf) + 4, content_length = 0;
        char *head = strndup(buf, head_len - 2);
        request_t *r = calloc(1, sizeof(*r));
        if (head == NULL || r == NULL || parse_head(head, r, &content_length) != 0) {
            free(head);
            free(r);
            goto done;
        }
        free(head);
        if (head_len + content_length + 1 > cap) {
            cap = head_len + content_length + 1;
            char *grown = realloc(buf, cap);
            if (grown == NULL) {
                free(r);
                goto done;
            }
            buf = grown;
        }
        while (len < head_len + content_length) {
            ssize_t n = conn_recv(c, buf + len, cap - len - 1);
            if (n <= 0) {
                free(r);
                goto done;
            }
            len += (size_t)n;
        }
        r->body = content_length > 0 ? buf + head_len : NULL;
        r->body_len = content_length;

        int active = atomic_fetch_add(&ms->active, 1) + 1;
        pthread_mutex_lock(&ms->lock);
        if ((unsigned long)active > ms->stats.max_active)
            ms->stats.max_active = (unsigned long)active;
        pthread_mutex_unlock(&ms->lock);
        int wait = atomic_load(&ms->latency_ms);
        if (wait > 0) {
            struct timespec ts = {wait / 1000, (long)(wait % 1000) * 1000000L};
            nanosleep(&ts, NULL);
        }
        answer_t a = ms_route(ms, r);
        atomic_fetch_sub(&ms->active, 1);
        const char *body = a.body != NULL ? a.body : "{}";
        char head_out[256];
        int hn = snprintf(head_out, sizeof(head_out),
                          "HTTP/1.1 %d %s\r\nContent-Type: application/json\r\n"
                          "Content-Length: %zu\r\n%s\r\n",
                          a.status, reason(a.status), strlen(body),
                          r->close ? "Connection: close\r\n" : "");
        pthread_mutex_lock(&ms->lock);
        ms->stats.requests++;
        pthread_mutex_unlock(&ms->lock);
        int ok = write_all(c, head_out, (size_t)hn) == 0 && write_all(c, body, strlen(body)) == 0;
        int close_after = r->close;
        free(a.body);
        free(r);
        if (!ok || close_after)
            goto done;
        memmove(buf, buf + head_len + content_length, len - head_len - content_length);
        len -= head_len + content_length;
    }
done:
    free(buf);
    if (c->ssl != NULL)
        SSL_free(c->ssl);
    c->ssl = NULL;
    shutdown(c->fd, SHUT_RDWR);
    return NULL;
}

/* Joins the threads of connections that ended (or, with @all, of every connection). */
static void reap(ms_t *ms, int all)
{
    for (int i = 0; i < MS_CONN_MAX; i++) {
        pthread_mutex_lock(&ms->lock);
        conn_t *c = &ms->conns[i];
        int used = c->used;
        pthread_mutex_unlock(&ms->lock);
        if (!used)
            continue;
        if (all)
            shutdown(c->fd, SHUT_RDWR);
        if (all || pthread_tryjoin_np(c->thread, NULL) == 0) {
            if (all)
                pthread_join(c->thread, NULL);
            close(c->fd);
            pthread_mutex_lock(&ms->lock);
            c->used = 0;
            pthread_mutex_unlock(&ms->lock);
        }
    }
}

static void *accept_main(void *arg)
{
    ms_t *ms = arg;

    while (!atomic_load(&ms->stopping)) {
        int lfd = atomic_load(&ms->listen_fd);
        reap(ms, 0);
        if (lfd < 0) {
            usleep(20000);
            continue;
        }
        struct pollfd pfd = {lfd, POLLIN, 0};
        if (poll(&pfd, 1, 50) <= 0 || !(pfd.revents & POLLIN))
            continue;
        int fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
        if (fd < 0)
            continue;
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        conn_t *c = NULL;
        pthread_mutex_lock(&ms->lock);
        for (int i = 0; i < MS_CONN_MAX && c == NULL; i++)
            if (!ms->conns[i].used)
                c = &ms->conns[i];
        if (c != NULL) {
            c->used = 1;
            c->fd = fd;
            c->ms = ms;
            ms->stats.connections++;
        }
        pthread_mutex_unlock(&ms->lock);
        if (c == NULL || pthread_create(&c->thread, NULL, conn_main, c) != 0) {
            close(fd);
            if (c != NULL) {
                pthread_mutex_lock(&ms->lock);
                c->used = 0;
                pthread_mutex_unlock(&ms->lock);
            }
        }
    }
    return NULL;
}

/* ---- Control ------------------------------------------------------------------------------ */

ms_t *ms_start(const ms_config_t *cfg)
{
    char errstr[512];
    ms_t *ms = calloc(1, sizeof(*ms));
    if (ms == NULL)
        return NULL;
    ms->cfg = *cfg;
    pthread_mutex_init(&ms->lock, NULL);
    if (cfg->customers != NULL) {
        ms->customers = customers_load(cfg->customers, errstr, sizeof(errstr));
        if (ms->customers == NULL) {
            fprintf(stderr, "model server: %s\n", errstr);
            free(ms);
            return NULL;
        }
    }
    if (cfg->tls_cert != NULL) {
        ms->tls = SSL_CTX_new(TLS_server_method());
        if (ms->tls == NULL || SSL_CTX_use_certificate_chain_file(ms->tls, cfg->tls_cert) != 1 ||
            SSL_CTX_use_PrivateKey_file(ms->tls, cfg->tls_key, SSL_FILETYPE_PEM) != 1) {
            fprintf(stderr, "model server: cannot use %s and %s\n", cfg->tls_cert, cfg->tls_key);
            SSL_CTX_free(ms->tls);
            customers_free(ms->customers);
            free(ms);
            return NULL;
        }
    }
    int fd = ms_listen(cfg->port);
    if (fd < 0) {
        SSL_CTX_free(ms->tls);
        customers_free(ms->customers);
        free(ms);
        return NULL;
    }
    struct sockaddr_in sa;
    socklen_t sl = sizeof(sa);
    getsockname(fd, (struct sockaddr *)&sa, &sl);
    ms->port = ntohs(sa.sin_port);
    snprintf(ms->url, sizeof(ms->url), "%s://127.0.0.1:%d", ms->tls ? "https" : "http", ms->port);
    atomic_store(&ms->listen_fd, fd);
    if (pthread_create(&ms->acceptor, NULL, accept_main, ms) != 0) {
        close(fd);
        SSL_CTX_free(ms->tls);
        customers_free(ms->customers);
        free(ms);
        return NULL;
    }
    return ms;
}

void ms_stop(ms_t *ms)
{
    if (ms == NULL)
        return;
    atomic_store(&ms->stopping, 1);
    pthread_join(ms->acceptor, NULL);
    int fd = atomic_exchange(&ms->listen_fd, -1);
    if (fd >= 0)
        close(fd);
    reap(ms, 1);
    SSL_CTX_free(ms->tls);
    customers_free(ms->customers);
    pthread_mutex_destroy(&ms->lock);
    free(ms);
}

int ms_port(const ms_t *ms)
{
    return ms->port;
}

const char *ms_url(const ms_t *ms)
{
    return ms->url;
}

void ms_set_latency(ms_t *ms, int ms_wait)
{
    atomic_store(&ms->latency_ms, ms_wait);
}

void ms_fail(ms_t *ms, int status, int count)
{
    atomic_store(&ms->fail_status, status);
    atomic_store(&ms->fail_count, count);
}

void ms_set_one_map(ms_t *ms, int on)
{
    atomic_store(&ms->one_map, on);
}

void ms_down(ms_t *ms)
{
    int fd = atomic_exchange(&ms->listen_fd, -1);
    if (fd >= 0)
        close(fd);
    pthread_mutex_lock(&ms->lock);
    for (int i = 0; i < MS_CONN_MAX; i++)
        if (ms->conns[i].used)
            shutdown(ms->conns[i].fd, SHUT_RDWR);
    pthread_mutex_unlock(&ms->lock);
}

int ms_up(ms_t *ms)
{
    int fd = ms_listen(ms->port);
    if (fd < 0)
        return -1;
    int old = atomic_exchange(&ms->listen_fd, fd);
    if (old >= 0)
        close(old);
    return 0;
}

ms_stats_t ms_stats(ms_t *ms)
{
    pthread_mutex_lock(&ms->lock);
    ms_stats_t s = ms->stats;
    pthread_mutex_unlock(&ms->lock);
    return s;
}
