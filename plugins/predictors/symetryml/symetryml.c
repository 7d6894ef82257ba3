/* symetryml.c: the "symetryml" predictor plugin: predicts through a SymetryML server's REST
 * API, each batch as DataFrames posted to its predict endpoint, every request signed as
 * SymetryML signs them (see README.md). */
#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "body.h"
#include "crypto.h"
#include "http_client.h"
#include "sign.h"
#include "symtask/plugin.h"

/* The original application's params, read as it reads them. */
#define SML_HOST "sml.kstream.rest.host"
#define SML_USER "sml.kstream.rest.user"
#define SML_SECRET "sml.kstream.rest.secret"
#define SML_PROJECT "sml.kstream.project.id"
#define SML_MODEL "sml.kstream.model.id"
/* Ours. */
#define SML_ENDPOINT "sml.predictor.endpoint"
#define SML_IMPUTE "sml.predictor.impute"
#define SML_FEATURES "sml.predictor.features"
#define SML_TYPES "sml.predictor.types"
#define SML_PREFIX "sml.predictor.output.prefix"
#define SML_CONCURRENCY "sml.predictor.concurrency"
#define SML_TIMEOUT "sml.predictor.timeout.ms"
#define SML_ROWS "sml.predictor.request.rows"
#define SML_CHECK "sml.predictor.check"
/* Set by the worker while the daemon checks a task at create (docs/plugins.md). */
#define SML_VALIDATING "symtask.validate"

/* How long one predict() call may send requests: well within the worker's heartbeat
 * timeout (30 s by default) once the last request's own timeout is added. */
#define SML_CALL_BUDGET_MS 8000
#define SML_ID_MAX 256

static const symtask_option_t sml_options[] = {
    {SML_HOST, SYMTASK_OPTION_STRING, NULL, 1,
     "URL of the SymetryML server, e.g. http://server:8080 (a path prefix is allowed)."},
    {SML_USER, SYMTASK_OPTION_STRING, NULL, 1, "The SymetryML customer id requests are sent as."},
    {SML_SECRET, SYMTASK_OPTION_STRING, NULL, 1,
     "The customer's secret key, base64, as SymetryML gives it: every request is signed with it."},
    {SML_PROJECT, SYMTASK_OPTION_STRING, NULL, 0,
     "The project whose model predicts (required unless sml.predictor.endpoint is tmodels)."},
    {SML_MODEL, SYMTASK_OPTION_STRING, NULL, 1, "The id of the model that predicts."},
    {SML_ENDPOINT, SYMTASK_OPTION_STRING, "projects", 0,
     "projects: POST .../projects/{project}/predict/{model}; tmodels: a third-party model, POST "
     ".../tmodels/{model}/predict."},
    {SML_IMPUTE, SYMTASK_OPTION_BOOL, "false", 0,
     "true: ask the server to impute missing values (query impute=true); false: the server "
     "replaces a missing value by its column's mean."},
    {SML_FEATURES, SYMTASK_OPTION_LIST, NULL, 0,
     "The record fields sent, in this order; unset: every top-level field of the record."},
    {SML_TYPES, SYMTASK_OPTION_LIST, NULL, 0,
     "Types of fields as name:code pairs (C number, B boolean, S string, L list, T category, X "
     "ignore), e.g. zip:S; unset fields are typed by their values."},
    {SML_PREFIX, SYMTASK_OPTION_STRING, "", 0,
     "Put before each key of the server's answer to name the output field, e.g. sml_."},
    {SML_CONCURRENCY, SYMTASK_OPTION_INT, "4", 0,
     "How many requests of a batch run at once, each on a connection kept alive (1 to 64)."},
    {SML_TIMEOUT, SYMTASK_OPTION_INT, "10000", 0,
     "Milliseconds one request may take, connection included (100 to 20000); then the batch "
     "is tried again later."},
    {SML_ROWS, SYMTASK_OPTION_INT, "128", 0,
     "The most records in one DataFrame: a bigger batch is cut into requests of even size "
     "(1 to 100000)."},
    {SML_CHECK, SYMTASK_OPTION_BOOL, "true", 0,
     "At create, check that the server answers and knows the project and model (an empty "
     "DataFrame is posted); false: create the task without asking the server."},
    {NULL},
};

typedef struct sml_type {
    char *name;
    char code;
} sml_type_t;

