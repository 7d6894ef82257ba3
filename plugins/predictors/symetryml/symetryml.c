/* symetryml.c: the "symetryml" predictor plugin: predicts through a SymetryML server's REST
 * API, each batch as DataFrames posted to its predict endpoint, every request signed as
 * SymetryML signs them (see README.md). */
#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

#include "batch.h"
#include "body.h"
#include "crypto.h"
#include "http_client.h"
#include "params.h"
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
    mb_t mb;
    size_t *all_rows; /* 0, 1, 2, ...: every row of a batch goes */
    size_t all_cap;
    symtask_batch_t *batch; /* during predict() */
    /* names of a DataFrame's columns and their types, rebuilt per request */
    const char **col_names;
    size_t *col_lens;
    char *col_types;
    size_t col_cap;
    const symtask_value_t **vals; /* rows × columns of a DataFrame */
    size_t vals_cap;
} sml_t;

static void sml_free(sml_t *s)
{
    if (s == NULL)
        return;
    hc_free(s->hc);
    if (s->secret != NULL) {
        sodium_memzero(s->secret, strlen(s->secret));
        free(s->secret);
    }
    if (s->key != NULL) {
        sodium_memzero(s->key, s->key_len);
        free(s->key);
    }
    free(s->cid);
    free(s->path);
    free(s->target);
    mp_strv_free(s->features, s->n_features);
    for (size_t i = 0; i < s->n_types; i++)
        free(s->types[i].name);
    free(s->types);
    mb_free(&s->mb);
    free(s->all_rows);
    free(s->col_names);
    free(s->col_lens);
    free(s->col_types);
    free(s->vals);
    free(s);
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

static int sml_read_types(sml_t *s, const char *value, char *errstr, size_t errstr_size)
{
    char **items = NULL;
    size_t n = 0;
    int rc = -1;

    if (mp_split_list(value, &items, &n) != 0) {
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

/* ---- A DataFrame ----------------------------------------------------------------------- */

static char type_override(const sml_t *s, const char *name, size_t len)
{
    for (size_t i = 0; i < s->n_types; i++)
        if (strlen(s->types[i].name) == len && memcmp(s->types[i].name, name, len) == 0)
            return s->types[i].code;
    return 0;
}

/* The column of @name among the first @cols, or SIZE_MAX; @hint first (the records of a
 * stream mostly have their fields in one order). */
static size_t column_of(const sml_t *s, size_t cols, const char *name, size_t len, size_t hint)
{
    if (hint < cols && s->col_lens[hint] == len && memcmp(s->col_names[hint], name, len) == 0)
        return hint;
    for (size_t c = 0; c < cols; c++)
        if (s->col_lens[c] == len && memcmp(s->col_names[c], name, len) == 0)
            return c;
    return SIZE_MAX;
}

static int sml_add_column(sml_t *s, size_t *n, const char *name, size_t len, size_t hint)
{
    if (column_of(s, *n, name, len, hint) != SIZE_MAX)
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

/* The DataFrame of the batch rows @rows (@n of them) into @b. -1 when out of memory. */
static int sml_dataframe(sml_t *s, const symtask_batch_t *batch, const size_t *rows, size_t n,
                         body_t *b)
{
    size_t cols = 0;

    if (s->n_features > 0) {
        for (size_t i = 0; i < s->n_features; i++)
            if (sml_add_column(s, &cols, s->features[i], strlen(s->features[i]), i) != 0)
                return -1;
    } else {
        /* Every field any of the rows has, in the order they first appear. */
        for (size_t k = 0; k < n; k++) {
            const symtask_fields_t *rec = &batch->records[rows[k]];
            for (size_t i = 0; i < rec->count; i++)
                if (sml_add_column(s, &cols, rec->items[i].name, rec->items[i].name_len, i) != 0)
                    return -1;
        }
    }
    /* Each row's value of each column (NULL: the record has none), the last of a field given
     * twice, as for a declared feature. */
    if (n * cols > s->vals_cap) {
        const symtask_value_t **vals = realloc(s->vals, n * cols * sizeof(*vals));
        if (vals == NULL)
            return -1;
        s->vals = vals;
        s->vals_cap = n * cols;
    }
    memset(s->vals, 0, n * cols * sizeof(*s->vals));
    for (size_t k = 0; k < n; k++) {
        const symtask_fields_t *rec = &batch->records[rows[k]];
        for (size_t i = 0; i < rec->count; i++) {
            size_t c = column_of(s, cols, rec->items[i].name, rec->items[i].name_len, i);
            if (c != SIZE_MAX)
                s->vals[k * cols + c] = &rec->items[i].value;
        }
    }
    for (size_t c = 0; c < cols; c++) {
        char code = type_override(s, s->col_names[c], s->col_lens[c]);
        if (code == 0) {
            /* By the values: all numbers C, all booleans B, anything else S. */
            int numbers = 0, bools = 0, others = 0;
            for (size_t k = 0; k < n; k++) {
                const symtask_value_t *v = s->vals[k * cols + c];
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
    for (size_t k = 0; k < n; k++) {
        body_puts(b, k > 0 ? ",[" : "[");
        for (size_t c = 0; c < cols; c++) {
            const symtask_value_t *v = s->vals[k * cols + c];
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

/* Signs @part's request (its body written) and sets it up. -1 when out of memory. */
static int sml_sign(sml_t *s, mb_part_t *part)
{
    struct timespec now;
    sign_headers_t sig;
    clock_gettime(CLOCK_REALTIME, &now);
    if (part->body.failed ||
        sign_request("POST", s->path, s->query, part->body.data, part->body.len, s->cid, s->secret,
                     s->key, s->key_len, &now, &sig) != 0)
        return -1;
    mb_request(part, "POST", s->target);
    snprintf(part->headers[0], sizeof(part->headers[0]), "Authorization: %s", sig.authorization);
    snprintf(part->headers[1], sizeof(part->headers[1]), "Sym-date: %s", sig.sym_date);
    snprintf(part->headers[2], sizeof(part->headers[2]), "Customer-ID: %s", s->cid);
    snprintf(part->headers[3], sizeof(part->headers[3]), "Content-MD5: %s", sig.content_md5);
    for (size_t i = 0; i < 4; i++)
        part->req.headers[i] = part->headers[i];
    return 0;
}

static int sml_build(void *ctx, mb_part_t *part)
{
    sml_t *s = ctx;
    if (sml_dataframe(s, s->batch, part->rows, part->n, &part->body) != 0)
        return -1;
    return sml_sign(s, part);
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

/* Reads @part's answer: outputs, or what is to be done with it (MB_*). */
static int sml_read(void *ctx, mb_part_t *part, char *errstr, size_t errstr_size)
{
    sml_t *s = ctx;
    symtask_batch_t *batch = s->batch;
    hc_request_t *req = &part->req;
    hc_class_t c = hc_classify(req);
    char said[512] = "";

    if (c != HC_OK) {
        if (c != HC_UNREACHABLE)
            sml_said(req, said, sizeof(said));
        if (c == HC_REFUSED && part->n > 1)
            return MB_SPLIT;
        if (c == HC_REFUSED) {
            /* This record is what the server refuses: it goes to the dead letters with the
             * server's message. */
            char *e = symtask_batch_row_error(batch, part->rows[0]);
            snprintf(e, batch->row_error_size,
                     "the SymetryML server refused this record (HTTP "
                     "%ld): %s",
                     req->status, said[0] ? said : "no message");
            batch->row_status[part->rows[0]] = SYMTASK_ERR_RECORD;
            return MB_DONE;
        }
        hc_describe(s->hc, req, said, errstr, errstr_size);
        return hc_status(c) == SYMTASK_ERR_RETRIABLE ? MB_RETRY : MB_FATAL;
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
        return MB_FATAL;
    }
    size_t got = json_array_size(maps);
    if (got > part->n) {
        snprintf(errstr, errstr_size,
                 "model server %s answered %zu predictions for %zu records: it is not the "
                 "SymetryML prediction API",
                 hc_url(s->hc), got, part->n);
        json_decref(doc);
        return MB_FATAL;
    }
    if (got < part->n && part->n > 1) {
        if (!s->one_row)
            s->host->log(SYMTASK_LOG_WARN,
                         "symetryml: %s answers %zu prediction%s for a DataFrame of %zu "
                         "records: sending one record per request from now on",
                         hc_url(s->hc), got, got == 1 ? "" : "s", part->n);
        s->one_row = 1;
        json_decref(doc);
        return MB_SPLIT;
    }
    for (size_t r = 0; r < part->n; r++) {
        json_t *map = json_array_get(maps, r);
        size_t row = part->rows[r];
        if (!json_is_object(map)) {
            snprintf(symtask_batch_row_error(batch, row), batch->row_error_size,
                     "the SymetryML server answered no prediction for this record");
            batch->row_status[row] = SYMTASK_ERR_RECORD;
            continue;
        }
        if (sml_row_outputs(s, batch, row, map) != 0) {
            snprintf(errstr, errstr_size, "out of memory");
            json_decref(doc);
            return MB_FATAL;
        }
    }
    json_decref(doc);
    return MB_DONE;
}

/* ---- Calls ------------------------------------------------------------------------------- */

static const mb_ops_t sml_ops = {sml_build, sml_read};

static symtask_status_t sml_predict(void *state, symtask_batch_t *batch, char *errstr,
                                    size_t errstr_size)
{
    sml_t *s = state;

    if (batch->rows > s->all_cap) {
        size_t *all = realloc(s->all_rows, batch->rows * sizeof(*all));
        if (all == NULL) {
            snprintf(errstr, errstr_size, "out of memory");
            return SYMTASK_ERR_FATAL;
        }
        s->all_rows = all;
        s->all_cap = batch->rows;
    }
    for (size_t i = 0; i < batch->rows; i++)
        s->all_rows[i] = i;
    s->batch = batch;
    symtask_status_t status =
        mb_run(&s->mb, s->hc, s->all_rows, batch->rows, s->one_row ? 1 : s->request_rows, &sml_ops,
               s, errstr, errstr_size);
    s->batch = NULL;
    return status;
}

/* The check at create: an empty DataFrame posted to the predict endpoint answers OK when
 * the server is there, takes the credentials and knows the project and model. */
static int sml_check(sml_t *s, char *errstr, size_t errstr_size)
{
    mb_part_t part = {0};
    hc_request_t *req = &part.req;
    char said[512] = "", what[1024];
    int rc = -1;

    body_puts(&part.body, "{\"attributeNames\":[],\"attributeTypes\":[],\"data\":[]}");
    if (sml_sign(s, &part) != 0) {
        snprintf(errstr, errstr_size, "out of memory");
        goto out;
    }
    hc_run(s->hc, req, 1, MB_CALL_BUDGET_MS);
    hc_class_t c = hc_classify(req);
    if (c == HC_OK) {
        json_t *doc = sml_answer_json(req);
        int ok = json_is_array(
            json_object_get(json_object_get(json_object_get(doc, "values"), "KSVSMap"), "values"));
        json_decref(doc);
        if (ok)
            rc = 0;
        else
            snprintf(errstr, errstr_size,
                     "params.%s: %s answered without values.KSVSMap.values: is it a SymetryML "
                     "server? (set %s = false to create the task anyway)",
                     SML_HOST, hc_url(s->hc), SML_CHECK);
        goto out;
    }
    if (c != HC_UNREACHABLE)
        sml_said(req, said, sizeof(said));
    hc_describe(s->hc, req, said, what, sizeof(what));
    if (c == HC_DENIED)
        snprintf(errstr, errstr_size, "params.%s: %s", SML_USER, what);
    else if (c == HC_REFUSED || c == HC_NOT_FOUND || (c == HC_BUSY && req->status == 500))
        /* SymetryML answers 400 for an unknown project and 500 for an unknown model. */
        snprintf(errstr, errstr_size,
                 "params.%s, %s: %s: check the project and model ids (set %s = false to create "
                 "the task anyway)",
                 SML_PROJECT, SML_MODEL, what, SML_CHECK);
    else
        snprintf(errstr, errstr_size,
                 "params.%s: %s (set %s = false to create the task while it is away)", SML_HOST,
                 what, SML_CHECK);
out:
    body_free(&part.body);
    hc_request_free(req);
    return rc;
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
    if (mp_path_id(SML_USER, cid, SML_ID_MAX - 1, errstr, errstr_size) != 0 ||
        mp_path_id(SML_MODEL, model, SML_ID_MAX - 1, errstr, errstr_size) != 0 ||
        (!tmodels && mp_path_id(SML_PROJECT, project, SML_ID_MAX - 1, errstr, errstr_size) != 0) ||
        mp_range(SML_CONCURRENCY, concurrency, 1, HC_CONCURRENCY_MAX, errstr, errstr_size) != 0 ||
        mp_range(SML_TIMEOUT, timeout, 100, HC_TIMEOUT_MAX_MS, errstr, errstr_size) != 0 ||
        mp_range(SML_ROWS, rows, 1, 100000, errstr, errstr_size) != 0)
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
    if (features != NULL && mp_split_list(features, &s->features, &s->n_features) != 0)
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