/* One request of a batch: rows [first, first + rows). */
typedef struct sml_part {
    size_t first, rows;
    body_t body;
    sign_headers_t sig;
    char auth_h[80], date_h[64], cid_h[SML_ID_MAX + 16], md5_h[48];
} sml_part_t;

typedef struct sml {
    const symtask_host_t *host;
    hc_t *hc;
    char *cid, *secret;
    uint8_t *key;
    size_t key_len;
    char *path;        /* the signed path, the URL's prefix included */
    char *target;      /* what follows the URL: the path after the prefix, and the query */
    const char *query; /* "impute=true" or NULL */
    char **features;
    size_t n_features;
    sml_type_t *types;
    size_t n_types;
    const char *prefix;
    size_t prefix_len;
    size_t request_rows;
    int one_row; /* the server predicts one row per request */
    sml_part_t *parts;
    hc_request_t *reqs;
    size_t cap;
    /* per part: what a round left to do */
    unsigned char *part_state;
    /* names of a DataFrame's columns and their types, rebuilt per request */
    const char **col_names;
    size_t *col_lens;
    char *col_types;
    size_t col_cap;
} sml_t;

static void sml_free(sml_t *s)
{
    if (s == NULL)
        return;
    hc_free(s->hc);
    if (s->secret != NULL) {
        memset(s->secret, 0, strlen(s->secret));
        free(s->secret);
    }
    if (s->key != NULL) {
        memset(s->key, 0, s->key_len);
        free(s->key);
    }
    free(s->cid);
    free(s->path);
    free(s->target);
    for (size_t i = 0; i < s->n_features; i++)
        free(s->features[i]);
    free(s->features);
    for (size_t i = 0; i < s->n_types; i++)
        free(s->types[i].name);
    free(s->types);
    for (size_t i = 0; i < s->cap; i++) {
        body_free(&s->parts[i].body);
        hc_request_free(&s->reqs[i]);
    }
    free(s->parts);
    free(s->reqs);
    free(s->part_state);
    free(s->col_names);
    free(s->col_lens);
    free(s->col_types);
    free(s);
}

/* Splits a LIST param (comma-separated, none empty: the loader checked) into @out. */
static int split_list(const char *value, char ***out, size_t *n)
{
    size_t count = 1;
    for (const char *p = value; *p; p++)
        count += *p == ',';
    *out = calloc(count, sizeof(**out));
    if (*out == NULL)
        return -1;
    *n = 0;
    for (const char *p = value;;) {
        size_t len = strcspn(p, ",");
        while (len > 0 && (*p == ' ' || *p == '\t')) {
            p++;
            len--;
        }
        size_t l = len;
        while (l > 0 && (p[l - 1] == ' ' || p[l - 1] == '\t'))
            l--;
        if (((*out)[(*n)++] = strndup(p, l)) == NULL)
            return -1;
        p += len;
        if (*p != ',')
            break;
        p++;
    }
    return 0;
}

static long param_long(const symtask_host_t *host, const symtask_params_t *params, const char *key)
{
    return strtol(host->param(params, key), NULL, 10);
}

static int param_true(const symtask_host_t *host, const symtask_params_t *params, const char *key)
{
    const char *v = host->param(params, key);
    return v != NULL && strcmp(v, "true") == 0;
}

/* An id that goes into the URL's path: no '/', '?', '#', '%' or blanks. */
static int id_check(const char *key, const char *v, char *errstr, size_t errstr_size)
{
    size_t len = strlen(v);
    if (len == 0 || len >= SML_ID_MAX) {
        snprintf(errstr, errstr_size, "params.%s: must be 1 to %d characters", key, SML_ID_MAX - 1);
        return -1;
    }
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)v[i];
        if (c <= ' ' || c == 0x7f || strchr("/?#%\\", c) != NULL) {
            snprintf(errstr, errstr_size,
                     "params.%s: '%.64s' cannot be part of a URL path (no / ? # %% \\ or blanks)",
                     key, v);
            return -1;
        }
    }
    return 0;
}

static int range_check(const char *key, long v, long min, long max, char *errstr,
                       size_t errstr_size)
{
    if (v >= min && v <= max)
        return 0;
    snprintf(errstr, errstr_size, "params.%s: %ld is not from %ld to %ld", key, v, min, max);
    return -1;
}

static int sml_read_types(sml_t *s, const char *value, char *errstr, size_t errstr_size)
{
    char **items = NULL;
    size_t n = 0;
    int rc = -1;

    if (split_list(value, &items, &n) != 0) {
        snprintf(errstr, errstr_size, "out of memory");
        goto out;
    }
    s->types = calloc(n, sizeof(*s->types));
    if (s->types == NULL) {
        snprintf(errstr, errstr_size, "out of memory");
        goto out;
    }
    for (size_t i = 0; i < n; i++) {
        char *colon = strrchr(items[i], ':');
        if (colon == NULL || colon == items[i] || strlen(colon + 1) != 1 ||
            strchr("CBSLTX", colon[1]) == NULL) {
            snprintf(errstr, errstr_size,
                     "params.%s: '%.64s' is not name:code with a code of C B S L T X (e.g. "
                     "zip:S)",
                     SML_TYPES, items[i]);
            goto out;
        }
        *colon = '\0';
        s->types[s->n_types].code = colon[1];
        s->types[s->n_types++].name = items[i];
        items[i] = NULL;
    }
    rc = 0;
out:
    for (size_t i = 0; i < n; i++)
        free(items[i]);
    free(items);
    return rc;
}

/* Room for @n parts of a batch. */
static int sml_reserve(sml_t *s, size_t n)
{
    if (n <= s->cap)
        return 0;
    sml_part_t *parts = realloc(s->parts, n * sizeof(*parts));
    if (parts == NULL)
        return -1;
    s->parts = parts;
    hc_request_t *reqs = realloc(s->reqs, n * sizeof(*reqs));
    if (reqs == NULL)
        return -1;
    s->reqs = reqs;
    unsigned char *state = realloc(s->part_state, n);
    if (state == NULL)
        return -1;
    s->part_state = state;
    memset(s->parts + s->cap, 0, (n - s->cap) * sizeof(*parts));
    memset(s->reqs + s->cap, 0, (n - s->cap) * sizeof(*reqs));
    s->cap = n;
    return 0;
}

/* ---- A DataFrame ----------------------------------------------------------------------- */

static const symtask_value_t *field_of(const symtask_fields_t *rec, const char *name,
                                       size_t name_len)
{
    const symtask_value_t *found = NULL;
    /* The last one counts, as for a declared feature. */
    for (size_t i = 0; i < rec->count; i++)
        if (rec->items[i].name_len == name_len && memcmp(rec->items[i].name, name, name_len) == 0)
            found = &rec->items[i].value;
    return found;
}

static char type_override(const sml_t *s, const char *name, size_t len)
{
    for (size_t i = 0; i < s->n_types; i++)
        if (strlen(s->types[i].name) == len && memcmp(s->types[i].name, name, len) == 0)
            return s->types[i].code;
    return 0;
}

static int sml_add_column(sml_t *s, size_t *n, const char *name, size_t len)
{
    for (size_t i = 0; i < *n; i++)
        if (s->col_lens[i] == len && memcmp(s->col_names[i], name, len) == 0)
            return 0;
    if (*n == s->col_cap) {
        size_t cap = s->col_cap ? s->col_cap * 2 : 64;
        const char **names = realloc(s->col_names, cap * sizeof(*names));
        if (names == NULL)
            return -1;
        s->col_names = names;
        size_t *lens = realloc(s->col_lens, cap * sizeof(*lens));
        if (lens == NULL)
            return -1;
        s->col_lens = lens;
        char *types = realloc(s->col_types, cap);
        if (types == NULL)
            return -1;
        s->col_types = types;
        s->col_cap = cap;
    }
    s->col_names[*n] = name;
    s->col_lens[*n] = len;
    (*n)++;
    return 0;
}

/* The DataFrame of rows [first, first + rows) of @batch into @b. -1 when out of memory. */
static int sml_dataframe(sml_t *s, const symtask_batch_t *batch, size_t first, size_t rows,
                         body_t *b)
{
    size_t cols = 0;

    if (s->n_features > 0) {
        for (size_t i = 0; i < s->n_features; i++)
            if (sml_add_column(s, &cols, s->features[i], strlen(s->features[i])) != 0)
                return -1;
    } else {
        /* Every field any of the rows has, in the order they first appear. */
        for (size_t r = first; r < first + rows; r++)
            for (size_t i = 0; i < batch->records[r].count; i++)
                if (sml_add_column(s, &cols, batch->records[r].items[i].name,
                                   batch->records[r].items[i].name_len) != 0)
                    return -1;
    }
    for (size_t c = 0; c < cols; c++) {
        char code = type_override(s, s->col_names[c], s->col_lens[c]);
        if (code == 0) {
            /* By the values: all numbers C, all booleans B, anything else S. */
            int numbers = 0, bools = 0, others = 0;
            for (size_t r = first; r < first + rows; r++) {
                const symtask_value_t *v =
                    field_of(&batch->records[r], s->col_names[c], s->col_lens[c]);
                if (v == NULL || v->type == SYMTASK_TYPE_MISSING)
                    continue;
                numbers += v->type == SYMTASK_TYPE_NUMBER;
                bools += v->type == SYMTASK_TYPE_BOOL;
                others += v->type != SYMTASK_TYPE_NUMBER && v->type != SYMTASK_TYPE_BOOL;
            }
            code = others > 0 || (numbers > 0 && bools > 0) ? 'S' : bools > 0 ? 'B' : 'C';
        }
        s->col_types[c] = code;
    }

    body_reset(b);
    body_puts(b, "{\"attributeNames\":[");
    for (size_t c = 0; c < cols; c++) {
        if (c > 0)
            body_puts(b, ",");
        body_json_string(b, s->col_names[c], s->col_lens[c]);
    }
    body_puts(b, "],\"attributeTypes\":[");
    for (size_t c = 0; c < cols; c++) {
        char t[4] = {'"', s->col_types[c], '"', '\0'};
        body_puts(b, c > 0 ? "," : "");
        body_puts(b, t);
    }
    body_puts(b, "],\"data\":[");
    body_t text = {0};
    for (size_t r = first; r < first + rows; r++) {
        body_puts(b, r > first ? ",[" : "[");
        for (size_t c = 0; c < cols; c++) {
            const symtask_value_t *v =
                field_of(&batch->records[r], s->col_names[c], s->col_lens[c]);
            body_reset(&text);
            if (v != NULL)
                body_value_text(&text, v);
            if (c > 0)
                body_puts(b, ",");
            body_json_string(b, text.data != NULL ? text.data : "", text.len);
            if (text.failed)
                b->failed = 1;
        }
        body_puts(b, "]");
    }
    body_free(&text);
    body_puts(b, "]}");
    return b->failed ? -1 : 0;
}

/* Signs @part's request, built for rows @first.. into @req. */
static int sml_sign(sml_t *s, sml_part_t *part, hc_request_t *req)
{
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    if (sign_request("POST", s->path, s->query, part->body.data, part->body.len, s->cid, s->secret,
                     s->key, s->key_len, &now, &part->sig) != 0)
        return -1;
    snprintf(part->auth_h, sizeof(part->auth_h), "Authorization: %s", part->sig.authorization);
    snprintf(part->date_h, sizeof(part->date_h), "Sym-date: %s", part->sig.sym_date);
    snprintf(part->cid_h, sizeof(part->cid_h), "Customer-ID: %s", s->cid);
    snprintf(part->md5_h, sizeof(part->md5_h), "Content-MD5: %s", part->sig.content_md5);
    void *user = req->user;
    char *answer = req->answer;
    size_t cap = req->answer_cap;
    memset(req, 0, sizeof(*req));
    req->answer = answer;
    req->answer_cap = cap;
    req->user = user;
    req->method = "POST";
    req->target = s->target;
    req->body = part->body.data;
    req->body_len = part->body.len;
    req->headers[0] = part->auth_h;
    req->headers[1] = part->date_h;
    req->headers[2] = part->cid_h;
    req->headers[3] = part->md5_h;
    return 0;
}

/* ---- Answers ----------------------------------------------------------------------------- */

/* The answer of @req as JSON (NaN and Infinity read as null), or NULL. */
static json_t *sml_answer_json(const hc_request_t *req)
{
    size_t len = 0;
    if (req->answer == NULL || req->answer_len == 0)
        return NULL;
    char *text = body_lenient_json(req->answer, req->answer_len, &len);
    if (text == NULL)
        return NULL;
    json_t *doc = json_loadb(text, len, JSON_DISABLE_EOF_CHECK, NULL);
    free(text);
    return doc;
}

/* What a failed answer says: the envelope's statusString, or nothing. */
static void sml_said(const hc_request_t *req, char *out, size_t size)
{
    json_t *doc = sml_answer_json(req);
    const char *s = json_string_value(json_object_get(doc, "statusString"));
    snprintf(out, size, "%s", s != NULL ? s : "");
    json_decref(doc);
}

static char *arena_strndup(const sml_t *s, symtask_arena_t *arena, const char *a, size_t a_len,
                           const char *b, size_t b_len)
{
    char *out = s->host->arena_alloc(arena, a_len + b_len + 1);
    if (out == NULL)
        return NULL;
    memcpy(out, a, a_len);
    memcpy(out + a_len, b, b_len);
    out[a_len + b_len] = '\0';
    return out;
}

/* Row @row's outputs from @map: each key a field, numbers and booleans typed. -1 when out
 * of memory. */
static int sml_row_outputs(sml_t *s, symtask_batch_t *batch, size_t row, json_t *map)
{
    size_t n = json_object_size(map), i = 0;
    const char *key;
    json_t *value;
    symtask_field_t *items = n > 0 ? s->host->arena_alloc(batch->arena, n * sizeof(*items)) : NULL;

    if (n > 0 && items == NULL)
        return -1;
    json_object_foreach (map, key, value) {
        symtask_field_t *f = &items[i++];
        size_t key_len = strlen(key);
        f->name = arena_strndup(s, batch->arena, s->prefix, s->prefix_len, key, key_len);
        f->name_len = s->prefix_len + key_len;
        if (f->name == NULL)
            return -1;
        if (json_is_string(value)) {
            const char *v = json_string_value(value);
            size_t len = json_string_length(value);
            if (body_is_json_number(v, len)) {
                char *text = arena_strndup(s, batch->arena, v, len, "", 0);
                if (text == NULL)
                    return -1;
                f->value = symtask_value_number(strtod(text, NULL));
                f->value.text = text;
                f->value.len = len;
            } else if (strcmp(v, "true") == 0 || strcmp(v, "false") == 0) {
                f->value = symtask_value_bool(v[0] == 't');
            } else if (strcmp(v, "NaN") == 0 || strcmp(v, "Infinity") == 0 ||
                       strcmp(v, "-Infinity") == 0) {
                /* A number with no JSON spelling: written as missing. */
                f->value = symtask_value_missing();
            } else {
                char *text = arena_strndup(s, batch->arena, v, len, "", 0);
                if (text == NULL)
                    return -1;
                f->value = symtask_value_string(text, len);
            }
        } else if (json_is_number(value)) {
            f->value = symtask_value_number(json_number_value(value));
        } else if (json_is_boolean(value)) {
            f->value = symtask_value_bool(json_is_true(value));
        } else {
            f->value = symtask_value_missing();
        }
    }
    batch->row_outputs[row] = (symtask_fields_t){items, n};
    return 0;
}

/* What happened to one part. */
enum {
    PART_DONE = 0,
    PART_SPLIT = 1, /* send its rows one by one */
    PART_RETRY = 2, /* the server cannot answer now: the batch waits */
    PART_FATAL = 3,
};

/* Reads part @i's answer: outputs, or what is to be done with it. */
static int sml_read_part(sml_t *s, symtask_batch_t *batch, size_t i, char *errstr,
                         size_t errstr_size)
{
    sml_part_t *part = &s->parts[i];
    hc_request_t *req = &s->reqs[i];
    hc_class_t c = hc_classify(req);
    char said[512] = "";

    if (c != HC_OK) {
        if (c != HC_UNREACHABLE)
            sml_said(req, said, sizeof(said));
        if (c == HC_REFUSED && part->rows > 1)
            return PART_SPLIT;
        if (c == HC_REFUSED) {
            /* This record is what the server refuses: it goes to the dead letters with the
             * server's message. */
            char *e = symtask_batch_row_error(batch, part->first);
            snprintf(e, batch->row_error_size,
                     "the SymetryML server refused this record (HTTP "
                     "%ld): %s",
                     req->status, said[0] ? said : "no message");
            batch->row_status[part->first] = SYMTASK_ERR_RECORD;
            return PART_DONE;
        }
        hc_describe(s->hc, req, said, errstr, errstr_size);
        return hc_status(c) == SYMTASK_ERR_RETRIABLE ? PART_RETRY : PART_FATAL;
    }
    json_t *doc = sml_answer_json(req);
    json_t *maps =
        json_object_get(json_object_get(json_object_get(doc, "values"), "KSVSMap"), "values");
    if (!json_is_array(maps)) {
        snprintf(errstr, errstr_size,
                 "model server %s answered HTTP %ld without values.KSVSMap.values: is %s a "
                 "SymetryML server?",
                 hc_url(s->hc), req->status, SML_HOST);
        json_decref(doc);
        return PART_FATAL;
    }
    size_t got = json_array_size(maps);
    if (got > part->rows) {
        snprintf(errstr, errstr_size,
                 "model server %s answered %zu predictions for %zu records: it is not the "
                 "SymetryML prediction API",
                 hc_url(s->hc), got, part->rows);
        json_decref(doc);
        return PART_FATAL;
    }
    if (got < part->rows && part->rows > 1) {
        if (!s->one_row)
            s->host->log(SYMTASK_LOG_WARN,
                         "symetryml: %s answers %zu prediction%s for a DataFrame of %zu "
                         "records: sending one record per request from now on",
                         hc_url(s->hc), got, got == 1 ? "" : "s", part->rows);
        s->one_row = 1;
        json_decref(doc);
        return PART_SPLIT;
    }
    for (size_t r = 0; r < part->rows; r++) {
        json_t *map = json_array_get(maps, r);
        size_t row = part->first + r;
        if (!json_is_object(map)) {
            snprintf(symtask_batch_row_error(batch, row), batch->row_error_size,
                     "the SymetryML server answered no prediction for this record");
            batch->row_status[row] = SYMTASK_ERR_RECORD;
            continue;
        }
        if (sml_row_outputs(s, batch, row, map) != 0) {
            snprintf(errstr, errstr_size, "out of memory");
            json_decref(doc);
            return PART_FATAL;
        }
    }
    json_decref(doc);
    return PART_DONE;
}

/* ---- Calls ------------------------------------------------------------------------------- */

/* Sends the parts [0, n) and reads their answers; parts to split are replaced by one part a
 * row and sent again, once. */
static symtask_status_t sml_send(sml_t *s, symtask_batch_t *batch, size_t n, char *errstr,
                                 size_t errstr_size)
{
    char first_retry[1024] = "";
    int retry = 0;
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);

    for (int round = 0; round < 2 && n > 0; round++) {
        for (size_t i = 0; i < n; i++) {
            if (sml_dataframe(s, batch, s->parts[i].first, s->parts[i].rows, &s->parts[i].body) !=
                    0 ||
                sml_sign(s, &s->parts[i], &s->reqs[i]) != 0) {
                snprintf(errstr, errstr_size, "out of memory");
                return SYMTASK_ERR_FATAL;
            }
        }
        clock_gettime(CLOCK_MONOTONIC, &t1);
        long spent = (t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000;
        hc_run(s->hc, s->reqs, n, spent < SML_CALL_BUDGET_MS ? SML_CALL_BUDGET_MS - spent : 0);
        size_t split_rows = 0;
        for (size_t i = 0; i < n; i++) {
            char why[1024] = "";
            s->part_state[i] = (unsigned char)sml_read_part(s, batch, i, why, sizeof(why));
            if (s->part_state[i] == PART_FATAL) {
                snprintf(errstr, errstr_size, "%s", why);
                return SYMTASK_ERR_FATAL;
            }
            if (s->part_state[i] == PART_RETRY && !retry) {
                retry = 1;
                snprintf(first_retry, sizeof(first_retry), "%s", why);
            }
            if (s->part_state[i] == PART_SPLIT)
                split_rows += s->parts[i].rows;
        }
        if (retry || split_rows == 0)
            break;
        /* The rows of split parts, one part each, for the next round. */
        size_t rows_to_send = 0;
        if (sml_reserve(s, n + split_rows) != 0) {
            snprintf(errstr, errstr_size, "out of memory");
            return SYMTASK_ERR_FATAL;
        }
        size_t *firsts = malloc(split_rows * sizeof(*firsts));
        if (firsts == NULL) {
            snprintf(errstr, errstr_size, "out of memory");
            return SYMTASK_ERR_FATAL;
        }
        for (size_t i = 0; i < n; i++)
            if (s->part_state[i] == PART_SPLIT)
                for (size_t r = 0; r < s->parts[i].rows; r++)
                    firsts[rows_to_send++] = s->parts[i].first + r;
        for (size_t i = 0; i < rows_to_send; i++) {
            s->parts[i].first = firsts[i];
            s->parts[i].rows = 1;
        }
        free(firsts);
        n = rows_to_send;
    }
    if (retry) {
        snprintf(errstr, errstr_size, "%s", first_retry);
        return SYMTASK_ERR_RETRIABLE;
    }
    return SYMTASK_OK;
}

static symtask_status_t sml_predict(void *state, symtask_batch_t *batch, char *errstr,
                                    size_t errstr_size)
{
    sml_t *s = state;
    size_t rows = batch->rows;
    size_t per = s->one_row ? 1 : s->request_rows;
    size_t n = (rows + per - 1) / per;

    if (rows == 0)
        return SYMTASK_OK;
    if (sml_reserve(s, n) != 0) {
        snprintf(errstr, errstr_size, "out of memory");
        return SYMTASK_ERR_FATAL;
    }
    /* Even parts: 500 records at 128 a request are 4 requests of 125. */
    size_t base = rows / n, extra = rows % n, first = 0;
    for (size_t i = 0; i < n; i++) {
        s->parts[i].first = first;
        s->parts[i].rows = base + (i < extra);
        first += s->parts[i].rows;
    }
    return sml_send(s, batch, n, errstr, errstr_size);
}

/* The check at create: an empty DataFrame posted to the predict endpoint answers OK when
 * the server is there, takes the credentials and knows the project and model. */
static int sml_check(sml_t *s, char *errstr, size_t errstr_size)
{
    if (sml_reserve(s, 1) != 0) {
        snprintf(errstr, errstr_size, "out of memory");
        return -1;
    }
    sml_part_t *part = &s->parts[0];
    body_reset(&part->body);
    body_puts(&part->body, "{\"attributeNames\":[],\"attributeTypes\":[],\"data\":[]}");
    if (part->body.failed || sml_sign(s, part, &s->reqs[0]) != 0) {
        snprintf(errstr, errstr_size, "out of memory");
        return -1;
    }
    hc_run(s->hc, s->reqs, 1, SML_CALL_BUDGET_MS);
    hc_request_t *req = &s->reqs[0];
    hc_class_t c = hc_classify(req);
    char said[512] = "", what[1024];
    if (c == HC_OK) {
        json_t *doc = sml_answer_json(req);
        int ok = json_is_array(
            json_object_get(json_object_get(json_object_get(doc, "values"), "KSVSMap"), "values"));
        json_decref(doc);
        if (ok)
            return 0;
        snprintf(errstr, errstr_size,
                 "params.%s: %s answered without values.KSVSMap.values: is it a SymetryML "
                 "server? (set %s = false to create the task anyway)",
                 SML_HOST, hc_url(s->hc), SML_CHECK);
        return -1;
    }
    if (c != HC_UNREACHABLE)
        sml_said(req, said, sizeof(said));
    hc_describe(s->hc, req, said, what, sizeof(what));
    if (c == HC_DENIED)
        snprintf(errstr, errstr_size, "params.%s: %s", SML_USER, what);
    else if (c == HC_REFUSED || c == HC_NOT_FOUND || (c == HC_BUSY && req->status == 500))
        snprintf(errstr, errstr_size,
                 "params.%s, %s: %s: check the project and model ids (set %s = false to create "
                 "the task anyway)",
                 SML_PROJECT, SML_MODEL, what, SML_CHECK);
    else
        snprintf(errstr, errstr_size,
                 "params.%s: %s (set %s = false to create the task while it is away)", SML_HOST,
                 what, SML_CHECK);
    return -1;
}

static symtask_status_t sml_create(const symtask_host_t *host, const symtask_params_t *params,
                                   void **state, char *errstr, size_t errstr_size)
{
    sml_t *s = calloc(1, sizeof(*s));
    const char *host_url = host->param(params, SML_HOST);
    const char *cid = host->param(params, SML_USER);
    const char *secret = host->param(params, SML_SECRET);
    const char *project = host->param(params, SML_PROJECT);
    const char *model = host->param(params, SML_MODEL);
    const char *endpoint = host->param(params, SML_ENDPOINT);
    const char *features = host->param(params, SML_FEATURES);
    const char *types = host->param(params, SML_TYPES);
    long concurrency = param_long(host, params, SML_CONCURRENCY);
    long timeout = param_long(host, params, SML_TIMEOUT);
    long rows = param_long(host, params, SML_ROWS);
    int tmodels;

    if (s == NULL) {
        snprintf(errstr, errstr_size, "out of memory");
        return SYMTASK_ERR_FATAL;
    }
    s->host = host;
    if (strcmp(endpoint, "projects") != 0 && strcmp(endpoint, "tmodels") != 0) {
        snprintf(errstr, errstr_size, "params.%s: '%.64s' is not projects or tmodels", SML_ENDPOINT,
                 endpoint);
        goto error;
    }
    tmodels = strcmp(endpoint, "tmodels") == 0;
    if (!tmodels && project == NULL) {
        snprintf(errstr, errstr_size,
                 "params.%s: required to predict with a project's model (or set %s = tmodels "
                 "for a third-party model)",
                 SML_PROJECT, SML_ENDPOINT);
        goto error;
    }
    if (id_check(SML_USER, cid, errstr, errstr_size) != 0 ||
        id_check(SML_MODEL, model, errstr, errstr_size) != 0 ||
        (!tmodels && id_check(SML_PROJECT, project, errstr, errstr_size) != 0) ||
        range_check(SML_CONCURRENCY, concurrency, 1, HC_CONCURRENCY_MAX, errstr, errstr_size) !=
            0 ||
        range_check(SML_TIMEOUT, timeout, 100, HC_TIMEOUT_MAX_MS, errstr, errstr_size) != 0 ||
        range_check(SML_ROWS, rows, 1, 100000, errstr, errstr_size) != 0)
        goto error;
    s->key = crypto_b64_decode(secret, strlen(secret), &s->key_len);
    if (s->key == NULL || s->key_len == 0) {
        /* Never quoted: it is a secret. */
        snprintf(errstr, errstr_size,
                 "params.%s: not a base64 secret key (give the customer's secret as SymetryML "
                 "shows it)",
                 SML_SECRET);
        goto error;
    }
    s->cid = strdup(cid);
    s->secret = strdup(secret);
    s->prefix = host->param(params, SML_PREFIX);
    s->prefix_len = strlen(s->prefix);
    s->request_rows = (size_t)rows;
    s->query = param_true(host, params, SML_IMPUTE) ? "impute=true" : NULL;
    if (s->cid == NULL || s->secret == NULL)
        goto oom;
    if (features != NULL && split_list(features, &s->features, &s->n_features) != 0)
        goto oom;
    if (types != NULL && sml_read_types(s, types, errstr, errstr_size) != 0)
        goto error;

    hc_config_t cfg = {
        .url = host_url, .param = SML_HOST, .timeout_ms = timeout, .concurrency = (int)concurrency};
    s->hc = hc_new(&cfg, errstr, errstr_size);
    if (s->hc == NULL)
        goto error;
    /* The signed path is the whole path as sent: the URL's own prefix, then the API's. */
    const char *after_scheme = strstr(hc_url(s->hc), "://") + 3;
    const char *prefix = after_scheme + strcspn(after_scheme, "/");
    char api[1024];
    if (tmodels)
        snprintf(api, sizeof(api), "/symetry/rest/%s/tmodels/%s/predict", cid, model);
    else
        snprintf(api, sizeof(api), "/symetry/rest/%s/projects/%s/predict/%s", cid, project, model);
    size_t path_len = strlen(prefix) + strlen(api);
    s->path = malloc(path_len + 1);
    s->target = malloc(strlen(api) + 16);
    if (s->path == NULL || s->target == NULL)
        goto oom;
    snprintf(s->path, path_len + 1, "%s%s", prefix, api);
    sprintf(s->target, "%s%s%s", api, s->query ? "?" : "", s->query ? s->query : "");

    if (param_true(host, params, SML_VALIDATING) && param_true(host, params, SML_CHECK) &&
        sml_check(s, errstr, errstr_size) != 0)
        goto error;
    *state = s;
    return SYMTASK_OK;

oom:
    snprintf(errstr, errstr_size, "out of memory");
error:
    sml_free(s);
    return SYMTASK_ERR_FATAL;
}

static void sml_signature(void *state, symtask_signature_t *sig)
{
    /* Whole records in, the keys of each answer out. */
    sig->flags = SYMTASK_SIGNATURE_ALL_FIELDS | SYMTASK_SIGNATURE_DYNAMIC_OUTPUTS;
}

static void sml_destroy(void *state)
{
    sml_free(state);
}

static const symtask_plugin_t sml_plugin = {
    SYMTASK_PLUGIN_HEAD(SYMTASK_PLUGIN_PREDICTOR),
    .name = "symetryml",
    .version = "1.0.0",
    .description = "Predicts through a SymetryML server's REST API (each batch as signed "
                   "DataFrames).",
    .options = sml_options,
    .ops.predictor =
        {
            .create = sml_create,
            .predict = sml_predict,
            .destroy = sml_destroy,
            .signature = sml_signature,
        },
};

SYMTASK_PLUGIN_EXPORT const symtask_plugin_t *symtask_plugin_entry(const symtask_host_t *host)
{
    return &sml_plugin;
}
